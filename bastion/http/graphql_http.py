"""GraphQL over HTTP, as the graphql-http spec lays it out.

- ``POST`` with a JSON body ``{query, variables, operationName, extensions}``; ``GET`` with the
  same as URL parameters, for queries only (a mutation over GET is 405).
- The response media type follows ``Accept``: ``application/graphql-response+json`` when the
  client asks for it, else ``application/json`` (also when it sends no Accept at all).
- With ``application/graphql-response+json``, a request that fails before execution (parse,
  validation, variables) is 400; with ``application/json`` it is 200, as legacy clients expect.
  A body that is not a well-formed GraphQL request is 400 with either type.
- A request whose access token is refused (expired, revoked, forged) is answered with one
  error, ``extensions.code: UNAUTHENTICATED`` and the ``reason``, and nothing runs: standard
  refresh links (Apollo's ErrorLink, urql's authExchange) refresh on that code and retry. The
  status is 401 with ``WWW-Authenticate`` (RFC 6750) under ``application/graphql-response+json``
  and 200 under ``application/json``, where only a 200 tells a client the body is GraphQL's.
  Documents of logins, refresh and logout run anyway (:mod:`bastion.graphql.own_proof`), and
  ``auth.invalid_token: anonymous`` runs every such request as anonymous instead (Graphcool).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bastion.auth.authenticate import Authentication
from bastion.errors import BastionError, Code
from bastion.graphql.errors import INTERNAL_MESSAGE, refusal, request_error
from bastion.graphql.execute import Executor, Outcome, Prepared, RequestFailed
from bastion.graphql.response_body import encode
from bastion.http.answer import NO_STORE, Answer
from bastion.http.bodies import BodyError as _BadRequest
from bastion.http.bodies import is_text, json_object, parse_json, receive_body
from bastion.http.caller import caller_from
from bastion.http.known_bodies import KnownBodies
from bastion.store.failures import known_state

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 1_000_000

log = logging.getLogger("bastion.http")

Authenticate = Callable[[str | None], Awaitable[Authentication]]

_REFUSALS = {
    "ACCESS_TOKEN_EXPIRED": "The access token has expired; refresh it",
    "SESSION_REVOKED": "The session of this access token has ended; log in again",
}
_CHALLENGE = 'Bearer error="invalid_token"'

# Errors that refuse a whole request for a state of the server, not of the request: with
# application/graphql-response+json they are answered with their own HTTP status.
_SERVER_STATES = {Code.SERVICE_UNAVAILABLE.value: 503, Code.STORAGE_FULL.value: 507}


def choose_media_type(accept: str | None) -> str | None:
    """The response type for an ``Accept`` header, or None when neither type is acceptable."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in (GRAPHQL_RESPONSE, JSON):
            chosen = media
        elif media in ("*/*", "application/*"):
            chosen = JSON
        else:
            continue
        if quality <= 0:
            continue
        candidate = (quality, -position, chosen)
        if best is None or candidate > best:
            best = candidate
    return best[2] if best else None


def _params_from_query_string(scope: Scope) -> dict[str, Any]:
    params: dict[str, Any] = dict(QueryParams(scope["query_string"]))
    for key in ("variables", "extensions"):
        if params.get(key):
            try:
                params[key] = parse_json(params[key])
            except (ValueError, RecursionError):
                raise _BadRequest(400, f"The `{key}` parameter is not valid JSON") from None
    # A POST body is checked where it is parsed (bastion.http.bodies.json_object).
    if not is_text(params):
        raise _BadRequest(400, "The request holds text that is not valid Unicode")
    return params


