"""A child process that ends with the process that started it (Linux: PR_SET_PDEATHSIG)."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def dying_with_parent(signal_number: int) -> Callable[[], None] | None:
    """A `preexec_fn`: the child gets `signal_number` when this process dies. Resolved here, in
    the parent (a forked child of a threaded parent should not load libraries); in the child,
    a parent already gone between the fork and the request (the signal would never come) ends
    it at once. None where the platform has no such signal."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal_number)
        if os.getppid() != parent:
            os._exit(1)

    return in_child
