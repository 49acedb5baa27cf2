"""`apicviz report` and `apicviz diff`: text a bug report or a kernel comparison can quote."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "apicviz" / "resources" / "examples"
APICVIZ = [sys.executable, "-m", "apicviz"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(APICVIZ + list(args), capture_output=True, text=True, timeout=60, check=False)


def test_diff_of_aliased_example_names_changed_route():
    """6.1 keeps the map and drops vCPU 1; upstream discards the map and the slow path reaches both."""
    proc = run("diff", str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"), "--kernel", "6.1",
               "--against", "upstream")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "map: optimized → none" in out
    assert "interrupt [0] IPI to APIC 0:" in out
    assert "path: fast → slow" in out
    assert "targets: [0x0] → [0x0, 0x1]" in out
    assert "dropped: [0x1] → []" in out


def test_diff_with_flag_set():
    """Turning 32-bit IDs on for upstream brings the map back for the 0x123/0x23 wrap."""
    proc = run("diff", str(EXAMPLES / "04-wrap-0x123-and-0x23.apicviz.json"), "--kernel", "upstream",
               "--against", "upstream", "--against-set", "use_32bit_ids=true")
    assert proc.returncode == 0, proc.stderr
    assert "map: none → optimized" in proc.stdout


def test_diff_rejects_bad_kernel_and_flag():
    bad = run("diff", str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"), "--against", "3.10")
    assert bad.returncode == 1
    assert "4.11 to upstream" in bad.stderr
    bad = run("diff", str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"), "--against-set", "foo=1")
    assert bad.returncode == 1
    assert "use_32bit_ids" in bad.stderr


def test_report_has_every_interrupt_and_dropped(tmp_path):
    out = tmp_path / "report.md"
    proc = run("report", str(EXAMPLES / "09-lowest-priority-empty-slot.apicviz.json"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "**[0] lowest to 0x03, vector 33**" in text
    assert "**[1] lowest to 0x03, vector 32**" in text
    assert "| **dropped** | 0x0 |" in text  # vector 33 hashes onto the empty bit 1
    assert "<details>" in text
    assert '"format": "apicviz-scenario"' in text


def test_report_of_bad_file_is_an_error(tmp_path):
    bad = tmp_path / "bad.apicviz.json"
    bad.write_text('{"vcpus": [{"id": 1, "xapic_id": 300}]}')
    proc = run("report", str(bad))
    assert proc.returncode == 1
    assert "vcpus[0].xapic_id" in proc.stderr
    assert "Traceback" not in proc.stderr
