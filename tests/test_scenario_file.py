"""Scenario files (FORMAT.md "Scenario"): loading, validation, saving and round trips.

Every rule must surface as a ScenarioError that names the field (``vcpus[3].xapic_id``),
the bad value and what is allowed; hostile input must never escape as another exception.
"""
from __future__ import annotations

import contextlib
import json
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import scaled

from apicviz.model import ScenarioError, evaluate, load_scenario, save_scenario, scenario_from_dict, scenario_from_text
from apicviz.model.kernels import kernel_at_least
from apicviz.model.scenario import SMM_OPTIONAL_SINCE, Interrupt, KvmConfig, Scenario, Vcpu
from apicviz.model.scenario_file import scenario_to_text

FLAT = 0xFFFFFFFF
CLUSTER = 0x0FFFFFFF


def doc(vcpus=None, interrupts=None, kvm=None, **top) -> dict:
    out: dict = {"format": "apicviz-scenario", "version": 1}
    if kvm is not None:
        out["kvm"] = kvm
    out["vcpus"] = [{"id": 0}] if vcpus is None else vcpus
    if interrupts is not None:
        out["interrupts"] = interrupts
    out.update(top)
    return out


def error_of(raw) -> ScenarioError:
    parse = scenario_from_text if isinstance(raw, (str, bytes)) else scenario_from_dict
    with pytest.raises(ScenarioError) as info:
        parse(raw)
    return info.value


# ----- defaults and number forms ----------------------------------------------------------------

def test_defaults():
    """FORMAT.md defaults: kernel upstream, no x2APIC API flags, vector hashing on; a vCPU is an enabled
    xAPIC with xAPIC ID = id & 0xff, logical ID 0 and flat DFR; a message is a fixed physical MSI, vector 0.
    """
    sc = scenario_from_text('{"vcpus": [{"id": 0}, {"id": 291}], "interrupts": [{"dest": 5}]}')
    assert sc.title == ""
    assert sc.notes == ""
    assert sc.kvm == KvmConfig(kernel="upstream", use_32bit_ids=False, disable_broadcast_quirk=False,
                               vector_hashing=True, map_alloc_fails=False)
    assert sc.vcpus[0] == Vcpu(id=0, apic="xapic", sw_enabled=True, xapic_id=0, logical_id=0, dfr=FLAT, arb_prio=0)
    assert sc.vcpus[1].xapic_id == 0x23  # 291 & 0xff
    assert sc.interrupts == [Interrupt(name="", source=None, dest_mode="physical", dest=5, shorthand="none",
                                       delivery="fixed", vector=0)]


def test_partial_kvm_object_keeps_other_defaults():
    sc = scenario_from_dict(doc(kvm={"x2apic_api": {"use_32bit_ids": True}}))
    assert sc.kvm == KvmConfig(kernel="upstream", use_32bit_ids=True)


def test_hex_and_decimal_strings():
    """Integers may be JSON numbers, hex strings ("0x123") or decimal strings ("291") (FORMAT.md)."""
    sc = scenario_from_dict(doc(
        vcpus=[{"id": "0x123", "xapic_id": "0x23", "logical_id": "0x80", "arb_prio": "0x10", "apic": "xapic"},
               {"id": "292", "apic": "x2apic", "dfr": "cluster"},
               {"id": 7, "dfr": "0x0FFFFFFF"}, {"id": 8, "dfr": "0x12345678"}, {"id": 9, "dfr": 0},
               {"id": 10, "dfr": "flat"}],
        interrupts=[{"source": None, "dest": "0xFFFFFFFF", "vector": "0x30"},
                    {"source": "0x124", "dest": "291", "vector": "48"}],
        kvm={"x2apic_api": {"use_32bit_ids": True}},  # an MSI names 0xFFFFFFFF only with 32-bit IDs
    ))
    v = sc.vcpus
    assert (v[0].id, v[0].xapic_id, v[0].logical_id, v[0].arb_prio) == (0x123, 0x23, 0x80, 0x10)
    assert v[1].id == 292
    assert v[1].dfr == CLUSTER
    assert [x.dfr for x in v[2:]] == [CLUSTER, 0x12345678, 0, FLAT]
    assert (sc.interrupts[0].dest, sc.interrupts[0].vector) == (0xFFFFFFFF, 0x30)
    assert (sc.interrupts[1].source, sc.interrupts[1].dest, sc.interrupts[1].vector) == (292, 291, 48)


