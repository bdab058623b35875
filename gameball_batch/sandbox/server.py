"""Run the sandbox app with uvicorn in a background thread, with a clean start and stop.

``SandboxServer`` is what the console (no credentials configured), the CLI and the tests
use. Port 0 picks a free port; the server binds 127.0.0.1 unless told otherwise. It also
gives the app the one thing ASGI cannot do by itself: close a client's socket without an
answer (the "dropped connection after applying" fault).

This module must not hold API behaviour (app.py) or rules (core.py).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import Scope

from gameball_batch.sandbox.app import create_app
from gameball_batch.sandbox.core import DEMO_API_KEY, DEMO_SECRET_KEY, SandboxCore
from gameball_batch.sandbox.serving import SandboxState

START_TIMEOUT = 10.0


class SandboxServerError(RuntimeError):
    """The sandbox could not start (port taken, bad host) or stop in time."""


def _bind(host: str, port: int) -> socket.socket:
    """A bound socket for uvicorn; port 0 lets the system pick a free one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise SandboxServerError(
            f"The sandbox could not start on {host}:{port} ({exc.strerror or exc}); "
            "is the port already in use? Use --port 0 for a free one."
        ) from None
    return sock


def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """Thread body: uvicorn reports a failed start with SystemExit, which must stay here."""
    try:
        server.run(sockets=[sock])
    except SystemExit:
        pass
    finally:
        sock.close()


class SandboxServer:
    """``with SandboxServer(instant=True) as sandbox: sandbox.url`` — options go to create_app."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        options.setdefault("api_key", DEMO_API_KEY)
        options.setdefault("secret_key", DEMO_SECRET_KEY)
        self.host = host
        self.port = port
        self.api_key: str = options["api_key"]
        self.secret_key: str = options["secret_key"]
        self.app = create_app(drop_connection=self._drop, **options)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state

    @property
    def core(self) -> SandboxCore:
        """The live state, for tests; hold ``state.lock`` while a job may be running."""
        return self.state.core

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL once requests are accepted."""
        if self._thread is not None:
            return self.url
        sock = _bind(self.host, self.port)  # here, so a taken port is a clear error
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, http="h11", lifespan="on",
            log_level="warning", access_log=False, timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=_serve, args=(server, sock), name="gameball-sandbox",
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise SandboxServerError(f"The sandbox could not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        port = sock.getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}"
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        self._server = self._thread = None
        if thread.is_alive():
            raise SandboxServerError("The sandbox did not stop within its timeout")

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _drop(self, scope: Scope) -> None:
        """Close the socket of the client that sent this request, without any answer."""
        server = self._server
        client = scope.get("client")
        if server is None or client is None:
            raise ConnectionAbortedError("sandbox fault: connection dropped")
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and tuple(getattr(connection, "client", ()) or ()) == \
                    tuple(client):
                transport.abort()
                break
        # Let the loop deliver connection_lost, so uvicorn knows not to write a 500.
        for _ in range(3):
            await asyncio.sleep(0)
