"""Host-check tests run on the real /dev/kvm; counts of what was compared show in the summary."""
from __future__ import annotations

import pytest
from kvm_host_helpers import COUNTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.write_sep("-", "host check on /dev/kvm")
    for name, line in COUNTS.items():
        terminalreporter.write_line(f"{name}: {line}")
