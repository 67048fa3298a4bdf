"""``/metrics``: the server's figures in the Prometheus text format (prometheus-client).

What is counted, and where:

- every HTTP request, by operation (``query``, ``mutation``, ``stitch``, ``other``...) and
  outcome (``ok``, the first error code, or ``HTTP_<status>``), with its latency: the edge
  layer observes each request once it is answered (:func:`observe_request`), and the figures
  reach the metrics within ``FLUSH_EVERY`` seconds (:class:`RequestTally`);
- logins, refreshes and throttled attempts by outcome: told by the audit log as events
  happen (:func:`count_event`), sampled floods included;
- the seconds of each argon2id password hash or verification, told by the hashing thread as
  it ends (:data:`PASSWORD_HASHING`): what the project's ``password_hash`` costs here;
- active sessions, from the database when scraped; the connection pool and the SQLite write
  queue of each process, after its requests (at most four times a second).

Several worker processes share their figures through files when ``PROMETHEUS_MULTIPROC_DIR``
names a folder (``bastion serve`` sets one up under ``.bastion/metrics``): the scrape answered
by any worker then sums every worker's counters, as prometheus-client's multiprocess mode does.

The route is closed unless the request carries the metrics token (``BASTION_METRICS_TOKEN``,
compared by digest in constant time) or a root token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.authenticate import bearer_token
from bastion.auth.viewer import ViewerKind
from bastion.errors import Code
from bastion.project.service import Service
from bastion.store.auth.sessions import count_active
from bastion.store.auth.tables import SESSION_TABLE

METRICS_TOKEN_ENV = "BASTION_METRICS_TOKEN"  # noqa: S105 - the variable's name
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets in seconds: a cached read takes about a millisecond, a login tens of them.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("bastion_requests", "HTTP requests answered.", ["operation", "outcome"])
LATENCY = Histogram(
    "bastion_request_duration_seconds",
    "Time from a request's arrival to the end of its answer.",
    ["operation", "outcome"],
    buckets=_BUCKETS,
)
LOGINS = Counter("bastion_logins", "Login attempts.", ["outcome"])
REFRESHES = Counter("bastion_refreshes", "Refresh token uses.", ["outcome"])
THROTTLED = Counter("bastion_throttled", "Attempts refused by a rate limit.", ["limit"])
PASSWORD_HASHING = Histogram(
    "bastion_password_hash_seconds",
    "Time of one argon2id password hash or verification, on its thread.",
    # Around OWASP's advice for one login's hash (tens of milliseconds), both ways.
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0),
)
ACTIVE_SESSIONS = Gauge(
    "bastion_active_sessions",
    "Sessions neither revoked nor past their end (counted in the database at each scrape).",
    multiprocess_mode="mostrecent",
)
POOL_IN_USE = Gauge(
    "bastion_db_pool_connections_in_use",
    "Database connections checked out of the pools of all processes.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "bastion_db_pool_size",
    "Database connections the pools of all processes keep.",
    multiprocess_mode="livesum",
)
WRITE_WAITING = Gauge(
    "bastion_db_write_queue_waiting",
    "Write transactions waiting for SQLite's single writer, in all processes.",
    multiprocess_mode="livesum",
)

# Outcomes a request may be labelled with: the codes Bastion answers, and HTTP statuses.
_KNOWN_CODES = frozenset(code.value for code in Code)
_NO_STATE: dict[str, Any] = {}  # the state of a request no layer noted anything in (read only)


def _outcome(state: dict[str, Any], status: int) -> str:
    code = state.get("outcome")
    if isinstance(code, str):
        # Label values stay a small set: an unexpected code counts as OTHER.
        return code if code == "ok" or code in _KNOWN_CODES else "OTHER"
    return "ok" if status < 400 else f"HTTP_{status}"


def _operation(scope: Scope, state: dict[str, Any]) -> str:
    operation = state.get("operation")
    if isinstance(operation, str):
        return operation
    path: str = scope.get("path", "")
    if path.startswith("/api/client/"):
        return "stitch"
    if path in ("/healthz", "/readyz", "/metrics"):
        return path.lstrip("/")
    return "other"


FLUSH_EVERY = 0.1
"""Seconds a request's figures may wait in its process before they are counted (see
:class:`RequestTally`)."""


class _Series:
    """Requests of one (operation, outcome) not yet counted: how many, their total seconds
    and how many fell in each latency bucket."""

    __slots__ = ("buckets", "count", "counter", "histogram", "seconds")

    def __init__(self, labels: tuple[str, str]) -> None:
        self.counter = REQUESTS.labels(*labels)
        self.histogram = LATENCY.labels(*labels)
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(_BUCKETS) + 1)  # the last one is +Inf

    def count_into_metrics(self) -> None:
        if not self.count:
            return
        self.counter.inc(self.count)
        # Histogram.observe adds to the sum and to the first bucket the value fits (its
        # exposition makes them cumulative): the same for many values at once. Its values are
        # not public API; tests/http/test_metrics.py checks the figures equal observe()'s.
        histogram: Any = self.histogram
        histogram._sum.inc(self.seconds)
        for index, count in enumerate(self.buckets):
            if count:
                histogram._buckets[index].inc(count)
                self.buckets[index] = 0
        self.count, self.seconds = 0, 0.0


class RequestTally:
    """The request counter and latency histogram, tallied in plain numbers as requests end and
    counted into prometheus-client's metrics at most ``FLUSH_EVERY`` seconds later.

    Each prometheus-client update takes a lock and, under ``bastion serve``, writes a
    memory-mapped file (the multiprocess mode): three of them per request cost about a twentieth
    of a small query's CPU. Summed first, they cost that once per label set and tenth of a second.
    A scrape counts its own process's tally first; another worker's lags by at most
    ``FLUSH_EVERY``.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Series] = {}
        self._due: asyncio.TimerHandle | None = None

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Tally one answered request and its latency."""
        state = scope.get("state", _NO_STATE)
        operation, outcome = state.get("operation"), state.get("outcome")
        if operation.__class__ is str and outcome == "ok":
            labels = (operation, outcome)  # the commonest request, as the two below label it
        else:
            labels = (_operation(scope, state), _outcome(state, status))
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _Series(labels)
        series.count += 1
        series.seconds += seconds
        series.buckets[bisect_left(_BUCKETS, seconds)] += 1
        if self._due is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop to come back later: count it now
                self.flush()
                return
            self._due = loop.call_later(FLUSH_EVERY, self.flush)

    def flush(self) -> None:
        """Count what is tallied into the metrics."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        for series in self._series.values():
            series.count_into_metrics()


