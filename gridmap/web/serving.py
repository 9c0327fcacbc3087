"""A gunicorn worker for app servers facing slow clients: gthread with a per-socket I/O timeout.

gunicorn's gthread worker reads a request's headers and body with a blocking socket and no
timeout once the first byte has arrived, so a few clients trickling bytes (slowloris) hold
every thread and the server stops answering. This worker gives each client socket a timeout
(gunicorn's own `--timeout`, capped at 30 s) for the whole request: a client whose headers and
body have not all arrived by then is answered 408 and disconnected, and its thread is free again.

    gunicorn 'gridmap:create_app()' -k gridmap.web.serving.TimeoutWorker --threads 8 --timeout 10

A buffering reverse proxy (nginx `client_header_timeout` / `client_body_timeout`) is still
the first line of defence; this keeps a directly exposed or misconfigured server alive.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time

from gunicorn.workers.gthread import ThreadWorker

MAX_IO_TIMEOUT = 30.0
_BODY = b'{"status": 408, "title": "Request Timeout", "detail": "the request came too slowly"}'
_REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY))


class _TimedSocket(socket.socket):
    """A client socket on which each request must arrive, headers and body, within `io_timeout`.

    A per-read timeout is not enough: slowloris clients send a byte every few seconds. So the
    clock starts at the first read of a request and stops when the response is being sent.
    """

    io_timeout = MAX_IO_TIMEOUT
    _deadline: float | None = None

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(self.io_timeout)
        else:
            super().setblocking(False)

    def recv(self, *args) -> bytes:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.io_timeout
        left = self._deadline - now
        if left <= 0:
            self._stalled()
        self.settimeout(left)
        try:
            return super().recv(*args)
        except TimeoutError:
            self._stalled()

    def send(self, *args) -> int:
        self._deadline = None  # the answer is going out: the next request gets its own clock
        return super().send(*args)

    def sendall(self, *args) -> None:
        self._deadline = None
        return super().sendall(*args)

    def _stalled(self):
        # Answer 408 while nothing has been sent yet, then shut the socket so any later write
        # (the app's answer to a half-read body) fails quietly with EPIPE; gunicorn treats the
        # reset raised here as the client going away, and frees the thread.
        with contextlib.suppress(OSError):
            super().sendall(_REQUEST_TIMEOUT)
        with contextlib.suppress(OSError):
            self.shutdown(socket.SHUT_RDWR)
        raise ConnectionResetError(errno.ECONNRESET, "client too slow: request not complete in time")

    @classmethod
    def adopt(cls, sock: socket.socket, timeout: float) -> "_TimedSocket":
        timed = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        timed.io_timeout = timeout
        timed.settimeout(timeout)
        return timed


class TimeoutWorker(ThreadWorker):
    """gthread worker whose client sockets time out after min(--timeout, 30) seconds of silence."""

    def handle(self, conn):
        if not isinstance(conn.sock, _TimedSocket) and not conn.initialized:
            conn.sock = _TimedSocket.adopt(conn.sock, min(float(self.cfg.timeout or MAX_IO_TIMEOUT), MAX_IO_TIMEOUT))
        return super().handle(conn)
