"""Is there an X server behind ``DISPLAY``? Asked before Qt, which aborts the process when there is not.

A stale ``DISPLAY`` (an Xvfb that was stopped, an ssh session whose
forwarding is gone) must get the same clear exit as no display at all. We
try the server's socket the way libxcb does — the local Unix socket
``/tmp/.X11-unix/X<n>`` (also in the abstract namespace on Linux), or TCP
port 6000+n for a host name — with a short timeout, and only then let Qt
connect. No Qt and no X library is needed for the check.
"""
from __future__ import annotations

import re
import socket

X11_UNIX_DIR = "/tmp/.X11-unix"
X11_TCP_BASE = 6000
PROBE_TIMEOUT_S = 2.0

_DISPLAY = re.compile(r"^(?:(?P<proto>[a-z]+)/)?(?P<host>[^:/]*):(?P<number>\d+)(?:\.(?P<screen>\d+))?$")


def parse_display(value: str) -> tuple[str, int] | None:
    """``"[host]:n[.s]"`` -> (host, n); None when the value is no X display name (e.g. a launchd path)."""
    match = _DISPLAY.match(value.strip())
    if not match:
        return None
    host = match.group("host")
    if match.group("proto") == "unix":
        host = ""
    return host, int(match.group("number"))


def _connects(family: int, address: object, timeout: float) -> bool:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)  # type: ignore[arg-type]
    except OSError:
        return False
    finally:
        sock.close()
    return True


def x_server_answers(display: str, timeout: float = PROBE_TIMEOUT_S) -> bool | None:
    """True when something listens where ``display`` points, False when nothing does, None when unknown."""
    parsed = parse_display(display)
    if parsed is None:
        return None  # not a name we understand (macOS launchd sockets, odd transports): let Qt try
    host, number = parsed
    if host in ("", "unix"):
        path = f"{X11_UNIX_DIR}/X{number}"
        if _connects(socket.AF_UNIX, path, timeout):
            return True
        # Linux X servers also listen on the abstract socket of the same name.
        return _connects(socket.AF_UNIX, "\0" + path, timeout)
    try:
        infos = socket.getaddrinfo(host, X11_TCP_BASE + number, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(_connects(family, addr, timeout) for family, _type, _proto, _name, addr in infos)


def no_server_message(display: str) -> str:
    return (f"apicviz: DISPLAY is {display!r}, but no X server answers there "
            f"(it may have stopped, or the ssh X forwarding is gone), so the window cannot open.")
