"""``/metrics``: closed but to the metrics token and root tokens; counts what it says."""

from __future__ import annotations

from bastion.auth.audit import AuditEvent, AuditType
from bastion.http.metrics import LOGINS, REQUESTS, THROTTLED, count_event
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
    before = REQUESTS.labels("query", "ok")._value.get()
    failed = REQUESTS.labels("query", "GRAPHQL_VALIDATION_FAILED")._value.get()
    await movies.gql("{ moviesCount }")
    await movies.gql("{ nope }")
    assert REQUESTS.labels("query", "ok")._value.get() == before + 1
    assert REQUESTS.labels("query", "GRAPHQL_VALIDATION_FAILED")._value.get() == failed + 1


def test_audit_events_count_logins_and_throttles() -> None:
    ok, login_throttles = LOGINS.labels("ok")._value.get(), THROTTLED.labels("login")._value.get()
    count_event(AuditEvent(AuditType.LOGIN))
    count_event(AuditEvent(AuditType.RATE_LIMITED, detail={"limit": "login"}))
    count_event(AuditEvent(AuditType.RATE_LIMITED, detail={"limit": "made-up"}))
    assert LOGINS.labels("ok")._value.get() == ok + 1
    assert THROTTLED.labels("login")._value.get() == login_throttles + 1
