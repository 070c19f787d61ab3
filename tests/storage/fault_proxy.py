"""An HTTP/1.1 reverse proxy on 127.0.0.1 that can reset chosen requests before forwarding them.

Put it between a backend and a real test server (moto, fake-gcs-server) to reproduce a network
failure that the server never sees: ``proxy.reset(predicate, times=n)`` makes the next ``n``
requests matching ``predicate(method, target, headers)`` end in a TCP reset (RST) after their
body was read and before any byte reaches the server. Every other request is forwarded
unchanged (headers included, so signatures stay valid) and its response relayed.
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlsplit

#: ``predicate(method, target, headers)``; header names are lower-case.
Predicate = Callable[[str, str, dict[str, str]], bool]
_HOP_BY_HOP = {"transfer-encoding", "connection", "keep-alive"}


@dataclass
class _Faults:
    lock: threading.Lock = field(default_factory=threading.Lock)
    predicate: Predicate | None = None
    remaining: int = 0
    resets: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)

    def take(self, method: str, target: str, headers: dict[str, str]) -> bool:
        with self.lock:
            hit = (
                self.predicate is not None
                and self.remaining > 0
                and self.predicate(method, target, headers)
            )
            if hit:
                self.remaining -= 1
                self.resets.append(f"{method} {target}")
            else:
                self.forwarded.append(f"{method} {target}")
            return hit


class FaultProxy:
    """A proxy listening on ``url``, forwarding to ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname is not None and parts.port is not None
        self.faults = _Faults()
        target = (parts.hostname, parts.port)
        faults = self.faults

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                _serve(self.request, self.rfile, target, faults)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self, predicate: Predicate, times: int = 1) -> None:
        """Reset the next ``times`` requests matching ``predicate`` instead of forwarding."""
        with self.faults.lock:
            self.faults.predicate = predicate
            self.faults.remaining = times

    @property
    def resets(self) -> list[str]:
        """The requests reset so far (``"METHOD target"``)."""
        return list(self.faults.resets)


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A started :class:`FaultProxy`, stopped on exit."""
    proxy = FaultProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _serve(
    client: socket.socket, rfile: BinaryIO, target: tuple[str, int], faults: _Faults
) -> None:
    server = http.client.HTTPConnection(*target, timeout=60)
    try:
        while True:
            request = _read_request(rfile)
            if request is None:
                return
            method, path, headers, body = request
            if faults.take(method, path, {k.lower(): v for k, v in headers}):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # RST: the client sees "connection reset by peer"
                return
            forward = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
            server.request(method, path, body=body, headers=forward)
            response = server.getresponse()
            data = response.read()
            client.sendall(_response_bytes(method, response, data))
            if response.will_close:
                server.close()
                server = http.client.HTTPConnection(*target, timeout=60)
    except (OSError, http.client.HTTPException):
        return
    finally:
        server.close()


def _read_request(
    rfile: BinaryIO,
) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    line = rfile.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while (raw := rfile.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    lookup = {k.lower(): v for k, v in headers}
    if lookup.get("transfer-encoding", "").lower() == "chunked":
        body = _read_chunked(rfile)
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        headers.append(("Content-Length", str(len(body))))
    else:
        body = rfile.read(int(lookup.get("content-length", "0")))
    return method, path, headers, body


def _read_chunked(rfile: BinaryIO) -> bytes:
    parts = []
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(rfile.read(size))
        rfile.readline()


def _response_bytes(method: str, response: http.client.HTTPResponse, data: bytes) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {response.reason}"]
    for name, value in response.getheaders():
        lower = name.lower()
        if lower in _HOP_BY_HOP or (lower == "content-length" and method != "HEAD"):
            continue
        lines.append(f"{name}: {value}")
    if method != "HEAD":
        lines.append(f"Content-Length: {len(data)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + data
