"""Read the local-APIC sections of a QEMU migration stream, using the stream's own JSON description.

A stream (``migration/savevm.c``, version 3) is: the magic ``QEVM``, a
configuration section (the machine name), the RAM section (iterative: a
start part listing the RAM blocks, then pages until an end-of-section flag),
every device's state as one "full" section, an EOF byte, and finally a JSON
description of those device sections (``QEMU_VM_VMDESCRIPTION``) that gives
every field's name, type and size in bytes. Sections may end in a footer
(``0x7e`` + section id).

We walk the stream in order without keeping it in memory: RAM pages are
skipped by their flags (a page of ``page_size`` bytes, a zero page of one),
each device section is stepped over with the sizes the description gives,
and the ``apic`` sections (``vmstate_apic_common``; instance id = the
vCPU's initial APIC ID) are decoded by field name: ``apicbase``
(IA32_APIC_BASE: bit 11 enabled, bit 10 x2APIC), ``id``, ``log_dest`` (LDR
bits 31:24), ``dest_mode`` (DFR bits 31:28) and ``spurious_vec``. Every
inconsistency is a ``ScenarioError`` naming the byte offset.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..model import strict_json
from ..model.errors import ScenarioError

MAGIC = b"QEVM"
VERSION = 3
EOF, SECTION_START, SECTION_PART, SECTION_END, SECTION_FULL = 0x00, 0x01, 0x02, 0x03, 0x04
SUBSECTION, VMDESCRIPTION, CONFIGURATION, COMMAND, FOOTER = 0x05, 0x06, 0x07, 0x08, 0x7E
RAM_ZERO, RAM_MEM_SIZE, RAM_PAGE, RAM_EOS, RAM_CONTINUE = 0x02, 0x04, 0x08, 0x10, 0x20
RAM_XBZRLE, RAM_HOOK, RAM_COMPRESS, RAM_MULTIFD_FLUSH = 0x40, 0x80, 0x100, 0x200
APIC_BASE_ENABLE = 1 << 11
APIC_BASE_EXTD = 1 << 10
_WANTED = ("apicbase", "id", "log_dest", "dest_mode", "spurious_vec")
_TAIL_CHUNK = 1 << 20


@dataclass(frozen=True)
class ApicSection:
    """One vCPU's saved local APIC (``vmstate_apic_common``)."""

    instance_id: int  # the initial APIC ID
    apicbase: int
    id: int  # xAPIC ID register bits 31:24 (meaningless in x2APIC mode)
    log_dest: int  # LDR bits 31:24
    dest_mode: int  # DFR bits 31:28
    spurious_vec: int  # SPIV

    @property
    def mode(self) -> str:
        if not self.apicbase & APIC_BASE_ENABLE:
            return "disabled"
        return "x2apic" if self.apicbase & APIC_BASE_EXTD else "xapic"


class _Reader:
    def __init__(self, handle: BinaryIO, size: int, name: str) -> None:
        self.f, self.size, self.name = handle, size, name

    @property
    def pos(self) -> int:
        return self.f.tell()

    def fail(self, message: str, at: int | None = None) -> ScenarioError:
        return ScenarioError(f"{self.name}: byte {self.pos if at is None else at}", message)

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise self.fail(f"the stream ends early (wanted {n} more bytes): QEMU did not finish writing it")
        return data

    def skip(self, n: int) -> None:
        if self.pos + n > self.size:
            raise self.fail("the stream ends inside a RAM page or device section: it is truncated")
        self.f.seek(n, os.SEEK_CUR)

    def u8(self) -> int:
        return self.read(1)[0]

    def be16(self) -> int:
        return struct.unpack(">H", self.read(2))[0]

    def be32(self) -> int:
        return struct.unpack(">I", self.read(4))[0]

    def be64(self) -> int:
        return struct.unpack(">Q", self.read(8))[0]

    def idstr(self) -> str:
        return self.read(self.u8()).decode("latin-1")

    def peek(self) -> int | None:
        data = self.f.read(1)
        if not data:
            return None
        self.f.seek(-1, os.SEEK_CUR)
        return data[0]


