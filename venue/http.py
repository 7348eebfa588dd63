"""The venue's HTTP front door: one aiohttp application and its runner.

It serves the Binance USDⓈ-M compatible gateway (venue/gateway) and whatever other routes
are mounted beside it (`extra`, e.g. a dashboard under "/"). It binds exclusively: an address
already in use is an error that names the address, never a silent second listener.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Iterable

from aiohttp import web

from perpsim.venue.listen import ListenError, split

log = logging.getLogger("perpsim.http")


def build_http_app(gateway=None, extra: Iterable[Iterable[web.AbstractRouteDef]] = ()) -> web.Application:
    """The application: the gateway's routes (if any) plus each route table in `extra`
    (for instance a dashboard's `routes`, an aiohttp RouteTableDef or a list of route defs)."""
    app = web.Application(client_max_size=1 << 20)
    if gateway is not None:
        app.add_routes(gateway.routes())
    for table in extra:
        app.add_routes(table)
    return app


class HttpServer:
    """Runs one application on one address; `port` is the bound port once started."""

    def __init__(self, app: web.Application, address: str) -> None:
        self.app, self.address = app, address
        self.port = 0
        self._runner: web.AppRunner | None = None

    def _bind(self) -> socket.socket:
        """One listening socket, exclusively (no SO_REUSEPORT): ListenError names the address."""
        host, port = split(self.address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            # SO_REUSEADDR only lets a port in TIME_WAIT be reused; a live listener still refuses us
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1024)
        except OSError as e:
            sock.close()
            if e.errno == errno.EADDRINUSE:
                raise ListenError(f"cannot listen on {self.address} (REST): the address is in use by another "
                                  f"process; stop it or choose another --rest address") from None
            raise ListenError(f"cannot listen on {self.address} (REST): {e.strerror}") from None
        sock.setblocking(False)
        return sock

    async def start(self) -> int:
        """Bind the address (ListenError when it is taken) and serve the application on it; the bound port."""
        sock = self._bind()
        self.port = sock.getsockname()[1]
        try:
            self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            raise
        log.info("HTTP listening on %s:%d", sock.getsockname()[0], self.port)
        return self.port

    async def stop(self) -> None:
        """Stop serving and release the runner; nothing when not started."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
