"""One error type for everything that can stop a throwaway-kernel run, with the fix to try."""
from __future__ import annotations


class KernelVmError(Exception):
    """A kernel that cannot be used, a missing tool, a guest that did not boot or timed out.

    ``cause`` is a short code (``no_qemu``, ``no_virtme_ng``, ``not_a_kernel``,
    ``no_kvm``, ``no_9p``, ``boot_failed``, ``timeout``, ``bad_package``,
    ``guest_failed``, ``cancelled``) so the window can choose its words without parsing
    ``str(exc)``; ``console`` is the tail of the guest console when it matters.
    """

    def __init__(self, cause: str, message: str, fix: str = "", console: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        self.fix = fix
        self.console = console

    def __str__(self) -> str:
        text = self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        if self.console:
            tail = "\n    ".join(self.console.rstrip().splitlines()[-20:])
            text += f"\n  guest console (last lines):\n    {tail}"
        return text
