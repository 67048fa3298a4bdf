"""``/metrics``: closed but to the metrics token and root tokens; counts what it says."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from bastion.auth.audit import AuditEvent, AuditType
from bastion.http.metrics import (
    LATENCY,
    LOGINS,
    REQUESTS,
    TALLY,
    THROTTLED,
    RequestTally,
    count_event,
)
from tests.conftest import GraphQLClient


async def test_closed_to_anonymous_users_and_open_to_root_tokens(movies: GraphQLClient) -> None:
    assert (await movies.http.get("/metrics")).status_code == 401
    user_like = await movies.http.get("/metrics", headers={"authorization": "Bearer abc.def.ghi"})
    assert user_like.status_code == 401
    assert user_like.headers["www-authenticate"] == "Bearer"
    root = await movies.app.state.service.auth.root_tokens.ensure("_metrics_test")
    answer = await movies.http.get("/metrics", headers={"authorization": f"Bearer {root}"})
    assert answer.status_code == 200
    assert "bastion_active_sessions" in answer.text


async def test_requests_are_counted_by_operation_and_outcome(movies: GraphQLClient) -> None:
    TALLY.flush()
    before = REQUESTS.labels("query", "ok")._value.get()
    failed = REQUESTS.labels("query", "GRAPHQL_VALIDATION_FAILED")._value.get()
    await movies.gql("{ moviesCount }")
    await movies.gql("{ nope }")
    TALLY.flush()  # what a scrape does first (a timer does it FLUSH_EVERY later otherwise)
    assert REQUESTS.labels("query", "ok")._value.get() == before + 1
    assert REQUESTS.labels("query", "GRAPHQL_VALIDATION_FAILED")._value.get() == failed + 1


async def test_password_hashes_are_timed(movies: GraphQLClient) -> None:
    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(f"bastion_password_hash_seconds_{name}") or 0.0

    count, total = sample("count"), sample("sum")
    passwords = movies.app.state.service.auth.accounts.passwords
    assert not await passwords.verify(None, "an unknown account's password")
    assert sample("count") == count + 1
    assert sample("sum") > total


def test_a_tally_counts_as_observing_each_request_does() -> None:
    """Requests tallied and then counted give the figures one observe() per request gives."""
    seconds = [0.0004, 0.001, 0.0011, 0.003, 0.02, 0.02, 0.7, 4.9, 11.0, 0.0]
    tallied = RequestTally()
    for value in seconds:
        tallied.observe({"state": {"operation": "tally-test", "outcome": "ok"}}, 200, value)
    tallied.flush()  # no event loop here: counted at once anyway
    reference = LATENCY.labels("tally-reference", "ok")
    for value in seconds:
        REQUESTS.labels("tally-reference", "ok").inc()
        reference.observe(value)
    text = generate_latest(REGISTRY).decode()
    lines = {
        line.replace("tally-test", "tally-reference")
        for line in text.splitlines()
        if 'operation="tally-test"' in line and "_created{" not in line
    }
    expected = {
        line
        for line in text.splitlines()
        if 'operation="tally-reference"' in line and "_created{" not in line
    }
    assert lines == expected
    assert len(expected) == 1 + 16  # the count, then the histogram: 14 buckets, count and sum


def test_audit_events_count_logins_and_throttles() -> None:
    ok, login_throttles = LOGINS.labels("ok")._value.get(), THROTTLED.labels("login")._value.get()
    count_event(AuditEvent(AuditType.LOGIN))
    count_event(AuditEvent(AuditType.RATE_LIMITED, detail={"limit": "login"}))
    count_event(AuditEvent(AuditType.RATE_LIMITED, detail={"limit": "made-up"}))
    assert LOGINS.labels("ok")._value.get() == ok + 1
    assert THROTTLED.labels("login")._value.get() == login_throttles + 1
