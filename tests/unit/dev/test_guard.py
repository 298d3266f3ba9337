from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from saas_app.dev import guard


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _orphan_after_parent_sigkill() -> int:
    """A parent starts a sleeper through the guard, prints its pid and is SIGKILLed."""
    command = [sys.executable, "-m", "saas_app.dev.guard"]
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen({command!r} + [sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    child = int(parent.stdout.readline())  # type: ignore[union-attr]
    # Kill the parent only once the guard has armed the signal and exec'd into the sleeper (the
    # event itself: on a loaded machine Python can take seconds to start).
    deadline = time.monotonic() + 120
    while b"saas_app.dev.guard" in Path(f"/proc/{child}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the guard never exec'd its program"
        time.sleep(0.02)
    parent.kill()
    parent.wait()
    return child


def test_a_guarded_program_stops_when_its_parent_is_sigkilled() -> None:
    child = _orphan_after_parent_sigkill()

    deadline = time.monotonic() + 120
    while _alive(child):
        assert time.monotonic() < deadline, f"pid {child} outlived its SIGKILLed parent"
        time.sleep(0.05)


def test_guard_without_a_program_is_a_usage_error() -> None:
    assert guard.main([]) == 2
