"""A TCP proxy of the test's own in front of a real server (the S3 server), to make the network fail on purpose.

- freeze(): stop forwarding in both directions without closing anything: connections stay open, new ones are
  accepted and then hear nothing, bytes sent pile up in the kernel's buffers until the sender blocks. This is an
  endpoint that "stops answering", as a dead NAT entry or a hung load balancer does.
- thaw(): forward again.
- close(): an outage: every connection is reset and the port refuses new ones.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from tests.conftest import free_port


class FreezableProxy:
    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._running = threading.Event()  # set: forwarding; clear: frozen
        self._running.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def freeze(self) -> None:
        self._running.clear()

    def thaw(self) -> None:
        self._running.set()

    def close(self) -> None:
        self._closed.set()
        self._running.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    # SO_LINGER 0: a reset, as a crashed peer gives, not an orderly close
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.close()
            self._sockets.clear()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.2)
                if not ready:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="tcp-proxy-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._sockets.append(client)
        self._running.wait()  # frozen: an accepted connection hears nothing
        if self._closed.is_set():
            return
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets.append(upstream)
        peers = {client: upstream, upstream: client}
        try:
            while not self._closed.is_set():
                if not self._running.is_set():
                    self._running.wait(0.2)  # frozen: read nothing, so the sender's buffers fill and it blocks
                    continue
                ready, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()
