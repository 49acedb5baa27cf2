"""``apicviz import kvm-lapic-state``: register pages as KVM_GET_LAPIC returns them."""
from __future__ import annotations

import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import scaled
from import_helpers import DATA, only_files, run_cli, run_main

from apicviz.importers import encode_lapic_page, import_lapic_sources, import_lapic_state
from apicviz.importers.kvm_lapic_state import LapicRegs, apic_mode_from_base, decode_lapic_page
from apicviz.model import ScenarioError, evaluate, load_scenario
from apicviz.model.scenario import DFR_CLUSTER, DFR_FLAT

FUZZ = settings(max_examples=scaled(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def handmade_page(regs: dict[int, bytes]) -> bytes:
    """A page from literal register bytes (little-endian, as they sit in memory); zeros elsewhere."""
    page = bytearray(1024)
    for offset, raw in regs.items():
        page[offset:offset + len(raw)] = raw
    return bytes(page)


#: xAPIC ID 5, KVM version register, logical ID 0x04, cluster DFR, software-enabled, vector 0xff.
PAGE_XAPIC_5 = handmade_page({
    0x20: b"\x00\x00\x00\x05",
    0x30: b"\x14\x00\x05\x00",
    0xD0: b"\x00\x00\x00\x04",
    0xE0: b"\xff\xff\xff\x0f",
    0xF0: b"\xff\x01\x00\x00",
})
#: x2APIC vCPU 0x1234 as KVM reports it with 32-bit IDs: APIC_ID = the ID, LDR = cluster 0x123, bit 4.
PAGE_X2APIC_1234_32BIT = handmade_page({
    0x20: b"\x34\x12\x00\x00",
    0x30: b"\x14\x00\x06\x00",
    0xD0: b"\x10\x00\x23\x01",
    0xE0: b"\xff\xff\xff\xff",
    0xF0: b"\xff\x01\x00\x00",
})
#: The same vCPU without 32-bit IDs: APIC_ID = (0x1234 << 24) as a u32 = 0x34000000.
PAGE_X2APIC_1234_8BIT = handmade_page({
    0x20: b"\x00\x00\x00\x34",
    0x30: b"\x14\x00\x06\x00",
    0xD0: b"\x10\x00\x23\x01",
    0xE0: b"\xff\xff\xff\xff",
    0xF0: b"\xff\x01\x00\x00",
})

EN, EXTD = 1 << 11, 1 << 10
XAPIC_BASE, X2APIC_BASE, DISABLED_BASE = 0xFEE00900, 0xFEE00D00, 0xFEE00000


def only_vcpu(result):
    assert len(result.scenario.vcpus) == 1
    return result.scenario.vcpus[0]


# --- decoding the page -------------------------------------------------------

def test_handmade_page_decodes_little_endian() -> None:
    assert decode_lapic_page(PAGE_XAPIC_5) == LapicRegs(
        apic_id=0x05000000, version=0x50014, ldr=0x04000000, dfr=0x0FFFFFFF, spiv=0x1FF
    )


def test_encoder_reproduces_the_handmade_bytes() -> None:
    assert encode_lapic_page(apic_id=5 << 24, ldr=4 << 24, dfr=DFR_CLUSTER, spiv=0x1FF) == PAGE_XAPIC_5
    assert encode_lapic_page(apic_id=0x1234, ldr=0x01230010, spiv=0x1FF, version=0x60014) == PAGE_X2APIC_1234_32BIT


def test_encoder_refuses_values_wider_than_32_bits() -> None:
    with pytest.raises(ValueError, match=r"register 0x20: 0x100000000 does not fit in 32 bits"):
        encode_lapic_page(apic_id=1 << 32)


def test_register_offsets_follow_the_apic_mmio_layout() -> None:
    page = encode_lapic_page(apic_id=0x11111111, ldr=0x22222222, dfr=0x33333333, spiv=0x44444444, version=0x55)
    assert struct.unpack_from("<I", page, 0x20)[0] == 0x11111111
    assert struct.unpack_from("<I", page, 0x30)[0] == 0x55
    assert struct.unpack_from("<I", page, 0xD0)[0] == 0x22222222
    assert struct.unpack_from("<I", page, 0xE0)[0] == 0x33333333
    assert struct.unpack_from("<I", page, 0xF0)[0] == 0x44444444
    assert page.count(0) == 1024 - 4 * 4 - 1


# --- xAPIC mode --------------------------------------------------------------

def test_xapic_page_gives_id_logical_id_dfr_and_sw_enable() -> None:
    result = import_lapic_state(PAGE_XAPIC_5, [5], [XAPIC_BASE], False, "one.bin")
    v = only_vcpu(result)
    assert (v.id, v.apic, v.xapic_id, v.logical_id, v.dfr, v.sw_enabled) == (5, "xapic", 5, 4, DFR_CLUSTER, True)
    assert result.warnings == []
    assert result.scenario.title == "Imported from one.bin (1 vCPU)"


def test_xapic_page_is_read_the_same_with_32bit_ids() -> None:
    """kvm_apic_state_fixup() leaves an xAPIC-mode APIC_ID alone: the ID stays in bits 31:24."""
    plain = import_lapic_state(PAGE_XAPIC_5, [5], [XAPIC_BASE], False, "a")
    wide = import_lapic_state(PAGE_XAPIC_5, [5], [XAPIC_BASE], True, "a")
    assert only_vcpu(plain) == only_vcpu(wide)
    assert wide.scenario.kvm.use_32bit_ids
    assert not plain.scenario.kvm.use_32bit_ids


def test_sample_file_two_xapic_vcpus_flat() -> None:
    data = (DATA / "lapic_xapic_flat_2.bin").read_bytes()
    result = import_lapic_state(data, None, None, False, "lapic_xapic_flat_2.bin")
    a, b = result.scenario.vcpus
    assert (a.id, a.xapic_id, a.logical_id, a.dfr, a.sw_enabled) == (0, 0, 1, DFR_FLAT, True)
    assert (b.id, b.xapic_id, b.logical_id, b.dfr, b.sw_enabled) == (1, 1, 2, DFR_FLAT, True)
    assert any("no --ids" in w for w in result.warnings)
    assert any("no --apic-base" in w for w in result.warnings)
    assert result.scenario.title == "Imported from lapic_xapic_flat_2.bin (2 vCPUs)"
    assert "no --apic-base" in result.scenario.notes
    ev = evaluate(result.scenario)
    assert ev.result.map is not None
    assert ev.result.map.logical_mode == "flat"


def test_rewritten_xapic_id_is_kept_and_reported() -> None:
    page = encode_lapic_page(apic_id=7 << 24, spiv=0x1FF)
    result = import_lapic_state(page, [3], [XAPIC_BASE], False, "x")
    assert only_vcpu(result).xapic_id == 7
    assert any("rewrote APIC_ID" in w for w in result.warnings)


def test_xapic_mode_low_bits_are_ignored_with_a_hint() -> None:
    page = encode_lapic_page(apic_id=0x123, ldr=0x00120008, spiv=0x1FF)
    result = import_lapic_state(page, [0x123], None, False, "x")
    v = only_vcpu(result)
    assert (v.apic, v.xapic_id, v.logical_id) == ("xapic", 0, 0)
    assert any("bits 23:0" in w and "--apic-base" in w for w in result.warnings)


def test_dfr_is_stored_raw_and_odd_models_are_reported() -> None:
    page = encode_lapic_page(dfr=0x5FFFFFFF, spiv=0x1FF)
    result = import_lapic_state(page, [0], [XAPIC_BASE], False, "x")
    assert only_vcpu(result).dfr == 0x5FFFFFFF
    assert any("neither flat" in w for w in result.warnings)


def test_software_disabled_from_spiv_bit_8() -> None:
    page = encode_lapic_page(spiv=0xFF)
    assert only_vcpu(import_lapic_state(page, [0], [XAPIC_BASE], False, "x")).sw_enabled is False


# --- x2APIC mode and the two APIC_ID encodings ----------------------------------

def test_x2apic_32bit_format_matches_vcpu_id() -> None:
    result = import_lapic_state(PAGE_X2APIC_1234_32BIT, [0x1234], [X2APIC_BASE], True, "x")
    v = only_vcpu(result)
    assert (v.id, v.apic, v.sw_enabled) == (0x1234, "x2apic", True)
    assert v.x2apic_ldr == 0x01230010
    assert result.warnings == []
    assert result.scenario.kvm.use_32bit_ids is True


def test_x2apic_8bit_format_is_id_shifted_by_24() -> None:
    result = import_lapic_state(PAGE_X2APIC_1234_8BIT, [0x1234], [X2APIC_BASE], False, "x")
    assert only_vcpu(result).apic == "x2apic"
    assert result.warnings == []


def test_32bit_page_read_without_the_flag_suggests_it() -> None:
    result = import_lapic_state(PAGE_X2APIC_1234_32BIT, [0x1234], [X2APIC_BASE], False, "x")
    assert any("--x2apic-32bit-ids" in w for w in result.warnings)


def test_8bit_page_read_with_the_flag_says_so() -> None:
    result = import_lapic_state(PAGE_X2APIC_1234_8BIT, [0x1234], [X2APIC_BASE], True, "x")
    assert any("8-bit layout" in w and "KVM_SET_LAPIC would refuse" in w for w in result.warnings)


def test_x2apic_id_disagreeing_with_given_id_is_a_warning() -> None:
    result = import_lapic_state(PAGE_X2APIC_1234_32BIT, [0x1235], [X2APIC_BASE], True, "f.bin")
    assert only_vcpu(result).id == 0x1235  # the vCPU ID is the x2APIC ID in KVM
    text = " ".join(result.warnings)
    assert "f.bin: byte 0 (vCPU 0x1235)" in text
    assert "0x1234" in text
    assert "wrong --ids" in text


def test_x2apic_ldr_not_derived_from_id_is_a_warning() -> None:
    page = encode_lapic_page(apic_id=3, ldr=0x1, spiv=0x1FF)
    result = import_lapic_state(page, [3], [X2APIC_BASE], True, "x")
    assert any("LDR holds 0x1" in w and "0x8" in w for w in result.warnings)


def test_sample_file_mixed_modes_32bit_ids() -> None:
    data = (DATA / "lapic_mixed_32bit_ids.bin").read_bytes()
    result = import_lapic_state(data, [0, 0x123, 2], [X2APIC_BASE, 0xFEE00C00, 0xFEE00800], True, "m.bin")
    a, b, c = result.scenario.vcpus
    assert (a.apic, b.apic, c.apic) == ("x2apic", "x2apic", "xapic")
    assert (b.id, b.x2apic_ldr) == (0x123, 0x120008)
    assert (c.xapic_id, c.logical_id, c.dfr, c.sw_enabled) == (2, 0x21, DFR_CLUSTER, False)
    assert result.warnings == []


def test_sample_file_mixed_modes_8bit_ids() -> None:
    data = (DATA / "lapic_mixed_8bit_ids.bin").read_bytes()
    result = import_lapic_state(data, [0, 0x123, 2], [X2APIC_BASE, 0xFEE00C00, 0xFEE00800], False, "m.bin")
    assert [v.apic for v in result.scenario.vcpus] == ["x2apic", "x2apic", "xapic"]
    assert result.warnings == []


# --- IA32_APIC_BASE ------------------------------------------------------------

@pytest.mark.parametrize(("value", "mode"), [
    (0xFEE00900, "xapic"), (0xFEE00800, "xapic"), (0xFEE00C00, "x2apic"), (0xFEE00D00, "x2apic"),
    (0xFEE00000, "disabled"), (0x0, "disabled"), (EN, "xapic"), (EN | EXTD, "x2apic"),
])
def test_apic_base_selects_the_mode(value: int, mode: str) -> None:
    assert apic_mode_from_base(value, "--apic-base") == mode


@pytest.mark.parametrize("value", [EXTD, 0xFEE00400, 0xFEE00500])
def test_extd_without_en_is_an_error_naming_the_value(value: int) -> None:
    with pytest.raises(ScenarioError, match=f"{value:#x}.*invalid"):
        import_lapic_state(PAGE_XAPIC_5, [5], [value], False, "x")


def test_apic_base_wider_than_64_bits_is_refused() -> None:
    with pytest.raises(ScenarioError, match="--apic-base"):
        import_lapic_state(PAGE_XAPIC_5, [5], [1 << 64], False, "x")


def test_one_apic_base_serves_every_page() -> None:
    data = PAGE_X2APIC_1234_32BIT + encode_lapic_page(apic_id=7, ldr=0x80, spiv=0x1FF)
    result = import_lapic_state(data, [0x1234, 7], [X2APIC_BASE], True, "x")
    assert [v.apic for v in result.scenario.vcpus] == ["x2apic", "x2apic"]


def test_apic_base_count_must_match_pages() -> None:
    data = PAGE_XAPIC_5 * 3
    with pytest.raises(ScenarioError, match="2 values for 3 vCPUs"):
        import_lapic_state(data, [1, 2, 3], [XAPIC_BASE, XAPIC_BASE], False, "x")


def test_disabled_vcpu_is_imported_as_disabled() -> None:
    result = import_lapic_state(PAGE_XAPIC_5, [5], [DISABLED_BASE], False, "x")
    assert only_vcpu(result).apic == "disabled"


# --- IDs -----------------------------------------------------------------------

def test_too_few_ids() -> None:
    with pytest.raises(ScenarioError, match=r"--ids: 1 IDs for 2 vCPUs .*too few"):
        import_lapic_state(PAGE_XAPIC_5 * 2, [0], None, False, "x")


def test_too_many_ids_for_the_pages() -> None:
    with pytest.raises(ScenarioError, match=r"3 IDs for 2 vCPUs \(2 pages in x\): too many"):
        import_lapic_state(PAGE_XAPIC_5 * 2, [0, 1, 2], None, False, "x")


def test_duplicate_ids() -> None:
    with pytest.raises(ScenarioError, match=r"--ids\[1\]: 0x5 is already --ids\[0\]"):
        import_lapic_state(PAGE_XAPIC_5 * 2, [5, 5], None, False, "x")


def test_id_out_of_range() -> None:
    with pytest.raises(ScenarioError, match=r"--ids\[0\]"):
        import_lapic_state(PAGE_XAPIC_5, [0xFFFFFFFF], None, False, "x")


def test_ids_above_kvm_max_vcpu_ids_are_imported_with_a_warning() -> None:
    page = encode_lapic_page(apic_id=0x12345, ldr=0x12340020, spiv=0x1FF)
    result = import_lapic_state(page, [0x12345], [X2APIC_BASE], True, "x")
    assert only_vcpu(result).id == 0x12345
    assert [w for w in result.warnings if "KVM_MAX_VCPU_IDS" in w]
    assert "KVM_MAX_VCPU_IDS" in result.scenario.notes


# --- malformed input -------------------------------------------------------------

def test_truncated_page_names_the_byte_offset() -> None:
    data = (DATA / "lapic_truncated.bin").read_bytes()
    with pytest.raises(ScenarioError) as err:
        import_lapic_state(data, None, None, False, "lapic.bin")
    assert str(err.value) == "lapic.bin: byte 2048: truncated page (300 bytes; a kvm_lapic_state page is 1024 bytes)"


def test_empty_file() -> None:
    with pytest.raises(ScenarioError, match=r"e\.bin: empty file"):
        import_lapic_state(b"", None, None, False, "e.bin")


@pytest.mark.parametrize(("name", "hint"), [
    ("info_lapic_one_cpu.txt", "qemu-info-lapic"),
    ("info_garbage.txt", "binary"),
])
def test_text_is_refused_with_a_hint(name: str, hint: str) -> None:
    with pytest.raises(ScenarioError, match=f"byte 0: this is text.*{hint}"):
        import_lapic_state((DATA / name).read_bytes(), None, None, False, name)


def test_a_scenario_file_is_refused() -> None:
    with pytest.raises(ScenarioError, match="JSON"):
        import_lapic_state(b'{"format": "apicviz-scenario"}' + b" " * 994, None, None, False, "s.json")


def test_zero_page_imports_with_a_version_warning() -> None:
    result = import_lapic_state((DATA / "lapic_zeros.bin").read_bytes(), None, None, False, "z.bin")
    v = only_vcpu(result)
    assert (v.xapic_id, v.sw_enabled, v.dfr) == (0, False, 0)
    assert any("really KVM_GET_LAPIC pages" in w for w in result.warnings)


def test_random_bytes_import_or_fail_cleanly() -> None:
    data = (DATA / "lapic_random.bin").read_bytes()
    try:
        result = import_lapic_state(data, None, None, False, "r.bin")
    except ScenarioError:
        return
    assert len(result.scenario.vcpus) == 2


def test_more_pages_than_kvm_max_vcpus() -> None:
    with pytest.raises(ScenarioError, match="4097 vCPUs; at most 4096"):
        import_lapic_state(PAGE_XAPIC_5 * 4097, None, None, False, "big.bin")


def test_several_sources_concatenate_and_errors_name_the_file() -> None:
    result = import_lapic_sources([("a.bin", PAGE_XAPIC_5), ("b.bin", PAGE_XAPIC_5)], [5, 6], None, False)
    assert [v.xapic_id for v in result.scenario.vcpus] == [5, 5]
    assert result.scenario.title == "Imported from a.bin, b.bin (2 vCPUs)"
    assert any(w.startswith("b.bin: byte 0 (vCPU 0x6)") for w in result.warnings)
    with pytest.raises(ScenarioError, match=r"^b\.bin: byte 1024: truncated page \(10 bytes"):
        import_lapic_sources([("a.bin", PAGE_XAPIC_5), ("b.bin", PAGE_XAPIC_5 + b"x" * 10)], None, None, False)


def test_no_sources() -> None:
    with pytest.raises(ScenarioError, match="no input"):
        import_lapic_sources([], None, None, False)


# --- fuzz ------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=3 * 1024 + 10))
def test_fuzz_any_bytes(data: bytes) -> None:
    try:
        result = import_lapic_state(data, None, None, False, "fuzz.bin")
    except ScenarioError:
        return
    assert len(result.scenario.vcpus) == len(data) // 1024


u32 = st.integers(0, 0xFFFFFFFF)


@FUZZ
@given(
    st.lists(st.tuples(u32, u32, u32, u32, u32), min_size=1, max_size=4),
    st.one_of(st.none(), st.lists(st.integers(-2, 2**33), min_size=1, max_size=5)),
    st.one_of(st.none(), st.lists(st.integers(-1, 2**65), min_size=1, max_size=5)),
    st.booleans(),
)
def test_fuzz_register_values_ids_and_bases(regs, ids, bases, wide) -> None:
    data = b"".join(encode_lapic_page(apic_id=a, ldr=b, dfr=c, spiv=d, version=e) for a, b, c, d, e in regs)
    try:
        result = import_lapic_state(data, ids, bases, wide, "fuzz.bin")
    except ScenarioError:
        return
    assert len(result.scenario.vcpus) == len(regs)
    evaluate(result.scenario)


# --- command line ----------------------------------------------------------------

def test_cli_writes_a_loadable_scenario(tmp_path, capsys) -> None:
    out = tmp_path / "out.apicviz.json"
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_mixed_32bit_ids.bin"), "-o", str(out),
                   "--ids", "0,0x123,2", "--apic-base", "0xfee00d00,0xfee00c00,0xfee00800",
                   "--x2apic-32bit-ids", "--kernel", "6.1")
    assert run.status == 0, run.err
    assert run.out == ""
    scenario = load_scenario(out)
    assert scenario.title == "Imported from lapic_mixed_32bit_ids.bin (3 vCPUs)"
    assert scenario.kvm.kernel == "6.1"
    assert scenario.kvm.use_32bit_ids
    assert [v.id for v in scenario.vcpus] == [0, 0x123, 2]
    assert only_files(tmp_path) == ["out.apicviz.json"]


def test_cli_prints_warnings_on_stderr(tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin"), "-o", str(out))
    assert run.status == 0
    assert "warning: no --apic-base given" in run.err
    assert "wrote" in run.err
    assert "2 vCPUs" in run.err
    assert "no --apic-base given" in load_scenario(out).notes


def test_cli_several_files(tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    flat = str(DATA / "lapic_xapic_flat_2.bin")
    run = run_main(capsys, "kvm-lapic-state", flat, str(DATA / "lapic_zeros.bin"), "-o", str(out),
                   "--ids", "0,1,2")
    assert run.status == 0, run.err
    assert len(load_scenario(out).vcpus) == 3


@pytest.mark.parametrize(("sample", "fragment"), [
    ("lapic_truncated.bin", "lapic_truncated.bin: byte 2048: truncated page (300 bytes"),
    ("lapic_empty.bin", "lapic_empty.bin: empty file"),
    ("info_lapic_one_cpu.txt", "info_lapic_one_cpu.txt: byte 0: this is text"),
])
def test_cli_bad_input_exits_1_and_writes_nothing(tmp_path, capsys, sample: str, fragment: str) -> None:
    out = tmp_path / "out.json"
    out.write_text("previous contents")
    run = run_main(capsys, "kvm-lapic-state", str(DATA / sample), "-o", str(out))
    assert run.status == 1
    assert fragment in run.err
    assert "Traceback" not in run.err
    assert out.read_text() == "previous contents"
    assert only_files(tmp_path) == ["out.json"]


def test_cli_partial_import_writes_nothing(tmp_path, capsys) -> None:
    """The first file is fine, the second is broken: no output at all."""
    out = tmp_path / "out.json"
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin"),
                   str(DATA / "lapic_truncated.bin"), "-o", str(out))
    assert run.status == 1
    assert not out.exists()
    assert only_files(tmp_path) == []


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--ids", "0,zz"], "--ids[1]"),
    (["--ids", ""], "--ids[0]"),
    (["--apic-base", "0x400"], "0x400"),
    (["--apic-base", "0x1" + "0" * 17], "--apic-base[0]"),
    (["--kernel", "3.10"], "older than 4.11"),
    (["--kernel", "6.x"], "not a kernel version"),
])
def test_cli_bad_options_exit_2(tmp_path, capsys, argv: list[str], fragment: str) -> None:
    out = tmp_path / "out.json"
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin"), "-o", str(out), *argv)
    assert run.status == 2
    assert fragment in run.err
    assert not out.exists()


