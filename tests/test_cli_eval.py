"""``apicviz eval`` as a user runs it (FORMAT.md "Evaluation"), and the rule that it needs no Qt."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

APICVIZ = Path(sys.executable).with_name("apicviz")
QT_PACKAGES = ("PySide6", "PySide2", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph")

# Section 7 example A on 6.1: vCPU 1 rewrote its xAPIC ID to 0; the fast path sends physical 0 to vCPU 0
# only, the slow path would pick both: vCPU 1 is dropped.
ALIASED = {
    "format": "apicviz-scenario", "version": 1, "title": "aliased xAPIC IDs",
    "kvm": {"kernel": "6.1"},
    "vcpus": [{"id": 0, "logical_id": 1}, {"id": 1, "xapic_id": 0, "logical_id": 2}],
    "interrupts": [{"name": "IPI to APIC 0", "source": 0, "dest": 0, "vector": 48}],
}
# The same VM on upstream: the map is NULL, everything takes the slow path, nobody is dropped.
ALIASED_UPSTREAM = {**ALIASED, "kvm": {"kernel": "upstream"}}
BROKEN = {"vcpus": [{"id": 0, "foo": 1}]}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(APICVIZ), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, data in (("aliased", ALIASED), ("upstream", ALIASED_UPSTREAM), ("broken", BROKEN)):
        path = tmp_path / f"{name}.apicviz.json"
        path.write_text(json.dumps(data))
        out[name] = path
    out["missing"] = tmp_path / "missing.apicviz.json"
    return out


def test_json_one_line_per_file_and_error_line(files):
    """A broken file yields {"file", "error"} naming the field; the others are still evaluated; exit 1."""
    proc = run("eval", "--json", str(files["broken"]), str(files["aliased"]), str(files["missing"]))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    broken, good, missing = (json.loads(line) for line in lines)
    assert set(broken) == {"file", "error"}
    assert broken["file"] == str(files["broken"])
    assert "vcpus[0].foo" in broken["error"]
    assert set(missing) == {"file", "error"}
    assert missing["file"] == str(files["missing"])
    assert good["format"] == "apicviz-evaluation"
    assert good["version"] == 1
    assert good["kernel"] == {"requested": "6.1", "behaviour": "5.3-6.2"}
    assert good["map"]["phys_map"] == {"0": 0}
    r = good["interrupts"][0]
    assert (r["path"], r["targets"], r["slow_path_targets"], r["dropped"]) == ("fast", [0], [0, 1], [1])


def test_json_exit_zero_when_all_files_are_fine(files):
    proc = run("eval", "--json", str(files["aliased"]), str(files["upstream"]))
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["kernel"]["requested"] == "6.1"
    assert second["kernel"]["requested"] == "upstream"
    assert second["map"]["status"] == "none"
    assert second["apicv_inhibits"] == ["apic_id_modified", "logical_id_aliased", "physical_id_aliased"]
    assert second["interrupts"][0]["path"] == "slow"
    assert second["interrupts"][0]["targets"] == [0, 1]


def test_readable_output_mentions_path_and_dropped_vcpus(files):
    proc = run("eval", str(files["aliased"]))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.lower()
    assert str(files["aliased"]).lower() in text
    assert "fast path" in text
    assert "dropped" in text
    assert "0x1" in text
    proc = run("eval", str(files["upstream"]))
    assert "slow path" in proc.stdout.lower()


def test_readable_output_reports_broken_file_on_stderr(files):
    proc = run("eval", str(files["broken"]), str(files["aliased"]))
    assert proc.returncode == 1
    assert "vcpus[0].foo" in proc.stderr
    assert "fast path" in proc.stdout.lower()


@pytest.mark.parametrize("argv", [
    ["eval", "{aliased}"], ["eval", "--json", "{aliased}"], ["report", "{aliased}"],
    ["diff", "{aliased}", "--against", "upstream"], ["examples"], ["install-desktop", "--data-home", "{tmp}"],
], ids=lambda argv: " ".join(a for a in argv if not a.startswith("{")))
def test_qt_free_subcommands_never_load_qt(files, tmp_path, argv):
    """STYLE.md habit 1 at run time: these run without Qt (no display needed, fast start).

    The import-linter contracts (scripts/lint) check the static imports of apicviz.model,
    apicviz.importers and apicviz.cli; this checks what a real run loads, lazy imports included.
    """
    argv = [a.format(aliased=files["aliased"], tmp=tmp_path) for a in argv]
    code = (
        "import contextlib, io, sys\n"
        "from apicviz.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    status = main({argv!r})\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_PACKAGES!r})\n"
        "assert status == 0, status\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
