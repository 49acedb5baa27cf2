"""A small QMP client over a unix socket (standard library only).

QMP speaks one JSON object per line: QEMU greets with ``{"QMP": ...}``, the
client sends ``qmp_capabilities``, then commands; events may arrive at any
time and are skipped here. QEMU serves one QMP client per monitor at a time:
a second client is accepted by the kernel's listen queue but gets no
greeting until the first one leaves, so "no greeting within the timeout" is
how a busy socket shows itself. Every failure is a :class:`QmpError` whose
message names the socket and says what to do.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import time
from typing import Any

from ..model import strict_json
from ..model.errors import ScenarioError

DEFAULT_TIMEOUT = 10.0
#: A reply longer than this is not something we asked for (info lapic of 4096 CPUs is ~4 MB).
MAX_LINE = 64 * 1024 * 1024


class QmpError(ScenarioError):
    """QMP failed: dead, busy or foreign socket, timeout, or a command QEMU refused."""

    def __init__(self, where: str, message: str, qmp_class: str | None = None) -> None:
        super().__init__(where, message)
        self.qmp_class = qmp_class  # QEMU's error class ("GenericError", "CommandNotFound") for refusals


def socket_path(address: str) -> str:
    """``unix:PATH`` or a plain path -> PATH; anything else (``tcp:``) is refused."""
    if not isinstance(address, str) or not address.strip():
        raise QmpError("socket", "no QMP socket given; use unix:PATH or a path")
    text = address.strip()
    if text.startswith("unix:"):
        text = text[len("unix:"):]
        text = text.split(",", 1)[0]  # as in QEMU's own unix:PATH,server=on,wait=off
    elif ":" in text.split("/", 1)[0] and not os.path.exists(text):
        scheme = text.split(":", 1)[0]
        raise QmpError(address, f"{scheme}: sockets are not supported; start QEMU with "
                                f"-qmp unix:PATH,server=on,wait=off and give PATH")
    if not text:
        raise QmpError(address, "empty socket path")
    return text


class QmpClient:
    """One QMP session; use as a context manager so the socket is always closed."""

    def __init__(self, address: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self.path = socket_path(address)
        self.timeout = float(timeout)
        self.greeting: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._buffer = b""

    # --- connection ----------------------------------------------------------------

    def connect(self) -> QmpClient:
        self._check_path()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            raise QmpError(self.path, "nobody is listening on this socket (QEMU has exited, or it is a stale "
                                      "socket file)") from None
        except PermissionError:
            sock.close()
            raise QmpError(self.path, "permission denied; run as the user QEMU runs as (or root)") from None
        except OSError as exc:
            sock.close()
            raise QmpError(self.path, f"cannot connect: {exc.strerror or exc}") from None
        self._sock = sock
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise
        return self

    def _check_path(self) -> None:
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            raise QmpError(self.path, "no such socket; is QEMU running with -qmp unix:PATH,server=on,wait=off?") \
                from None
        except OSError as exc:
            raise QmpError(self.path, f"cannot use it: {exc.strerror or exc}") from None
        if not stat.S_ISSOCK(mode):
            raise QmpError(self.path, "not a unix socket (a regular file or directory); give QEMU's QMP socket")

    def _handshake(self) -> None:
        try:
            line = self._read_line(time.monotonic() + self.timeout, "the greeting", self.timeout)
        except QmpError as exc:
            if "timed out" in exc.message:
                raise QmpError(self.path, f"no QMP greeting within {self.timeout:g} s: another client is probably "
                                          f"connected (QEMU serves one QMP client at a time), or this is not a "
                                          f"QMP socket") from None
            raise
        text = line.decode("utf-8", "replace")
        if "monitor - type 'help'" in text:
            raise QmpError(self.path, "this is QEMU's human monitor (HMP, -monitor), not QMP; start QEMU with "
                                      "-qmp unix:PATH,server=on,wait=off and give that PATH")
        try:
            first = strict_json.loads(line, max_values=None, max_strings=None)
        except ValueError:
            raise QmpError(self.path, f"this is not a QMP socket: it greeted with {_short(text)}") from None
        if not isinstance(first, dict) or "QMP" not in first:
            raise QmpError(self.path, f"this is not a QMP socket: it greeted with {_short(first)}")
        self.greeting = first["QMP"] if isinstance(first["QMP"], dict) else {}
        self.command("qmp_capabilities")

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self) -> QmpClient:
        return self.connect() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- messages ------------------------------------------------------------------

    def version(self) -> str:
        """QEMU's version from the greeting, e.g. ``7.2.22 (Debian 1:7.2+dfsg-7)``."""
        ver = self.greeting.get("version", {}) if isinstance(self.greeting, dict) else {}
        q = ver.get("qemu", {}) if isinstance(ver, dict) else {}
        try:
            text = f"{int(q['major'])}.{int(q['minor'])}.{int(q['micro'])}"
        except (KeyError, TypeError, ValueError):
            return "unknown"
        package = str(ver.get("package", "")).strip()
        return f"{text} ({package})" if package else text

    def version_tuple(self) -> tuple[int, int]:
        ver = self.greeting.get("version", {}).get("qemu", {}) if isinstance(self.greeting, dict) else {}
        try:
            return int(ver["major"]), int(ver["minor"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return (0, 0)

    def command(self, name: str, timeout: float | None = None, **arguments: Any) -> Any:
        """Run one command and return its ``return`` value; QEMU's refusal raises QmpError."""
        if self._sock is None:
            raise QmpError(self.path, "not connected")
        message: dict[str, Any] = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise QmpError(self.path, f"QEMU closed the connection while sending {name!r}: "
                                      f"{exc.strerror or exc}") from None
        limit = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + limit
        while True:
            reply = self._read_message(deadline, f"the reply to {name!r}", limit)
            if not isinstance(reply, dict) or "event" in reply:
                continue
            if "error" in reply:
                err = reply["error"] if isinstance(reply["error"], dict) else {}
                raise QmpError(f"{self.path}: {name}", str(err.get("desc", reply["error"]))[:500],
                               qmp_class=str(err.get("class", "")) or None)
            if "return" in reply:
                return reply["return"]
            raise QmpError(self.path, f"unexpected reply to {name!r}: {_short(reply)}")

    def _read_message(self, deadline: float, what: str, limit: float) -> Any:
        line = self._read_line(deadline, what, limit)
        try:
            return strict_json.loads(line, max_values=None, max_strings=None)
        except ValueError:
            raise QmpError(self.path, f"not QMP: received {_short(line.decode('utf-8', 'replace'))} "
                                      f"instead of JSON") from None

    def _read_line(self, deadline: float, what: str, limit: float) -> bytes:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QmpError(self.path, f"timed out after {limit:g} s waiting for {what}")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(1 << 16)
            except TimeoutError:
                raise QmpError(self.path, f"timed out after {limit:g} s waiting for {what}") from None
            except OSError as exc:
                raise QmpError(self.path, f"connection lost waiting for {what}: {exc.strerror or exc}") from None
            if not chunk:
                raise QmpError(self.path, f"QEMU closed the connection waiting for {what} (did it exit?)")
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                raise QmpError(self.path, f"a reply longer than {MAX_LINE:,} bytes; not a QMP monitor?")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.strip()


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)[:200] if _jsonable(value) else repr(value)
    return repr(text[:80]) if isinstance(value, str) else text[:80]


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = ["DEFAULT_TIMEOUT", "QmpClient", "QmpError", "socket_path"]
