"""`apicviz report --host` and `apicviz render --host`: what users share carries this host's verdict."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kvm_host_helpers import require_kvm

ROOT = Path(__file__).resolve().parents[2]
ALIASED_61 = ROOT / "apicviz" / "resources" / "examples" / "02-aliased-xapic-id-6.1.apicviz.json"
APICVIZ = [sys.executable, "-m", "apicviz"]

INFO = require_kvm()
RELEASE = INFO.release.split("-")[0]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(APICVIZ + list(args), capture_output=True, text=True, timeout=120, check=False, env=env)


def test_report_host_adds_the_verdict_beside_the_scenarios_own_answer():
    proc = run("report", str(ALIASED_61), "--host")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"### On a real kernel: Linux {RELEASE} (this host)" in out
    assert INFO.describe() in out
    assert "3/3 interrupts agree with the model for this kernel" in out
    if INFO.behaviour == "6.3+":
        # The 6.1 scenario keeps vCPU 0 only; a 6.3+ host (and the model for it) reaches both aliased vCPUs.
        assert "| 0 | IPI to APIC 0 | 0x0, 0x1 | 0x0, 0x1 | 0x0 | ✓ (the scenario's settings differ) |" in out
    assert "### On a real kernel" not in run("report", str(ALIASED_61)).stdout


def test_render_host_draws_the_column_and_embeds_the_verdict(tmp_path):
    out = tmp_path / "shot.png"
    proc = run("render", str(ALIASED_61), "-o", str(out), "--host")
    assert proc.returncode == 0, proc.stderr
    # Read the text chunk without Qt: zTXt/iTXt/tEXt under our key.
    checks = json.loads(png_text(out.read_bytes(), "apicviz-kernel-checks"))
    assert checks[0]["label"] == f"Linux {RELEASE}"
    assert checks[0]["source"] == "host"
    assert checks[0]["probe"]["agree"] is True
    if INFO.behaviour == "6.3+":
        assert [e["host_accepted"] for e in checks[0]["probe"]["interrupts"]] == [[0, 1], [0, 1], []]


def png_text(data: bytes, key: str) -> str:
    import struct
    import zlib

    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        name, _, rest = body.partition(b"\0")
        if name.decode("latin-1") != key:
            continue
        if kind == b"tEXt":
            return rest.decode("latin-1")
        if kind == b"zTXt":
            return zlib.decompress(rest[1:]).decode("latin-1")
        if kind == b"iTXt":
            compressed, _method = rest[0], rest[1]
            _lang, _, rest2 = rest[2:].partition(b"\0")
            _tkey, _, payload = rest2.partition(b"\0")
            return (zlib.decompress(payload) if compressed else payload).decode("utf-8")
    raise AssertionError(f"no {key} text chunk in the PNG")


def test_probe_trace_names_every_ioctl_as_it_starts(tmp_path):
    """APICVIZ_PROBE_TRACE=FILE: one line per ioctl, named, so a hung probe shows where it hangs."""
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "APICVIZ_PROBE_TRACE": str(trace)}
    proc = subprocess.run([*APICVIZ, "probe", str(ALIASED_61)], capture_output=True, text=True, timeout=120,
                          check=False, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    lines = trace.read_text().splitlines()
    names = [line.split()[-1] for line in lines if " ioctl fd " in line]
    for expected in ("KVM_CREATE_VM", "KVM_CREATE_VCPU", "KVM_SET_LAPIC", "KVM_GET_LAPIC"):
        assert expected in names, expected
    assert all(not name.startswith("0x") for name in names), sorted({n for n in names if n.startswith("0x")})
