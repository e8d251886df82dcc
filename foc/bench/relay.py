"""A TCP relay on 127.0.0.1 that counts the bytes between the wrapper and foc-proxy.

    with ByteCountingRelay("127.0.0.1:50051") as relay:   # listens on relay.address
        ...                                                 # point the ProxyClient at relay.address
        relay.total()                                       # bytes both ways since start (or reset())

Counts what crosses the proxy link (gRPC over HTTP/2, framing included), in both directions,
for every connection through it. One thread per direction per connection; stops with close().
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

CHUNK = 65536


class ByteCountingRelay:
    """Forward 127.0.0.1:<free port> to `target` ("HOST:PORT"), counting bytes."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host or "127.0.0.1", int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._bytes = 0
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="bench-relay", daemon=True)
        self._thread.start()

    def total(self) -> int:
        """Bytes relayed (both directions) since start or the last reset()."""
        with self._lock:
            return self._bytes

    def reset(self) -> None:
        with self._lock:
            self._bytes = 0

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(CHUNK)
                if not data:
                    break
                dst.sendall(data)
                with self._lock:
                    self._bytes += len(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop accepting and close every relayed connection."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> ByteCountingRelay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
