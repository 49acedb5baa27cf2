"""The one exception type that bad input turns into, and the helpers that keep its text short.

A hostile file can put 30 MB into a key or a value; quoting it whole makes a
30 MB error line and freezes any dialog that lays it out. Every quoted value
goes through :func:`quote`, and :class:`ScenarioError` itself cuts whatever
it is given, so no message is ever longer than a few lines.
"""
from __future__ import annotations

#: Characters of a quoted value or key shown in a message.
MAX_QUOTED = 60
#: Longest ``field`` path and message a ScenarioError keeps.
MAX_FIELD = 200
MAX_MESSAGE = 1500
#: Longest text a dialog shows (Qt lays out a 1 MB message box for minutes) and a status-bar line.
MAX_DIALOG_TEXT = 2000
MAX_STATUS_TEXT = 400


def _size_note(length: int, unit: str) -> str:
    return f"… ({length:,} {unit})"


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` itself, or its first ``limit`` characters and how long it really was."""
    if len(text) <= limit:
        return text
    return text[:limit] + _size_note(len(text), "characters")


def dialog_text(*paragraphs: str) -> str:
    """Paragraphs for a message box, each cut so that the whole stays within MAX_DIALOG_TEXT."""
    share = max(200, MAX_DIALOG_TEXT // max(1, len(paragraphs)))
    return "\n\n".join(shorten(p, share) for p in paragraphs)


def quote(value: object, limit: int = MAX_QUOTED) -> str:
    """A readable quotation of ``value`` for a message: repr, cut to ``limit`` with its size noted."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return repr(value[:limit]) + _size_note(len(value), "characters")
    if isinstance(value, (bytes, bytearray)):
        if len(value) <= limit:
            return repr(bytes(value))
        return repr(bytes(value[:limit])) + _size_note(len(value), "bytes")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"an integer of {value.bit_length():,} bits"  # repr of a huge int is slow or refused
    return shorten(repr(value), limit)


def shorten_key(key: str) -> str:
    """A JSON key as it appears in a field path: itself when short, else cut with its size."""
    return key if len(key) <= MAX_QUOTED and key.isprintable() else quote(key)


class ScenarioError(ValueError):
    """A scenario (file, cell edit or CLI argument) breaks a FORMAT.md rule.

    ``field`` is a path like ``vcpus[3].xapic_id`` so that the message can point
    at the exact place to fix. Both are cut to a readable length.
    ``names_allowed``: the message already says what is allowed (a range or the
    choices), so a caller adds no "allowed …" of its own.
    """

    def __init__(self, field: str, message: str, *, names_allowed: bool = False) -> None:
        self.field = shorten(field, MAX_FIELD)
        self.message = shorten(message, MAX_MESSAGE)
        self.names_allowed = names_allowed
        super().__init__(f"{self.field}: {self.message}" if self.field else self.message)