@pytest.mark.parametrize("bad", ["0xZZ", "1e3", "", " ", "twelve", "٣", "0x1_0"])
def test_bad_number_strings(bad):
    err = error_of(doc(vcpus=[{"id": 0, "xapic_id": bad}]))
    assert err.field == "vcpus[0].xapic_id"


@pytest.mark.parametrize("bad", [True, False, 1.5, 3.0, None, [], {}])
def test_non_integers_are_refused(bad):
    """Booleans, floats, null, lists and objects are never IDs."""
    err = error_of(doc(vcpus=[{"id": bad}]))
    assert err.field == "vcpus[0].id"


# ----- unknown keys, duplicates, ranges ---------------------------------------------------------

@pytest.mark.parametrize(("raw", "field"), [
    (doc(vcpus=[{"id": 0}, {"id": 1}, {"id": 2}, {"id": 3, "foo": 1}]), "vcpus[3].foo"),
    (doc(colour="red"), "colour"),
    (doc(kvm={"kernel": "6.1", "vectorhashing": True}), "kvm.vectorhashing"),
    (doc(kvm={"x2apic_api": {"use_32bit_id": True}}), "kvm.x2apic_api.use_32bit_id"),
    (doc(interrupts=[{"dest": 0, "dst_mode": "logical"}]), "interrupts[0].dst_mode"),
])
def test_unknown_keys_are_errors(raw, field):
    """FORMAT.md: a typo must not be silently ignored; the message names the full path of the key."""
    err = error_of(raw)
    assert err.field == field
    assert field in str(err)


def test_notes_is_free_text():
    sc = scenario_from_dict(doc(notes='{"foo": 1} anything goes'))
    assert sc.notes == '{"foo": 1} anything goes'


def test_duplicate_ids():
    """vCPU IDs are unique; 16 and "0x10" are the same ID."""
    err = error_of(doc(vcpus=[{"id": 16}, {"id": 3}, {"id": "0x10"}]))
    assert err.field == "vcpus[2].id"
    assert "0x10" in str(err)
    assert "vcpus[0]" in str(err)


@pytest.mark.parametrize(("raw", "field", "value", "allowed"), [
    (doc(vcpus=[{"id": 0}, {"id": 1}, {"id": 2}, {"id": 3, "xapic_id": 256}]), "vcpus[3].xapic_id", 256, "0..255"),
    (doc(vcpus=[{"id": 0, "logical_id": "0x100"}]), "vcpus[0].logical_id", 0x100, "0..255"),
    (doc(vcpus=[{"id": 0xFFFFFFFF}]), "vcpus[0].id", 0xFFFFFFFF, "0..0xfffffffe"),
    (doc(vcpus=[{"id": -1}]), "vcpus[0].id", -1, "0..0xfffffffe"),
    (doc(vcpus=[{"id": 2**40}]), "vcpus[0].id", 2**40, "0..0xfffffffe"),
    (doc(vcpus=[{"id": 0, "arb_prio": 2**31}]), "vcpus[0].arb_prio", 2**31, "0..0x7fffffff"),
    (doc(vcpus=[{"id": 0, "dfr": 2**32}]), "vcpus[0].dfr", 2**32, "0..0xffffffff"),
    (doc(interrupts=[{"dest": 0, "vector": 256}]), "interrupts[0].vector", 256, "0..255"),
    (doc(interrupts=[{"dest": 2**32}]), "interrupts[0].dest", 2**32, "0..0xffffffff"),
])
def test_out_of_range_names_field_value_and_range(raw, field, value, allowed):
    err = error_of(raw)
    assert err.field == field
    text = str(err)
    assert field in text
    assert allowed in text
    assert str(value) in text or hex(value) in text


