"""One number parser for the whole program: files, table cells and the CLI.

Scenario files and table cells accept JSON integers, decimal strings and hex
strings ("0x23"); everything funnels through :func:`parse_int` so that every
place gives the same message for the same mistake.
"""
from __future__ import annotations

from .errors import ScenarioError

U8_MAX = 0xFF
U32_MAX = 0xFFFFFFFF


def describe_range(lo: int, hi: int) -> str:
    """Human text for an inclusive range, hex when the bounds are register-like."""
    if hi >= 0x100:
        return f"{lo}..{hi:#x}"
    return f"{lo}..{hi} ({lo:#x}..{hi:#x})"


def parse_int(value: object, field: str, lo: int, hi: int) -> int:
    """Parse ``value`` (int, or decimal/hex string) and check ``lo <= value <= hi``.

    Booleans are refused although Python treats them as ints: ``true`` in a
    scenario is always a typo for a number.
    """
    if isinstance(value, bool):
        raise ScenarioError(field, f"expected an integer in {describe_range(lo, hi)}, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or not text.isascii() or len(text) > 40 or "_" in text:
            raise ScenarioError(field, f"expected an integer in {describe_range(lo, hi)}, got {value[:40]!r}")
        try:
            # Decimal with leading zeros ("010") is decimal; int(s, 0) would refuse it.
            number = int(text, 10) if text.lstrip("+-").isdigit() else int(text, 0)
        except ValueError:
            raise ScenarioError(
                field, f"{value[:40]!r} is not a number (use decimal like 35 or hex like 0x23)"
            ) from None
    else:
        raise ScenarioError(
            field, f"expected an integer in {describe_range(lo, hi)}, got {type(value).__name__}"
        )
    if not lo <= number <= hi:
        shown = f"{number:#x}" if abs(number) > 0xFFFF else str(number)
        raise ScenarioError(field, f"{shown} is out of range; allowed {describe_range(lo, hi)}")
    return number


def fmt_id(value: int) -> str:
    """APIC IDs are shown in hex everywhere, as the kernel and QEMU print them."""
    return f"{value:#x}"
