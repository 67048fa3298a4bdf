"""The listening socket of ``bastion serve``, bound before the server says it is serving.

uvicorn binds its socket after the app has started; a busy port then ends the process after
"Serving ..." was printed. Binding here first makes a busy port one clear line at start, and
the socket is handed to uvicorn as it is.
"""

from __future__ import annotations

import errno
import socket

from bastion.project.causes import EnvironmentRefused


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (as uvicorn binds one); refused with one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may reuse the port while old connections are in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise EnvironmentRefused(
                f"{host}:{port} is in use by another program; stop it or choose another "
                "port (--port or server.port)"
            ) from None
        if error.errno in (errno.EACCES, errno.EPERM):
            raise EnvironmentRefused(
                f"no permission to listen on {host}:{port}; ports below 1024 need privileges: "
                "choose a port above 1024 (--port or server.port)"
            ) from None
        raise EnvironmentRefused(
            f"cannot listen on {host}:{port} ({error.strerror or error}); check --host "
            "or server.host"
        ) from None
    sock.set_inheritable(True)
    return sock
