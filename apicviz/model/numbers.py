"""One number parser and one formatter per kind of value, for the whole program.

Scenario files and table cells accept JSON integers, decimal strings and hex
strings ("0x23"); everything funnels through :func:`parse_int` so that every
place gives the same message for the same mistake. Going the other way, an
APIC ID is always :func:`fmt_id`, a list of them :func:`id_list` (or
:func:`id_ranges` where thousands must fit a report), a DFR :func:`dfr_text`:
the table, the map, explanations, reports and the CLI say the same thing alike.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .errors import ScenarioError, quote

U8_MAX = 0xFF
U32_MAX = 0xFFFFFFFF
#: Longest number string looked at; no register is wider than 64 bits (20 decimal digits).
MAX_DIGITS = 40
#: ASCII only: str.isdigit() would also take "²" and Arabic-Indic digits.
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_HEX = re.compile(r"[+-]?0[xX][0-9a-fA-F]+")


def describe_range(lo: int, hi: int) -> str:
    """Human text for an inclusive range, hex when the bounds are register-like."""
    if hi >= 0x100:
        return f"{lo}..{hi:#x}"
    return f"{lo}..{hi} ({lo:#x}..{hi:#x})"


def parse_int(value: object, field: str, lo: int, hi: int) -> int:
    """Parse ``value`` (int, or decimal/hex string) and check ``lo <= value <= hi``.

    Strings are decimal (``"35"``, leading zeros allowed: ``"010"`` is ten) or
    hex with ``0x``/``0X`` (``"0x23"``), as FORMAT.md documents — nothing else
    ``int(s, 0)`` would take (``0o17``, ``0b1010``, ``1_000``). Booleans are
    refused although Python treats them as ints: ``true`` in a scenario is
    always a typo for a number.
    """
    if isinstance(value, bool):
        raise ScenarioError(field, f"expected an integer in {describe_range(lo, hi)}, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_DIGITS:
            raise ScenarioError(field, f"expected an integer in {describe_range(lo, hi)}, got {quote(value)}")
        if _DECIMAL.fullmatch(text):
            number = int(text, 10)
        elif _HEX.fullmatch(text):
            number = int(text, 16)
        else:
            raise ScenarioError(
                field, f"{quote(value)} is not a number (use decimal like 35 or hex like 0x23)"
            )
    else:
        raise ScenarioError(
            field, f"expected an integer in {describe_range(lo, hi)}, got {type(value).__name__}"
        )
    if not lo <= number <= hi:
        if number.bit_length() > 128:
            shown = f"a {number.bit_length()}-bit number"
        else:
            shown = f"{number:#x}" if abs(number) > 0xFFFF else str(number)
        raise ScenarioError(field, f"{shown} is out of range; allowed {describe_range(lo, hi)}", names_allowed=True)
    return number


def fmt_id(value: int) -> str:
    """APIC IDs are shown in hex everywhere, as the kernel and QEMU print them."""
    return f"{value:#x}"


#: DFR model field values with a name (FORMAT.md "dfr"); any other value is shown in hex.
DFR_NAMES = {0xFFFFFFFF: "flat", 0x0FFFFFFF: "cluster"}


def dfr_text(dfr: int) -> str:
    """``flat``, ``cluster`` or the 32-bit register value (``0x12345678``), as FORMAT.md writes it."""
    return DFR_NAMES.get(dfr, f"{dfr:#010x}")


def id_list(ids: Sequence[int], limit: int | None = 12, empty: str = "nobody") -> str:
    """IDs in hex in the order given: ``0x0, 0x1, 0x23``.

    Past ``limit`` the rest is counted, not listed (``0x0, 0x1, … (4096 vCPUs)``):
    a broadcast reaches thousands. ``limit=None`` lists every ID; ``empty`` is
    the text for no ID at all ("nobody" in sentences, "—" in table cells).
    """
    if not ids:
        return empty
    if limit is None or len(ids) <= limit:
        return ", ".join(fmt_id(i) for i in ids)
    return ", ".join(fmt_id(i) for i in ids[:limit]) + f", … ({len(ids)} vCPUs)"


def id_ranges(ids: Iterable[int], limit: int = 24) -> str:
    """IDs in hex with consecutive runs folded, for reports: ``0x0–0xfff (4096)``; '—' when empty."""
    values = list(ids)
    if not values:
        return "—"
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    # A pair reads better as two IDs than as a range.
    runs = [r for a, b in runs for r in (((a, a), (b, b)) if b == a + 1 else ((a, b),))]
    parts = [fmt_id(a) if a == b else f"{fmt_id(a)}–{fmt_id(b)}" for a, b in runs[:limit]]
    text = ", ".join(parts)
    if len(runs) > limit:
        text += f", … ({len(runs) - limit} more runs)"
    if len(runs) < len(values):
        text += f" ({len(values)})"
    return text