def test_cli_id_count_mismatch_exits_1(tmp_path, capsys) -> None:
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin"), "-o",
                   str(tmp_path / "o.json"), "--ids", "0,1,2")
    assert run.status == 1
    assert "too many" in run.err


def test_cli_missing_output_option_is_a_usage_error(capsys) -> None:
    assert run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin")).status == 2


def test_cli_output_may_not_be_an_input(tmp_path, capsys) -> None:
    page = tmp_path / "p.bin"
    page.write_bytes(PAGE_XAPIC_5)
    run = run_main(capsys, "kvm-lapic-state", str(page), "-o", str(page))
    assert run.status == 2
    assert "also an input" in run.err
    assert page.read_bytes() == PAGE_XAPIC_5


def test_cli_missing_file_exits_1(tmp_path, capsys) -> None:
    run = run_main(capsys, "kvm-lapic-state", str(tmp_path / "nope.bin"), "-o", str(tmp_path / "o.json"))
    assert run.status == 1
    assert "cannot read" in run.err


def test_cli_unwritable_output_exits_1(tmp_path, capsys) -> None:
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin"),
                   "-o", str(tmp_path / "no-such-dir" / "o.json"))
    assert run.status == 1
    assert "cannot write" in run.err
    assert "Traceback" not in run.err


