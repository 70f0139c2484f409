# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A backup's file, downloaded whole or not at all, and proven whole.

The file is written beside its destination under a temporary name, checked while it
streams in (never more than the backup's BackupSize is read; size, RDB header, CRC-64
trailer), and moved into place only once every check passed. Whatever goes wrong,
including an interruption (SIGINT, SIGTERM, SIGHUP), the temporary file is removed and
the destination is left as it was. The link is a secret: no message holds it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import re
import signal
import stat
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, Optional, Tuple
from urllib.parse import urljoin, urlsplit

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rdb
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rows
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import withhold_links
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Backoff, SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import clip, printable

# Bytes per read, write and digest: the chunks of a few buffers, reused, stay in the CPU's cache between
# the socket, the file and the hashes (fresh 1 MiB chunks cost a page fault per 4 KiB).
CHUNK = 256 << 10
LOCAL_CHUNK = 4 << 20
MIN_RATE = 64 << 10  # bytes a second: slower than this on average, a download is a stall (its deadline)
MAX_REDIRECTS = 5
# Statuses that say the link itself is refused (expired, altered): a fresh link is worth one more try.
REFUSED_STATUSES = (401, 403, 410)
RETRYABLE_STATUSES = (408, 429, 500, 502, 503, 504)
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# What withhold_links leaves: urllib3's "url: /path?query" and any other path that carries a query.
_PATH_RE = re.compile(r"(?i)(\burl: \S+|/\S*[?&]\S*=\S*)")


class FileProblem(SigcalcloudError):
    """A check the file failed; ``check`` names it (size, header, checksum, structure)."""

    def __init__(self, check: str, message: str) -> None:
        super(FileProblem, self).__init__("%s check failed: %s" % (check, message))
        self.check = check


class LinkRefused(SigcalcloudError):
    """The download link was refused (expired or otherwise no longer valid)."""


def safe_reason(exc: BaseException) -> str:
    """An exception's text without any URL or path in it (the link must not leak)."""
    text = _PATH_RE.sub("<link withheld>", withhold_links(str(exc)))
    return clip(printable(text), 200) or type(exc).__name__


class FileCheck:
    """Every check, fed the file's bytes in order: size bound, SHA-256, CRC-64, RDB structure."""

    def __init__(self, expected_size: int, verify: bool = True, walk_keys: bool = False,
                 expiry_cuts: Tuple[int, ...] = ()) -> None:
        self.expected_size = expected_size
        self.verify = verify
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.crc = _rdb.Crc64()
        self.scanner = _rdb.RdbScanner(walk_keys=walk_keys, expiry_cuts=expiry_cuts)
        self._head = b""
        self._tail = b""

    def feed(self, data: bytes) -> None:
        self.take(data)
        self.digest(data)

    def digest(self, data: bytes) -> None:
        """The digests: the costly part, which a Digester runs beside the download."""
        self.sha256.update(data)
        if self.verify:
            self.crc.update(data)

    def take(self, data: bytes) -> None:
        """Everything but the digests: the size bound, the header, the trailer, the structure."""
        if self.size + len(data) > self.expected_size:
            raise FileProblem("size", "the server sent more than the backup's BackupSize of %d bytes; "
                                      "reading stopped there" % self.expected_size)
        self.size += len(data)
        if not self.verify:
            return
        self._tail = (self._tail + bytes(data[-_rdb.TRAILER_SIZE - 1:]))[-_rdb.TRAILER_SIZE - 1:]
        if len(self._head) < _rdb.HEADER_SIZE:
            self._head += bytes(data[:_rdb.HEADER_SIZE - len(self._head)])
            if len(self._head) >= _rdb.HEADER_SIZE:
                self._check_header()  # a web page or an archive fails at its first bytes, not after gigabytes
        self.scanner.feed(data)

    def _check_header(self) -> None:
        head = self._head
        if not (head.startswith(b"REDIS") and head[5:9].isdigit()):
            raise FileProblem("header", "the file is not a Redis RDB file: it starts like %s" % _rdb.what_it_is(head))
        if int(head[5:9]) == 0:
            raise FileProblem("header", "the file's RDB format version is 0000, which no Redis writes")

    def result(self) -> Dict[str, Any]:
        """The facts of a file that passed every check; raises FileProblem naming the first that failed."""
        if self.size != self.expected_size:
            raise FileProblem("size", "the file is %d bytes, the backup's BackupSize is %d%s" % (
                self.size, self.expected_size, " (the download was cut short)" if self.size < self.expected_size else ""))
        facts = {"size": self.size, "sha256": self.sha256.hexdigest()}
        if not self.verify:
            facts["checksum"] = "not checked"
            return facts
        if len(self._head) < _rdb.HEADER_SIZE:
            raise FileProblem("header", "the file is not a Redis RDB file: it starts like %s" % _rdb.what_it_is(self._head))
        scanner = self.scanner
        version = scanner.version
        if version is not None and version >= _rdb.FIRST_CHECKSUMMED_VERSION:
            if self.size < _rdb.HEADER_SIZE + 1 + _rdb.TRAILER_SIZE:
                raise FileProblem("structure", "the file is too short to hold an end marker and a checksum")
            if self._tail[0] != _rdb.END_MARKER:  # also what a copy torn by a crash, its tail zeroed, looks like
                raise FileProblem("structure", "the byte before the checksum is not the end marker (0xff): the end "
                                               "of the file is missing or overwritten")
            if self._tail[1:] == b"\0" * _rdb.TRAILER_SIZE:
                facts["checksum"] = "off"  # Redis saved it with rdbchecksum off: nothing to check, and said so
            elif self.crc.value != 0:  # the CRC of a whole file, its trailer included, is 0
                raise FileProblem("checksum", "the file's CRC-64 does not match the checksum in its last 8 bytes: "
                                              "the file is corrupt")
            else:
                facts["checksum"] = "ok"
        else:
            facts["checksum"] = "absent"  # RDB versions before 5 carry none
        if scanner.error:
            raise FileProblem("structure", "the file is not a well-formed RDB file: %s" % scanner.error)
        if scanner.ended and scanner.extra:
            raise FileProblem("structure", "%d bytes follow the file's end marker and checksum" % scanner.extra)
        if scanner.walk_keys and not scanner.ended and not scanner.stopped:
            raise FileProblem("structure", "the file ends before its end marker")
        facts.update(scanner.facts())
        facts["created_at"] = _rows.iso_utc(facts["created"]) if facts["created"] is not None else None
        if scanner.stopped:
            facts["scan_note"] = "keys were counted up to %s; the databases after it are not listed" % scanner.stopped
        return facts


