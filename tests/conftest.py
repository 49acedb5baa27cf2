"""Test-wide set-up: the hypothesis profile (tests/hypothesis_profiles.py) before any test module loads."""
from __future__ import annotations

import hypothesis_profiles


def pytest_report_header() -> str:
    share = hypothesis_profiles.SHARE[hypothesis_profiles.PROFILE]
    return f"hypothesis profile: {hypothesis_profiles.PROFILE} ({share:.0%} of each property's examples)"
