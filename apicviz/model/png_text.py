"""Read the scenario text a PNG carries, so pictures can reproduce their scenario.

Pure Python (zlib only): ``apicviz eval shot.png`` and the loader work
without Qt. Reading is bounded because a picture is untrusted input: at most
:data:`MAX_CHUNKS` chunks are looked at, every chunk's CRC is checked, only
the ``apicviz-scenario`` text is ever inflated (other text chunks are skipped
without decompressing them), and inflating stops at :data:`MAX_INFLATED_BYTES`
— a compressed text can expand a thousandfold, so the cap applies to the
output, never to the input.
"""
from __future__ import annotations

import struct
import zlib

from .errors import ScenarioError, quote

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCENARIO_KEY = "apicviz-scenario"
VERSION_KEY = "apicviz-version"
#: The scenario file limit: an embedded scenario may be as large as a file, no larger.
MAX_INFLATED_BYTES = 32 * 1024 * 1024
#: A 32 MiB picture written by Qt has a few thousand IDAT chunks; far more is not a picture of ours.
MAX_CHUNKS = 65536
#: PNG keywords are 1-79 bytes (PNG spec 11.3.4.3).
MAX_KEYWORD = 79
_TEXT_KINDS = (b"tEXt", b"zTXt", b"iTXt")
_INFLATE_STEP = 1 << 20


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_SIGNATURE


def _inflate(data: bytes, where: str) -> bytes:
    """zlib data inflated in steps, never past MAX_INFLATED_BYTES in total."""
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    pending = data
    try:
        while True:
            room = MAX_INFLATED_BYTES + 1 - size
            piece = inflater.decompress(pending, min(room, _INFLATE_STEP))
            parts.append(piece)
            size += len(piece)
            if size > MAX_INFLATED_BYTES:
                raise ScenarioError(
                    "", f"{where}: the scenario text inflates to more than {MAX_INFLATED_BYTES:,} bytes, "
                        f"the limit for a scenario")
            pending = inflater.unconsumed_tail
            if not pending:
                break
        if not inflater.eof:
            parts.append(inflater.flush())
    except zlib.error as exc:
        raise ScenarioError("", f"{where}: damaged compressed text ({exc})") from None
    if not inflater.eof:
        raise ScenarioError("", f"{where}: the compressed text is cut short")
    return b"".join(parts)


def _keyword(body: bytes, where: str) -> tuple[str, int]:
    """The chunk's keyword and the offset just past its NUL; PNG keywords are latin-1."""
    end = body.find(b"\0", 0, MAX_KEYWORD + 1)
    if end < 1:
        raise ScenarioError("", f"{where}: damaged text chunk (no keyword of 1-{MAX_KEYWORD} bytes)")
    return body[:end].decode("latin-1"), end + 1


def _scenario_text(kind: bytes, body: bytes, start: int, where: str) -> str:
    """Decode the text of the one scenario chunk (``start``: just past its keyword)."""
    try:
        if kind == b"tEXt":
            return body[start:].decode("latin-1")
        if kind == b"zTXt":
            if body[start] != 0:
                raise ScenarioError("", f"{where}: unknown compression method {body[start]}")
            return _inflate(body[start + 1:], where).decode("latin-1")
        compressed, method = body[start], body[start + 1]
        lang_end = body.index(b"\0", start + 2)
        translated_end = body.index(b"\0", lang_end + 1)
        text = body[translated_end + 1:]
        if compressed:
            if method != 0:
                raise ScenarioError("", f"{where}: unknown compression method {method}")
            text = _inflate(text, where)
        return text.decode("utf-8")
    except (IndexError, ValueError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError("", f"{where}: damaged text chunk") from None


def read_scenario_chunk(data: bytes, name: str = "picture") -> tuple[str | None, str | None]:
    """(scenario text, apicviz version) of a PNG; None for what it does not carry.

    Refuses a bad signature, a truncated or CRC-damaged chunk, more than
    MAX_CHUNKS chunks and a second scenario chunk (which one would be meant?).
    """
    if not is_png(data):
        raise ScenarioError("", f"{name} is not a PNG file")
    scenario: str | None = None
    version: str | None = None
    pos = len(PNG_SIGNATURE)
    count = 0
    while pos < len(data):
        count += 1
        if count > MAX_CHUNKS:
            raise ScenarioError("", f"{name} has more than {MAX_CHUNKS:,} PNG chunks; not a picture apicviz wrote")
        if pos + 12 > len(data):
            raise ScenarioError("", f"{name}: PNG truncated in a chunk header at byte {pos}")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise ScenarioError("", f"{name}: PNG truncated in the {quote(kind.decode('latin-1'))} chunk at byte {pos}")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        body = data[pos + 8:end - 4]
        where = f"{name}: {kind.decode('latin-1', 'replace')} chunk at byte {pos}"
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            raise ScenarioError("", f"{where}: CRC mismatch (the file is damaged)")
        pos = end
        if kind == b"IEND":
            break
        if kind not in _TEXT_KINDS:
            continue
        key, start = _keyword(body, where)
        if key == SCENARIO_KEY:
            if scenario is not None:
                raise ScenarioError("", f"{where}: a second {SCENARIO_KEY} chunk; a picture carries one scenario")
            scenario = _scenario_text(kind, body, start, where)
        elif key == VERSION_KEY and kind == b"tEXt" and version is None:
            version = body[start:start + 64].decode("latin-1")
    return scenario, version


def scenario_text_from_png(data: bytes, name: str = "picture") -> str:
    """The scenario JSON an apicviz picture carries; a clear error for other PNGs."""
    text, _version = read_scenario_chunk(data, name)
    if text is None:
        raise ScenarioError(
            "", f"{name} is a PNG without an embedded apicviz scenario (only pictures exported by apicviz carry one)"
        )
    return text