def test_xapic_sender_has_an_8bit_destination():
    """FORMAT.md: a dest above 0xFF from an xAPIC-mode source is an error (8-bit ICR field); from an x2APIC
    sender it is fine, and so is an MSI's when use_32bit_ids is on.
    """
    err = error_of(doc(vcpus=[{"id": 0}], interrupts=[{"source": 0, "dest": "0x100"}]))
    assert err.field == "interrupts[0].dest"
    assert "0x100" in str(err)
    assert "0..0xff" in str(err)
    sc = scenario_from_dict(doc(vcpus=[{"id": 0}, {"id": 1, "apic": "x2apic"}],
                                interrupts=[{"source": 1, "dest": "0x100"}, {"source": None, "dest": "0x100"}],
                                kvm={"x2apic_api": {"use_32bit_ids": True}}))
    assert [i.dest for i in sc.interrupts] == [0x100, 0x100]


@pytest.mark.parametrize("dest", ["0x100", "0x123", "0xFFFFFFFF"])
def test_msi_has_an_8bit_destination_without_32bit_ids(dest):
    """FORMAT.md / KVM-BEHAVIOUR.md 9.1: an MSI's dest above 0xFF needs use_32bit_ids; the message names the
    field, the value, the rule and the range. 0xFF itself (the broadcast) is fine.
    """
    err = error_of(doc(vcpus=[{"id": 0}, {"id": 1, "apic": "x2apic"}],
                       interrupts=[{"source": 1, "dest": dest}, {"source": None, "dest": dest}]))
    assert err.field == "interrupts[1].dest"
    text = str(err)
    assert hex(int(dest, 0)) in text
    assert "use_32bit_ids" in text
    assert "allowed 0..0xff" in text
    sc = scenario_from_dict(doc(interrupts=[{"source": None, "dest": "0xff"}, {"source": None, "dest": 0}]))
    assert [i.dest for i in sc.interrupts] == [0xFF, 0]


@pytest.mark.parametrize(("irq", "field"), [
    ({"shorthand": "self"}, "interrupts[0].shorthand"),  # a shorthand needs a source
    ({"source": 5, "dest": 0}, "interrupts[0].source"),  # no such vCPU
    ({"source": 1, "dest": 0}, "interrupts[0].source"),  # hardware-disabled sender
    ({"source": 0}, "interrupts[0].dest"),  # dest required with shorthand "none"
    ({"dest": 0, "delivery": "extint"}, "interrupts[0].delivery"),
    ({"dest": 0, "dest_mode": "cluster"}, "interrupts[0].dest_mode"),
    ({"dest": 0, "shorthand": "others"}, "interrupts[0].shorthand"),
])
def test_interrupt_rules(irq, field):
    err = error_of(doc(vcpus=[{"id": 0}, {"id": 1, "apic": "disabled"}], interrupts=[irq]))
    assert err.field == field


def test_shorthand_without_dest_is_fine():
    sc = scenario_from_dict(doc(interrupts=[{"source": 0, "shorthand": "all-but-self"}]))
    assert sc.interrupts[0].dest is None


@pytest.mark.parametrize(("raw", "field"), [
    ({"format": "something-else", "vcpus": []}, "format"),
    ({"version": 2, "vcpus": []}, "version"),
    ({"version": True, "vcpus": []}, "version"),
    ({"format": "apicviz-scenario"}, "vcpus"),
    ({"vcpus": {"id": 0}}, "vcpus"),
    ({"vcpus": [{"id": 0, "apic": "x3apic"}]}, "vcpus[0].apic"),
    ({"vcpus": [{"id": 0, "sw_enabled": 1}]}, "vcpus[0].sw_enabled"),
    ({"vcpus": [{"apic": "xapic"}]}, "vcpus[0].id"),
    ({"vcpus": [], "kvm": {"vector_hashing": "yes"}}, "kvm.vector_hashing"),
    ({"vcpus": [], "kvm": []}, "kvm"),
    ({"vcpus": [], "title": 5}, "title"),
])
def test_structure_errors_name_the_field(raw, field):
    assert error_of(raw).field == field


