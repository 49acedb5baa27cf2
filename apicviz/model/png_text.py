"""Read and write the text chunks of a PNG, so pictures can carry their scenario.

Pure Python (zlib only): ``apicviz eval shot.png`` and the loader work
without Qt. Reading is bounded — a hostile PNG cannot make us inflate
gigabytes or loop forever.
"""
from __future__ import annotations

import struct
import zlib

from .errors import ScenarioError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCENARIO_KEY = "apicviz-scenario"
VERSION_KEY = "apicviz-version"
MAX_TEXT_BYTES = 64 * 1024 * 1024


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_SIGNATURE


def _inflate(data: bytes, where: str) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_TEXT_BYTES)
    except zlib.error as exc:
        raise ScenarioError("", f"{where}: damaged compressed text ({exc})") from None
    if d.unconsumed_tail:
        raise ScenarioError("", f"{where}: compressed text larger than {MAX_TEXT_BYTES} bytes")
    return out


def read_png_text(data: bytes) -> dict[str, str]:
    """All tEXt/zTXt/iTXt chunks of a PNG as key -> text."""
    if not is_png(data):
        raise ScenarioError("", "not a PNG file")
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise ScenarioError("", f"PNG truncated in a {kind.decode('latin-1', 'replace')} chunk at byte {pos}")
        pos += 12 + length
        if kind == b"IEND":
            break
        try:
            if kind == b"tEXt":
                key, _, value = body.partition(b"\0")
                out[key.decode("latin-1")] = value.decode("latin-1")
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\0")
                out[key.decode("latin-1")] = _inflate(rest[1:], f"zTXt at byte {pos}").decode("latin-1")
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                compressed, _method = rest[0], rest[1]
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, text = rest.partition(b"\0")
                raw = _inflate(text, f"iTXt at byte {pos}") if compressed else text
                out[key.decode("latin-1")] = raw.decode("utf-8")
        except (IndexError, UnicodeDecodeError):
            raise ScenarioError("", f"damaged PNG text chunk at byte {pos}") from None
    return out


def scenario_text_from_png(data: bytes, name: str = "picture") -> str:
    """The scenario JSON an apicviz picture carries; a clear error for other PNGs."""
    texts = read_png_text(data)
    if SCENARIO_KEY not in texts:
        raise ScenarioError(
            "", f"{name} is a PNG without an embedded apicviz scenario (only pictures exported by apicviz carry one)"
        )
    return texts[SCENARIO_KEY]
