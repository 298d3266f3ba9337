"""A worker never forks while one of its own threads uses Redis or the database.

The fault it prevents: the maintenance clock thread held redis-py's pool lock at the instant
RQ forked a work-horse; the horse inherited the lock held, and hung on its first Redis call
until the job timeout (seen as renders requeued after a Redis data loss never running).
"""

from __future__ import annotations

import subprocess
import sys

from saas_app.settings import PROJECT_ROOT

_CHILD = r"""
import os, threading, time
import redis
from saas_app.jobs.worker_class import fork_guard, install_fork_guard

install_fork_guard()
client = redis.Redis(host="127.0.0.1", port=1)  # never connects: only its pool's lock matters
pool = client.connection_pool
state = {"released": False}
held = threading.Event()

def busy_thread() -> None:
    with fork_guard():
        with pool._lock:  # what redis-py holds while it hands out a connection
            held.set()
            time.sleep(0.5)
            state["released"] = True

threading.Thread(target=busy_thread).start()
held.wait()
pid = os.fork()  # waits until the thread has left fork_guard
if pid == 0:
    ok = state["released"] and pool._lock.acquire(timeout=2)
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print("child-exit", os.waitstatus_to_exitcode(status))
"""


def test_a_fork_waits_until_the_workers_threads_have_let_go_of_their_locks() -> None:
    result = subprocess.run([sys.executable, "-c", _CHILD], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "child-exit 0" in result.stdout, result.stdout + result.stderr
