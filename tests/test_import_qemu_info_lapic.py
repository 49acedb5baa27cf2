"""``apicviz import qemu-info-lapic``: the text of QEMU's HMP ``info lapic``."""
from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import scaled
from import_helpers import DATA, only_files, run_cli, run_main

from apicviz.importers import import_info_lapic
from apicviz.importers.qemu_info_lapic import parse_info_lapic
from apicviz.model import ScenarioError, evaluate, load_scenario
from apicviz.model.scenario import DFR_CLUSTER, DFR_FLAT

FUZZ = settings(max_examples=scaled(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: One dump as current QEMU prints it (tabs after the register names, a space after "CPU %-2u" and after
#: each IRR vector), CPU 3, cluster 2 bit 1.
DUMP_CPU3 = """dumping local APIC state for CPU 3\x20

LVT0\t 0x00010700 active-hi edge  masked                      ExtINT (vec 0)
LVT1\t 0x00000400 active-hi edge                              NMI
LVTPC\t 0x00010000 active-hi edge  masked                      Fixed  (vec 0)
LVTERR\t 0x000000fe active-hi edge                              Fixed  (vec 254)
LVTTHMR\t 0x00010000 active-hi edge  masked                      Fixed  (vec 0)
LVTT\t 0x000400ec active-hi edge                 tsc-deadline Fixed  (vec 236)
Timer\t DCR=0x0 (divide by 2) initial_count = 0 current_count = 0
SPIV\t 0x000001ff APIC enabled, focus=off, spurious vec 255
ICR\t 0x000000fd physical edge de-assert no-shorthand
ICR2\t 0x02000000 cpu 2 (APIC ID)
ESR\t 0x00000000
ISR\t (none)
IRR\t 37(level) 236\x20

APR 0x00 TPR 0x00 DFR 0x00 LDR 0x22(cluster 2: id 2) PPR 0x00
"""


def load(name: str, ids=None, modes=None):
    return import_info_lapic((DATA / name).read_text(), ids, modes, name)


def only_vcpu(result):
    assert len(result.scenario.vcpus) == 1
    return result.scenario.vcpus[0]


# --- well-formed dumps -----------------------------------------------------------

def test_handwritten_dump() -> None:
    result = import_info_lapic(DUMP_CPU3, None, None, "info.txt")
    v = only_vcpu(result)
    assert (v.id, v.apic, v.sw_enabled, v.logical_id, v.dfr, v.xapic_id) == (3, "xapic", True, 0x22, DFR_CLUSTER, 3)
    assert result.scenario.title == "Imported from info.txt (1 vCPU)"
    assert "does not show the APIC ID or the APIC mode" in result.warnings[0]
    assert "--ids and --mode" in result.warnings[0]


def test_parser_reports_lines() -> None:
    dumps, warnings = parse_info_lapic(DUMP_CPU3, "info.txt")
    (dump,) = dumps
    assert (dump.line, dump.cpu_index, dump.spiv, dump.spiv_line, dump.dfr, dump.ldr, dump.apr_line) == (
        1, 3, 0x1FF, 10, 0x0, 0x22, 17)
    assert warnings == []


def test_one_cpu_sample() -> None:
    v = only_vcpu(load("info_lapic_one_cpu.txt"))
    assert (v.id, v.apic, v.logical_id, v.dfr, v.sw_enabled) == (0, "xapic", 1, DFR_FLAT, True)


def test_four_cpus_with_prompts() -> None:
    result = load("info_lapic_four_cpus.txt")
    vcpus = result.scenario.vcpus
    assert [v.id for v in vcpus] == [0, 1, 2, 3]
    assert [v.logical_id for v in vcpus] == [0x11, 0x12, 0x00, 0x14]
    assert [v.sw_enabled for v in vcpus] == [True, True, False, True]
    assert all(v.dfr == DFR_CLUSTER for v in vcpus)
    assert "info lapic N" in result.warnings[0]
    ev = evaluate(result.scenario)
    assert ev.result.map is not None
    assert ev.result.map.logical_mode == "cluster"


def test_qemu_2_7_format_without_current_count() -> None:
    vcpus = load("info_lapic_qemu27.txt").scenario.vcpus
    assert [(v.id, v.logical_id) for v in vcpus] == [(0, 1), (1, 2)]


def test_terminal_copy_with_spaces_and_crlf() -> None:
    vcpus = load("info_lapic_terminal_crlf.txt").scenario.vcpus
    assert [(v.id, v.logical_id, v.dfr) for v in vcpus] == [(0, 1, DFR_FLAT), (12, 0x80, DFR_FLAT)]


def test_wide_ldr_means_x2apic_when_the_mode_is_not_given() -> None:
    result = load("info_lapic_x2apic_tcg.txt")
    a, b = result.scenario.vcpus
    assert (a.id, a.apic, a.logical_id) == (5, "xapic", 0x20)
    assert (b.id, b.apic) == (16, "x2apic")
    assert any("taken to be in x2APIC mode" in w for w in result.warnings)


def test_x2apic_ldr_checked_against_the_id() -> None:
    result = load("info_lapic_x2apic_tcg.txt", modes=["x2apic"])
    assert [v.apic for v in result.scenario.vcpus] == ["x2apic", "x2apic"]
    assert not any("does not match" in w for w in result.warnings)  # 0x20 for ID 5, 0x10001 for ID 0x10
    result = load("info_lapic_x2apic_tcg.txt", ids=[6, 16], modes=["x2apic"])
    assert any("line 1 (CPU 5, vCPU 0x6): LDR 0x20 does not match" in w for w in result.warnings)


def test_kvm_style_x2apic_ldr_top_byte_is_accepted() -> None:
    """Under KVM QEMU prints LDR >> 24: x2APIC ID 0x1000 has LDR 0x01000001, printed as 0x01."""
    text = DUMP_CPU3.replace("DFR 0x00 LDR 0x22(cluster 2: id 2)", "DFR 0x0f LDR 0x01")
    result = import_info_lapic(text, [0x1000], ["x2apic"], "t")
    assert only_vcpu(result).x2apic_ldr == 0x01000001
    assert result.warnings == []
    assert not any("does not match" in w for w in result.warnings)


def test_explicit_xapic_mode_with_wide_ldr_is_an_error() -> None:
    with pytest.raises(ScenarioError, match=r"line 34: LDR 0x10001 is wider .* --mode xapic"):
        load("info_lapic_x2apic_tcg.txt", modes=["xapic"])


def test_ids_and_modes_given() -> None:
    modes = ["xapic", "xapic", "disabled", "xapic"]
    result = load("info_lapic_four_cpus.txt", ids=[0x10, 0x11, 0x12, 0x13], modes=modes)
    assert [v.id for v in result.scenario.vcpus] == [0x10, 0x11, 0x12, 0x13]
    assert [v.apic for v in result.scenario.vcpus] == ["xapic", "xapic", "disabled", "xapic"]
    assert not any("does not show" in w for w in result.warnings)


def test_only_ids_given_still_warns_about_the_mode() -> None:
    result = load("info_lapic_one_cpu.txt", ids=[7])
    assert "does not show the APIC mode" in result.warnings[0]
    assert "--mode" in result.warnings[0]


def test_id_and_mode_counts_must_match() -> None:
    with pytest.raises(ScenarioError, match="--ids: 2 IDs for 4 vCPUs"):
        load("info_lapic_four_cpus.txt", ids=[1, 2])
    with pytest.raises(ScenarioError, match="--mode: 2 values for 4 vCPUs"):
        load("info_lapic_four_cpus.txt", modes=["xapic", "x2apic"])
    with pytest.raises(ScenarioError, match=r"--ids\[1\]"):
        load("info_lapic_four_cpus.txt", ids=[1, 1, 2, 3])
    with pytest.raises(ScenarioError, match=r"--mode\[0\]"):
        load("info_lapic_one_cpu.txt", modes=["x3apic"])


def test_spiv_text_disagreeing_with_bit_8() -> None:
    text = DUMP_CPU3.replace("0x000001ff APIC enabled", "0x000000ff APIC enabled")
    result = import_info_lapic(text, None, None, "t")
    assert only_vcpu(result).sw_enabled is False
    assert any("line 10: SPIV 0x000000ff has bit 8 clear" in w for w in result.warnings)


def test_odd_dfr_model_is_kept_with_a_warning() -> None:
    text = DUMP_CPU3.replace("DFR 0x00 LDR 0x22(cluster 2: id 2)", "DFR 0x05 LDR 0x22")
    result = import_info_lapic(text, None, None, "t")
    assert only_vcpu(result).dfr == 0x5FFFFFFF
    assert any("DFR model 0x5" in w for w in result.warnings)


def test_capitalised_header_and_no_trailing_space() -> None:
    text = DUMP_CPU3.replace("dumping local APIC state for CPU 3 ", "Dumping local APIC state for CPU 3")
    assert only_vcpu(import_info_lapic(text, None, None, "t")).id == 3


def test_cpu_without_apic_is_skipped_with_a_warning() -> None:
    text = "(qemu) info lapic 9\nlocal apic state not available\n" + DUMP_CPU3
    result = import_info_lapic(text, None, None, "t")
    assert only_vcpu(result).id == 3  # the prompt's APIC ID belonged to the skipped CPU
    assert any("line 2" in w and "without a local APIC" in w for w in result.warnings)


def test_prompt_apic_id_becomes_the_vcpu_id() -> None:
    result = import_info_lapic("(qemu) info lapic 0x23\n" + DUMP_CPU3, None, None, "t")
    assert only_vcpu(result).id == 0x23


def test_unreadable_prompt_argument_is_a_warning() -> None:
    result = import_info_lapic("(qemu) info lapic $eax\n" + DUMP_CPU3, None, None, "t")
    assert only_vcpu(result).id == 3
    assert any("cannot read the APIC ID" in w for w in result.warnings)


def test_other_monitor_output_around_dumps_is_ignored() -> None:
    before = "(qemu) info pic\n  IRR      (none)\npic0: irr=13\n"
    text = before + DUMP_CPU3 + "(qemu) info cpus\n* CPU #0: thread_id=1\n"
    assert only_vcpu(import_info_lapic(text, None, None, "t")).id == 3


def test_default_ids_that_collide_are_an_error() -> None:
    text = "(qemu) info lapic 4\n" + DUMP_CPU3 + DUMP_CPU3.replace("CPU 3 ", "CPU 4 ")
    with pytest.raises(ScenarioError, match=r"CPU 4 would get vCPU ID 0x4, already taken .*--ids"):
        import_info_lapic(text, None, None, "t")


# --- malformed input -------------------------------------------------------------

@pytest.mark.parametrize(("name", "message"), [
    ("info_bad_hex.txt", "info_bad_hex.txt: line 10: SPIV value '0xzz' is not hex"),
    ("info_missing_header.txt", "line 8: SPIV line outside a dump: the header 'dumping local APIC state for CPU N'"),
    ("info_truncated.txt", "line 1: the dump of CPU 0 ends with the file, without its 'APR"),
    ("info_truncated_then_next.txt", "line 1: the dump of CPU 0 ends at line 13"),
    ("info_garbage.txt", "info_garbage.txt: no 'dumping local APIC state for CPU N' header found"),
    ("info_empty.txt", "info_empty.txt: no 'dumping local APIC state"),
    ("info_huge_spiv.txt", "line 10: SPIV: 0x1000001ff is out of range"),
    ("info_huge_ldr.txt", "line 17: LDR value '0xffffffffffffffffffffff'… is far too large"),
    ("info_huge_cpu_index.txt", "line 1: CPU index: 0x56bc75e2d630fffff is out of range"),
    ("info_duplicate_cpu.txt", "line 18: a second dump for CPU 1 (the first is at line 1)"),
    ("info_dfr_too_wide.txt", "line 17: DFR 0x1f is wider than the 4-bit model"),
    ("info_no_ldr.txt", "line 17: no LDR value in the APR line"),
    ("info_mixed_text.txt", "line 14: unexpected line in the dump of CPU 0 (from line 1): 'something else entirely'"),
    ("info_nul_inside.txt", "line 13: control character U+0000 at column 2"),
])
def test_broken_samples(name: str, message: str) -> None:
    text = (DATA / name).read_bytes().decode("utf-8")
    with pytest.raises(ScenarioError) as err:
        import_info_lapic(text, None, None, name)
    assert message in str(err.value)


def test_binary_junk_decoded_leniently_is_still_refused() -> None:
    text = (DATA / "info_binary_junk.bin").read_bytes().decode("latin-1")
    with pytest.raises(ScenarioError, match="line 1: control character U\\+0000"):
        import_info_lapic(text, None, None, "junk")


@pytest.mark.parametrize("cut", ["SPIV", "APR"])
def test_a_dump_missing_a_needed_line(cut: str) -> None:
    text = "\n".join(line for line in DUMP_CPU3.split("\n") if not line.startswith(cut))
    with pytest.raises(ScenarioError, match="line 1: the dump of CPU 3"):
        import_info_lapic(text, None, None, "t")


def test_prompt_inside_a_dump_is_an_error() -> None:
    text = DUMP_CPU3.replace("ESR\t 0x00000000\n", "(qemu) info lapic\n")
    with pytest.raises(ScenarioError, match="line 13: unexpected line"):
        import_info_lapic(text, None, None, "t")


def test_second_spiv_line() -> None:
    text = DUMP_CPU3.replace("ESR\t 0x00000000\n", "SPIV\t 0x000001ff\n")
    with pytest.raises(ScenarioError, match="line 13: a second SPIV line"):
        import_info_lapic(text, None, None, "t")


def test_spiv_line_without_a_value() -> None:
    text = DUMP_CPU3.replace("SPIV\t 0x000001ff APIC enabled, focus=off, spurious vec 255", "SPIV")
    with pytest.raises(ScenarioError, match="line 10: SPIV value '' is not hex"):
        import_info_lapic(text, None, None, "t")


@pytest.mark.parametrize("index", ["x", "\u0663", "-1", "0x3"])
def test_cpu_index_not_a_number(index: str) -> None:
    with pytest.raises(ScenarioError, match=r"line 1: CPU index .* is not a decimal number"):
        import_info_lapic(DUMP_CPU3.replace("CPU 3 ", f"CPU {index}"), None, None, "t")


def test_cpu_index_with_leading_zeros() -> None:
    assert only_vcpu(import_info_lapic(DUMP_CPU3.replace("CPU 3 ", "CPU 003"), None, None, "t")).id == 3


def test_cpu_index_letter() -> None:
    with pytest.raises(ScenarioError, match="line 1: CPU index 'x' is not a decimal number"):
        import_info_lapic(DUMP_CPU3.replace("CPU 3 ", "CPU x"), None, None, "t")


def test_more_dumps_than_kvm_max_vcpus() -> None:
    text = "".join(DUMP_CPU3.replace("CPU 3 ", f"CPU {n}") for n in range(4097))
    with pytest.raises(ScenarioError, match="4097 vCPUs; at most 4096"):
        import_info_lapic(text, None, None, "t")


# --- fuzz ------------------------------------------------------------------------

@FUZZ
@given(st.text(max_size=2000))
def test_fuzz_any_text(text: str) -> None:
    with contextlib.suppress(ScenarioError):
        import_info_lapic(text, None, None, "fuzz.txt")


LINES = DUMP_CPU3.split("\n")


@FUZZ
@given(st.lists(st.one_of(
    st.sampled_from(LINES),
    st.sampled_from(["(qemu) info lapic 1", "(qemu) info lapic", "local apic state not available",
                     "APR 0x00 DFR 0xf LDR 0x1ff", "SPIV zz", "dumping local APIC state for CPU 7"]),
    st.text(max_size=30),
), max_size=60))
def test_fuzz_shuffled_dump_lines(lines: list[str]) -> None:
    try:
        result = import_info_lapic("\n".join(lines), None, None, "fuzz.txt")
    except ScenarioError:
        return
    evaluate(result.scenario)


@FUZZ
@given(st.data())
def test_fuzz_damaged_dump(data) -> None:
    """A real dump with one line replaced: it imports or fails with a line number, nothing else."""
    index = data.draw(st.integers(0, len(LINES) - 1))
    damaged = [*LINES[:index], data.draw(st.text(max_size=40)), *LINES[index + 1:]]
    try:
        import_info_lapic("\n".join(damaged), None, None, "fuzz.txt")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.txt")


# --- command line ----------------------------------------------------------------

def test_cli_writes_a_loadable_scenario(tmp_path, capsys) -> None:
    out = tmp_path / "out.apicviz.json"
    run = run_main(capsys, "qemu-info-lapic", str(DATA / "info_lapic_four_cpus.txt"), "-o", str(out),
                   "--ids", "0,2,4,6", "--mode", "xapic", "--kernel", "5.15", "--x2apic-32bit-ids")
    assert run.status == 0, run.err
    scenario = load_scenario(out)
    assert scenario.title == "Imported from info_lapic_four_cpus.txt (4 vCPUs)"
    assert [v.id for v in scenario.vcpus] == [0, 2, 4, 6]
    assert scenario.kvm.kernel == "5.15"
    assert scenario.kvm.use_32bit_ids
    assert "does not show the APIC mode" not in run.err


def test_cli_default_warning_is_printed_and_kept_in_notes(tmp_path, capsys) -> None:
    out = tmp_path / "o.json"
    run = run_main(capsys, "qemu-info-lapic", str(DATA / "info_lapic_one_cpu.txt"), "-o", str(out))
    assert run.status == 0
    assert "warning: QEMU's `info lapic` does not show the APIC ID or the APIC mode" in run.err
    assert "does not show the APIC ID" in load_scenario(out).notes


BROKEN = sorted(p.name for p in DATA.glob("info_*") if not p.name.startswith("info_lapic_"))


@pytest.mark.parametrize("name", BROKEN)
def test_cli_broken_samples_exit_1_without_output(tmp_path, capsys, name: str) -> None:
    out = tmp_path / "o.json"
    run = run_main(capsys, "qemu-info-lapic", str(DATA / name), "-o", str(out))
    assert run.status == 1
    assert run.err.startswith("apicviz import: error: " + name)
    assert "Traceback" not in run.err
    assert only_files(tmp_path) == []


def test_cli_utf16_names_the_byte(tmp_path, capsys) -> None:
    run = run_main(capsys, "qemu-info-lapic", str(DATA / "info_utf16.txt"), "-o", str(tmp_path / "o.json"))
    assert "info_utf16.txt: byte 0: not UTF-8 text (byte 0xff)" in run.err


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--mode", "x3apic"], "--mode[0]"),
    (["--mode", "xapic,,x2apic"], "--mode[1]"),
    (["--ids", "-1"], "--ids[0]"),
    (["--kernel", "upstream-ish"], "not a kernel version"),
])
def test_cli_bad_options_exit_2(tmp_path, capsys, argv, fragment) -> None:
    run = run_main(capsys, "qemu-info-lapic", str(DATA / "info_lapic_one_cpu.txt"), "-o",
                   str(tmp_path / "o.json"), *argv)
    assert run.status == 2
    assert fragment in run.err


def test_cli_takes_one_file(tmp_path, capsys) -> None:
    one = str(DATA / "info_lapic_one_cpu.txt")
    assert run_main(capsys, "qemu-info-lapic", one, one, "-o", str(tmp_path / "o.json")).status == 2


def test_installed_entry_point_reads_stdin(tmp_path) -> None:
    out = tmp_path / "o.json"
    run = run_cli("qemu-info-lapic", "-", "-o", str(out), stdin=DUMP_CPU3.encode())
    assert run.status == 0, run.err
    assert load_scenario(out).title == "Imported from <stdin> (1 vCPU)"
    run = run_cli("qemu-info-lapic", str(DATA / "info_binary_junk.bin"), "-o", str(out))
    assert run.status == 1
    assert "not UTF-8 text" in run.err
    assert "Traceback" not in run.err
