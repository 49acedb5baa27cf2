"""One number parser for the whole program: files, table cells and the CLI.

Scenario files and table cells accept JSON integers, decimal strings and hex
strings ("0x23"); everything funnels through :func:`parse_int` so that every
place gives the same message for the same mistake.
"""
from __future__ import annotations

import re

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
        raise ScenarioError(field, f"{shown} is out of range; allowed {describe_range(lo, hi)}")
    return number


def fmt_id(value: int) -> str:
    """APIC IDs are shown in hex everywhere, as the kernel and QEMU print them."""
    return f"{value:#x}"
