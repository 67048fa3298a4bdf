"""``/healthz`` (the process answers) and ``/readyz`` (it would serve requests as it should).

``/readyz`` answers 200 when every check passes and 503 when one fails, with each check's
status in the body, so that a load balancer can take a node out and a person can see why::

    {"status": "fail", "checks": {"database": {"status": "fail", "detail": "..."},
                                  "schema": {"status": "ok"}, "keys": {"status": "ok"}}}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bastion.project.health import Readiness

_NO_STORE = {"cache-control": "no-store"}


async def healthz(_request: Request) -> Response:
    """Liveness: the process runs and its event loop answers."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


def readyz_endpoint(readiness: Readiness) -> Callable[[Request], Awaitable[Response]]:
    """The ``/readyz`` endpoint over ``readiness``'s checks."""

    async def readyz(_request: Request) -> Response:
        checks = await readiness.checks()
        ok = all(check.ok for check in checks)
        body = {
            "status": "ok" if ok else "fail",
            "checks": {check.name: check.as_json() for check in checks},
        }
        return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)

    return readyz