# ----- kernels ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kernel", "behaviour"), [
    ("4.11", "4.11-5.2"), ("4.19", "4.11-5.2"), ("5.2", "4.11-5.2"), ("5.3", "5.3-6.2"), ("6.1", "5.3-6.2"),
    ("6.2", "5.3-6.2"), ("6.3", "6.3+"), ("6.16", "6.3+"), ("7.0", "6.3+"), ("99.99", "6.3+"),
    ("upstream", "6.3+"),
])
def test_kernel_behaviour_ranges(kernel, behaviour):
    """KVM-BEHAVIOUR.md section 1: "4.19" means 4.19.0 (4.11-5.2); a version newer than known is 6.3+."""
    ev = evaluate(scenario_from_dict(doc(kvm={"kernel": kernel}))).to_json()
    assert ev["kernel"] == {"requested": kernel, "behaviour": behaviour}


@pytest.mark.parametrize("kernel", ["4.10", "3.10", "2.6", "4.9"])
def test_kernel_older_than_4_11_names_supported_range(kernel):
    err = error_of(doc(kvm={"kernel": kernel}))
    assert err.field == "kvm.kernel"
    assert "4.11 to upstream" in str(err)


@pytest.mark.parametrize("kernel", ["6", "6.1.2", "latest", "v6.1", "", 6.1, 6, None])
def test_kernel_malformed(kernel):
    err = error_of(doc(kvm={"kernel": kernel}))
    assert err.field == "kvm.kernel"


# ----- limits -----------------------------------------------------------------------------------

def test_4096_vcpus_load(tmp_path):
    """x86 KVM_MAX_VCPUS is 4096: the largest VM loads (its timing is in benchmarks/bench_model.py)."""
    path = tmp_path / "big.apicviz.json"
    path.write_text(json.dumps(doc(vcpus=[{"id": i, "apic": "x2apic"} for i in range(4096)])))
    sc = load_scenario(path)
    assert len(sc.vcpus) == 4096
    assert sc.vcpus[-1].id == 4095


def test_4097_vcpus_rejected():
    err = error_of(doc(vcpus=[{"id": i} for i in range(4097)]))
    assert err.field == "vcpus"
    assert "4096" in str(err)
    assert "4097" in str(err)


def test_high_id_is_a_warning_not_an_error():
    """IDs at or above 16384 are accepted with a warning that KVM would refuse them (FORMAT.md limits)."""
    ev = evaluate(scenario_from_dict(doc(vcpus=[{"id": 0}, {"id": 16384}, {"id": 16383}]))).to_json()
    assert len(ev["warnings"]) == 1
    assert "vcpus[1]" in ev["warnings"][0]


# ----- saving and round trips -------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_KERNELS = st.one_of(st.sampled_from(["4.11", "4.19", "5.2", "5.3", "5.15", "6.1", "6.2", "6.3", "upstream"]),
                     st.builds(lambda a, b: f"{a}.{b}", st.integers(5, 40), st.integers(0, 99)))
_ID = st.one_of(st.integers(0, 0x300), st.integers(0, 0xFFFFFFFE))


