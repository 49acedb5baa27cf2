"""apicviz.host talks to the kernel, never to Qt: the probe must run in a worker thread and on servers.

That rule is an import-linter contract in pyproject.toml ("The host check and the
throwaway-kernel runner talk to the kernel, not to Qt"), checked by scripts/lint
on every import of every module, lazy ones included; ``apicviz.cli.probe_cmd`` is
held by the command-line contract. This file checks that the package the
contract guards still has its parts.
"""
from __future__ import annotations

import pkgutil

import apicviz.host


def test_host_package_has_its_modules() -> None:
    found = {info.name for info in pkgutil.walk_packages(apicviz.host.__path__, prefix="apicviz.host.")}
    expected = {"kvm_abi", "vm", "deliver", "readback", "host_info", "probe", "stub", "batch", "skips"}
    assert {f"apicviz.host.{m}" for m in expected} <= found
