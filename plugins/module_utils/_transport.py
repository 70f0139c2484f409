# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The transport under the client: bounded in time and in size, whatever the server does.

Every attempt has a wall-clock deadline that a watchdog thread enforces by shutting its
socket down (a socket timeout bounds each read, not the exchange), also through an HTTP(S)
proxy; an answer is read in chunks and inflated here, so that neither a large body nor a
small one that inflates to gigabytes passes MAX_ANSWER_BYTES. ``_client`` sends through it.
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time
import traceback
import zlib
from typing import Any, Callable, Iterator

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import clip

try:
    import requests
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import HTTPError as Urllib3Error, NewConnectionError
    from urllib3.poolmanager import ProxyManager
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None

HAS_REQUESTS = requests is not None

# The most bytes one answer may hold once decompressed. A page of 100 backups is about
# 40 KB; 8 MiB leaves room for pages 200 times that, and bounds memory at
# max_concurrency x 8 MiB however large a body a server or proxy sends.
MAX_ANSWER_BYTES = 8 << 20
READ_CHUNK = 64 << 10
# What reading a body may raise besides requests' own errors: the answer broke off.
BODY_READ_ERRORS = (Urllib3Error, OSError, ValueError) if HAS_REQUESTS else (OSError, ValueError)


class Attempt:
    """One HTTP exchange and its wall-clock deadline.

    A socket timeout bounds each read, not the exchange: a server that sends one byte a
    second would hold a call for ever. The watchdog shuts the attempt's socket down at
    its deadline, which wakes the blocked read.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._done = False
        self._connection = None
        self._lock = threading.Lock()

    def attach(self, connection: Any) -> None:
        with self._lock:
            self._connection = connection
            if self.expired and not self._done:
                _shut(connection)  # it expired while the connection was being made

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._connection = None


def _shut(connection):
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            # socket.socket's own shutdown, also for an SSL socket: wake the reader, do not unwrap.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass


class _Watchdog:
    """One daemon thread that expires attempts at their deadlines (a heap of them)."""

    def __init__(self):
        self._heap = []
        self._count = 0
        self._wake = threading.Condition()
        self._thread = None

    def watch(self, attempt: Attempt) -> None:
        with self._wake:
            self._count += 1
            heapq.heappush(self._heap, (attempt.deadline, self._count, attempt))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sigcalcloud-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is attempt:
                self._wake.notify()

    def _run(self):
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline, _count, attempt = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
            attempt.expire()


WATCHDOG = _Watchdog()
_CURRENT = threading.local()  # the attempt this thread is making, for the connection classes


def _attach_current(connection):
    attempt = getattr(_CURRENT, "attempt", None)
    if attempt is not None:
        attempt.attach(connection)


if HAS_REQUESTS:
    class _Watched(object):
        """Tells the thread's attempt which connection it is using, so its deadline can end it."""

        def connect(self):
            super(_Watched, self).connect()
            _attach_current(self)  # again after connecting: the deadline may have passed meanwhile

        def request(self, *args, **kwargs):
            _attach_current(self)
            return super(_Watched, self).request(*args, **kwargs)

    class _WatchedHTTPConnection(_Watched, HTTPConnection):
        pass

    class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
        pass

    class _WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = _WatchedHTTPConnection

    class _WatchedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _WatchedHTTPSConnection

    class _WatchedAdapter(requests.adapters.HTTPAdapter):
        """requests' adapter with connections the deadline watchdog can end (also via a proxy)."""

        POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

        def init_poolmanager(self, *args, **kwargs):
            super(_WatchedAdapter, self).init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = dict(self.POOLS)

        def proxy_manager_for(self, proxy, **proxy_kwargs):
            manager = super(_WatchedAdapter, self).proxy_manager_for(proxy, **proxy_kwargs)
            if isinstance(manager, ProxyManager):  # a SOCKS manager (not a ProxyManager) keeps its own classes
                manager.pool_classes_by_scheme = dict(self.POOLS)
            return manager


def read_body(response: requests.Response, fail: Callable[..., Exception], limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The decoded body of a streamed ``response``, at most ``limit`` bytes.

    The body is read in chunks and inflated here, not by urllib3, so a small gzip body
    that inflates to gigabytes is stopped at ``limit`` like a large plain one.
    """
    length = response.headers.get("Content-Length")
    if length and length.strip().isdigit() and int(length) > limit:
        raise fail("the answer is %s bytes, more than the %d MiB an answer may be" % (length.strip(), limit >> 20))
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    elif encoding in ("", "identity"):
        inflater = None
    else:
        raise fail("the answer has Content-Encoding %s, which was not asked for" % clip(repr(encoding), 40))
    chunks, size = [], 0
    while True:
        chunk = response.raw.read(READ_CHUNK, decode_content=False)
        if not chunk:
            break
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - size)
            except zlib.error as exc:
                raise fail("the answer's %s body is corrupt: %s" % (encoding, exc), retryable=True)
        size += len(chunk)
        if size > limit:
            raise fail("the answer is more than the %d MiB an answer may be%s" % (
                limit >> 20, " once inflated" if inflater is not None else ""))
        chunks.append(chunk)
    if inflater is not None:
        chunks.append(inflater.flush())
        if sum(len(chunk) for chunk in chunks) > limit:
            raise fail("the answer is more than the %d MiB an answer may be once inflated" % (limit >> 20))
    return b"".join(chunks)


@contextlib.contextmanager
def attempt(timeout: float) -> Iterator[Attempt]:
    """One attempt of this thread, watched: it ends within ``timeout`` seconds from now."""
    current = Attempt(time.monotonic() + timeout)
    WATCHDOG.watch(current)
    _CURRENT.attempt = current
    try:
        yield current
    finally:
        current.finish()
        _CURRENT.attempt = None


def new_session(pool_size: int) -> requests.Session:
    """A requests session whose connections the watchdog can end, with ``pool_size`` kept-alive ones."""
    session = requests.Session()
    adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def never_connected(exc: BaseException) -> bool:
    """Whether a ConnectionError happened before any byte was sent (refused, no route, no DNS name)."""
    reason, seen = exc, set()
    while isinstance(reason, BaseException) and id(reason) not in seen:
        if isinstance(reason, NewConnectionError):
            return True
        seen.add(id(reason))
        reason = getattr(reason, "reason", None) or (reason.args[0] if getattr(reason, "args", None) else None)
    return False
