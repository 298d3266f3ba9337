"""``python -m saas_app.dev.guard PROGRAM [ARGS...]``: run PROGRAM so it dies with its parent.

Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) survives ``exec``, so this sets it
and then becomes PROGRAM. supervisord runs every program of `make run` through it: if
supervisord is killed (even with SIGKILL), each program still gets SIGTERM and stops
cleanly. The signal is cleared by ``fork``, so processes that fork workers of their own
set it again in the child (the RQ work-horse does, see `saas_app.jobs.worker_class`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
# Loaded once, up front: die_with_parent also runs between fork and exec, where loading is unsafe.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `sig` to this process when its parent ends.

    Returns:
        False where the call is not available (not Linux), True otherwise.
    """
    if _LIBC is None:
        return False
    if _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    return True


def main(argv: list[str]) -> int:
    """Set the parent-death signal, then exec `argv` (returns only on a usage error)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    parent = os.getppid()
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        return 1
    os.execvp(argv[0], argv)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
