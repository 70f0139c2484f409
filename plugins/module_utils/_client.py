# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The signed API client: value encoding, signing, transport, retries, the error type.

Private to this collection (the leading underscore): other collections must not
import it, so it can change without notice. Every plugin talks to the cloud through
``Client.call``; nothing else imports ``requests`` or ``hashlib``.
"""

from __future__ import annotations

import decimal
import email.utils
import hashlib
import json
import math
import heapq
import random
import re
import socket
import sys
import threading
import time
import traceback
import zlib

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

COLLECTION_NAME = "sigcalcloud.cloud"
# Written by scripts/release.py from galaxy.yml (the one place the version is set), never by hand;
# scripts/release.py --check and tests/unit/test_release_metadata.py fail when the two differ.
COLLECTION_VERSION = "1.0.0"
DEFAULT_BASE_URL = "https://api.sigcalcloud.com"

# HTTP statuses a gateway or load balancer answers while the API is briefly
# unavailable; the official SDKs retry the same set.
RETRYABLE_HTTP_STATUSES = frozenset((429, 500, 502, 503, 504))
# Gateway RetCodes that say "try again" (API timeout, service break, overload, rate limit).
TRANSIENT_RET_CODES = frozenset((110, 130, 150, 153))
# Of those, the ones that leave open whether the backend acted: 110 (it took too long to
# answer) and 130 (the gateway lost it). 150 and 153 are the gateway's own refusals.
MAYBE_DONE_RET_CODES = frozenset((110, 130))
# Codes from 2000 up come from the product behind the gateway. The official SDKs
# retry them; reads do too, bounded. Writes do not (Client.call, call_once): a product
# that refused a change, or a create over the backup quota (20208), refuses it again.
PRODUCT_RET_CODE_START = 2000
# Product codes that say "no" to any call, read or write, and do not change within a retry's
# seconds: insufficient permission, insufficient balance, backup count over the limit.
FINAL_PRODUCT_RET_CODES = frozenset((20004, 20013, 20208))

# The most bytes one answer may hold once decompressed. A page of 100 backups is about
# 40 KB; 8 MiB leaves room for pages 200 times that, and bounds memory at
# max_concurrency x 8 MiB however large a body a server or proxy sends.
MAX_ANSWER_BYTES = 8 << 20
READ_CHUNK = 64 << 10
# A RetCode is a small non-negative integer; anything else is not an answer.
MAX_RET_CODE = 2 ** 31 - 1
# How much of a server's Message goes into an error.
MAX_MESSAGE_CHARS = 500
# The most rows one listing may hold (the max_rows option's default): far above any real
# account (a region holds hundreds to a few thousand backups), and a bound on what a server
# that claims or serves more can make a client hold in memory.
DEFAULT_MAX_ROWS = 100000

# Words a user can act on, for the RetCodes that mean "your request is wrong".
RET_CODE_HINTS = {
    160: "the request had no Action",
    161: "the API does not know this action",
    170: "the request was not signed",
    171: "signature rejected: check private_key",
    172: "public key not recognised: check public_key",
    210: "a required parameter is missing",
    230: "a parameter has a value the API does not accept",
    292: "project not found: check project_id",
    299: "permission denied: the key may not read this project or action",
}


# C0 and C1 control characters, DEL, and the Unicode format characters that reorder or
# hide text on a terminal (bidi overrides, zero-width marks).
_UNPRINTABLE_RE = re.compile(u"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# scheme://user:password@host: the userinfo of any URL in a text.
# Greedy up to the authority's last "@", since a password may hold one.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def printable(text):
    """``text`` with control and bidi characters escaped (``\\x1b``), safe for a terminal or log.

    Everything the server sends is data: a Message, a header or a field value that goes
    into a message must not clear a screen or fake a line of output.
    """
    text = text if isinstance(text, str) else str(text)
    return _UNPRINTABLE_RE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def redact_url(text):
    """``text`` with the userinfo of every URL in it (``https://user:secret@``) hidden."""
    return _USERINFO_RE.sub(r"\1<redacted>@", text)


def url_secrets(url):
    """The userinfo of ``url`` (``user:secret``, and the secret alone), for no_log lists."""
    match = re.match(r"(?i)^[a-z][a-z0-9+.-]*://([^/?#\s]*)@", url or "")
    if not match or not match.group(1):
        return []
    userinfo = match.group(1)
    return [value for value in (userinfo, userinfo.partition(":")[2]) if value]


def is_retryable_ret_code(ret_code):
    return ret_code in TRANSIENT_RET_CODES or (ret_code >= PRODUCT_RET_CODE_START
                                               and ret_code not in FINAL_PRODUCT_RET_CODES)


def may_have_happened(error):
    """Whether the server may have done what a failed call asked for.

    Only an answer that refuses the request says it did not: a RetCode, except 110 (the
    backend timed out, after it may have acted) and 130 (a break between gateway and
    backend), or HTTP 429 (the rate limiter in front of the API); and so does a request that
    never left (no connection could be made). A timeout, a reset, any other HTTP error, a
    garbled answer or an answer to another question leaves it open.
    """
    if error.unsent:
        return False
    if error.ret_code is not None:
        return error.ret_code in MAYBE_DONE_RET_CODES
    return error.http_status != 429


class SigcalcloudError(Exception):
    """Every failure of a call: API refusals, HTTP errors, network errors, bad answers.

    It never carries the private key or the signed request body.
    """

    def __init__(self, message, action=None, ret_code=None, http_status=None,
                 request_id=None, region=None, retryable=False, unsent=False):
        super(SigcalcloudError, self).__init__(message)
        # True when the request never left: no connection was made, so the server did nothing.
        self.unsent = unsent
        self.message = message
        self.action = action
        self.ret_code = ret_code
        self.http_status = http_status
        # The request id is the server's text: a face may show it on its own.
        self.request_id = printable(request_id) if request_id is not None else None
        self.region = region
        self.retryable = retryable

    def __str__(self):
        details = []
        if self.region:
            details.append("region %s" % self.region)
        if self.ret_code is not None:
            details.append("RetCode %s" % self.ret_code)
        if self.http_status is not None:
            details.append("HTTP %s" % self.http_status)
        if self.request_id:
            details.append("request id %s" % self.request_id)
        prefix = "%s: " % self.action if self.action else ""
        suffix = " (%s)" % ", ".join(details) if details else ""
        # One place for every face: no terminal control codes, no password of a URL.
        return redact_url(printable(prefix + self.message + suffix))


def encode_value(value):
    """Encode one scalar as the API's signature expects it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("cannot send %r: not a finite number" % value)
        if value.is_integer():
            return str(int(value))
        # Plain decimal, never scientific notation: 0.00001, not 1e-05.
        return format(decimal.Decimal(repr(value)), "f")
    return str(value)


def flatten_params(params, prefix=""):
    """Flatten lists and objects the API's way: Key.0, Key.0.Field, Key.Field.

    Unset (None) values are neither sent nor signed.
    """
    flat = {}
    for key, value in params.items():
        name = prefix + str(key)
        if value is None:
            continue
        if isinstance(value, dict):
            flat.update(flatten_params(value, name + "."))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                flat.update(flatten_params({str(index): item}, name + "."))
        else:
            flat[name] = encode_value(value)
    return flat


def sign(flat_params, private_key):
    """SHA-1 over the sorted key+value pairs followed by the private key."""
    payload = "".join(key + flat_params[key] for key in sorted(flat_params))
    return hashlib.sha1((payload + private_key).encode("utf-8")).hexdigest()


def parse_retry_after(value):
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class Backoff:
    """Exponential backoff with jitter, bounded in count and in total sleep.

    The n-th retry waits base * 4**n seconds times a random factor in [1, 2)
    (the Go SDK's curve: 0.1-0.2 s, 0.4-0.8 s, 1.6-3.2 s, ...), each wait capped
    at ``cap``. A server's Retry-After wins when it asks for longer, up to
    ``retry_after_cap``. All waits of one call together stay under ``budget``.
    """

    def __init__(self, max_retries=3, base=0.1, cap=5.0, retry_after_cap=30.0,
                 budget=60.0, rand=random.random, sleep=time.sleep):
        self.max_retries = max_retries
        self.base = base
        self.cap = cap
        self.retry_after_cap = retry_after_cap
        self.budget = budget
        self._rand = rand
        self._sleep = sleep

    def delay(self, attempt, retry_after=None):
        """How long to wait before retry number ``attempt`` (0-based)."""
        wait = min(self.cap, self.base * (4 ** attempt)) * (1.0 + self._rand())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        return wait

    def sleep(self, seconds):
        self._sleep(seconds)


def _request_id(headers):
    for name, value in headers.items():
        if name.lower().endswith("-request-uuid"):
            return value
    return None


def _snippet(body):
    """The start of an unexpected body, for an error message a human can place."""
    text = body[:80].decode("utf-8", "replace")
    text = " ".join(text.split())
    return repr(text) if text else "an empty body"


def _clip(text, limit=MAX_MESSAGE_CHARS):
    return text if len(text) <= limit else text[:limit] + "... (%d characters in all)" % len(text)


def user_agent():
    python = "%d.%d.%d" % sys.version_info[:3]
    try:
        from ansible.module_utils.ansible_release import __version__ as ansible_version
    except ImportError:  # the client also runs outside Ansible (the EDA source)
        ansible_version = "unknown"
    return "%s/%s (ansible-core/%s; python/%s)" % (
        COLLECTION_NAME, COLLECTION_VERSION, ansible_version, python)


# --- answers: JSON that Python reads but an API never sends ---------------------------

class _NotANumber(ValueError):
    """A JSON number Python would read as infinity or NaN."""


def _finite_float(text):
    value = float(text)
    if math.isinf(value) or math.isnan(value):
        raise _NotANumber(text)
    return value


def _refuse_constant(name):
    raise _NotANumber(name)


# Python's json accepts NaN, Infinity and 1e400 (as inf); no API answer holds them.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)


def decode_answer(content, fail):
    """The JSON object in ``content``, or a SigcalcloudError from ``fail`` saying why not.

    A body that is not JSON at all is retryable (a cut-off answer, a proxy's page); JSON
    that no API sends (non-finite numbers, nesting too deep to read, integers of
    thousands of digits) is refused at once.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("the answer was not UTF-8 text (it began with %s)" % _snippet(content), retryable=True)
    try:
        return _DECODER.decode(text)
    except _NotANumber as exc:
        raise fail("the answer holds %s, which is not a number an API sends" % _clip(str(exc), 40))
    except RecursionError:
        raise fail("the answer is nested too deeply to be an API answer")
    except json.JSONDecodeError as exc:
        raise fail("the answer was not JSON (it began with %s): %s" % (_snippet(content), exc.msg), retryable=True)
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise fail("the answer could not be read: %s" % _clip(str(exc), 120))


def ret_code_of(data, fail):
    """The answer's RetCode as an int: an integer, or a string of digits (some gateways)."""
    if "RetCode" not in data:
        raise fail("the answer has no RetCode field")
    value = data["RetCode"]
    if isinstance(value, str) and re.match(r"^\s*[0-9]{1,10}\s*$", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RET_CODE:
        raise fail("the answer's RetCode is not an integer from 0 to %d: %s" % (MAX_RET_CODE, _clip(repr(value), 60)))
    return value


def check_action(data, action, fail):
    """Refuse an answer whose Action is not ``<action>Response``: an answer to another question
    (a proxy's mix-up, a cache keyed wrongly) is never read as this one's, neither as data nor
    as a refusal. (A refusal without an Action is taken: gateways send some without.)"""
    expected = action + "Response"
    found = data.get("Action")
    if found != expected:
        shown = "no Action" if found is None else "Action %s" % _clip(repr(found), 80)
        raise fail("the answer is not one to %s: it has %s, expected %s; none of it is used" % (action, shown, expected))


# --- deadlines: every attempt ends by its deadline, whatever the server sends ------------

class _Attempt:
    """One HTTP exchange and its wall-clock deadline.

    A socket timeout bounds each read, not the exchange: a server that sends one byte a
    second would hold a call for ever. The watchdog shuts the attempt's socket down at
    its deadline, which wakes the blocked read.
    """

    def __init__(self, deadline):
        self.deadline = deadline
        self.expired = False
        self._done = False
        self._connection = None
        self._lock = threading.Lock()

    def attach(self, connection):
        with self._lock:
            self._connection = connection
            if self.expired and not self._done:
                _shut(connection)  # it expired while the connection was being made

    def expire(self):
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)

    def finish(self):
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

    def watch(self, attempt):
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


_WATCHDOG = _Watchdog()
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


def read_body(response, fail, limit=MAX_ANSWER_BYTES):
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
        raise fail("the answer has Content-Encoding %s, which was not asked for" % _clip(repr(encoding), 40))
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


class Client:
    """One authenticated session with the API, safe to share between threads.

    ``call`` signs the parameters, POSTs them as a form body, retries what is
    transient and returns the decoded answer of a successful call, or raises
    ``SigcalcloudError``. Each attempt ends within ``timeout`` seconds of wall-clock
    time, whatever the server does, and reads at most MAX_ANSWER_BYTES.
    """

    def __init__(self, public_key, private_key, base_url=DEFAULT_BASE_URL,
                 project_id=None, timeout=30, max_retries=3, validate_certs=True,
                 ca_path=None, pool_size=16, backoff=None, session=None, max_rows=DEFAULT_MAX_ROWS):
        if not HAS_REQUESTS and session is None:
            raise SigcalcloudError("the Python library 'requests' is required")
        self.public_key = public_key
        self._private_key = private_key
        self.base_url = base_url.rstrip("/") + "/"
        # What messages show: never a password given in the URL.
        self.display_url = redact_url(self.base_url)
        self.project_id = project_id
        self.timeout = timeout
        self.max_rows = max_rows  # the most rows one listing may hold (_paging)
        self.backoff = backoff or Backoff(max_retries=max_retries)
        # validate_certs: false means no verification at all, whatever ca_path says.
        self.verify = (ca_path or True) if validate_certs else False
        self.ca_path = ca_path if validate_certs else None
        self.session = session or self._new_session(pool_size)
        self.session.headers["User-Agent"] = user_agent()
        # We inflate bodies ourselves (read_body), so ask only for what we can inflate.
        self.session.headers["Accept-Encoding"] = "gzip, deflate"

    def __repr__(self):
        # Never the private key, even in a debugger or a traceback's locals dump.
        return "Client(base_url=%r, public_key=%r)" % (self.display_url, self.public_key)

    @staticmethod
    def _new_session(pool_size):
        session = requests.Session()
        # Enough pooled keep-alive connections for every concurrent worker.
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def signed_body(self, action, params, region=None):
        """The exact form fields to send: flattened, with the public ones, signed."""
        merged = {"Action": action, "PublicKey": self.public_key,
                  "Region": region, "ProjectId": self.project_id}
        merged.update(params)
        flat = flatten_params(merged)
        flat["Signature"] = sign(flat, self._private_key)
        return flat

    def call(self, action, params, region=None, retry_product_codes=True, final_ret_codes=()):
        """The answer of ``action``, retried while the failure is transient.

        Only for calls that are safe to repeat: reads, and writes that set a value
        (``retry_product_codes=False`` for those, since a product's refusal of a change
        will not go away by asking again). ``final_ret_codes`` are product codes that are an
        answer for this action, not a hiccup, and are not asked again either. A call that
        creates something must not come here: see ``call_once`` and ``may_have_happened``.
        """
        body = self.signed_body(action, params, region)
        attempt = 0
        slept = 0.0
        while True:
            try:
                return self._send(action, body, region)
            except SigcalcloudError as error:
                if error.ret_code is not None and (error.ret_code in final_ret_codes or (
                        not retry_product_codes and error.ret_code >= PRODUCT_RET_CODE_START)):
                    raise
                if not error.retryable or attempt >= self.backoff.max_retries:
                    if error.retryable and attempt:
                        error.message += " (gave up after %d attempts)" % (attempt + 1)
                    raise
                wait = self.backoff.delay(attempt, getattr(error, "retry_after", None))
                if slept + wait > self.backoff.budget:
                    error.message += " (gave up after %d attempts: retry time budget of %ss spent)" % (
                        attempt + 1, self.backoff.budget)
                    raise
                self.backoff.sleep(wait)
                slept += wait
                attempt += 1

    def call_once(self, action, params, region=None):
        """One attempt of ``action``, never retried: for a call that is not idempotent.

        A failure may still mean the server did it; ``may_have_happened`` tells which.
        """
        return self._send(action, self.signed_body(action, params, region), region)

    def _send(self, action, body, region):
        def fail(message, **kwargs):
            kwargs.setdefault("action", action)
            kwargs.setdefault("region", region)
            return SigcalcloudError(message, **kwargs)

        attempt = _Attempt(time.monotonic() + self.timeout)
        _WATCHDOG.watch(attempt)
        _CURRENT.attempt = attempt
        response = None
        try:
            response = self._post(body, fail)
            data = self._answer(response, fail, action)
            response = None  # read to the end: its connection goes back to the pool
            return data
        except SigcalcloudError as error:
            if attempt.expired:  # whatever broke, it broke because the deadline ended it
                raise fail("no answer from %s within the %ss timeout (connecting, waiting and reading "
                           "included)" % (self.display_url, self.timeout), retryable=True)
            raise error
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if not attempt.expired:
                raise
            raise fail("no answer from %s within the %ss timeout (connecting, waiting and reading "
                       "included; %s)" % (self.display_url, self.timeout, type(exc).__name__), retryable=True)
        finally:
            attempt.finish()
            _CURRENT.attempt = None
            if response is not None:
                response.close()  # unread data: never reuse this connection

    def _post(self, body, fail):
        try:
            # No redirects: requests would re-send the POST as a GET without the signed form.
            return self.session.post(self.base_url, data=body, timeout=self.timeout, verify=self.verify,
                                     allow_redirects=False, stream=True)
        except requests.exceptions.SSLError as exc:
            raise fail(self._tls_message(exc))
        except requests.exceptions.ConnectTimeout:
            raise fail("could not connect to %s within the %ss timeout" % (self.display_url, self.timeout),
                       retryable=True, unsent=True)
        except requests.exceptions.Timeout:
            raise fail("no answer from %s within the %ss timeout" % (self.display_url, self.timeout), retryable=True)
        except requests.exceptions.ConnectionError as exc:
            raise fail("could not reach %s: %s" % (self.display_url, _reason(exc)), retryable=True,
                       unsent=_never_connected(exc))
        except requests.exceptions.RequestException as exc:
            raise fail("request to %s failed: %s" % (self.display_url, _reason(exc)))

    def _tls_message(self, exc):
        if not self.verify:  # not a certificate problem: say so rather than suggest validate_certs
            return "TLS with %s failed: %s (validate_certs is false, so certificates were not checked)" % (
                self.display_url, _reason(exc))
        if self.ca_path:
            return ("TLS certificate verification failed for %s: %s. The server's certificate is not "
                    "signed by a CA in ca_path %s" % (self.display_url, _reason(exc), self.ca_path))
        return ("TLS certificate verification failed for %s: %s. Set ca_path to the CA bundle that "
                "signed the server's certificate, or validate_certs to false for a test endpoint" % (
                    self.display_url, _reason(exc)))

    def _answer(self, response, fail, action):
        status = response.status_code
        request_id = _request_id(response.headers)

        def answer_fail(message, **kwargs):
            kwargs.setdefault("http_status", status)
            kwargs.setdefault("request_id", request_id)
            return fail(message, **kwargs)

        if 300 <= status < 400:
            raise answer_fail("the server answered HTTP %s with a redirect to %s: set base_url to the API "
                              "endpoint itself" % (status, _clip(response.headers.get("Location", "(no Location)"), 200)))
        if status >= 400:
            error = answer_fail("the server answered HTTP %s %s" % (status, _clip(response.reason or "", 80)),
                                retryable=status in RETRYABLE_HTTP_STATUSES)
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise error
        try:
            content = read_body(response, answer_fail)
        except requests.exceptions.RequestException as exc:
            raise answer_fail("the answer from %s broke off: %s" % (self.display_url, _reason(exc)), retryable=True)
        except (Urllib3Error, OSError, ValueError) as exc:  # urllib3's own errors while the body was read
            raise answer_fail("the answer from %s broke off: %s" % (self.display_url, exc), retryable=True)
        data = decode_answer(content, answer_fail)
        if not isinstance(data, dict):
            raise answer_fail("the answer was JSON but not an object")
        if data.get("Action") is not None:  # a refusal of another request refuses nothing of this one
            check_action(data, action, answer_fail)
        ret_code = ret_code_of(data, answer_fail)
        if ret_code != 0:
            message = _clip(str(data.get("Message") or "no message"))
            hint = RET_CODE_HINTS.get(ret_code)
            raise answer_fail("%s: %s" % (hint, message) if hint else message, ret_code=ret_code,
                              retryable=is_retryable_ret_code(ret_code))
        check_action(data, action, answer_fail)  # a success must say which action it answers
        return data


def _never_connected(exc):
    """Whether a ConnectionError happened before any byte was sent (refused, no route, no DNS name)."""
    reason, seen = exc, set()
    while isinstance(reason, BaseException) and id(reason) not in seen:
        if isinstance(reason, NewConnectionError):
            return True
        seen.add(id(reason))
        reason = getattr(reason, "reason", None) or (reason.args[0] if getattr(reason, "args", None) else None)
    return False


def _reason(exc):
    """The innermost reason of a requests/urllib3 error, without its noisy wrapping."""
    reason = exc
    seen = set()
    while True:
        nested = getattr(reason, "reason", None) or (reason.args[0] if getattr(reason, "args", None) else None)
        if not isinstance(nested, BaseException) or id(nested) in seen:
            break
        seen.add(id(nested))
        reason = nested
    # urllib3 prefixes the pool's repr, "HTTPConnection(host='h', port=1): "; the URL is already in our message.
    return re.sub(r"^\w*Connection\w*\(.*?\): ", "", str(reason))