IDENTITY_XATTR = "user.sigcalcloud.backup_id"


def mark(path: str, backup_id: str) -> None:
    """Record on the file which backup it is (an extended attribute), where the file system keeps them."""
    with contextlib.suppress(OSError, AttributeError):  # not every file system (or OS) has user xattrs
        os.setxattr(path, IDENTITY_XATTR, backup_id.encode("utf-8"))


def is_copy_of(path: str, backup_id: str) -> bool:
    """Whether the file at ``path`` is known to be of ``backup_id``: its mark says so or, unmarked (a file
    system without user xattrs, a file another tool wrote), its name is ``<backup_id>.rdb``."""
    try:
        marked = os.getxattr(path, IDENTITY_XATTR)
    except (OSError, AttributeError):
        marked = None
    if marked is not None:
        return marked == backup_id.encode("utf-8")
    return os.path.basename(path) == backup_id + ".rdb"


def check_local_file(path: str, expected_size: int, backup_id: str, walk_keys: bool = False) -> Optional[Dict[str, Any]]:
    """The facts of the file at ``path`` when it is a whole, proven copy of ``backup_id``, else None.

    Cheap first: the file system gives the size and the mark; only a file of the right size that is this
    backup's is read, locally, at disk speed. Proven means a matching CRC-64: a file whose checksum is off
    or absent cannot be told from a torn one, so it is downloaded again.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size != expected_size or not is_copy_of(path, backup_id):
        return None
    check = FileCheck(expected_size, walk_keys=walk_keys)
    try:
        with open(path, "rb") as handle:
            while True:
                data = handle.read(LOCAL_CHUNK)
                if not data:
                    break
                check.feed(data)
        facts = check.result()
    except (OSError, FileProblem):
        return None
    return facts if facts["checksum"] == "ok" else None


@contextlib.contextmanager
def interruptible(done: Optional[Dict[str, bool]] = None) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt while the body runs, so cleanups run too; not once
    ``done["moved"]`` is true (the file is in place: the work is done, and reporting a failure would lie)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(number, _frame):
        if not (done or {}).get("moved"):
            raise KeyboardInterrupt("signal %d" % number)

    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if number is not None:
            previous[number] = signal.signal(number, interrupted)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class Digester:
    """A FileCheck's digests (SHA-256, CRC-64) in a thread of their own, over a few reused buffers.

    hashlib lets go of the GIL on large buffers, so hashing overlaps receiving and writing. A buffer
    goes back to the pool once digested, which bounds memory (BUFFERS x CHUNK) whatever the file's size.
    """

    BUFFERS = 8

    def __init__(self, check: FileCheck) -> None:
        self._check = check
        self._free: queue.Queue = queue.Queue()
        for _number in range(self.BUFFERS):
            self._free.put(memoryview(bytearray(CHUNK)))
        self._work: queue.Queue = queue.Queue()
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="sigcalcloud-digests", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            buffer, size = item
            try:
                if self.error is None:
                    self._check.digest(buffer[:size])
            except BaseException as exc:  # pylint: disable=broad-exception-caught  # raised again in the reader
                self.error = exc
            self._free.put(buffer)  # always back: a reader waiting for a buffer must never wait for ever

    def buffer(self) -> memoryview:
        """A buffer to read into (waits while every buffer is still being digested)."""
        buffer = self._free.get()
        if self.error is not None:
            raise self.error
        return buffer

    def hand(self, buffer: memoryview, size: int) -> None:
        """Digest the first ``size`` bytes of ``buffer``, then take it back."""
        self._work.put((buffer, size))

    def close(self) -> None:
        """Wait until every buffer handed over is digested; raise what digesting raised."""
        self._work.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


class Downloader:
    """Fetches a link into an open file, feeding a FileCheck; one attempt per ``fetch``."""

    # Each attempt starts the file again: no server here is known to honour Range.

    def __init__(self, session: Any, verify_tls: Any, timeout: float) -> None:
        self.session = session
        self.verify_tls = verify_tls
        self.timeout = timeout

    def fetch(self, link: str, handle: Any, check: FileCheck) -> None:
        if handle.tell():  # a retry starts the file again; only then (ext4 flushes a truncated file at close)
            handle.seek(0)
            handle.truncate()
        # Each read waits at most ``timeout`` (a stall). The whole download has a deadline too, or a server
        # sending a byte a second would hold the task for ever: ``timeout`` plus BackupSize at MIN_RATE,
        # days for a large file, never a bound a working server meets.
        deadline = self.timeout + check.expected_size / MIN_RATE
        with _transport.attempt(deadline) as attempt:
            try:
                self._fetch(link, handle, check)
            except SigcalcloudError as error:
                if not attempt.expired:
                    raise
                raise SigcalcloudError("the download did not end within its deadline of %ds (the %ss timeout, and "
                                       "the file at %d KiB/s): the server sends too slowly; %d of %d bytes came" % (
                                           deadline, self.timeout, MIN_RATE >> 10, check.size, check.expected_size),
                                       retryable=False) from error

    def _get(self, link: str) -> Any:
        """The answer to GET ``link``, following at most MAX_REDIRECTS redirects, never from https to http."""
        import requests  # pylint: disable=import-outside-toplevel

        for _hop in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.get(link, stream=True, timeout=(self.timeout, self.timeout),
                                            verify=self.verify_tls, headers={"Accept-Encoding": "identity"},
                                            allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise SigcalcloudError("TLS with the download server failed: %s" % safe_reason(exc))
            except requests.exceptions.Timeout:
                raise SigcalcloudError("the download server did not answer within the %ss timeout" % self.timeout,
                                       retryable=True)
            except requests.exceptions.RequestException as exc:
                raise SigcalcloudError("could not reach the download server: %s" % safe_reason(exc), retryable=True)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(link, response.headers.get("Location") or "")
            response.close()
            if urlsplit(target).scheme not in ("https", urlsplit(link).scheme):
                raise SigcalcloudError("the download server redirects to a %s address: refused, the file would "
                                       "travel unencrypted" % clip(printable(urlsplit(target).scheme or "relative"), 20))
            link = target
        raise SigcalcloudError("the download server redirects more than %d times" % MAX_REDIRECTS)

    def _fetch(self, link: str, handle: Any, check: FileCheck) -> None:
        response = self._get(link)
        digester = Digester(check)
        try:
            announced = self._check_answer(response, check.expected_size)
            # http.client's readinto fills our buffer directly; urllib3's own read() returns new bytes
            # each time. It is the object urllib3 reads from (not decoding: Content-Encoding is refused).
            source = getattr(response.raw, "_fp", None)
            readinto = getattr(source, "readinto", None) or response.raw.readinto
            while True:
                buffer = digester.buffer()
                try:
                    size = readinto(buffer)
                except Exception as exc:  # pylint: disable=broad-exception-caught  # urllib3's and socket's
                    stalled = "timed out" in str(exc).lower() or isinstance(exc, TimeoutError)
                    raise SigcalcloudError(
                        ("the download stalled: no data for %ss after %d of %d bytes" % (
                            self.timeout, check.size, check.expected_size)) if stalled else
                        "the download broke off after %d of %d bytes: %s" % (
                            check.size, check.expected_size, safe_reason(exc)), retryable=True)
                if not size:
                    break
                data = buffer[:size]
                check.take(data)
                write_all(handle, data)
                digester.hand(buffer, size)
            if announced is not None and check.size < announced:  # the connection ended early: worth another try
                raise SigcalcloudError("the download broke off after %d of %d bytes" % (check.size, announced),
                                       retryable=True)
        finally:
            digester.close()
            response.close()

    @staticmethod
    def _check_answer(response: Any, expected_size: int) -> Optional[int]:
        """Refuse an answer that is not the file; the size its Content-Length announces, if it has one."""
        status = response.status_code
        if status in REFUSED_STATUSES:
            raise LinkRefused("the download server refused the link (HTTP %d): it has expired or is no longer valid"
                              % status, http_status=status)
        if status != 200:
            raise SigcalcloudError("the download server answered HTTP %d" % status, http_status=status,
                                   retryable=status in RETRYABLE_STATUSES)
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise SigcalcloudError("the download server sent the file with Content-Encoding %s, which was not "
                                   "asked for" % clip(printable(encoding), 40))
        length = (response.headers.get("Content-Length") or "").strip()
        if not length.isdigit():
            return None
        if int(length) != expected_size:
            raise FileProblem("size", "the server sends %s bytes, the backup's BackupSize is %d" % (
                length, expected_size))
        return int(length)


def write_all(handle: Any, data: bytes) -> None:
    """Write every byte of ``data``: an unbuffered write may write part of it (a disk filling up does)."""
    view = memoryview(data)
    try:
        while view:
            written = handle.write(view)
            view = view[written if written is not None else len(view):]
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise SigcalcloudError("no room to write the file: %s" % (os.strerror(exc.errno)))
        raise SigcalcloudError("could not write the file: %s" % os.strerror(exc.errno or 0))


def download_to(dest: str, write: Callable[[Any], Dict[str, Any]], prepare: Callable[[str], None]) -> Dict[str, Any]:
    """Download into a temporary file beside ``dest``, ``prepare`` it (its attributes) and move it into
    place; return the file's facts. ``write(handle)`` writes the file and returns its facts, or raises
    when a check failed. Nothing is left behind on any failure or interruption, but SIGKILL's (which no
    process can catch): its temporary file stays, hidden by its leading dot, and no later run deletes it."""
    directory, name = os.path.split(os.path.abspath(dest))
    fd, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".part", dir=directory)
    done = {"moved": False}
    try:
        with interruptible(done):
            with os.fdopen(fd, "wb", buffering=0) as handle:  # chunks are large: no second copy in a buffer
                fd = None
                facts = write(handle)
                on_disk = os.fstat(handle.fileno()).st_size
                if on_disk != facts["size"]:  # what was checked is what was written, or nothing moves
                    raise SigcalcloudError("the file written is %d bytes, not the %d downloaded" % (on_disk, facts["size"]))
                # No fsync, as get_url and s3_object: it costs seconds a GiB, and a copy torn by a crash
                # fails the next run's size or checksum check and is downloaded again.
                try:
                    handle.flush()
                except OSError as exc:
                    if exc.errno in DISK_FULL_ERRNOS:
                        raise SigcalcloudError("no room to write the file: %s" % os.strerror(exc.errno))
                    raise
            prepare(temporary)
            os.replace(temporary, dest)
            done["moved"] = True
            temporary = None
            return facts
    finally:
        if fd is not None:
            os.close(fd)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def retrying(attempt: Callable[[], Any], backoff: Backoff) -> Any:
    """``attempt()``, again after a transient failure, on the client's own schedule: ``backoff``'s
    count of retries, its waits and its time budget, as ``Client.call`` retries an API call."""
    tries = 0
    slept = 0.0
    while True:
        try:
            return attempt()
        except SigcalcloudError as error:
            if not error.retryable or tries >= backoff.max_retries:
                if error.retryable and tries:
                    error.message += " (gave up after %d attempts)" % (tries + 1)
                raise
            wait = backoff.delay(tries)
            if slept + wait > backoff.budget:
                error.message += " (gave up after %d attempts: retry time budget of %ss spent)" % (
                    tries + 1, backoff.budget)
                raise
            backoff.sleep(wait)
            slept += wait
            tries += 1


def retrying_with_fresh_link(attempt: Callable[[str], Any], new_link: Callable[[], str], backoff: Backoff) -> Any:
    """``retrying(attempt(link))`` with a link from ``new_link()``; a link the server refuses (expired, say)
    is asked for again once, and a second refusal says so."""
    link = new_link()
    try:
        return retrying(lambda: attempt(link), backoff)
    except LinkRefused:
        link = new_link()
    try:
        return retrying(lambda: attempt(link), backoff)
    except LinkRefused as error:
        error.message += ", also when asked for again"
        raise
