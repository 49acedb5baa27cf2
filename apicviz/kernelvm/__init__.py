"""Proof on any kernel: boot a kernel image in a throwaway VM and run the host check there.

``apicviz probe --kernel IMAGE`` stages the image and its modules in a private
cache (never the host's ``/boot`` or ``/lib/modules``), boots it with
virtme-ng — under KVM where nested virtualization works, else under QEMU's TCG
with an emulated SVM CPU — loads ``kvm_amd`` or ``kvm_intel`` inside, runs
the same ``apicviz probe --json`` on the user's files there, and brings the
JSON back. The probe inside compares the kernel's answers with the model for
*that* kernel's version and configuration.
"""
from __future__ import annotations

from .errors import KernelVmError

__all__ = ["KernelVmError"]