@st.composite
def valid_scenarios(draw) -> Scenario:
    ids = draw(st.lists(_ID, max_size=8, unique=True))
    vcpus = [Vcpu(id=i, apic=draw(st.sampled_from(["xapic", "x2apic", "disabled"])), sw_enabled=draw(st.booleans()),
                  xapic_id=draw(st.one_of(st.just(i & 0xFF), st.integers(0, 0xFF))),
                  logical_id=draw(st.integers(0, 0xFF)),
                  dfr=draw(st.one_of(st.sampled_from([FLAT, CLUSTER]), st.integers(0, 0xFFFFFFFF))),
                  arb_prio=draw(st.integers(0, 0x7FFFFFFF)))
             for i in ids]
    present = [v for v in vcpus if v.apic != "disabled"]
    use32 = draw(st.booleans())
    irqs = []
    for _ in range(draw(st.integers(0, 5))):
        sender = draw(st.one_of(st.none(), st.sampled_from(present))) if present else None
        shorthand = "none" if sender is None else draw(st.sampled_from(["none", "self", "all", "all-but-self"]))
        wide = sender.apic == "x2apic" if sender is not None else use32  # 8-bit ICR / MSI (FORMAT.md)
        limit = 0xFFFFFFFF if wide else 0xFF
        dest = draw(st.integers(0, limit))
        if shorthand != "none":
            dest = draw(st.one_of(st.none(), st.integers(0, limit)))
        irqs.append(Interrupt(name=draw(_TEXT), source=None if sender is None else sender.id,
                              dest_mode=draw(st.sampled_from(["physical", "logical"])), dest=dest, shorthand=shorthand,
                              delivery=draw(st.sampled_from(["fixed", "lowest", "smi", "nmi", "init", "sipi"])),
                              vector=draw(st.integers(0, 255))))
    kernel = draw(_KERNELS)
    kvm = KvmConfig(kernel=kernel, use_32bit_ids=use32,
                    disable_broadcast_quirk=draw(st.booleans()), vector_hashing=draw(st.booleans()),
                    map_alloc_fails=draw(st.booleans()),
                    smm=draw(st.booleans()) or not kernel_at_least(kernel, SMM_OPTIONAL_SINCE))
    return Scenario(title=draw(_TEXT), notes=draw(_TEXT), kvm=kvm, vcpus=vcpus, interrupts=irqs)


@settings(max_examples=scaled(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios())
def test_round_trip_text(sc):
    """scenario_to_text then scenario_from_text gives back an equal scenario (every field, every default)."""
    assert scenario_from_text(scenario_to_text(sc)) == sc
    assert scenario_from_text(scenario_to_text(sc).encode("utf-8")) == sc


@settings(max_examples=scaled(40), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(valid_scenarios())
def test_round_trip_file(tmp_path, sc):
    path = tmp_path / "s.apicviz.json"
    save_scenario(sc, path)
    assert load_scenario(path) == sc
    assert sorted(os.listdir(tmp_path)) == ["s.apicviz.json"]  # no temporary file left behind


def test_saved_text_has_one_vcpu_per_line():
    """Diffs of saved scenarios stay readable: one vCPU and one interrupt per line."""
    sc = Scenario(vcpus=[Vcpu(0), Vcpu(1, apic="x2apic")], interrupts=[Interrupt(dest=1), Interrupt(dest=0)])
    lines = scenario_to_text(sc).splitlines()
    assert sum('"id": 0' in line for line in lines) == 1
    assert len([line for line in lines if line.strip().startswith('{"id"')]) == 2
    assert len([line for line in lines if '"dest"' in line]) == 2


def test_save_refuses_invalid_scenario(tmp_path):
    path = tmp_path / "dup.apicviz.json"
    with pytest.raises(ScenarioError):
        save_scenario(Scenario(vcpus=[Vcpu(1), Vcpu(1)]), path)
    assert not path.exists()


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "s.apicviz.json"
    path.write_text("old")
    save_scenario(Scenario(vcpus=[Vcpu(5)]), path)
    assert load_scenario(path).vcpus == [Vcpu(5)]


# ----- hostile input ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    '{"vcpus": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"format": ' + "[" * 990 + "]" * 990 + ', "vcpus": []}',
    '{"version": ' + "[" * 990 + "]" * 990 + ', "vcpus": []}',
    '{"title": ' + "[" * 990 + "]" * 990 + ', "vcpus": []}',
    "not json at all",
    "",
    "   ",
    "null",
    "42",
    '"a string"',
    '{"vcpus": [{"id": 0}]} trailing',
    '{"vcpus": [{"id": ' + "9" * 5000 + "}]}",
    '{"version": ' + "1" * 5000 + ', "vcpus": []}',
    '{"vcpus": [{"id": "' + "9" * 5000 + '"}]}',
    '{"vcpus": [{"id": "0x' + "f" * 5000 + '"}]}',
    '{"vcpus": [{"id": 1e400}]}',
    '{"vcpus": [{"id": NaN}]}',
    '{"vcpus": [{"id": -Infinity}]}',
    '{"vcpus": [{"id": 1099511627776}]}',
    '{"vcpus": [{"id": 0}]}\x00',
    '{"vcpus": [{"id": 0, "apic": "xapic\x00"}]}',
    '{"vcpus": [{"id": "0\x00"}]}',
    '{"format": [' + ",".join(["0"] * 100_000) + '], "vcpus": []}',
])
def test_hostile_text_is_a_scenario_error(text):
    """Deep nesting, non-JSON, huge numbers, NUL bytes: always ScenarioError, never another exception.

    (How fast: benchmarks/bench_model.py, "refuse hostile scenario text".)
    """
    with pytest.raises(ScenarioError):
        scenario_from_text(text)