TALLY = RequestTally()
"""This process's tally of requests (one per process, as the metrics are)."""


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request and its latency (within ``FLUSH_EVERY`` seconds)."""
    TALLY.observe(scope, status, seconds)


def count_event(event: AuditEvent) -> None:
    """Count an audit event that is a login, a refresh or a throttled attempt."""
    match event.type:
        case AuditType.LOGIN:
            LOGINS.labels("ok").inc()
        case AuditType.LOGIN_FAILED:
            LOGINS.labels("failed").inc()
        case AuditType.REFRESH:
            REFRESHES.labels("ok").inc()
        case AuditType.REFRESH_REUSE:
            REFRESHES.labels("reused").inc()
        case AuditType.RATE_LIMITED:
            limit = str(event.detail.get("limit", "other"))
            THROTTLED.labels(limit if limit in ("login", "signup") else "other").inc()


POOL_EVERY = 0.25
"""Seconds between two updates of a process's pool figures (they are read when scraped)."""


def pool_observer(service: Service) -> Callable[[], None]:
    """What updates this process's pool and write-queue figures after a request: at most once
    every ``POOL_EVERY`` seconds, and once more that long after a skipped update, so that the
    figures a scrape reads end as the pool is once requests stop."""
    db = service.store.db
    last = -POOL_EVERY
    trailing: asyncio.TimerHandle | None = None

    def write() -> None:
        nonlocal last, trailing
        last, trailing = time.monotonic(), None
        pool = db.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(checked_out) and callable(size):
            POOL_IN_USE.set(checked_out())
            POOL_SIZE.set(size())
        if db.writer is not None:
            WRITE_WAITING.set(db.writer.waiting)

    def update() -> None:
        nonlocal trailing
        if time.monotonic() - last >= POOL_EVERY:
            write()
        elif trailing is None:
            trailing = asyncio.get_running_loop().call_later(POOL_EVERY, write)

    return update


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def _registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROC_ENV):
        # Every process's files, read afresh at each scrape.
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def metrics_endpoint(service: Service) -> Callable[[Request], Awaitable[Response]]:
    """The ``/metrics`` route of ``service``."""
    secret = os.environ.get(METRICS_TOKEN_ENV, "")
    # Only the digest is kept in memory: compared in constant time with the sent token's.
    expected = _digest(secret) if secret else None
    sessions = service.store.tables.metadata.tables[SESSION_TABLE]

    async def allowed(header: str | None) -> bool:
        token = bearer_token(header)
        if token is None:
            return False
        if expected is not None and hmac.compare_digest(_digest(token), expected):
            return True
        auth = await service.auth.authenticator.authenticate(header)
        return auth.viewer.kind is ViewerKind.ROOT

    async def metrics(request: Request) -> Response:
        if not await allowed(request.headers.get("authorization")):
            return JSONResponse(
                {"error": "metrics need the metrics token or a root token", "code": "FORBIDDEN"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
            )
        async with service.store.db.read() as conn:
            ACTIVE_SESSIONS.set(await count_active(conn, sessions, service.clock()))
        TALLY.flush()
        body = generate_latest(_registry())
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return metrics
