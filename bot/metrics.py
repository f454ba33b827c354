"""Prometheus metrics (prometheus_client): counters and latency histograms kept by each process, and the
inbox and outbox depth read from the database when `/metrics` is scraped.

With several worker processes (`python -m bot run --workers N`), the parent sets PROMETHEUS_MULTIPROC_DIR and
every process writes its figures there (prometheus_client's multiprocess mode), so a scrape of any worker
reports the sum over all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.orm import sessionmaker

LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

UPDATES = Counter("tthc_updates_received_total", "Updates received from a channel", ["channel", "outcome"])
SENT = Counter("tthc_messages_sent_total", "Messages (parts) a channel accepted", ["channel"])
STAGE = Histogram(
    "tthc_stage_seconds",
    "Time spent per stage: store (receipt to stored), inbox_wait (stored to claimed), turn (the dialog), "
    "process (claimed to done), send (one message), reply (receipt to the first reply accepted)",
    ["channel", "stage"],
    buckets=LATENCY,
)
SEARCH = Histogram("tthc_search_seconds", "Knowledge-base search latency", buckets=LATENCY)
ERRORS = Counter("tthc_errors_total", "Errors by kind", ["kind"])


class QueueCollector:
    """Inbox and outbox depth and the age of their oldest waiting entry, read at scrape time."""

    def __init__(self, factory: sessionmaker):
        self.factory = factory

    def collect(self):
        from bot import inbox
        from feedback import outbox

        depth = GaugeMetricFamily("tthc_queue_depth", "Entries waiting", labels=["queue"])
        age = GaugeMetricFamily("tthc_queue_oldest_seconds", "Age of the oldest waiting entry", labels=["queue"])
        up = GaugeMetricFamily("tthc_database_up", "1 when the database answered this scrape")
        try:
            figures = {"inbox": inbox.depth(self.factory), "outbox": outbox.depth(self.factory)}
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue, f in figures.items():
            depth.add_metric([queue], f["count"])
            age.add_metric([queue], f["oldest_seconds"])
        yield from (up, depth, age)


def render(factory: sessionmaker) -> tuple[bytes, str]:
    """The exposition text (this process's figures, or all workers' in multiprocess mode, then the queues) and
    its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
    else:
        from prometheus_client import REGISTRY as workers
    queues = CollectorRegistry()
    queues.register(QueueCollector(factory))
    return generate_latest(workers) + generate_latest(queues), CONTENT_TYPE_LATEST