@pytest.mark.parametrize("data", [
    b"\xff\xfe\x00\x01garbage",
    '{"vcpus": []}'.encode("utf-16"),
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    b"\x00" * 1024,
    bytes(range(256)) * 4,
    b'{"vcpus": [{"id": 0}]}\x00',
    b'{"title": "\xc3\x28", "vcpus": []}',
])
def test_hostile_bytes_are_a_scenario_error(data, tmp_path):
    with pytest.raises(ScenarioError):
        scenario_from_text(data)
    path = tmp_path / "hostile.apicviz.json"
    path.write_bytes(data)
    with pytest.raises(ScenarioError):
        load_scenario(path)


def test_oversized_file_is_refused_without_parsing(tmp_path):
    path = tmp_path / "huge.apicviz.json"
    with path.open("wb") as handle:
        handle.write(b'{"notes": "')
        handle.seek(40 * 1024 * 1024)
        handle.write(b'", "vcpus": []}')
    with pytest.raises(ScenarioError, match="at most 33,554,432 for a scenario"):  # by its size, unparsed
        load_scenario(path)


def test_unreadable_paths(tmp_path):
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path / "missing.apicviz.json")
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path)  # a directory


def test_lone_surrogate_in_text_field_survives_save(tmp_path):
    """JSON may escape a lone surrogate ("\\ud800"): loading it must either refuse the file with a
    ScenarioError or give a scenario that can be saved and loaded again — not a UnicodeEncodeError on save.
    """
    text = '{"title": "\\ud800 title", "notes": "x\\udfffy", "vcpus": [{"id": 0}]}'
    try:
        sc = scenario_from_text(text)
    except ScenarioError:
        return
    path = tmp_path / "s.apicviz.json"
    save_scenario(sc, path)
    assert load_scenario(path) == sc


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["format", "version", "title", "notes", "kvm", "vcpus", "interrupts", "id", "apic",
                         "xapic_id", "logical_id", "dfr", "kernel", "x2apic_api", "source", "dest", "shorthand",
                         "delivery", "vector", "dest_mode", "sw_enabled", "arb_prio", "name", "x"]),
        inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=scaled(300), deadline=None)
@given(_JSON)
def test_arbitrary_json_values(raw):
    """Any parsed JSON either is a scenario or is refused with a ScenarioError."""
    with contextlib.suppress(ScenarioError):
        scenario_from_dict(raw)


@settings(max_examples=scaled(300), deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(alphabet=string.printable + "\x00{}[]\":,", max_size=200)))
def test_arbitrary_bytes_and_text(data):
    with contextlib.suppress(ScenarioError):
        scenario_from_text(data)
