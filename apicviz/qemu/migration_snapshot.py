"""Take the VM's APIC state from a migration to ``exec:cat > FILE``, and resume the VM whatever happens.

``IA32_APIC_BASE`` (the APIC mode) is reachable over QMP only in the
migration stream. ``migrate`` writes the whole stream — guest RAM included,
so it takes as long as writing the RAM to a file — and leaves the VM paused
(``postmigrate``) until ``cont``. We therefore:

1. refuse up front what would make the stream unreadable (an active
   migration; capabilities such as postcopy, multifd, compression,
   x-ignore-shared) — nothing has been touched yet;
2. migrate into a private temporary directory (owned by QEMU's user when we
   are root and QEMU is not), polling ``query-migrate`` with a time limit
   and ``migrate_cancel`` when it runs out;
3. in a ``finally``: if the VM was running before, ``cont`` it (retried once)
   and check ``query-status`` says running — a VM that was paused stays
   paused (our migration does not get to start a VM its user stopped);
4. read the ``apic`` sections (:mod:`.migration_stream`) and delete the file.
"""
from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time

from .migration_stream import ApicSection, read_apic_sections
from .qmp import QmpClient, QmpError

#: Capabilities that change the stream's layout beyond what we read.
UNREADABLE_CAPABILITIES = (
    "xbzrle", "compress", "postcopy-ram", "x-ignore-shared", "multifd", "rdma-pin-all", "dirty-bitmaps", "block",
    "mapped-ram", "background-snapshot", "zero-copy-send", "postcopy-preempt", "x-colo", "switchover-ack",
)
ACTIVE = ("setup", "active", "pre-switchover", "device", "postcopy-active", "postcopy-paused", "postcopy-recover",
          "cancelling", "wait-unplug")
POLL = 0.05


def _check_ready(qmp: QmpClient) -> None:
    caps = qmp.command("query-migrate-capabilities")
    on = [c.get("capability") for c in caps if isinstance(c, dict) and c.get("state")] if isinstance(caps, list) else []
    bad = [c for c in on if c in UNREADABLE_CAPABILITIES]
    if bad:
        raise QmpError(qmp.path, f"migration capabilit{'ies' if len(bad) > 1 else 'y'} {', '.join(bad)} "
                                 f"{'are' if len(bad) > 1 else 'is'} on, which makes a stream apicviz cannot read; "
                                 f"attach without --mode-from-migration (nothing was changed)")
    status = (qmp.command("query-migrate") or {}).get("status")
    if status in ACTIVE:
        raise QmpError(qmp.path, f"a migration is already in progress ({status}); attach again when it is done")


def _private_dir(qmp: QmpClient) -> str:
    path = tempfile.mkdtemp(prefix="apicviz-migrate-")
    try:
        owner = os.stat(qmp.path).st_uid
        if os.geteuid() == 0 and owner != 0:
            os.chown(path, owner, -1)  # QEMU runs as another user (e.g. libvirt's qemu): let it write here
    except OSError:
        pass
    return path


def _wait(qmp: QmpClient, limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        info = qmp.command("query-migrate") or {}
        status = info.get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            desc = info.get("error-desc", "no reason given")
            raise QmpError(qmp.path, f"the migration to a file {status}: {desc} (QEMU's -sandbox spawn=deny or "
                                     f"another user forbid exec:; attach without --mode-from-migration)")
        if time.monotonic() > deadline:
            try:
                qmp.command("migrate_cancel")
            finally:
                raise QmpError(qmp.path, f"the migration did not finish within {limit:g} s (its stream holds all "
                                         f"guest RAM); cancelled")
        time.sleep(POLL)


def _resume(qmp: QmpClient) -> None:
    """``cont`` until query-status says running; a failure here is reported, never swallowed."""
    last: Exception | None = None
    for _ in range(2):
        try:
            status = qmp.command("query-status") or {}
            if status.get("running"):
                return
            qmp.command("cont")
            if (qmp.command("query-status") or {}).get("running"):
                return
        except QmpError as exc:
            last = exc
            time.sleep(0.2)
    raise QmpError(qmp.path, f"could not resume the VM after the migration snapshot ({last or 'still paused'}); "
                             f"resume it yourself: QMP cont, or HMP c")


def apic_snapshot(qmp: QmpClient, limit: float = 300.0) -> tuple[list[ApicSection], list[str]]:
    """The ``apic`` sections of a migration stream, and notes; the VM runs again afterwards if it ran before."""
    _check_ready(qmp)
    was_running = bool((qmp.command("query-status") or {}).get("running"))
    workdir = _private_dir(qmp)
    stream = os.path.join(workdir, "stream")
    warnings: list[str] = []
    try:
        try:
            qmp.command("migrate", uri=f"exec:cat > {shlex.quote(stream)}")
            _wait(qmp, limit)
        finally:
            if was_running:
                _resume(qmp)
        if not was_running:
            warnings.append("the VM was not running before the migration snapshot and was left paused "
                            "(status postmigrate; QMP cont starts it)")
        return read_apic_sections(stream), warnings
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["UNREADABLE_CAPABILITIES", "apic_snapshot"]
