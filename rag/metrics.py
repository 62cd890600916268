"""Prometheus metrics for whoever runs the service (prometheus-client), served at /metrics when
RAG_METRICS is set (rag/web/app.py).

Counters live in one registry of their own (not the library's global one), so tests and several
services in one process do not collide, and only what is listed here is exposed. Stages report
through the verbs below; the index's size is read when scraped, not kept in step.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

QUESTIONS = Counter(
    "newsrag_questions", "Questions answered, by answer mode and outcome (answered, declined, rejected).",
    ["mode", "outcome"], registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "newsrag_answer_seconds", "Time to a complete answer.", registry=REGISTRY,
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
FEED_POLLS = Counter("newsrag_feed_polls", "Feeds polled, by outcome (ok, error).", ["outcome"], registry=REGISTRY)
LOGIN_FAILURES = Counter("newsrag_login_failures", "Refused logins and API tokens.", ["kind"], registry=REGISTRY)
RATE_LIMITED = Counter("newsrag_rate_limited_requests", "Requests refused by the rate limit.", registry=REGISTRY)
API_REQUESTS = Counter("newsrag_api_requests", "JSON API and MCP calls, by operation and status.", ["operation", "status"],
                       registry=REGISTRY)


def answered(mode: str, answerable: bool, seconds: float) -> None:
    QUESTIONS.labels(mode=mode, outcome="answered" if answerable else "declined").inc()
    ANSWER_SECONDS.observe(seconds)


def rejected(mode: str) -> None:
    """A question refused before answering (empty, too long, bad filters)."""
    QUESTIONS.labels(mode=mode, outcome="rejected").inc()


def feed_polled(ok: bool) -> None:
    FEED_POLLS.labels(outcome="ok" if ok else "error").inc()


def login_failed(kind: str = "password") -> None:
    LOGIN_FAILURES.labels(kind=kind).inc()


def rate_limited() -> None:
    RATE_LIMITED.inc()


def api_call(operation: str, status: int) -> None:
    API_REQUESTS.labels(operation=operation, status=str(status)).inc()


class IndexSize:
    """Documents and chunks in the live index, read at scrape time from `size()` -> (documents, chunks)."""

    def __init__(self, size: Callable[[], tuple[int, int]]):
        self.size = size

    def collect(self):
        documents, chunks = self.size()
        yield GaugeMetricFamily("newsrag_index_documents", "Documents in the live index.", value=documents)
        yield GaugeMetricFamily("newsrag_index_chunks", "Chunks in the live index.", value=chunks)


_index_size: IndexSize | None = None


def watch_index(size: Callable[[], tuple[int, int]]) -> None:
    """Report the index size from `size` (the app's service); a later call replaces an earlier one."""
    global _index_size
    if _index_size is not None:
        REGISTRY.unregister(_index_size)
    _index_size = IndexSize(size)
    REGISTRY.register(_index_size)


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
