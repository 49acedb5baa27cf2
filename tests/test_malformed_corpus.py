"""Malformed scenario files: each is refused with a ScenarioError naming the field at fault.

The corpus lives in ``tests/data/malformed/``; EXPECTED below is its sidecar:
file name -> (the error's ``field``, a fragment of its message). A file
without an entry, or an entry without a file, fails the test, so the corpus
and the expectations cannot drift apart.
"""
from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import scaled

from apicviz.model import ScenarioError, load_scenario, scenario_from_dict, scenario_from_text
from apicviz.model.png_text import PNG_SIGNATURE, scenario_text_from_png

CORPUS = Path(__file__).parent / "data" / "malformed"

EXPECTED: dict[str, tuple[str, str]] = {
    # not a JSON scenario at all
    "not_json.apicviz.json": ("", "not valid JSON"),
    "empty.apicviz.json": ("", "not valid JSON"),
    "truncated_json.apicviz.json": ("", "not valid JSON"),
    "binary_junk.apicviz.json": ("", "not a UTF-8 text file"),
    "utf16.apicviz.json": ("", "not a UTF-8 text file (byte 0 is 0xff)"),
    "nul_byte.apicviz.json": ("", "NUL byte"),
    "deep_nesting.apicviz.json": ("", "nested too deeply"),
    "huge_integer_literal.apicviz.json": ("", "more than 4300 digits"),
    "png_without_scenario.apicviz.json": ("", "PNG without an embedded apicviz scenario"),
    "png_bad_crc.apicviz.json": ("", "IHDR chunk at byte 8: CRC mismatch"),
    "png_two_scenarios.apicviz.json": ("", "a second apicviz-scenario chunk"),
    "png_scenario_inflates_past_32mib.apicviz.json": ("", "inflates to more than 33,554,432 bytes"),
    "duplicate_format_key.apicviz.json": ("format", "duplicate key"),
    "duplicate_kernel_key.apicviz.json": ("kvm.kernel", "duplicate key"),
    "top_level_list.apicviz.json": ("(top level)", "expected a JSON object"),
    # the envelope
    "wrong_format.apicviz.json": ("format", "apicviz-scenario"),
    "version_2.apicviz.json": ("version", "not supported"),
    "version_bool.apicviz.json": ("version", "not supported"),
    "missing_vcpus.apicviz.json": ("vcpus", "required"),
    "vcpus_not_a_list.apicviz.json": ("vcpus", "expected a list"),
    "vcpus_4097.apicviz.json": ("vcpus", "at most 4096"),
    "unknown_top_key.apicviz.json": ("colour", "unknown key"),
    "title_number.apicviz.json": ("title", "expected a string"),
    # kvm
    "kernel_3_10.apicviz.json": ("kvm.kernel", "older than 4.11"),
    "kernel_6_x.apicviz.json": ("kvm.kernel", "not a kernel version"),
    "kernel_number.apicviz.json": ("kvm.kernel", "MAJOR.MINOR"),
    "unknown_x2apic_api_key.apicviz.json": ("kvm.x2apic_api.use_32_bit_ids", "unknown key"),
    "vector_hashing_int.apicviz.json": ("kvm.vector_hashing", "true or false"),
    "smm_false_on_6_1.apicviz.json": ("kvm.smm", "needs a kernel of 6.2 or later"),
    # vCPUs
    "id_2_pow_40.apicviz.json": ("vcpus[1].id", "0x10000000000 is out of range"),
    "id_hex_1g.apicviz.json": ("vcpus[0].id", "'0x1g' is not a number"),
    "id_octal_string.apicviz.json": ("vcpus[0].id", "'0o17' is not a number (use decimal like 35 or hex like 0x23)"),
    "xapic_id_binary_string.apicviz.json": ("vcpus[0].xapic_id", "'0b1010' is not a number"),
    "id_negative.apicviz.json": ("vcpus[0].id", "-1 is out of range"),
    "id_bool.apicviz.json": ("vcpus[0].id", "got True"),
    "id_float.apicviz.json": ("vcpus[0].id", "got float"),
    "id_nan.apicviz.json": ("vcpus[0].id", "got float"),
    "id_0xffffffff.apicviz.json": ("vcpus[0].id", "0xffffffff is out of range"),
    "id_missing.apicviz.json": ("vcpus[0].id", "required"),
    "duplicate_ids.apicviz.json": ("vcpus[2].id", "already used by vcpus[1]"),
    "unknown_vcpu_key.apicviz.json": ("vcpus[0].xapicid", "unknown key"),
    "apic_mode_x3apic.apicviz.json": ("vcpus[0].apic", "use one of xapic, x2apic, disabled"),
    "xapic_id_256.apicviz.json": ("vcpus[0].xapic_id", "256 is out of range"),
    "logical_id_string.apicviz.json": ("vcpus[0].logical_id", "not a number"),
    "dfr_weird.apicviz.json": ("vcpus[0].dfr", "not a number"),
    "sw_enabled_string.apicviz.json": ("vcpus[0].sw_enabled", "true or false"),
    "arb_prio_negative.apicviz.json": ("vcpus[0].arb_prio", "out of range"),
    # interrupts
    "xapic_sender_dest_0x100.apicviz.json": ("interrupts[0].dest", "xAPIC-mode sender"),
    "msi_dest_0x123_without_32bit_ids.apicviz.json": ("interrupts[0].dest", ("0x123 is out of range for an MSI "
                                                      "without 32-bit IDs")),
    "msi_logical_0xffffffff_default_kvm.apicviz.json": ("interrupts[1].dest", "use_32bit_ids); allowed 0..0xff"),
    "source_disabled_vcpu.apicviz.json": ("interrupts[0].source", "hardware-disabled"),
    "source_unknown_vcpu.apicviz.json": ("interrupts[0].source", "no vCPU has id 0x7"),
    "self_without_source.apicviz.json": ("interrupts[0].shorthand", "needs a source"),
    "dest_missing.apicviz.json": ("interrupts[0].dest", "required"),
    "dest_mode_both.apicviz.json": ("interrupts[0].dest_mode", "physical, logical"),
    "vector_256.apicviz.json": ("interrupts[0].vector", "256 is out of range"),
    "delivery_extint.apicviz.json": ("interrupts[0].delivery", "fixed, lowest"),
    "interrupts_1025.apicviz.json": ("interrupts", "1025 entries; at most 1024 (the interrupt limit per scenario)"),
    "pv_ipi_logical.apicviz.json": ("interrupts[0].dest_mode", 'with via "pv_ipi"'),
    "pv_ipi_without_source.apicviz.json": ("interrupts[0].via", "needs a source vCPU"),
    "pv_ipi_lowest_priority.apicviz.json": ("interrupts[0].delivery", "use one of fixed, nmi"),
    "via_hypercall.apicviz.json": ("interrupts[0].via", "use one of icr, pv_ipi"),
}

FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix == ".json")


def test_corpus_and_expectations_match() -> None:
    assert len(FILES) >= 25
    assert sorted(EXPECTED) == FILES


@pytest.mark.parametrize("name", FILES)
def test_malformed_file_is_refused_naming_the_field(name: str) -> None:
    field, fragment = EXPECTED[name]
    with pytest.raises(ScenarioError) as err:
        load_scenario(CORPUS / name)
    assert err.value.field == field
    assert fragment in err.value.message
    assert len(str(err.value)) < 400  # a message, not a dump of the input


# --- random JSON-ish structures --------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 255, 256, 0xFFFFFFFE, 0xFFFFFFFF, 16384, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["0x1g", "0x23", "35", "010", " 7 ", "1_0", "flat", "cluster", "xapic", "x2apic", "disabled",
                     "upstream", "6.1", "3.10", "6.x", "physical", "logical", "self", "all", "fixed", "lowest",
                     "apicviz-scenario", "", "\x00", "٣"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)

VCPU_KEYS = ["id", "apic", "sw_enabled", "xapic_id", "logical_id", "dfr", "arb_prio"]
IRQ_KEYS = ["name", "source", "dest_mode", "dest", "shorthand", "delivery", "vector", "via"]
KVM_KEYS = ["kernel", "x2apic_api", "vector_hashing", "map_alloc_fails", "smm"]


def shaped(keys: list[str]) -> st.SearchStrategy:
    """Dicts with mostly valid keys and arbitrary values: they get past the key check."""
    return st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=6)), json_values, max_size=len(keys))


scenario_like = st.fixed_dictionaries(
    {},
    optional={
        "format": st.one_of(st.just("apicviz-scenario"), json_values),
        "version": st.one_of(st.just(1), json_values),
        "title": json_values,
        "notes": json_values,
        "kvm": st.one_of(shaped(KVM_KEYS), st.fixed_dictionaries({}, optional={
            "kernel": scalars, "x2apic_api": shaped(["use_32bit_ids", "disable_broadcast_quirk"])})),
        "vcpus": st.one_of(st.lists(shaped(VCPU_KEYS), max_size=4), json_values),
        "interrupts": st.one_of(st.lists(shaped(IRQ_KEYS), max_size=3), json_values),
    },
)

FUZZ = settings(max_examples=scaled(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(json_values)
def test_fuzz_any_json_value(raw) -> None:
    with contextlib.suppress(ScenarioError):
        scenario_from_dict(raw)


@FUZZ
@given(scenario_like)
def test_fuzz_scenario_shaped_dicts(raw) -> None:
    try:
        scenario = scenario_from_dict(raw)
    except ScenarioError as exc:
        assert isinstance(exc.field, str)
        return
    assert all(0 <= v.id <= 0xFFFFFFFE for v in scenario.vcpus)


@FUZZ
@given(scenario_like)
def test_fuzz_as_json_text(raw) -> None:
    """The same structures through the text path (NaN, huge ints and all)."""
    try:
        text = json.dumps(raw)
    except (ValueError, OverflowError):
        return
    with contextlib.suppress(ScenarioError):
        scenario_from_text(text)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_png_text_chunks(body: bytes) -> None:
    with contextlib.suppress(ScenarioError):
        scenario_from_text(scenario_text_from_png(PNG_SIGNATURE + body))


def test_nan_and_infinity_are_refused_as_numbers() -> None:
    for value in (math.nan, math.inf):
        with pytest.raises(ScenarioError, match=r"vcpus\[0\]\.id"):
            scenario_from_dict({"vcpus": [{"id": value}]})
