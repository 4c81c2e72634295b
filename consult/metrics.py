"""Prometheus metrics of one platform (``prometheus-client``).

Each platform has its own :class:`Metrics`: a registry its packages create their
counters, histograms and gauges on in ``include`` (names start with ``consult_``),
plus collectors that read a value when scraped (outbox backlog, queue depths).
Under gunicorn several processes serve one app: with ``PROMETHEUS_MULTIPROC_DIR``
set (before the processes start) every process writes its values there and
:meth:`Metrics.render` adds them up, as ``prometheus_client.multiprocess`` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics", "ScrapeGauge"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: from a cached page to a slow booking.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ScrapeGauge(Collector):
    """A gauge family whose samples are read when Prometheus scrapes:
    ``read()`` returns ``[(label values, value), ...]``. A failing read yields no
    sample (the scrape goes on; readiness reports the outage)."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], read: Callable[[], Any]
    ) -> None:
        self.name, self.documentation, self.labels, self.read = name, documentation, labels, read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))
        try:
            for label_values, value in self.read():
                family.add_metric(list(label_values), float(value))
        except Exception:  # the database may be down: report nothing rather than fail
            pass
        yield family


class Metrics:
    """The platform's metrics registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._scraped: list[Collector] = []
        self._by_name: dict[str, Any] = {}

    @property
    def multiprocess(self) -> bool:
        return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

    def _keep(self, name: str, metric: Any) -> Any:
        self._by_name[name] = metric
        return metric

    def get(self, name: str) -> Any:
        """The metric a package created under ``name`` (KeyError when none did)."""
        return self._by_name[name]

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return self._keep(name, Counter(name, documentation, list(labels), registry=self.registry))

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self._keep(
            name,
            Histogram(
                name, documentation, list(labels), registry=self.registry, buckets=tuple(buckets)
            ),
        )

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge set by this process (summed over live processes under gunicorn)."""
        return self._keep(
            name,
            Gauge(
                name,
                documentation,
                list(labels),
                registry=self.registry,
                multiprocess_mode="livesum",
            ),
        )

    def scraped(
        self, name: str, documentation: str, labels: Sequence[str], read: Callable[[], Any]
    ) -> None:
        """A gauge read from the database or Redis at scrape time (one per platform,
        not per process)."""
        collector = ScrapeGauge(name, documentation, labels, read)
        self.registry.register(collector)
        self._scraped.append(collector)

    def exposed(self) -> CollectorRegistry:
        """What to expose: this registry, or in multiprocess mode every process's
        values from the shared folder beside this platform's scrape-time gauges."""
        if not self.multiprocess:
            return self.registry
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        for collector in self._scraped:
            combined.register(collector)
        return combined

    def render(self) -> bytes:
        """The exposition text of every metric."""
        return bytes(generate_latest(self.exposed()))

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """A separate HTTP listener for ``/metrics`` (``consult worker``); returns its
        server, whose ``shutdown()`` stops it."""
        server, _thread = start_http_server(port, addr=host, registry=self.exposed())
        return server
