"""How ``bastion serve`` runs uvicorn: its HTTP protocol, with a cap on request heads.

uvicorn's h11 protocol keeps at most ``h11_max_incomplete_event_size`` bytes of a request head
it has not finished reading, and h11 refuses a longer one; uvicorn then answers a plain 400.
This protocol answers that refusal with 431 and a JSON error instead, so a client learns why.
(httptools, uvicorn's other protocol, has no such cap: it would read a head of any size.)
"""

from __future__ import annotations

from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from bastion.http.header_limit import STATUS, refusal_body


class HeaderLimitedH11(H11Protocol):
    """uvicorn's h11 protocol, answering an oversized request head with 431."""

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 refused: 431 when the head was over the cap."""
        limit = self.config.h11_max_incomplete_event_size
        buffered, _closed = self.conn.trailing_data
        if limit is None or len(buffered) <= limit:
            super().send_400_response(msg)
            return
        body = refusal_body(limit)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(
                status_code=STATUS, headers=headers, reason=b"Request Header Fields Too Large"
            ),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """The options of ``uvicorn.run`` that cap request heads at ``max_header_bytes``."""
    return {"http": HeaderLimitedH11, "h11_max_incomplete_event_size": max_header_bytes}
