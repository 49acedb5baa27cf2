"""`apicviz examples` and `apicviz install-desktop`: what an installed package offers without a checkout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apicviz import resources
from apicviz.cli.install_desktop_cmd import data_home, desktop_entry, exec_argument

APICVIZ = Path(sys.executable).with_name("apicviz")
EXAMPLE_COUNT = 12  # 00 is the first-start example


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(APICVIZ), *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def read_exec(value: str) -> list[str]:
    """Split an Exec= value the way the desktop-entry spec reads it (our own reader, for the round trip)."""
    unescaped, i = [], 0
    while i < len(value):  # the string-type escape: "\\" is one backslash
        if value[i] == "\\" and value[i + 1:i + 2] == "\\":
            unescaped.append("\\")
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text = "".join(unescaped).replace("%%", "\0")
    words, word, quoted, i = [], "", False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\":
            word += text[i + 1]
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == " " and not quoted:
            words.append(word)
            word = ""
        else:
            word += c
        i += 1
    words.append(word)
    return [w.replace("\0", "%") for w in words]


def test_examples_lists_every_shipped_example_by_full_path():
    proc = run("examples")
    assert proc.returncode == 0, proc.stderr
    paths = [Path(line) for line in proc.stdout.splitlines()]
    assert len(paths) == EXAMPLE_COUNT
    assert paths == resources.example_files()
    assert all(p.is_absolute() and p.is_file() for p in paths)


def test_examples_long_gives_each_title():
    proc = run("examples", "--long")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[2].split("\t")  # after 00 (first start) and 01
    assert Path(first[0]).name == "02-aliased-xapic-id-6.1.apicviz.json"
    assert first[1] == json.loads(Path(first[0]).read_text())["title"] == "Aliased xAPIC IDs on Linux 6.1"


@pytest.mark.parametrize("word", ["/usr/bin/apicviz", "/home/a b/venv/bin/apicviz", '/odd"dir/$x/`y`/apicviz',
                                  "/back\\slash/apicviz", "/100%/apicviz", ""])
def test_exec_argument_reads_back_as_written(word):
    assert read_exec(exec_argument(word)) == [word]


def test_desktop_entry_changes_only_exec_and_keeps_the_file_argument():
    template = resources.desktop_file().read_text()
    entry = desktop_entry(template, ["/opt/my tools/apicviz"])
    old, new = template.splitlines(), entry.splitlines()
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed == [("Exec=apicviz %f", 'Exec="/opt/my tools/apicviz" %f')]


def test_data_home_follows_xdg_and_ignores_relative_values():
    assert data_home({"XDG_DATA_HOME": "/tmp/xdg"}) == Path("/tmp/xdg")
    assert data_home({"XDG_DATA_HOME": "rel/dir"}) == Path.home() / ".local" / "share"
    assert data_home({}) == Path.home() / ".local" / "share"


def test_install_desktop_puts_entry_and_icon_under_xdg_data_home_and_removes_them(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = run("install-desktop", env=env)
    assert proc.returncode == 0, proc.stderr
    desktop = tmp_path / "applications" / "apicviz.desktop"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "apicviz.svg"
    assert icon.read_bytes() == resources.icon_file().read_bytes()
    exec_lines = [line for line in desktop.read_text().splitlines() if line.startswith("Exec=")]
    assert len(exec_lines) == 1
    command = read_exec(exec_lines[0].removeprefix("Exec="))
    assert command[-1] == "%f"
    assert Path(command[0]) == APICVIZ  # this installation's launcher, by full path
    assert "Icon=apicviz" in desktop.read_text().splitlines()

    proc = run("install-desktop", "--remove", env=env)
    assert proc.returncode == 0, proc.stderr
    assert not desktop.exists()
    assert not icon.exists()
