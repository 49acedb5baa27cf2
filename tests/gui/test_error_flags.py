"""Errors carry a flag for "the message already names what is allowed"; cells decide by it, not by words."""
from __future__ import annotations

import pytest

from apicviz.gui.viewmodels.columns import INTERRUPT_COLUMNS, VCPU_COLUMNS, column_index
from apicviz.model import ScenarioError
from apicviz.model.numbers import parse_int


def column(columns, key):
    return columns[column_index(columns, key)]


def test_a_range_error_names_the_range_and_says_so():
    with pytest.raises(ScenarioError) as err:
        parse_int(300, "vcpus[0].xapic_id", 0, 0xFF)
    assert err.value.names_allowed
    assert err.value.message == "300 is out of range; allowed 0..255 (0x0..0xff)"


def test_a_cell_adds_the_allowed_values_only_when_the_message_lacks_them():
    xapic_id = column(VCPU_COLUMNS, "xapic_id")
    with pytest.raises(ScenarioError) as err:
        xapic_id.parse("0x100", "vcpus[0].xapic_id")
    assert err.value.message.count("allowed") == 1  # the model's own words, not doubled
    with pytest.raises(ScenarioError) as err:
        xapic_id.parse("zz", "vcpus[0].xapic_id")
    assert err.value.message.endswith(f"allowed {xapic_id.range_text()}")
    delivery = column(INTERRUPT_COLUMNS, "delivery")
    with pytest.raises(ScenarioError) as err:
        delivery.parse("fast", "interrupts[0].delivery")
    assert err.value.names_allowed
    assert "use one of fixed, lowest" in err.value.message
    assert "; allowed" not in err.value.message  # nothing appended
