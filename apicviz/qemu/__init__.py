"""Talking to a running QEMU (Qt-free): QMP client, attach, migration-stream reader."""
from __future__ import annotations
