"""The one exception type that bad input turns into."""
from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario (file, cell edit or CLI argument) breaks a FORMAT.md rule.

    ``field`` is a path like ``vcpus[3].xapic_id`` so that the message can point
    at the exact place to fix.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)