def find_description(handle: BinaryIO, size: int, name: str) -> dict[str, Any]:
    """The JSON description at the very end: ``0x06``, its length (be32), then the JSON up to EOF."""
    marker = b'{"page_size"'
    end = size
    carry = b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        handle.seek(start)
        chunk = handle.read(end - start) + carry
        at = chunk.rfind(marker)
        while at >= 0:
            pos = start + at
            if pos >= 5:
                handle.seek(pos - 5)
                head = handle.read(5)
                if head[0] == VMDESCRIPTION and struct.unpack(">I", head[1:])[0] == size - pos:
                    handle.seek(pos)
                    try:
                        desc = strict_json.loads(handle.read(size - pos), max_values=None, max_strings=None)
                    except ValueError:
                        raise ScenarioError(name, "the stream's JSON description is not valid JSON") from None
                    if not isinstance(desc, dict) or not isinstance(desc.get("devices"), list):
                        raise ScenarioError(name, "the stream's JSON description has no device list")
                    return desc
            at = chunk.rfind(marker, 0, at)
        carry = chunk[:len(marker)]
        end = start
    raise ScenarioError(name, "no JSON description at the end of the migration stream (QEMU writes it unless the "
                              "machine type suppresses it, as pc-*-2.3 and older do)")


def _field_bytes(field: dict[str, Any]) -> int:
    size, count = field.get("size", 0), field.get("array_len", 1)
    if not isinstance(size, int) or not isinstance(count, int) or size < 0 or count < 0:
        raise ValueError(f"field {field.get('name')!r} has no usable size")
    return size * count


