"""The one JSON reader for every file apicviz reads: scenarios, pictures' scenarios, autosaves.

Python's ``json`` lets the last of two equal keys win silently, and its
nesting limit is whatever stack the caller has left; a small file of
``[[],[],...]`` also costs hundreds of bytes per value. Here:

* a key twice in one object is an error naming the key;
* nesting deeper than :data:`MAX_DEPTH` is refused before parsing, whoever calls;
* more than :data:`MAX_VALUES` values or :data:`MAX_STRINGS` strings are refused
  before parsing, so memory stays a small multiple of the file size.

The checks run on a *skeleton* of the text — strings removed with C-speed
``str.replace`` and one regex — so they cost a few tens of milliseconds for
the largest file allowed.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .errors import ScenarioError, quote, shorten_key

#: Deeper than any apicviz document (a scenario needs 3 levels, an autosave record 6).
MAX_DEPTH = 32
#: Values (roughly: commas plus containers); the largest valid scenario has about 45,000.
MAX_VALUES = 250_000
#: Strings, keys included; the largest valid scenario has about 50,000.
MAX_STRINGS = 500_000

_STRING = re.compile(r'"[^"]*"')
_BRACKET = re.compile(r"[\[\]{}]")
#: No field takes more than 20 digits (a 64-bit value); Python's int() is slow on thousands.
_LONG_NUMBER = re.compile(r"[0-9]{100,}")


def _skeleton(text: str, max_strings: int | None) -> str:
    """``text`` without its strings: escapes first (``\\\\`` pairs, then ``\\"``), then ``"..."``."""
    plain = text.replace("\\\\", "").replace('\\"', "")
    strings = plain.count('"') // 2
    if max_strings is not None and strings > max_strings:
        raise ScenarioError("", f"{strings:,} JSON strings; at most {max_strings:,} (no scenario needs that many)")
    return _STRING.sub("", plain)


def check_shape(text: str, max_values: int | None = MAX_VALUES, max_strings: int | None = MAX_STRINGS) -> None:
    """Refuse too many values or too deep nesting, before ``json`` builds anything (None: no count limit)."""
    skeleton = _skeleton(text, max_strings)
    opens = skeleton.count("[") + skeleton.count("{")
    values = skeleton.count(",") + opens
    if max_values is not None and values > max_values:
        raise ScenarioError("", f"about {values:,} JSON values; at most {max_values:,} (no scenario needs that many)")
    digits = _LONG_NUMBER.search(skeleton)
    if digits:
        count = len(digits.group())
        said = "more than 4300" if count > 4300 else f"{count:,}"
        raise ScenarioError("", f"a number in the file has {said} digits; no field allows that")
    depth = 0
    for match in _BRACKET.finditer(skeleton):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ScenarioError(
                    "", f"JSON nested too deeply: more than {MAX_DEPTH} levels (a scenario needs 3)")
        else:
            depth -= 1


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""


def _path_to(root: Any, target: dict[str, Any]) -> str:
    """Where ``target`` sits inside ``root``, as a field path (``vcpus[3]``); "" for the top."""
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{shorten_key(k)}" if path else shorten_key(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return ""


def loads(text: str | bytes, max_values: int | None = MAX_VALUES, max_strings: int | None = MAX_STRINGS) -> Any:
    """Parse JSON text strictly; every problem is a ScenarioError with a short message.

    Documents that are not scenarios (a QEMU migration description) may lift the
    count limits with None; the nesting limit and duplicate keys always apply.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError("", f"not UTF-8 text (byte {exc.start})") from None
    check_shape(text, max_values, max_strings)
    duplicates: list[tuple[str, dict[str, Any]]] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs) and not duplicates:
            duplicates.append((_first_repeated(pairs), out))
        return out

    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except RecursionError:  # cannot happen after check_shape; kept so no caller ever sees it
        raise ScenarioError("", f"JSON nested too deeply: more than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError("", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer literal of thousands of digits
        if "digits" in str(exc):
            raise ScenarioError("", "a number in the file has more than 4300 digits; no field allows that") from None
        raise ScenarioError("", f"not valid JSON: {quote(str(exc), 200)}") from None
    if duplicates:
        key, where = duplicates[0]
        path = _path_to(data, where)
        field = f"{path}.{shorten_key(key)}" if path else shorten_key(key)
        raise ScenarioError(field, "duplicate key: a key may appear only once in an object (which one would count?)")
    return data
