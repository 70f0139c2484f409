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
import random
import re
import sys
import time
import traceback

try:
    import requests
    import requests.adapters
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None

HAS_REQUESTS = requests is not None

COLLECTION_NAME = "sigcalcloud.cloud"
COLLECTION_VERSION = "0.1.0"
DEFAULT_BASE_URL = "https://api.sigcalcloud.com"

# HTTP statuses a gateway or load balancer answers while the API is briefly
# unavailable; the official SDKs retry the same set.
RETRYABLE_HTTP_STATUSES = frozenset((429, 500, 502, 503, 504))
# Gateway RetCodes that say "try again" (API timeout, service break, overload, rate limit).
TRANSIENT_RET_CODES = frozenset((110, 130, 150, 153))
# Codes from 2000 up come from the product behind the gateway. The official SDKs
# retry them; we do too, bounded, because every call we make is a read-only query.
PRODUCT_RET_CODE_START = 2000

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


def is_retryable_ret_code(ret_code):
    return ret_code in TRANSIENT_RET_CODES or ret_code >= PRODUCT_RET_CODE_START


class SigcalcloudError(Exception):
    """Every failure of a call: API refusals, HTTP errors, network errors, bad answers.

    It never carries the private key or the signed request body.
    """

    def __init__(self, message, action=None, ret_code=None, http_status=None,
                 request_id=None, region=None, retryable=False):
        super(SigcalcloudError, self).__init__(message)
        self.message = message
        self.action = action
        self.ret_code = ret_code
        self.http_status = http_status
        self.request_id = request_id
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
        return prefix + self.message + suffix


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
        return max(0.0, float(value))
    except ValueError:
        pass
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


def user_agent():
    python = "%d.%d.%d" % sys.version_info[:3]
    try:
        from ansible.module_utils.ansible_release import __version__ as ansible_version
    except ImportError:  # the client also runs outside Ansible (the EDA source)
        ansible_version = "unknown"
    return "%s/%s (ansible-core/%s; python/%s)" % (
        COLLECTION_NAME, COLLECTION_VERSION, ansible_version, python)


class Client:
    """One authenticated session with the API, safe to share between threads.

    ``call`` signs the parameters, POSTs them as a form body, retries what is
    transient and returns the decoded answer of a successful call, or raises
    ``SigcalcloudError``.
    """

    def __init__(self, public_key, private_key, base_url=DEFAULT_BASE_URL,
                 project_id=None, timeout=30, max_retries=3, validate_certs=True,
                 ca_path=None, pool_size=16, backoff=None, session=None):
        if not HAS_REQUESTS and session is None:
            raise SigcalcloudError("the Python library 'requests' is required")
        self.public_key = public_key
        self._private_key = private_key
        self.base_url = base_url.rstrip("/") + "/"
        self.project_id = project_id
        self.timeout = timeout
        self.backoff = backoff or Backoff(max_retries=max_retries)
        self.verify = ca_path if ca_path else bool(validate_certs)
        self.session = session or self._new_session(pool_size)
        self.session.headers["User-Agent"] = user_agent()

    def __repr__(self):
        # Never the private key, even in a debugger or a traceback's locals dump.
        return "Client(base_url=%r, public_key=%r)" % (self.base_url, self.public_key)

    @staticmethod
    def _new_session(pool_size):
        session = requests.Session()
        # Enough pooled keep-alive connections for every concurrent worker.
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
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

    def call(self, action, params, region=None):
        body = self.signed_body(action, params, region)
        attempt = 0
        slept = 0.0
        while True:
            try:
                return self._send(action, body, region)
            except SigcalcloudError as error:
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

    def _send(self, action, body, region):
        def fail(message, **kwargs):
            kwargs.setdefault("action", action)
            kwargs.setdefault("region", region)
            return SigcalcloudError(message, **kwargs)

        try:
            # No redirects: requests would re-send the POST as a GET without the signed form.
            response = self.session.post(self.base_url, data=body, timeout=self.timeout, verify=self.verify,
                                         allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise fail("TLS certificate verification failed for %s: %s. Set ca_path to the CA bundle "
                       "that signed the server's certificate, or validate_certs to false for a test "
                       "endpoint" % (self.base_url, _reason(exc)))
        except requests.exceptions.Timeout:
            raise fail("no answer from %s within the %ss timeout" % (self.base_url, self.timeout), retryable=True)
        except requests.exceptions.ConnectionError as exc:
            raise fail("could not reach %s: %s" % (self.base_url, _reason(exc)), retryable=True)
        except requests.exceptions.RequestException as exc:
            raise fail("request to %s failed: %s" % (self.base_url, _reason(exc)))

        status = response.status_code
        request_id = _request_id(response.headers)
        content = response.content
        if 300 <= status < 400:
            raise fail("the server answered HTTP %s with a redirect to %s: set base_url to the API endpoint "
                       "itself" % (status, response.headers.get("Location", "(no Location)")),
                       http_status=status, request_id=request_id)
        if status in RETRYABLE_HTTP_STATUSES or status >= 400:
            error = fail("the server answered HTTP %s %s" % (status, response.reason or ""),
                         http_status=status, request_id=request_id,
                         retryable=status in RETRYABLE_HTTP_STATUSES)
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise error
        try:
            data = json.loads(content.decode("utf-8"))
        except ValueError:
            # A cut-off or garbled body is usually a proxy or connection hiccup: retry it.
            raise fail("the answer was not JSON (it began with %s)" % _snippet(content),
                       http_status=status, request_id=request_id, retryable=True)
        if not isinstance(data, dict):
            raise fail("the answer was JSON but not an object", http_status=status, request_id=request_id)
        if "RetCode" not in data:
            raise fail("the answer has no RetCode field", http_status=status, request_id=request_id)
        try:
            ret_code = int(data["RetCode"])
        except (TypeError, ValueError):
            raise fail("the answer's RetCode is not an integer: %r" % (data["RetCode"],),
                       http_status=status, request_id=request_id)
        if ret_code != 0:
            message = str(data.get("Message") or "no message")
            hint = RET_CODE_HINTS.get(ret_code)
            raise fail("%s: %s" % (hint, message) if hint else message, ret_code=ret_code,
                       http_status=status, request_id=request_id,
                       retryable=is_retryable_ret_code(ret_code))
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
