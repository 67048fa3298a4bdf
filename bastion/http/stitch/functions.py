"""``POST /api/client/v2.0/app/<app_id>/functions/call``: callable functions, as the SDKs call them.

realm-web's ``user.functions.sum(1, 2)`` and ``user.callFunction("sum", 1, 2)``, and the Stitch
SDKs' ``client.callFunction("sum", [1, 2])``, post ``{"name", "arguments", "service"?}`` in
canonical Extended JSON with the user's access token, and decode the answer as Extended JSON
(:mod:`bastion.http.stitch.ejson`). Errors are the Stitch ones, with the codes the SDKs know:

- a missing, expired or revoked access token: 401 ``InvalidSession``, so the SDKs refresh and
  retry, as on every access-token route;
- a body that is not a JSON object, no ``name``, ``arguments`` not a list, or arguments that
  are not Extended JSON: 400 ``InvalidParameter``;
- ``service`` set (``user.mongoClient(...)`` data access goes through this route): 400
  ``ServicesNotSupported``, before any function is looked up;
- no callable function of that name, callable or not: 404 ``FunctionNotFound``, the same
  answer for both so the names of resolvers and hooks stay private;
- the handler refused (``FunctionError``): 400 ``FunctionExecutionError`` with its message; it
  crashed, or returned what Extended JSON cannot hold: 400 ``FunctionExecutionError`` naming
  the function, the details in the server log only.

The streaming variant (``GET`` with ``baas_request`` or ``stitch_request`` in the query, read as
Server-Sent Events) is answered 501 ``FunctionStreamingNotSupported``: a handler returns one
value, there is nothing to stream, and 501 says "not here" rather than "try again".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bastion.auth.authenticate import Authentication
from bastion.errors import BastionError
from bastion.functions import callable as callables
from bastion.functions.callable import FunctionNotFound
from bastion.functions.runtime import FunctionRuntime
from bastion.http.bodies import BodyError, json_object, read_body
from bastion.http.stitch.ejson import EJSONError, decode, encode
from bastion.http.stitch.errors import JSON, StitchError

log = logging.getLogger("bastion.functions")

EXECUTION_ERROR = "FunctionExecutionError"
INVALID_PARAMETER = "InvalidParameter"


def _invalid(message: str) -> StitchError:
    return StitchError(400, INVALID_PARAMETER, message)


def parse_call(raw: bytes) -> tuple[str, list[Any]]:
    """The function's name and decoded arguments of a call's body; :class:`StitchError`."""
    try:
        body = json_object(raw)
    except BodyError as error:
        raise _invalid(error.message) from None
    if body.get("service") is not None:
        raise StitchError(
            400,
            "ServicesNotSupported",
            "services are not supported: Bastion has no MongoDB service (mongoClient); "
            "use GraphQL for data, and callable functions without a service",
        )
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _invalid("name must be the function's name, a string")
    # The SDKs always send a list; a hand-written call without arguments passes none.
    arguments = body.get("arguments", [])
    if not isinstance(arguments, list):
        raise _invalid("arguments must be a list")
    try:
        decoded = decode(arguments)
    except EJSONError as error:
        raise _invalid(f"arguments: {error}") from None
    assert isinstance(decoded, list)
    return name, decoded


class FunctionCalls:
    """The function routes of one project."""

    def __init__(
        self,
        runtime: FunctionRuntime,
        authenticate: Callable[[Request], Awaitable[Authentication]],
        max_body_bytes: int,
    ) -> None:
        self._runtime = runtime
        self._authenticate = authenticate
        self._max_body_bytes = max_body_bytes

    async def call(self, request: Request) -> Response:
        """Run a callable function for the access token's user; its value as Extended JSON."""
        # The token first: a client without one cannot make Bastion read and parse a body.
        auth = await self._authenticate(request)
        name, arguments = parse_call(await read_body(request, self._max_body_bytes))
        try:
            function = callables.callable_function(self._runtime, name)
        except FunctionNotFound as missing:
            raise StitchError(404, "FunctionNotFound", missing.message) from None
        try:
            value = await callables.call(self._runtime, function, arguments, auth.viewer)
        except BastionError as error:
            # FunctionError's message is the handler's own; FunctionFailed names the function
            # only. Whatever the code, it is the function's failure, never the session's: a
            # 401 here would make the SDKs refresh and call the function again.
            raise StitchError(400, EXECUTION_ERROR, error.message) from None
        try:
            body = encode(value)
        except EJSONError:
            log.exception("function %s returned a value Extended JSON cannot encode", name)
            raise StitchError(
                400,
                EXECUTION_ERROR,
                f"Function {name!r} returned a value that Extended JSON cannot encode",
            ) from None
        # Exactly application/json: realm-web decodes a JSON answer only, Stitch any.
        return Response(body, media_type=JSON, headers={"Cache-Control": "no-store"})

    async def stream(self, request: Request) -> Response:
        """The streaming variant (Server-Sent Events): not offered."""
        raise StitchError(
            501,
            "FunctionStreamingNotSupported",
            "streaming function calls are not supported: call the function with POST",
        )
