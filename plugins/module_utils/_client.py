# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The signed API client: sign, send, retry, decode, and the error type.

Private to this collection (the leading underscore): other collections must not
import it, so it can change without notice. Every plugin talks to the cloud through
``Client.call``; nothing else imports ``requests`` or ``hashlib``. What bounds each
attempt in time and size is ``_transport``; what makes the server's text safe to show
is ``_text``.
"""

from __future__ import annotations

import decimal
import email.utils
import hashlib
import json
import math
import random
import re
import sys
import time
from typing import Any, Callable, Collection, Dict, Mapping, Optional

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import clip, printable, redact_url, snippet
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._transport import HAS_REQUESTS
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._transport import requests

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

# A RetCode is a small non-negative integer; anything else is not an answer.
MAX_RET_CODE = 2 ** 31 - 1
# The most rows one listing may hold (the max_rows option's default): far above any real
# account (a region holds hundreds to a few thousand backups), and a bound on what a server
# that claims or serves more can make a client hold in memory.
DEFAULT_MAX_ROWS = 100000

# The time functions that code which waits takes (tests pass their own).
Clock = Callable[[], float]
Sleep = Callable[[float], None]
Rand = Callable[[], float]

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


def is_retryable_ret_code(ret_code: int) -> bool:
    return ret_code in TRANSIENT_RET_CODES or (ret_code >= PRODUCT_RET_CODE_START
                                               and ret_code not in FINAL_PRODUCT_RET_CODES)


def may_have_happened(error: SigcalcloudError) -> bool:
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

    def __init__(self, message: str, action: Optional[str] = None, ret_code: Optional[int] = None,
                 http_status: Optional[int] = None, request_id: Optional[str] = None, region: Optional[str] = None,
                 retryable: bool = False, unsent: bool = False) -> None:
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

    def __str__(self) -> str:
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


# Makes the error of a failed answer from a message and SigcalcloudError's keyword arguments.
Fail = Callable[..., SigcalcloudError]


def encode_value(value: Any) -> str:
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


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> Dict[str, str]:
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


def sign(flat_params: Mapping[str, str], private_key: str) -> str:
    """SHA-1 over the sorted key+value pairs followed by the private key."""
    payload = "".join(key + flat_params[key] for key in sorted(flat_params))
    return hashlib.sha1((payload + private_key).encode("utf-8")).hexdigest()


def parse_retry_after(value: Optional[str]) -> Optional[float]:
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

    def __init__(self, max_retries: int = 3, base: float = 0.1, cap: float = 5.0, retry_after_cap: float = 30.0,
                 budget: float = 60.0, rand: Rand = random.random, sleep: Sleep = time.sleep) -> None:
        self.max_retries = max_retries
        self.base = base
        self.cap = cap
        self.retry_after_cap = retry_after_cap
        self.budget = budget
        self._rand = rand
        self._sleep = sleep

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        """How long to wait before retry number ``attempt`` (0-based)."""
        wait = min(self.cap, self.base * (4 ** attempt)) * (1.0 + self._rand())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        return wait

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)


def _request_id(headers):
    for name, value in headers.items():
        if name.lower().endswith("-request-uuid"):
            return value
    return None


def user_agent() -> str:
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


def decode_answer(content: bytes, fail: Fail) -> Any:
    """The JSON object in ``content``, or a SigcalcloudError from ``fail`` saying why not.

    A body that is not JSON at all is retryable (a cut-off answer, a proxy's page); JSON
    that no API sends (non-finite numbers, nesting too deep to read, integers of
    thousands of digits) is refused at once.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("the answer was not UTF-8 text (it began with %s)" % snippet(content), retryable=True)
    try:
        return _DECODER.decode(text)
    except _NotANumber as exc:
        raise fail("the answer holds %s, which is not a number an API sends" % clip(str(exc), 40))
    except RecursionError:
        raise fail("the answer is nested too deeply to be an API answer")
    except json.JSONDecodeError as exc:
        raise fail("the answer was not JSON (it began with %s): %s" % (snippet(content), exc.msg), retryable=True)
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise fail("the answer could not be read: %s" % clip(str(exc), 120))


def ret_code_of(data: Mapping[str, Any], fail: Fail) -> int:
    """The answer's RetCode as an int: an integer, or a string of digits (some gateways)."""
    if "RetCode" not in data:
        raise fail("the answer has no RetCode field")
    value = data["RetCode"]
    if isinstance(value, str) and re.match(r"^\s*[0-9]{1,10}\s*$", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RET_CODE:
        raise fail("the answer's RetCode is not an integer from 0 to %d: %s" % (MAX_RET_CODE, clip(repr(value), 60)))
    return value


def check_action(data: Mapping[str, Any], action: str, fail: Fail) -> None:
    """Refuse an answer whose Action is not ``<action>Response``: an answer to another question
    (a proxy's mix-up, a cache keyed wrongly) is never read as this one's, neither as data nor
    as a refusal. (A refusal without an Action is taken: gateways send some without.)"""
    expected = action + "Response"
    found = data.get("Action")
    if found != expected:
        shown = "no Action" if found is None else "Action %s" % clip(repr(found), 80)
        raise fail("the answer is not one to %s: it has %s, expected %s; none of it is used" % (action, shown, expected))


class Client:
    """One authenticated session with the API, safe to share between threads.

    ``call`` signs the parameters, POSTs them as a form body, retries what is
    transient and returns the decoded answer of a successful call, or raises
    ``SigcalcloudError``. Each attempt ends within ``timeout`` seconds of wall-clock
    time, whatever the server does, and reads at most MAX_ANSWER_BYTES.
    """

    def __init__(self, public_key: str, private_key: str, base_url: str = DEFAULT_BASE_URL,
                 project_id: Optional[str] = None, timeout: float = 30, max_retries: int = 3, validate_certs: bool = True,
                 ca_path: Optional[str] = None, pool_size: int = 16, backoff: Optional[Backoff] = None,
                 session: Optional[requests.Session] = None, max_rows: int = DEFAULT_MAX_ROWS) -> None:
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
        # Enough pooled keep-alive connections for every concurrent worker.
        self.session = session or _transport.new_session(pool_size)
        self.session.headers["User-Agent"] = user_agent()
        # We inflate bodies ourselves (read_body), so ask only for what we can inflate.
        self.session.headers["Accept-Encoding"] = "gzip, deflate"

    def __repr__(self) -> str:
        # Never the private key, even in a debugger or a traceback's locals dump.
        return "Client(base_url=%r, public_key=%r)" % (self.display_url, self.public_key)

    def signed_body(self, action: str, params: Mapping[str, Any], region: Optional[str] = None) -> Dict[str, str]:
        """The exact form fields to send: flattened, with the public ones, signed."""
        merged = {"Action": action, "PublicKey": self.public_key,
                  "Region": region, "ProjectId": self.project_id}
        merged.update(params)
        flat = flatten_params(merged)
        flat["Signature"] = sign(flat, self._private_key)
        return flat

    def call(self, action: str, params: Mapping[str, Any], region: Optional[str] = None, retry_product_codes: bool = True,
             final_ret_codes: Collection[int] = ()) -> Dict[str, Any]:
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

    def call_once(self, action: str, params: Mapping[str, Any], region: Optional[str] = None) -> Dict[str, Any]:
        """One attempt of ``action``, never retried: for a call that is not idempotent.

        A failure may still mean the server did it; ``may_have_happened`` tells which.
        """
        return self._send(action, self.signed_body(action, params, region), region)

    def _send(self, action, body, region):
        def fail(message, **kwargs):
            kwargs.setdefault("action", action)
            kwargs.setdefault("region", region)
            return SigcalcloudError(message, **kwargs)

        with _transport.attempt(self.timeout) as attempt:
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
                       unsent=_transport.never_connected(exc))
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
                              "endpoint itself" % (status, clip(response.headers.get("Location", "(no Location)"), 200)))
        if status >= 400:
            error = answer_fail("the server answered HTTP %s %s" % (status, clip(response.reason or "", 80)),
                                retryable=status in RETRYABLE_HTTP_STATUSES)
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise error
        try:
            content = _transport.read_body(response, answer_fail)
        except requests.exceptions.RequestException as exc:
            raise answer_fail("the answer from %s broke off: %s" % (self.display_url, _reason(exc)), retryable=True)
        except _transport.BODY_READ_ERRORS as exc:  # urllib3's own errors while the body was read
            raise answer_fail("the answer from %s broke off: %s" % (self.display_url, exc), retryable=True)
        data = decode_answer(content, answer_fail)
        if not isinstance(data, dict):
            raise answer_fail("the answer was JSON but not an object")
        if data.get("Action") is not None:  # a refusal of another request refuses nothing of this one
            check_action(data, action, answer_fail)
        ret_code = ret_code_of(data, answer_fail)
        if ret_code != 0:
            message = clip(str(data.get("Message") or "no message"))
            hint = RET_CODE_HINTS.get(ret_code)
            raise answer_fail("%s: %s" % (hint, message) if hint else message, ret_code=ret_code,
                              retryable=is_retryable_ret_code(ret_code))
        check_action(data, action, answer_fail)  # a success must say which action it answers
        return data


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
