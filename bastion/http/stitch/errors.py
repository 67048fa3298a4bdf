"""Errors of the Stitch client API, in the shape the SDKs parse.

``{"error": message, "error_code": code, "link": ""}`` with ``Content-Type: application/json``
exactly: the Stitch SDK compares the header with ``===``, so a charset would make it ignore
``error_code`` and never refresh. A 401 with ``InvalidSession`` is what makes both SDKs
refresh their access token and retry.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from bastion.auth.logins import ProviderDisabled
from bastion.errors import BastionError, Code

JSON = "application/json"
INVALID_SESSION = "InvalidSession"


class StitchError(Exception):
    """An error answered with its status and Stitch error code."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}  # more members of the body (a login's MFA challenge)


def invalid_session(message: str = "invalid session") -> StitchError:
    """The 401 that makes the SDKs refresh (for an access token) or log out (a refresh token)."""
    return StitchError(401, INVALID_SESSION, message)


def error_response(error: StitchError) -> Response:
    """The JSON error body, never cached."""
    return JSONResponse(
        {**error.extra, "error": error.message, "error_code": error.error_code, "link": ""},
        status_code=error.status,
        media_type=JSON,
        headers={**error.headers, "Cache-Control": "no-store"},
    )


# Bastion's error codes as the Stitch API answers them (status, error_code).
_BY_CODE: dict[Code, tuple[int, str]] = {
    Code.BAD_USER_INPUT: (400, "InvalidParameter"),
    Code.BAD_REQUEST: (400, "BadRequest"),
    Code.NOT_FOUND: (404, "ValueNotFound"),
    Code.CONFLICT: (409, "ValueAlreadyExists"),
    Code.UNAUTHENTICATED: (401, INVALID_SESSION),
    Code.FORBIDDEN: (403, "Forbidden"),
    Code.INVALID_CREDENTIALS: (401, "AuthError"),
    Code.INVALID_REFRESH_TOKEN: (401, INVALID_SESSION),
    Code.RATE_LIMITED: (429, "TooManyRequests"),
    Code.MFA_REQUIRED: (401, "MfaRequired"),
    Code.SERVICE_UNAVAILABLE: (503, "ServiceUnavailable"),
    Code.STORAGE_FULL: (507, "StorageFull"),
    Code.INVALID_EMAIL_TOKEN: (400, "UserpassTokenInvalid"),
    Code.EMAIL_NOT_CONFIRMED: (401, "AuthError"),
    Code.MAIL_NOT_CONFIGURED: (503, "MailNotConfigured"),
}


def from_bastion(error: BastionError, **codes: str) -> StitchError:
    """A :class:`BastionError` as a Stitch error; ``codes`` override the error code by
    Bastion code name (``CONFLICT="AccountNameInUse"``)."""
    if isinstance(error, ProviderDisabled):
        return StitchError(
            404, "AuthProviderNotFound", f"authentication via '{error.provider}' is unsupported"
        )
    status, error_code = _BY_CODE.get(error.code, (400, "BadRequest"))
    retry = error.extensions.get("retryAfter")
    headers = {"Retry-After": str(retry)} if retry is not None else None
    # A login's second-factor challenge travels in the body, for /auth/mfa/complete.
    extra: dict[str, Any] = {
        k: error.extensions[k] for k in ("challenge", "factors") if k in error.extensions
    }
    return StitchError(
        status, codes.get(error.code.name, error_code), error.message, headers, extra
    )
