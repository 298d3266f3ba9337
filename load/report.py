"""Print p50/p95/p99, throughput and failures per endpoint from Locust's CSV:
``python -m load.report var/load/100`` (reads ``100_stats.csv``)."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path


def report(prefix: Path) -> str:
    """The table for one run (`prefix` as given to ``locust --csv``)."""
    with Path(f"{prefix}_stats.csv").open() as stats:
        rows = list(csv.DictReader(stats))
    lines = [f"{'endpoint':48} {'reqs':>7} {'fails':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}"]
    for row in rows:
        name = row["Name"] if row["Type"] else "(all)"
        lines.append(f"{name[:48]:48} {row['Request Count']:>7} {row['Failure Count']:>6} "
                     f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6} "
                     f"{float(row['Max Response Time']):>7.0f}")
    load = os.getloadavg()
    lines.append(f"(milliseconds; load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with failures.open() as found:
            lines += [f"failure: {row['Method']} {row['Name']}: {row['Error'][:120]} x{row['Occurrences']}"
                      for row in csv.DictReader(found)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1])))
