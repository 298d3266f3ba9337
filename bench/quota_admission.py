"""Quota admission cost: `quotas.admit` + `quotas.release` against a raw Redis INCR round trip.

Run: `.venv/bin/python -m bench.quota_admission` (or `python bench/quota_admission.py`).
Goal: one admission (`quotas.admit`, one EVALSHA) within 1.5x of an INCR round trip (median),
measured here in the same run on the same Redis; admit + release is printed too.
Uses Redis DB 13 and a temp SQLite database.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

try:
    from bench import _common
except ImportError:  # run as a file: bench/ is on sys.path, the project is not yet
    import _common  # type: ignore[no-redef]

# Settings are read once, on first use: point them at this run before importing the app.
_common.isolate("quota", redis_db=13)

from sqlmodel import Session

from saas_app.db import get_engine
from saas_app.models import new_id
from saas_app.services.core.redis_client import get_redis
from saas_app.services.usage import quotas

ESTIMATE = {"images_count": 6.0, "tts_seconds": 60.0, "render_minutes": 1.0, "storage_mb": 2.1}
GOAL_RATIO = 1.5


def _interleaved(ops: dict[str, Callable[[], object]], n: int) -> dict[str, list[float]]:
    """Time each operation n times, round-robin, so drift (CPU frequency, other load) hits all alike."""
    for _ in range(min(200, n)):  # warm up connections, the script cache and the tenant's counters
        for op in ops.values():
            op()
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(n):
        for name, op in ops.items():
            start = time.perf_counter()
            op()
            samples[name].append(time.perf_counter() - start)
    return samples


def _admission(tenant_id: str, with_release: bool = True) -> Callable[[], None]:
    """One admission as create_render does it (and, optionally, the release at the job's end)."""
    session = Session(get_engine())  # admit only reads the ledger when Redis lost the counters

    def op() -> None:
        render_id = new_id()
        quotas.admit(session=session, tenant_id=tenant_id, plan_id="free", render_id=render_id, estimate=ESTIMATE)
        if with_release:
            quotas.release(tenant_id=tenant_id, render_id=render_id)
    return op


def _release_after_admit(tenant_id: str, n: int) -> Callable[[], None]:
    session = Session(get_engine())
    ids = [new_id() for _ in range(n)]  # the render row (and its id) exists before admission
    pending: list[str] = []

    def admit() -> None:
        pending.append(ids.pop())
        quotas.admit(session=session, tenant_id=tenant_id, plan_id="free", render_id=pending[-1], estimate=ESTIMATE)

    def release() -> None:
        quotas.release(tenant_id=tenant_id, render_id=pending.pop())
    return admit, release  # type: ignore[return-value]


def _throughput(make_op: Callable[[int], Callable[[], None]], clients: int, seconds: float) -> tuple[float, int]:
    ops = [make_op(i) for i in range(clients)]
    counts = [0] * clients
    stop = threading.Event()
    ready = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        ready.wait()
        while not stop.is_set():
            ops[i]()
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return sum(counts) / elapsed, sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="sequential samples per operation")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    args = parser.parse_args()
    _common.prepare_database()
    r = get_redis()
    tenants = [_common.make_principal(plan="free", name=f"quota{i}").tenant_id for i in range(args.clients)]
    for tenant_id in tenants:  # build every tenant's counters once, as the first request after a deploy does
        _admission(tenant_id)()

    admit, release = _release_after_admit(tenants[0], args.n + 200)  # type: ignore[misc]
    samples = _interleaved({
        "redis INCR (baseline)": lambda: r.incr("bench:incr"),
        "redis PING": r.ping,
        "quotas.admit + release": _admission(tenants[0]),
        "quotas.admit": admit,
        "quotas.release": release,
    }, args.n)
    base = _common.median(samples["redis INCR (baseline)"])
    rows = [(name, _common.median(v) * 1e6, _common.percentile(v, 95) * 1e6, f"{_common.median(v) / base:.2f}x")
            for name, v in samples.items()]
    _common.table(f"Latency, one client, n={args.n} each, interleaved (microseconds)",
                  ["operation", "median", "p95", "vs INCR"], rows)
    ratio = _common.median(samples["quotas.admit"]) / base
    print(f"\n  admission (quotas.admit) / INCR = {ratio:.2f}x (goal <= {GOAL_RATIO}x): "
          f"{_common.verdict(ratio <= GOAL_RATIO)}")
    print(f"  admit + release / INCR          = {_common.median(samples['quotas.admit + release']) / base:.2f}x "
          "(two round trips: the release runs when the job ends)")

    incr_rate, _ = _throughput(lambda i: (lambda: r.incr("bench:incr")), args.clients, args.seconds)
    admit_rate, total = _throughput(lambda i: _admission(tenants[i]), args.clients, args.seconds)
    _common.table(f"Throughput, {args.clients} concurrent clients (threads, one tenant each), {args.seconds:g} s each",
                  ["operation", "ops/s", "vs INCR"],
                  [("redis INCR (baseline)", incr_rate, "1.00x"),
                   ("admission (admit + release)", admit_rate, f"{admit_rate / incr_rate:.2f}x")])
    leaked = sum(r.scard(f"usage:{t}:active") for t in tenants)
    held = [float(v) for t in tenants for v in r.hgetall(f"usage:{t}:resv").values()]
    print(f"\n  {total} admissions; afterwards {leaked} renders active and at most "
          f"{max(map(abs, held), default=0.0):.6f} reserved (both should be 0)")
    print(f"  machine: {_common.machine()}")
    r.flushdb()


if __name__ == "__main__":
    main()
