"""The migration-stream reader on hand-built streams (the live ones are in test_qemu_attach.py)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from apicviz.model import ScenarioError
from apicviz.qemu.migration_stream import ApicSection, read_apic_sections

PAGE = 4096
APIC_FIELDS = [("apicbase", 4), ("id", 1), ("arb_id", 1), ("tpr", 1), ("spurious_vec", 4), ("log_dest", 1),
               ("dest_mode", 1), ("isr", 32), ("esr", 4)]


def be32(v: int) -> bytes:
    return struct.pack(">I", v)


def be64(v: int) -> bytes:
    return struct.pack(">Q", v)


def idstr(s: str) -> bytes:
    return bytes([len(s)]) + s.encode()


def apic_body(apicbase: int, xid: int, spiv: int, ldr: int, dfr: int) -> bytes:
    values = {"apicbase": apicbase, "id": xid, "spurious_vec": spiv, "log_dest": ldr, "dest_mode": dfr}
    return b"".join(values.get(name, 0).to_bytes(size, "big") if name in values else bytes(size)
                    for name, size in APIC_FIELDS)


def stream(apics: list[tuple[int, bytes]], page: bytes = bytes(PAGE), footer: bool = True) -> bytes:
    """magic, configuration, RAM (one page and one zero page), a 'timer' and the apic sections, EOF, description."""
    out = bytearray(b"QEVM" + be32(3))
    out += b"\x07" + be32(13) + b"pc-i440fx-7.2"
    out += b"\x01" + be32(2) + idstr("ram") + be32(0) + be32(4)
    out += be64(2 * PAGE | 0x04) + idstr("pc.ram") + be64(2 * PAGE) + be64(0x10)
    out += (b"\x7e" + be32(2)) if footer else b""
    out += b"\x03" + be32(2) + be64(0 | 0x08) + idstr("pc.ram") + page + be64(PAGE | 0x02 | 0x20) + b"\x00"
    out += be64(0x10) + ((b"\x7e" + be32(2)) if footer else b"")
    devices = [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2,
                "fields": [{"name": "cpu_ticks_offset", "type": "int64", "size": 8},
                           {"name": "unused", "type": "unused_buffer", "size": 8}],
                "subsections": [{"vmsd_name": "timer/x", "version": 1,
                                 "fields": [{"name": "a", "type": "uint32", "size": 4, "array_len": 2}]}]}]
    out += b"\x04" + be32(3) + idstr("timer") + be32(0) + be32(2) + bytes(16)
    out += b"\x05" + idstr("timer/x") + be32(1) + bytes(8) + ((b"\x7e" + be32(3)) if footer else b"")
    for n, (instance, body) in enumerate(apics):
        sid = 10 + n
        out += b"\x04" + be32(sid) + idstr("apic") + be32(instance) + be32(3) + body
        out += (b"\x7e" + be32(sid)) if footer else b""
        devices.append({"name": "apic", "instance_id": instance, "vmsd_name": "apic", "version": 3,
                        "fields": [{"name": k, "type": "uint8" if s == 1 else "uint32", "size": min(s, 4),
                                    **({"array_len": s // 4} if s > 4 else {})} for k, s in APIC_FIELDS]})
    out += b"\x00"
    desc = json.dumps({"page_size": PAGE, "devices": devices}).encode()
    out += b"\x06" + be32(len(desc)) + desc
    return bytes(out)


TWO = [(0, apic_body(0xFEE00900, 0, 0x1FF, 0x01, 0xF)), (6, apic_body(0xFEE00C00, 6, 0x1FF, 0, 0xF)),
       (5, apic_body(0xFEE00000, 1, 0xFF, 0x10, 0x0))]


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "stream"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("footer", [True, False])
def test_reads_apic_sections(tmp_path: Path, footer: bool) -> None:
    sections = read_apic_sections(write(tmp_path, stream(TWO, footer=footer)))
    assert sections == [
        ApicSection(instance_id=0, apicbase=0xFEE00900, id=0, log_dest=1, dest_mode=0xF, spurious_vec=0x1FF),
        ApicSection(instance_id=6, apicbase=0xFEE00C00, id=6, log_dest=0, dest_mode=0xF, spurious_vec=0x1FF),
        ApicSection(instance_id=5, apicbase=0xFEE00000, id=1, log_dest=0x10, dest_mode=0, spurious_vec=0xFF),
    ]
    assert [s.mode for s in sections] == ["xapic", "x2apic", "disabled"]


def test_guest_memory_that_looks_like_a_section_is_skipped(tmp_path: Path) -> None:
    """A page may hold anything, even bytes shaped like an apic section; pages are skipped, not searched."""
    fake = (b"\x04" + be32(99) + idstr("apic") + be32(7) + be32(3) + apic_body(0xFEE00C00, 7, 0x1FF, 0, 0)) * 40
    page = fake[:PAGE].ljust(PAGE, b"\x00")
    sections = read_apic_sections(write(tmp_path, stream(TWO, page=page)))
    assert [s.instance_id for s in sections] == [0, 6, 5]


@pytest.mark.parametrize("cut", [20, 80, 4200, -400])
def test_truncated_streams(tmp_path: Path, cut: int) -> None:
    data = stream(TWO)
    desc_at = data.rfind(b'{"page_size"') - 5
    broken = data[:cut] + data[desc_at:] if cut > 0 else data[:desc_at + cut] + data[desc_at:]
    with pytest.raises(ScenarioError, match=r"ends early|truncated|does not|unknown|missing"):
        read_apic_sections(write(tmp_path, broken))


def test_not_a_stream(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no JSON description"):
        read_apic_sections(write(tmp_path, b"hello world, this is not QEMU" * 10))
    with pytest.raises(ScenarioError, match="QEMU wrote nothing useful"):
        read_apic_sections(write(tmp_path, b""))
    with pytest.raises(ScenarioError, match="cannot read"):
        read_apic_sections(tmp_path / "missing")


def test_description_must_match(tmp_path: Path) -> None:
    data = stream(TWO)
    desc_at = data.rfind(b'{"page_size"')
    desc = json.loads(data[desc_at:])
    desc["devices"][1]["instance_id"] = 3
    blob = json.dumps(desc).encode()
    with pytest.raises(ScenarioError, match="does not match the description"):
        read_apic_sections(write(tmp_path, data[:desc_at - 5] + b"\x06" + be32(len(blob)) + blob))


def test_iterative_devices_are_refused(tmp_path: Path) -> None:
    data = stream(TWO).replace(b"\x01" + be32(2) + idstr("ram"), b"\x01" + be32(2) + idstr("vfi"), 1)
    with pytest.raises(ScenarioError, match="iterative section 'vfi'"):
        read_apic_sections(write(tmp_path, data))
