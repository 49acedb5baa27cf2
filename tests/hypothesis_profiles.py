"""Hypothesis budgets: a quick ``dev`` profile while editing, the full ``ci`` one in CI.

CI sets ``CI=true`` and gets the full number of examples every property was
written for; a developer's run gets a tenth (at least 10), which still finds
most regressions in seconds. ``HYPOTHESIS_PROFILE=ci ./run-tests`` runs the
full budget locally. Tests size their ``max_examples`` through :func:`scaled`
so the profile decides, not each test.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

#: Share of each test's full budget a profile runs.
SHARE = {"ci": 1.0, "dev": 0.1}
MIN_EXAMPLES = 10

#: Tests without their own budget get hypothesis' usual 100 examples in CI.
DEFAULT_EXAMPLES = 100

settings.register_profile("ci", max_examples=DEFAULT_EXAMPLES, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=MIN_EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def chosen_profile(env: Mapping[str, str] = os.environ) -> str:
    explicit = env.get("HYPOTHESIS_PROFILE", "").strip()
    if explicit:
        if explicit not in SHARE:
            raise ValueError(f"HYPOTHESIS_PROFILE={explicit!r}: use one of {', '.join(SHARE)}")
        return explicit
    return "ci" if env.get("CI", "").strip().lower() in ("1", "true", "yes") else "dev"


PROFILE = chosen_profile()
settings.load_profile(PROFILE)


def scaled(full: int) -> int:
    """``full`` examples in CI, a tenth of them (at least MIN_EXAMPLES) while developing."""
    if PROFILE == "ci":
        return full
    return max(MIN_EXAMPLES, round(full * SHARE[PROFILE]))