def test_cli_help_exits_0(capsys) -> None:
    assert run_main(capsys, "kvm-lapic-state", "--help").status == 0


def test_installed_entry_point_and_stdin(tmp_path) -> None:
    out = tmp_path / "o.json"
    run = run_cli("kvm-lapic-state", "-", "-o", str(out), "--ids", "5",
                  "--apic-base", "0xfee00900", stdin=PAGE_XAPIC_5)
    assert run.status == 0, run.err
    assert load_scenario(out).vcpus[0].xapic_id == 5
    run = run_cli("kvm-lapic-state", str(DATA / "lapic_truncated.bin"), "-o", str(out))
    assert run.status == 1
    assert "byte 2048: truncated page" in run.err
    assert "Traceback" not in run.err
    run = run_cli("no-such-format", "x")
    assert run.status == 2
    assert "Traceback" not in run.err


def test_cli_output_to_stdout(capsys) -> None:
    run = run_main(capsys, "kvm-lapic-state", str(DATA / "lapic_xapic_flat_2.bin"), "-o", "-")
    assert run.status == 0
    assert '"format": "apicviz-scenario"' in run.out
    assert "warning" not in run.out


def test_import_path_stays_qt_free(tmp_path) -> None:
    """The importers and the import command run on machines without Qt or a display."""
    pages, text = str(DATA / "lapic_xapic_flat_2.bin"), str(DATA / "info_lapic_one_cpu.txt")
    code = (
        "import sys\n"
        "from apicviz.cli.import_cmd import run as main\n"
        f"status = main(['kvm-lapic-state', {pages!r}, '-o', {str(tmp_path / 'o.json')!r}])\n"
        f"status |= main(['qemu-info-lapic', {text!r}, '-o', {str(tmp_path / 'q.json')!r}])\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
        "assert status == 0 and not qt, (status, qt)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
