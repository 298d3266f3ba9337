"""The `/metrics` page: every process's series (multiprocess mode) plus gauges read at scrape time.

Queue depth, the age of the oldest waiting job, live workers and reservations held are read
from Redis, and the time of the last good backup from the backup folder, when Prometheus
scrapes, so they are right even after a restart and cost nothing between scrapes.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import redis
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue, Worker
from rq.job import Job

from saas_app.services.account.backups import list_backups
from saas_app.services.core import observability, queue
from saas_app.services.usage.quotas import reservations_held
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{observability.NAMESPACE}_{name}", documentation, labels=labels)


def _oldest_age(q: Queue, now: datetime) -> float:
    job_ids = q.get_job_ids(0, 0)
    if not job_ids:
        return 0.0
    job = Job.fetch(job_ids[0], connection=q.connection, serializer=q.serializer)
    enqueued = job.enqueued_at or now
    return max(0.0, (now - enqueued.replace(tzinfo=enqueued.tzinfo or UTC)).total_seconds())


class ScrapeTimeCollector(Collector):
    """Gauges read from Redis and the backup folder at each scrape."""

    def collect(self) -> Iterator[Metric]:
        up = _gauge("redis_up", "1 when Redis answered this scrape (the queue and worker gauges need it).")
        depth = _gauge("queue_depth", "Jobs waiting in each RQ queue.", ["queue"])
        age = _gauge("queue_oldest_job_age_seconds", "How long the oldest waiting job of each queue has "
                     "waited (0 when empty).", ["queue"])
        workers = _gauge("workers_live", "RQ workers with a live heartbeat.")
        held = _gauge("quota_reservations_held", "Renders holding a quota reservation (admitted, not wound up).")
        try:
            now = datetime.now(UTC)
            for name in queue.QUEUE_NAMES:
                q = queue.get_queue(name)
                depth.add_metric([name], q.count)
                age.add_metric([name], _oldest_age(q, now))
            workers.add_metric([], Worker.count(connection=queue.get_rq_connection()))
            held.add_metric([], reservations_held())
            up.add_metric([], 1)
            yield from (depth, age, workers, held)
        except redis.RedisError as exc:
            log.warning("metrics: redis unavailable: %s", exc)
            up.add_metric([], 0)
        yield up
        yield self._backup()

    @staticmethod
    def _backup() -> Metric:
        gauge = _gauge("backup_last_success_timestamp_seconds",
                       "Unix time of the newest database backup (0 when there is none).")
        backups = list_backups()
        gauge.add_metric([], backups[-1][0].timestamp() if backups else 0.0)
        return gauge


def render_metrics() -> bytes:
    """The Prometheus text exposition of every series (all processes of this host) and the scrape gauges."""
    scrape = CollectorRegistry()
    scrape.register(ScrapeTimeCollector())
    if observability.multiprocess_dir() is None:
        return generate_latest(REGISTRY) + generate_latest(scrape)
    shared = CollectorRegistry()
    multiprocess.MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
    return generate_latest(shared) + generate_latest(scrape)


def token_matches(presented: str) -> bool:
    """Whether `presented` is METRICS_TOKEN (compared in constant time; never true when it is unset)."""
    expected = get_settings().METRICS_TOKEN
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def metrics_enabled() -> bool:
    """/metrics is served only when METRICS_TOKEN is set."""
    return bool(get_settings().METRICS_TOKEN)
