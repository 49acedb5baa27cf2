"""Turn a raw terminal capture into the lines a person saw on the screen.

QEMU's human monitor over a socket (``-monitor unix:...``) echoes what is
typed through its readline: after every key it erases the line
(``ESC [ K``), moves the cursor back (``ESC [ D``) and prints the whole line
again, so a captured session holds ``i ESC[K ESC[D in ESC[K ...`` where the
screen showed ``info lapic``. We replay the usual cursor movements — carriage
return, backspace, ``ESC [ n D/C/G/K`` — onto a line buffer and drop other
escape sequences (colours, bracketed paste, title strings).
"""
from __future__ import annotations

import re

#: CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \\), or a two-byte escape.
_ESCAPE = re.compile(r"\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_TERMINAL = re.compile(r"[\x1b\x08\r]")


def looks_like_terminal(line: str) -> bool:
    return bool(_TERMINAL.search(line))


def render_line(line: str) -> str:
    """The visible text of one line (no newline inside) after its cursor movements."""
    if not looks_like_terminal(line):
        return line
    cells: list[str] = []
    col = 0
    pos = 0
    while pos < len(line):
        ch = line[pos]
        if ch == "\x1b":
            match = _ESCAPE.match(line, pos)
            if match is None:  # a lone ESC: drop it
                pos += 1
                continue
            pos = match.end()
            params, final = match.group(1), match.group(2)
            if final is None:
                continue
            count = int(params) if params.isdigit() else 1
            if final == "D":
                col = max(0, col - count)
            elif final == "C":
                col += count
            elif final == "G":
                col = max(0, count - 1)
            elif final == "K":
                mode = int(params) if params.isdigit() else 0
                if mode == 0:
                    del cells[col:]
                elif mode == 1:
                    cells[:col] = [" "] * min(col, len(cells))
                else:
                    cells = []
            continue
        pos += 1
        if ch == "\r":
            col = 0
        elif ch == "\x08":
            col = max(0, col - 1)
        else:
            if col > len(cells):
                cells.extend(" " * (col - len(cells)))
            if col == len(cells):
                cells.append(ch)
            else:
                cells[col] = ch
            col += 1
    return "".join(cells).rstrip()


__all__ = ["looks_like_terminal", "render_line"]
