"""``python -m tui.bench.knlocal_nodelay``: ``python -m knlocal`` with TCP_NODELAY on its listening sockets.

A measurement aid, not a fix: the runtime's ``bind_loopback`` creates its sockets without
``IPPROTO_TCP``, so asyncio does not set TCP_NODELAY on accepted connections and every response the
router, ingress or admin port writes in two parts waits for the client's delayed ACK (~40 ms on Linux).
``observatory bench --runtime-patch nodelay`` runs the runtime through this module to measure what the
one-line fix in ``knlocal/serving/router.py`` gains; the results then say so in their conditions.
"""

from __future__ import annotations

import socket
import sys

from knlocal import __main__ as knlocal_main
from knlocal.serving import router
from knlocal.serving.router import BindError


def bind_loopback(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise BindError(f"127.0.0.1:{port} is in use ({exc.strerror})") from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


if __name__ == "__main__":
    router.bind_loopback = bind_loopback
    sys.exit(knlocal_main.main())