class _Stream:
    def __init__(self, reader: _Reader, desc: dict[str, Any]) -> None:
        self.r = reader
        self.devices = list(desc["devices"])
        self.next_device = 0
        page = desc.get("page_size", 4096)
        self.page_size = page if isinstance(page, int) and page > 0 else 4096
        self.sections: dict[int, str] = {}
        self.apics: list[ApicSection] = []

    def run(self) -> list[ApicSection]:
        r = self.r
        if r.read(4) != MAGIC:
            raise r.fail("not a QEMU migration stream (no QEVM magic)", 0)
        if r.be32() != VERSION:
            raise r.fail(f"unsupported stream version (only {VERSION})", 4)
        while True:
            kind = r.u8()
            if kind == EOF:
                return self.apics
            if kind == CONFIGURATION:
                self._configuration()
            elif kind in (SECTION_START, SECTION_FULL):
                self._section_header(kind)
            elif kind in (SECTION_PART, SECTION_END):
                sid = r.be32()
                if self.sections.get(sid) != "ram":
                    raise r.fail(f"a part of section {sid} ({self.sections.get(sid, 'unknown')}), which only RAM has")
                self._ram(start=False)
                self._footer(sid)
            elif kind == COMMAND:
                r.be16()
                r.skip(r.be16())
            elif kind == VMDESCRIPTION:
                return self.apics
            else:
                raise r.fail(f"unknown section type {kind:#04x}", r.pos - 1)

    def _configuration(self) -> None:
        r = self.r
        r.skip(r.be32())  # the machine type's name
        while r.peek() == SUBSECTION:
            r.u8()
            name = r.idstr()
            r.be32()
            if name == "configuration/target-page-bits":
                r.be32()
            elif name == "configuration/capabilities":
                for _ in range(r.be32()):
                    r.skip(r.u8())
            elif name == "configuration/uuid":
                r.skip(16)
            else:
                raise r.fail(f"unknown configuration subsection {name!r}")

    def _section_header(self, kind: int) -> None:
        r = self.r
        at = r.pos - 1
        sid, name, instance, _version = r.be32(), r.idstr(), r.be32(), r.be32()
        self.sections[sid] = name
        if kind == SECTION_START:
            if name != "ram":
                raise r.fail(f"iterative section {name!r} (only RAM is supported: a VM with VFIO devices or "
                             f"block migration cannot be read)", at)
            self._ram(start=True)
        else:
            self._device(name, instance, at)
        self._footer(sid)

    def _footer(self, sid: int) -> None:
        if self.r.peek() == FOOTER:
            self.r.u8()
            if self.r.be32() != sid:
                raise self.r.fail(f"the footer does not close section {sid}")

    def _ram(self, start: bool) -> None:
        r = self.r
        while True:
            header = r.be64()
            flags = header & (self.page_size - 1)
            if flags & RAM_MEM_SIZE:
                total = header & ~(self.page_size - 1)
                while total > 0:
                    r.idstr()
                    length = r.be64()
                    if length == 0 or length > total:
                        raise r.fail("the RAM block list does not add up")
                    total -= length
                continue
            if flags & RAM_EOS:
                return
            if flags & (RAM_XBZRLE | RAM_HOOK | RAM_COMPRESS):
                raise r.fail(f"RAM pages encoded with flags {flags:#x} (xbzrle, compression or RDMA) are not supported")
            if flags & RAM_MULTIFD_FLUSH:
                continue
            if not flags & RAM_CONTINUE and flags & (RAM_ZERO | RAM_PAGE):
                r.idstr()
            if flags & RAM_ZERO:
                r.skip(1)
            elif flags & RAM_PAGE:
                r.skip(self.page_size)
            else:
                raise r.fail(f"unknown RAM page flags {flags:#x}")

    def _device(self, name: str, instance: int, at: int) -> None:
        r = self.r
        if self.next_device >= len(self.devices):
            raise r.fail(f"section {name!r} is not in the stream's JSON description", at)
        desc = self.devices[self.next_device]
        self.next_device += 1
        if desc.get("name") != name or desc.get("instance_id", instance) != instance:
            raise r.fail(f"section {name!r} #{instance} does not match the description's "
                         f"{desc.get('name')!r} #{desc.get('instance_id')}", at)
        values = self._fields(desc, want=name == "apic")
        if name == "apic":
            missing = [f for f in _WANTED if f not in values]
            if missing:
                raise r.fail(f"the apic section #{instance} has no {', '.join(missing)} field", at)
            self.apics.append(ApicSection(instance_id=instance, **{k: values[k] for k in _WANTED}))

    def _fields(self, desc: dict[str, Any], want: bool) -> dict[str, int]:
        r = self.r
        values: dict[str, int] = {}
        try:
            for field in desc.get("fields", []):
                n = _field_bytes(field)
                if want and field.get("name") in _WANTED and field.get("array_len", 1) == 1 and n in (1, 2, 4, 8):
                    values[field["name"]] = int.from_bytes(r.read(n), "big")
                else:
                    r.skip(n)
        except ValueError as exc:
            raise r.fail(f"the description of {desc.get('name')!r} is unusable: {exc}") from None
        for sub in desc.get("subsections", []):
            if r.peek() != SUBSECTION:
                raise r.fail(f"subsection {sub.get('vmsd_name')!r} of {desc.get('name')!r} is missing")
            r.u8()
            got = r.idstr()
            if got != sub.get("vmsd_name"):
                raise r.fail(f"subsection {got!r} where the description has {sub.get('vmsd_name')!r}")
            r.be32()
            self._fields(sub, want=False)
        return values


def read_apic_sections(path: str | os.PathLike[str]) -> list[ApicSection]:
    """Every ``apic`` section of the stream in ``path``, in stream order (the vCPUs' order)."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        handle = open(name, "rb")  # noqa: SIM115 - closed by the `with` below, after the error mapping
    except OSError as exc:
        raise ScenarioError(name, f"cannot read the migration stream: {exc.strerror or exc}") from None
    with handle:
        if size < 16:
            raise ScenarioError(name, f"the migration stream is {size} bytes: QEMU wrote nothing useful")
        desc = find_description(handle, size, name)
        handle.seek(0)
        return _Stream(_Reader(handle, size, name), desc).run()


__all__ = ["APIC_BASE_ENABLE", "APIC_BASE_EXTD", "ApicSection", "find_description", "read_apic_sections"]
