"""A TCP load balancer for the scale-out tests: the one address browsers use (APP_BASE_URL) in front
of several app processes, without sticky sessions.

Every new connection goes to the backend currently chosen; `route_to` chooses another and closes
every open connection, as a balancer does when a process leaves it, so the browser's next request
and its reconnecting websocket reach the new one. It counts the connections each backend got.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter


class TcpProxy:
    """Listens on a free port of 127.0.0.1 and forwards each connection to one of `backends` (name -> port)."""

    def __init__(self, backends: dict[str, int] | None = None) -> None:
        self.backends = dict(backends or {})
        self.current: str | None = next(iter(self.backends), None)
        self.connections: Counter[str] = Counter()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._listener.close()
        self._close_all()

    def add(self, name: str, port: int) -> None:
        """Put another backend behind the proxy (not chosen yet)."""
        with self._lock:
            self.backends[name] = port

    def route_to(self, name: str) -> None:
        """Send new connections to `name` and close the open ones (to any backend)."""
        with self._lock:
            self.current = name
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                name = self.current
                port = self.backends.get(name or "")
            if name is None or port is None:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self.connections[name] += 1
                self._open += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes one way until either side closes, then close the other way too."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
