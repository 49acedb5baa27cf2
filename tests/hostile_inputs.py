"""Hostile inputs up to the size limits, built on demand (shared by the tests and benchmarks/bench_hostile.py).

Each case is written into a folder and read by a fresh process
(:data:`CHILD`), which reports whether it was refused or accepted, how long it
took and its peak RSS, so one case never inherits another's memory peak.
"""
from __future__ import annotations

import functools
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
LIMIT = 32 * MIB  # scenario files, pictures and `info lapic` text
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    value = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", value)


def png(*chunks: bytes) -> bytes:
    """A 1x1 grey PNG with ``chunks`` between IHDR and IDAT."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    return SIGNATURE + ihdr + b"".join(chunks) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")


def ztxt(key: str, compressed: bytes) -> bytes:
    return chunk(b"zTXt", key.encode("latin-1") + b"\0\0" + compressed)


SMALL_SCENARIO = json.dumps({"format": "apicviz-scenario", "version": 1, "vcpus": [{"id": 0}, {"id": 1}]})


@functools.cache
def _bomb(size: int) -> bytes:
    """zlib data that inflates to ``size`` zero bytes, made a MiB at a time."""
    packer = zlib.compressobj(9)
    block = bytes(MIB)
    parts = [packer.compress(block) for _ in range(size // MIB)]
    return b"".join(parts) + packer.flush()


def largest_valid_scenario(delivery: str = "lowest") -> dict:
    """4096 vCPUs and the most interrupts allowed, each a logical broadcast to every vCPU."""
    from apicviz.model.scenario import MAX_INTERRUPTS, MAX_VCPUS

    vcpus = [{"id": i, "logical_id": 1 << (i % 8)} for i in range(MAX_VCPUS)]
    irqs = [{"name": f"broadcast {n}", "source": None, "dest_mode": "logical", "dest": 0xFF, "delivery": delivery,
             "vector": 32 + n % 200} for n in range(MAX_INTERRUPTS)]
    return {"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": "6.1"}, "vcpus": vcpus, "interrupts": irqs}


def _write(path: Path, data: bytes | str) -> list[str]:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return [str(path)]


def _sparse_pages(folder: Path) -> list[str]:
    """300 files of 4 MiB each (sparse: they cost no disk): 1.2 GB the importer must not read."""
    out = []
    for n in range(300):
        path = folder / f"pages{n:03}.bin"
        with path.open("wb") as handle:
            handle.truncate(4 * MIB)
        out.append(str(path))
    return out


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "scenario", "info-lapic", "kvm-lapic-state" or "libvirt"
    build: Callable[[Path], list[str]]
    accepted: bool = False


def _cases() -> list[Case]:
    def one_bomb() -> bytes:
        return _bomb(64 * MIB)  # 65 KB that inflate to 64 MiB

    return [
        Case("png: 500 text chunks of 64 MiB each (distinct keys)", "scenario",
             lambda d: _write(d / "bombs.png", png(*(ztxt(f"k{n}", one_bomb()) for n in range(500))))),
        Case("png: 16 such chunks, then the scenario", "scenario",
             lambda d: _write(d / "bombs-then-scenario.png", png(
                 *(ztxt(f"k{n}", one_bomb()) for n in range(16)),
                 ztxt("apicviz-scenario", zlib.compress(SMALL_SCENARIO.encode()))
             )), accepted=True),
        Case("png: scenario chunk inflating to 256 MiB", "scenario",
             lambda d: _write(d / "scenario-bomb.png", png(ztxt("apicviz-scenario", _bomb(256 * MIB))))),
        Case("png: 200,000 chunks", "scenario",
             lambda d: _write(d / "many-chunks.png", png(*([chunk(b"tEXt", b"k\0v")] * 200_000)))),
        Case("png: bad CRC", "scenario",
             lambda d: _write(d / "bad-crc.png", png(chunk(b"tEXt", b"apicviz-scenario\0" + SMALL_SCENARIO.encode(),
                                                          crc=0)))),
        Case("png: two scenario chunks", "scenario",
             lambda d: _write(d / "two.png", png(*[chunk(b"tEXt", b"apicviz-scenario\0" + SMALL_SCENARIO.encode())]
                                                 * 2))),
        Case("json: 30 MB unknown key", "scenario",
             lambda d: _write(d / "key.json", '{"vcpus": [{"id": 0}], "' + "k" * (30 * MIB) + '": 1}')),
        Case("json: 30 MB unknown value", "scenario",
             lambda d: _write(d / "value.json", '{"vcpus": [{"id": 0, "apic": "' + "x" * (30 * MIB) + '"}]}')),
        Case("json: 11 million empty lists", "scenario",
             lambda d: _write(d / "lists.json", "[" + "[]," * (LIMIT // 3 - 2) + "[]]")),
        Case("json: 8 million short strings", "scenario",
             lambda d: _write(d / "strings.json", "[" + '"a",' * (LIMIT // 4 - 2) + '"a"]')),
        Case("json: 32 MiB of [", "scenario", lambda d: _write(d / "deep.json", "[" * LIMIT)),
        Case("json: one string of 16 million escaped quotes", "scenario",
             lambda d: _write(d / "escapes.json", '{"vcpus": [], "notes": "' + '\\"' * (LIMIT // 2 - 20) + '"}')),
        Case("json: 32 MiB of spaces", "scenario", lambda d: _write(d / "spaces.json", " " * LIMIT)),
        Case("json: 7000 integers of 4300 digits", "scenario",
             lambda d: _write(d / "digits.json", "[" + ",".join(["9" * 4300] * 7000) + "]")),
        Case("json: largest valid scenario", "scenario",
             lambda d: _write(d / "largest.json", json.dumps(largest_valid_scenario())), accepted=True),
        Case("fifo without a writer", "scenario", lambda d: (os.mkfifo(d / "fifo"), [str(d / "fifo")])[1]),
        Case("info lapic: 32 MiB of newlines", "info-lapic", lambda d: _write(d / "newlines.txt", "\n" * LIMIT)),
        Case("info lapic: 16 million short lines", "info-lapic",
             lambda d: _write(d / "lines.txt", "x\n" * (LIMIT // 2))),
        Case("info lapic: one 32 MiB line", "info-lapic", lambda d: _write(d / "line.txt", "SPIV " * (LIMIT // 5))),
        Case("kvm-lapic-state: 300 files of 4 MiB", "kvm-lapic-state", _sparse_pages),
        Case("libvirt: 4 million empty elements", "libvirt",
             lambda d: _write(d / "many.xml", "<domain>" + "<a/>" * (4 * MIB - 10) + "</domain>")),
        Case("libvirt: one element of 1.4 million attributes", "libvirt",
             lambda d: _write(d / "attrs.xml", "<domain " + " ".join(f"a{n}=''" for n in range(1_400_000)) + "/>")),
        Case("libvirt: 16 MiB of nesting", "libvirt",
             lambda d: _write(d / "deep.xml", "<a>" * (16 * MIB // 3 - 1))),
    ]


CHILD = r"""
import json, sys, time
kind, paths = sys.argv[1], sys.argv[2:]
from apicviz.model.errors import ScenarioError
start = time.perf_counter()
try:
    if kind == "scenario":
        from apicviz.model import load_scenario
        load_scenario(paths[0])
    elif kind == "info-lapic":
        from apicviz.importers.qemu_info_lapic import MAX_INFO_LAPIC_BYTES, import_info_lapic
        from apicviz.model.file_io import read_bounded
        import_info_lapic(read_bounded(paths[0], MAX_INFO_LAPIC_BYTES, "text").decode(), None, None, "x")
    elif kind == "libvirt":
        from apicviz.importers.libvirt_domain import MAX_XML_BYTES, import_libvirt_domain
        from apicviz.model.file_io import read_bounded
        import_libvirt_domain(read_bounded(paths[0], MAX_XML_BYTES, "XML"), None, "x", False)
    else:
        from apicviz.importers.kvm_lapic_state import import_lapic_sources
        from apicviz.model.file_io import read_all_bounded
        import_lapic_sources(read_all_bounded(paths, 4096 * 1024, "pages", 4096), None, None, False)
    error = None
except ScenarioError as exc:
    error = str(exc)
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: the latter also counts the parent's RSS from before exec.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "error": error, "peak_mb": peak_kb / 1024}))
"""


def run_case(case: Case, folder: Path, timeout: float = 60) -> dict:
    """Build ``case`` in ``folder`` and read it in a fresh process; the timeout is a hang guard."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = case.build(folder)
    out = subprocess.run([sys.executable, "-c", CHILD, case.kind, *paths], capture_output=True, text=True,
                         timeout=timeout, check=False)
    if out.returncode != 0:
        raise AssertionError(f"{case.name}: the reader crashed:\n{out.stderr[-3000:]}")
    for path in paths:
        if Path(path).is_file():
            Path(path).unlink()
    return json.loads(out.stdout.strip().splitlines()[-1])


CASES = _cases()
