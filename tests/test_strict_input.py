"""Strict JSON and numbers (FORMAT.md "Reading a scenario"), and messages that stay short."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from apicviz.model import ScenarioError, scenario_from_text, strict_json
from apicviz.model.errors import MAX_FIELD, MAX_MESSAGE, dialog_text, quote, shorten
from apicviz.model.numbers import parse_int

HUGE = 30 * 1024 * 1024


# ----- numbers ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("35", 35), ("010", 10), ("+7", 7), ("0x23", 0x23), ("0X23", 0x23), ("0xfF", 0xFF), (" 0x10 ", 16),
])
def test_decimal_and_hex_strings_are_numbers(text, value) -> None:
    assert parse_int(text, "f", 0, 0xFFFFFFFF) == value


@pytest.mark.parametrize("text", ["0o17", "0O17", "0b1010", "0B1", "1_000", "0x_1f", "1e3", "0x", "٣", "²", "12a"])
def test_other_number_forms_are_refused(text) -> None:
    with pytest.raises(ScenarioError, match=r"not a number|expected an integer"):
        parse_int(text, "vcpus[0].id", 0, 0xFFFFFFFF)


def test_octal_id_in_a_file_names_the_field() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_text('{"vcpus": [{"id": "0o17"}]}')
    assert err.value.field == "vcpus[0].id"


# ----- duplicate keys and nesting --------------------------------------------

@pytest.mark.parametrize(("text", "field"), [
    ('{"format": "x", "format": "apicviz-scenario", "vcpus": [{"id": 0}]}', "format"),
    ('{"kvm": {"kernel": "6.1", "kernel": "4.19"}, "vcpus": [{"id": 0}]}', "kvm.kernel"),
    ('{"vcpus": [{"id": 0}, {"id": 1, "apic": "xapic", "apic": "x2apic"}]}', "vcpus[1].apic"),
    ('{"vcpus": [{"id": 0}], "vcpus": []}', "vcpus"),
])
def test_duplicate_keys_are_an_error_naming_the_key(text, field) -> None:
    with pytest.raises(ScenarioError, match="duplicate key") as err:
        scenario_from_text(text)
    assert err.value.field == field


def test_nesting_limit_is_the_same_whatever_the_callers_stack() -> None:
    ok = "[" * strict_json.MAX_DEPTH + "]" * strict_json.MAX_DEPTH
    deep = "[" * (strict_json.MAX_DEPTH + 1) + "]" * (strict_json.MAX_DEPTH + 1)

    def nested_call(depth: int, text: str):
        return strict_json.loads(text) if depth == 0 else nested_call(depth - 1, text)

    for stack in (0, 200, sys.getrecursionlimit() - 100):
        assert nested_call(stack, ok) is not None
        with pytest.raises(ScenarioError, match="nested too deeply"):
            nested_call(stack, deep)


def test_brackets_and_quotes_inside_strings_do_not_count() -> None:
    notes = "[" * 5000 + '\\"{' * 100 + "\\\\"
    scenario = scenario_from_text(json.dumps({"notes": json.loads(f'"{notes}"'), "vcpus": [{"id": 0}]}))
    assert scenario.notes.startswith("[[[")


# ----- short messages --------------------------------------------------------

def test_quote_cuts_and_notes_the_size() -> None:
    text = quote("k" * HUGE)
    assert len(text) < 120
    assert "31,457,280 characters" in text
    assert quote("short") == "'short'"
    assert "bits" in quote(10 ** 5000)


def test_scenario_error_cuts_whatever_it_is_given() -> None:
    exc = ScenarioError("f" * HUGE, "m" * HUGE)
    assert len(str(exc)) < MAX_FIELD + MAX_MESSAGE + 80


def test_a_30_mb_unknown_key_gives_a_short_message() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_text('{"vcpus": [{"id": 0}], "' + "k" * HUGE + '": 1}')
    assert len(str(err.value)) < 400
    assert "unknown key" in str(err.value)
    assert "31,457,280 characters" in str(err.value)


def test_cli_prints_one_short_line_for_a_huge_key(tmp_path) -> None:
    path = tmp_path / "key.apicviz.json"
    path.write_text('{"vcpus": [{"id": 0}], "' + "k" * HUGE + '": 1}')
    for args in (["eval", str(path)], ["eval", "--json", str(path)], ["report", str(path)]):
        out = subprocess.run([sys.executable, "-m", "apicviz", *args], capture_output=True, text=True, timeout=60,
                             check=False)
        assert out.returncode == 1
        text = out.stdout + out.stderr
        assert len(text) < 600, text[:300]
        assert text.count("\n") == 1, text[:300]


def test_dialog_text_stays_within_its_limit() -> None:
    text = dialog_text("p" * HUGE, "The current scenario is unchanged.")
    assert len(text) < 2200
    assert text.endswith("The current scenario is unchanged.")
    assert shorten("abc", 10) == "abc"


def test_foreign_documents_lift_the_counts_but_keep_depth_and_duplicates() -> None:
    """A QEMU migration description may be big; it is still nested at most MAX_DEPTH and has unique keys."""
    big = "[" + ",".join(["0"] * (strict_json.MAX_VALUES + 10)) + "]"
    with pytest.raises(ScenarioError, match="JSON values"):
        strict_json.loads(big)
    assert len(strict_json.loads(big.encode(), max_values=None, max_strings=None)) == strict_json.MAX_VALUES + 10
    with pytest.raises(ScenarioError, match="nested too deeply"):
        strict_json.loads("[" * 40 + "]" * 40, max_values=None, max_strings=None)
    with pytest.raises(ScenarioError, match="duplicate key"):
        strict_json.loads(b'{"return": 1, "return": 2}', max_values=None, max_strings=None)