def _check_params(params: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _BadRequest(400, "The request has no `query` string")
    variables = params.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise _BadRequest(400, "`variables` must be a JSON object")
    name = params.get("operationName")
    if name == "":
        name = None
    if name is not None and not isinstance(name, str):
        raise _BadRequest(400, "`operationName` must be a string")
    extensions = params.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise _BadRequest(400, "`extensions` must be a JSON object")
    return query, variables, name


def _utf8_charset(parameters: list[str]) -> bool:
    """Whether the ``charset`` of a Content-Type (if any) is UTF-8, the only one read."""
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower() in ("utf-8", "utf8")
    return True


def _check_content_type(value: bytes | None) -> None:
    """Refuse (415) a POST body that is not JSON in UTF-8."""
    if value == _JSON_BYTES:  # as nearly every client spells it
        return
    content_type, *parameters = (value.decode("latin-1") if value else "").split(";")
    if content_type.strip().lower() != JSON:
        raise _BadRequest(415, f"POST bodies must be {JSON}")
    if not _utf8_charset(parameters):
        raise _BadRequest(415, f"POST bodies must be {JSON} in UTF-8")


_JSON_BYTES = JSON.encode("latin-1")
# The request headers the endpoint reads.
_READ = frozenset(
    [
        b"accept",
        b"content-type",
        b"content-length",
        b"authorization",
        b"user-agent",
        b"accept-language",
    ]
)


class _Head:
    """The request line and the headers the endpoint reads, taken from the ASGI scope in one
    pass over its headers: a Starlette ``Request`` and its ``Headers`` cost more per lookup
    than the whole pass. A header is read from its first line, as ``Headers.get`` does."""

    __slots__ = ("_found", "_state", "method", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._state: dict[str, Any] | None = None
        self.method: str = scope["method"]
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _READ and name not in found:
                found[name] = value
        self._found = found

    def header(self, name: bytes) -> str | None:
        """The value of the first ``name`` header (a lower-case name of ``_READ``), if any."""
        value = self._found.get(name)
        return None if value is None else value.decode("latin-1")

    def raw(self, name: bytes) -> bytes | None:
        """The bytes of the first ``name`` header (a lower-case name of ``_READ``), if any."""
        return self._found.get(name)

    def mark(self, key: str, value: str) -> None:
        """Note a fact in the request's state (``request.state``), for the metrics."""
        state = self._state
        if state is None:
            state = self._state = self.scope.setdefault("state", {})
        state[key] = value


def _json(
    body: dict[str, Any], status: int, media_type: str, headers: Mapping[str, str] | None = None
) -> Answer:
    return Answer(encode(body), status, media_type, headers)


def _auth_headers(auth: Authentication, outcome: Outcome) -> dict[str, str]:
    """Headers about tokens: renewals, refusals, and no caching of anything that has one."""
    headers = dict(outcome.headers)
    if auth.renewed_token and "Authorization" not in headers:
        # A token a resolver answered (loginUser) wins over the renewal of the old one.
        headers["Authorization"] = headers["X-Authorization"] = f"Bearer {auth.renewed_token}"
    if auth.refused:
        # The request ran as anonymous; tell the client why, so it can refresh or log in.
        headers["WWW-Authenticate"] = _CHALLENGE
        outcome.body.setdefault("extensions", {})["authentication"] = {"code": auth.refused}
    # Responses may carry tokens or a user's data: no cache may keep them.
    headers["Cache-Control"] = "no-store"
    return headers


def _unauthenticated(reason: str, strict: bool, media_type: str) -> Answer:
    """The answer to a request whose access token was refused: nothing of it ran."""
    message = _REFUSALS.get(reason, "The access token is not valid")
    error = request_error(message, Code.UNAUTHENTICATED, reason=reason)
    headers = {"WWW-Authenticate": _CHALLENGE, "Cache-Control": "no-store"}
    return _json({"errors": [error]}, 401 if strict else 200, media_type, headers)


class GraphQLEndpoint:
    """The ``/graphql`` route of one executor."""

    def __init__(
        self,
        executor: Executor,
        authenticate: Authenticate,
        max_body_bytes: int = MAX_BODY_BYTES,
        on_refused_token: Callable[[Authentication], Response] | None = None,
        refuse_invalid_tokens: bool = True,
    ) -> None:
        self.executor = executor
        self.authenticate = authenticate
        self.max_body_bytes = max_body_bytes
        # The Stitch route answers a refused token its own way (401 InvalidSession, on which
        # the SDKs refresh and retry).
        self.on_refused_token = on_refused_token
        # auth.invalid_token: False runs such requests as anonymous (Graphcool's way).
        self.refuse_invalid_tokens = refuse_invalid_tokens
        self._bodies = KnownBodies()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint as an ASGI app, so a route hands it every method: the ones it does not
        serve get its JSON 405 with ``Allow: GET, POST``, not Starlette's plain-text one.

        Read from the scope and answered with ASGI messages: no Starlette request or response
        objects (the same bytes as :meth:`handle`'s response would send)."""
        answer = await self._answer(_Head(scope), receive)
        if isinstance(answer, Answer):
            await answer.send(send)
        else:
            await answer(scope, receive, send)

    def answer(self, scope: Scope, receive: Receive) -> Awaitable[Answer | Response]:
        """The answer to one request, for the edge to send (see :mod:`bastion.http.answer`)."""
        return self._answer(_Head(scope), receive)

    async def handle(self, request: Request) -> Response:
        """Answer one request to the GraphQL route."""
        answer = await self._answer(_Head(request.scope), request.receive)
        return answer.response() if isinstance(answer, Answer) else answer

    async def _answer(self, head: _Head, receive: Receive) -> Answer | Response:
        media_type = choose_media_type(head.header(b"accept"))
        if media_type is None:
            return _json(
                {"errors": [request_error(f"Accept {JSON} or {GRAPHQL_RESPONSE}")]}, 406, JSON
            )
        # One coroutine for the whole answer (a request runs through it on every query).
        try:
            method = head.method
            strict = media_type == GRAPHQL_RESPONSE
            posted = known = None
            if method == "POST":
                _check_content_type(head.raw(b"content-type"))
                declared = head.header(b"content-length")
                posted = await receive_body(receive, declared, self.max_body_bytes)
                known = self._bodies.get(posted)
            if known is not None:
                # Its bytes were read before: they ask for this document, without variables.
                prepared, empty = known
                variables: dict[str, Any] | None = {} if empty else None
            else:
                read = await self._read(head, posted, strict, media_type)
                if isinstance(read, Answer):
                    return read
                prepared, variables = read
            # What the metrics label the request with (bastion.http.metrics).
            head.mark("operation", "mutation" if prepared.is_mutation else "query")
            if method == "GET" and prepared.is_mutation:
                raise _BadRequest(405, "Mutations must be sent with POST", {"Allow": "POST"})
            auth = await self.authenticate(head.header(b"authorization"))
            if auth.refused:
                if self.on_refused_token is not None:
                    return self.on_refused_token(auth)
                if self.refuse_invalid_tokens and not self.executor.proves_itself(prepared):
                    head.mark("outcome", Code.UNAUTHENTICATED.value)
                    return _unauthenticated(auth.refused, strict, media_type)
            caller = caller_from(
                head.scope, method, head.raw(b"user-agent"), head.raw(b"accept-language")
            )
            outcome = await self.executor.execute(
                prepared, variables, auth.viewer, caller=caller, raw=True
            )
            body = outcome.body
            if (
                "errors" not in body
                and not outcome.headers
                and not outcome.request_error
                and not auth.renewed_token
                and not auth.refused
            ):
                # The commonest answer: data, no token to hand over, 200 (what the general path
                # below answers for it, with header lines made once).
                head.mark("outcome", "ok")
                return Answer(encode(body), 200, media_type, NO_STORE)
            head.mark("outcome", _first_code(body.get("errors", ())))
            headers = _auth_headers(auth, outcome)
            return _json(body, _status(outcome, strict), media_type, _retry(outcome, headers))
        except Exception as error:
            return _failed(error, head, media_type)

    async def _read(
        self, head: _Head, body: bytes | None, strict: bool, media_type: str
    ) -> tuple[Prepared, dict[str, Any] | None] | Answer:
        """The prepared document and variables of a request whose POST ``body`` (read, and not
        among the known ones) or query string asks for them, or the answer that refuses it."""
        method = head.method
        if method == "POST":
            assert body is not None
            params = json_object(body)
        elif method == "GET":
            params = _params_from_query_string(head.scope)
        else:
            raise _BadRequest(405, "Use GET or POST", {"Allow": "GET, POST"})
        query, variables, operation_name = _check_params(params)
        try:
            prepared = self.executor.prepare(query, operation_name)
        except RequestFailed as failed:
            head.mark("outcome", _first_code(failed.errors))
            errors = failed.public_errors
            if errors != failed.errors:
                # They differ only by root-only names: who asks decides which are told.
                viewer = (await self.authenticate(head.header(b"authorization"))).viewer
                errors = failed.errors_for(viewer)
            return _json({"errors": errors}, 400 if strict else 200, media_type)
        if body is not None and not variables and prepared.checked.kept:
            self._bodies.keep(body, prepared, variables is not None)
        return prepared, variables


def _failed(error: Exception, head: _Head, media_type: str) -> Answer:
    """The answer to a request whose handling raised ``error``."""
    if isinstance(error, _BadRequest):
        head.mark("outcome", Code.BAD_REQUEST.value)
        return _json(
            {"errors": [request_error(error.message)]}, error.status, media_type, error.headers
        )
    known = known_state(error)
    if known is not None:
        head.mark("outcome", known.code.value)
        return _server_state(known, media_type)
    # A bug, not the client's fault: log it whole, answer without internals.
    path = Request(head.scope).url.path
    log.exception("unexpected error in %s %s", head.method, path)
    head.mark("outcome", Code.INTERNAL_SERVER_ERROR.value)
    internal = request_error(INTERNAL_MESSAGE, Code.INTERNAL_SERVER_ERROR)
    return _json({"errors": [internal]}, 500, media_type)


def _first_code(errors: Any) -> str:
    """The code of a response's first error, ``ok`` when it has none."""
    for error in errors:
        code = error.get("extensions", {}).get("code") if isinstance(error, dict) else None
        return str(code) if code else Code.INTERNAL_SERVER_ERROR.value
    return "ok"


def _status(outcome: Outcome, strict: bool) -> int:
    """200, or under application/graphql-response+json 400 for a request error and 503/507
    when the server's state (not the request) refused a request that has no data."""
    if not strict:
        return 200
    if outcome.body.get("data") is None:
        codes = {e.get("extensions", {}).get("code") for e in outcome.body.get("errors", ())}
        for code, status in _SERVER_STATES.items():
            if code in codes:
                return status
    return 400 if outcome.request_error else 200


def _retry(outcome: Outcome, headers: dict[str, str]) -> dict[str, str]:
    """``Retry-After`` when an error says when to retry (RFC 9110 15.6.4)."""
    for error in outcome.body.get("errors", ()):
        after = error.get("extensions", {}).get("retryAfter")
        if isinstance(after, int):
            headers["Retry-After"] = str(after)
            break
    return headers


def _server_state(error: BastionError, media_type: str) -> Answer:
    """The answer to a request the database's state refused before it could run."""
    status = _SERVER_STATES.get(error.code.value, 500) if media_type == GRAPHQL_RESPONSE else 200
    refused = Outcome({"errors": [refusal(error)]})
    return _json(refused.body, status, media_type, _retry(refused, {"Cache-Control": "no-store"}))
