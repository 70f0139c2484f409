# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Signing, encoding, retry decisions and error mapping of the shared client.

The transport itself is exercised against the emulator in test_client_http.py;
here a scripted session stands in for the network so each retry decision is exact.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import re
import threading
import time
import zlib

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _client
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _text
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import (
    Backoff,
    Client,
    SigcalcloudError,
    encode_value,
    flatten_params,
    parse_retry_after,
    sign,
)

UCLOUD_KEY = "46f09bb9fab4f12dfc160dae12273d5332b5debe"
UCLOUD_PUBLIC = "ucloudsomeone@example.com1296235120854146120"


# --- the test vectors of API.md ----------------------------------------------

def test_vector_foo_bar():
    assert sign(flatten_params({"foo": "bar"}), "my_private_key") == "634edc1bb957c0d65e5ab5494cf3b7784fbc87af"


def test_vector_create_uhost_instance():
    params = {
        "Action": "CreateUHostInstance", "CPU": 2, "ChargeType": "Month", "DiskSpace": 10,
        "ImageId": "f43736e1-65a5-4bea-ad2e-8a46e18883c2", "LoginMode": "Password", "Memory": 2048,
        "Name": "Host01", "Password": "VUNsb3VkLmNu", "PublicKey": UCLOUD_PUBLIC, "Quantity": 1,
        "Region": "cn-bj2", "Zone": "cn-bj2-04",
    }
    assert sign(flatten_params(params), UCLOUD_KEY) == "4f9ef5df2abab2c6fccd1e9515cb7e2df8c6bb65"


def test_vector_describe_uhost_instance():
    params = {"Action": "DescribeUHostInstance", "Region": "cn-bj2", "Limit": 10, "PublicKey": UCLOUD_PUBLIC}
    assert sign(flatten_params(params), UCLOUD_KEY) == "cba5cf5ec4d4233d206b1b54951e3787350a642f"


def test_vector_describe_uredis_backup_through_client():
    client = Client(UCLOUD_PUBLIC, UCLOUD_KEY, base_url="http://127.0.0.1:9")
    body = client.signed_body("DescribeURedisBackup", {"RegionType": "normal", "Offset": 0, "Limit": 100},
                              region="cn-bj2")
    assert body["Signature"] == "f36a986d9a082cd479c64a5615de5eb35bdbce44"
    assert "ProjectId" not in body  # unset values are neither sent nor signed


# --- encoding ----------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (True, "true"), (False, "false"), (0, "0"), (-7, "-7"), (1.0, "1"), (2.5, "2.5"),
    (0.00001, "0.00001"), (1e-7, "0.0000001"), (123456789.125, "123456789.125"),
    ("a&b=c+d e", "a&b=c+d e"), (u"备份 ü", u"备份 ü"),
])
def test_encode_value(value, text):
    assert encode_value(value) == text


def test_encode_value_refuses_nan():
    with pytest.raises(ValueError, match="not a finite number"):
        encode_value(float("nan"))


def test_flatten_lists_and_objects_and_sort_order():
    flat = flatten_params({
        "Backends": ["b%d" % i for i in range(11)],
        "Tag": {"Key": "k", "Value": None},
        "Rules": [{"Port": 80, "Open": True}],
        "Unset": None,
    })
    assert flat["Backends.10"] == "b10"
    assert flat["Tag.Key"] == "k" and "Tag.Value" not in flat
    assert flat["Rules.0.Port"] == "80" and flat["Rules.0.Open"] == "true"
    assert "Unset" not in flat
    ordered = sorted(flat)
    assert ordered.index("Backends.10") < ordered.index("Backends.2")


def test_signature_covers_exactly_what_is_sent():
    client = Client("pub", "secret", base_url="http://127.0.0.1:9", project_id="org-1")
    body = client.signed_body("DescribeURedisBackup", {"GroupId": "a&b=c", "Limit": 5}, region="cn-bj2")
    unsigned = dict((k, v) for k, v in body.items() if k != "Signature")
    assert body["Signature"] == sign(unsigned, "secret")
    assert unsigned == {"Action": "DescribeURedisBackup", "PublicKey": "pub", "Region": "cn-bj2",
                        "ProjectId": "org-1", "GroupId": "a&b=c", "Limit": "5"}
    assert "secret" not in repr(client) and "secret" not in json.dumps(body)


# --- retry decisions ------------------------------------------------------------

class FakeRaw:
    """What the client reads a streamed body from: urllib3's ``raw.read(amt, decode_content)``."""

    def __init__(self, body):
        self.stream = io.BytesIO(body)

    def read(self, amt, decode_content=True):
        assert decode_content is False  # the client inflates bodies itself, within its cap
        return self.stream.read(amt)


class FakeResponse:
    def __init__(self, status=200, body=b"", headers=None, reason="OK"):
        self.status_code = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}
        self.reason = reason
        self.closed = False
        self.raw = FakeRaw(self.body)

    def fresh(self):
        """A copy to answer with: one scripted response may answer twice."""
        return FakeResponse(self.status_code, self.body, self.headers, self.reason)

    def close(self):
        self.closed = True


class ScriptedSession:
    """Answers each post with the next scripted item (a response or an exception)."""

    def __init__(self, script):
        self.script = list(script)
        self.headers = {}
        self.posts = []

    def post(self, url, data, timeout, verify, allow_redirects=True, stream=False):
        self.posts.append({"url": url, "data": dict(data), "timeout": timeout, "verify": verify,
                           "allow_redirects": allow_redirects, "stream": stream})
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item.fresh()


OK = FakeResponse(body={"RetCode": 0, "Action": "XResponse", "TotalCount": 0, "DataSet": []})


def make_client(script, max_retries=3, **kwargs):
    sleeps = []
    backoff = Backoff(max_retries=max_retries, rand=lambda: 0.5, sleep=sleeps.append, **kwargs)
    session = ScriptedSession(script)
    client = Client("pub", "secret", base_url="http://emulator:1", backoff=backoff, session=session, timeout=7)
    return client, session, sleeps


@pytest.mark.parametrize("body, shown", [
    ({"RetCode": 0, "Action": "DescribeURedisGroupResponse", "TotalCount": 0, "DataSet": []},
     "it has Action 'DescribeURedisGroupResponse', expected XResponse"),
    ({"RetCode": 0, "TotalCount": 0, "DataSet": []}, "it has no Action, expected XResponse"),
    ({"RetCode": 0, "Action": ["XResponse"]}, "it has Action ['XResponse'], expected XResponse"),
])
def test_an_answer_to_another_action_is_refused_not_used(body, shown):
    client, session, _sleeps = make_client([FakeResponse(body=body), OK])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {}, region="r1")
    assert "the answer is not one to X: %s; none of it is used" % shown in str(caught.value)
    assert len(session.posts) == 1  # a server that answers another question is not asked again


@pytest.mark.parametrize("code", sorted(_client.FINAL_PRODUCT_RET_CODES))
def test_product_codes_that_are_final_are_not_asked_again(code):
    client, session, _sleeps = make_client([FakeResponse(body={"RetCode": code, "Message": "no"}), OK])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    assert caught.value.ret_code == code and len(session.posts) == 1


def test_a_code_final_for_one_call_is_not_asked_again_there_only():
    answer = FakeResponse(body={"RetCode": 20202, "Message": "get backup url failed"})
    client, session, _sleeps = make_client([answer, OK])
    with pytest.raises(SigcalcloudError):
        client.call("X", {}, final_ret_codes=(20202,))
    assert len(session.posts) == 1
    client, session, _sleeps = make_client([answer, OK])
    assert client.call("X", {})["RetCode"] == 0 and len(session.posts) == 2


def test_a_refusal_that_answers_another_action_is_not_taken_as_a_refusal():
    client, _session, _sleeps = make_client([FakeResponse(body={"RetCode": 230, "Action": "DescribeURedisGroupResponse",
                                                                "Message": "Params [Zone] not available"})])
    with pytest.raises(SigcalcloudError) as caught:
        client.call_once("CreateURedisBackup", {}, region="r1")
    assert "it has Action 'DescribeURedisGroupResponse'" in str(caught.value)
    assert caught.value.ret_code is None and _client.may_have_happened(caught.value)  # a create may have happened


def test_a_connection_never_made_is_known_not_to_have_reached_the_server():
    refused = _transport.requests.exceptions.ConnectionError(
        _transport.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"))
    client, _session, _sleeps = make_client([refused, _transport.requests.exceptions.ConnectionError("reset by peer")])
    for unsent in (True, False):
        with pytest.raises(SigcalcloudError) as caught:
            client.call_once("CreateURedisBackup", {}, region="r1")
        assert caught.value.unsent is unsent and _client.may_have_happened(caught.value) is not unsent


@pytest.mark.parametrize("failure", [
    FakeResponse(429, b"slow down"), FakeResponse(500, b"oops"), FakeResponse(502), FakeResponse(503),
    FakeResponse(504), FakeResponse(200, b'{"RetCode": 0, "DataS'), FakeResponse(200, b"<html>busy</html>"),
    FakeResponse(body={"RetCode": 150, "Message": "Service unavailable"}),
    FakeResponse(body={"RetCode": "153", "Message": "Request rate limited"}),
    FakeResponse(body={"RetCode": 110, "Message": "API timeout"}),
    FakeResponse(body={"RetCode": 130, "Message": "Service error and break"}),
    FakeResponse(body={"RetCode": 20206, "Message": "product hiccup"}),
    _transport.requests.exceptions.ConnectionError("reset by peer"),
    _transport.requests.exceptions.ReadTimeout("read timed out"),
])
def test_transient_failures_are_retried_then_succeed(failure):
    client, session, sleeps = make_client([failure, failure, OK])
    assert client.call("X", {}, region="r1")["RetCode"] == 0
    assert len(session.posts) == 3
    # Exponential: base 0.1 s * 4**n * (1 + jitter 0.5).
    assert sleeps[:2] == [pytest.approx(0.15), pytest.approx(0.6)]
    assert all(post["timeout"] == 7 for post in session.posts)


@pytest.mark.parametrize("answer, words", [
    ({"RetCode": 171, "Message": "Signature VerifyAC Error"}, "signature rejected: check private_key"),
    ({"RetCode": 172, "Message": "User Not Exists"}, "public key not recognised"),
    ({"RetCode": 230, "Message": "Params [Region] not available"}, "Params [Region] not available"),
    ({"RetCode": 210, "Message": "Missing params [Region]"}, "a required parameter is missing"),
    ({"RetCode": 292, "Message": "Project not exist"}, "project not found: check project_id"),
    ({"RetCode": 299, "Message": "IAM permission denied"}, "permission denied"),
    ({"RetCode": 161, "Message": "Action [X] not exist"}, "does not know this action"),
])
def test_request_errors_are_not_retried(answer, words):
    client, session, sleeps = make_client([FakeResponse(body=answer, headers={"X-SIGCALCLOUD-REQUEST-UUID": "req-1"})])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {}, region="cn-bj2")
    assert len(session.posts) == 1 and sleeps == []
    error = caught.value
    assert error.ret_code == answer["RetCode"] and error.request_id == "req-1"
    assert words in str(error) and "region cn-bj2" in str(error) and "request id req-1" in str(error)
    assert "secret" not in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_other_http_errors_are_not_retried(status):
    client, session, _sleeps = make_client([FakeResponse(status, b"no", reason="Nope")])
    with pytest.raises(SigcalcloudError, match="HTTP %d" % status) as caught:
        client.call("X", {})
    assert caught.value.http_status == status and len(session.posts) == 1


@pytest.mark.parametrize("body, words", [
    ([1, 2], "JSON but not an object"),
    ({"Action": "XResponse"}, "no RetCode field"),
    ({"RetCode": "zero"}, "RetCode is not an integer"),
])
def test_malformed_answers_fail_clearly_without_retry(body, words):
    client, session, _sleeps = make_client([FakeResponse(body=body)])
    with pytest.raises(SigcalcloudError, match=words):
        client.call("X", {})
    assert len(session.posts) == 1


def test_retries_are_bounded_and_say_so():
    failure = FakeResponse(503, b"")
    client, session, sleeps = make_client([failure] * 3, max_retries=2)
    with pytest.raises(SigcalcloudError, match=r"HTTP 503.*gave up after 3 attempts"):
        client.call("X", {})
    assert len(session.posts) == 3 and len(sleeps) == 2


def test_retry_budget_bounds_total_sleep():
    client, session, sleeps = make_client([FakeResponse(503)] * 10, max_retries=9, budget=1.0)
    with pytest.raises(SigcalcloudError, match="retry time budget"):
        client.call("X", {})
    assert sum(sleeps) <= 1.0
    assert len(session.posts) == len(sleeps) + 1


def test_retry_after_is_honoured_and_capped():
    client, _session, sleeps = make_client([FakeResponse(429, headers={"Retry-After": "2"}), OK])
    client.call("X", {})
    assert sleeps == [2.0]
    backoff = Backoff(rand=lambda: 0.0)
    assert backoff.delay(0, retry_after=999) == backoff.retry_after_cap
    assert backoff.delay(5) == backoff.cap


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_user_agent_names_collection_and_version():
    session = ScriptedSession([OK])
    Client("pub", "secret", session=session)
    assert session.headers["User-Agent"].startswith("sigcalcloud.cloud/%s " % _client.COLLECTION_VERSION)


def test_collection_version_matches_galaxy_yml():
    import os
    import re
    galaxy = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "galaxy.yml")
    with open(galaxy) as handle:
        version = re.search(r"^version:\s*(\S+)", handle.read(), re.M).group(1)
    assert version == _client.COLLECTION_VERSION


def test_tls_verification_settings():
    assert Client("p", "s", session=ScriptedSession([])).verify is True
    assert Client("p", "s", validate_certs=False, session=ScriptedSession([])).verify is False
    assert Client("p", "s", ca_path="/ca.pem", session=ScriptedSession([])).verify == "/ca.pem"
    # validate_certs: false means no verification at all, whatever ca_path says.
    assert Client("p", "s", validate_certs=False, ca_path="/ca.pem", session=ScriptedSession([])).verify is False


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed_and_say_where_they_lead(status):
    client, session, sleeps = make_client([FakeResponse(status, b"", headers={"Location": "https://elsewhere/"})])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    assert "redirect to https://elsewhere/: set base_url to the API endpoint itself" in str(caught.value)
    assert session.posts[0]["allow_redirects"] is False and sleeps == []


# --- an untrusted server: deadlines, size caps, hostile JSON, text for terminals ------------

class Served:
    """A real HTTP server on 127.0.0.1 answering each POST with ``handler(request_handler)``."""

    def __init__(self, handler):
        served = self
        self.connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                served.connections += 1
                http.server.BaseHTTPRequestHandler.setup(self)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    handler(self)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def answer(handler, body, headers=()):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    for name, value in headers:
        handler.send_header(name, value)
    if not any(name.lower() == "transfer-encoding" for name, _value in headers):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def serve():
    servers = []

    def start(handler):
        servers.append(Served(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


GOOD = json.dumps({"RetCode": 0, "Action": "XResponse", "TotalCount": 0, "DataSet": []}).encode()


def test_good_answers_reuse_one_kept_alive_connection(serve):
    server = serve(lambda h: answer(h, GOOD))
    client = Client("pub", "secret", base_url=server.url)
    for _call in range(20):
        assert client.call("X", {})["RetCode"] == 0
    assert server.connections == 1


@pytest.mark.parametrize("drip_headers", [False, True])
def test_a_dripping_server_is_cut_off_at_the_deadline(serve, drip_headers):
    def drip(handler):
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(GOOD)
        if not drip_headers:
            handler.wfile.write(head)
            handler.wfile.flush()
        for byte in (head if drip_headers else b"") + GOOD:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.3)  # each byte well within the socket timeout

    server = serve(drip)
    client = Client("pub", "secret", base_url=server.url, timeout=1, backoff=Backoff(max_retries=1, rand=lambda: 0.0))
    started = time.monotonic()
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    elapsed = time.monotonic() - started
    assert "no answer from %s/ within the 1s timeout" % server.url in str(caught.value)
    assert "gave up after 2 attempts" in str(caught.value)
    assert 2.0 <= elapsed < 4.0  # two attempts of 1 s and one short wait; the body needs 20 s


@pytest.mark.parametrize("headers, body, words", [
    ([], b" " * (_transport.MAX_ANSWER_BYTES + 1), "the answer is %d bytes, more than the 8 MiB" % (_transport.MAX_ANSWER_BYTES + 1)),
    ([("Content-Encoding", "gzip")], gzip.compress(b" " * (64 << 20)), "more than the 8 MiB an answer may be once inflated"),
    ([("Content-Encoding", "deflate")], zlib.compress(b" " * (64 << 20)), "more than the 8 MiB an answer may be once inflated"),
    ([("Content-Encoding", "br")], b"x", "Content-Encoding 'br', which was not asked for"),
])
def test_an_answer_over_the_cap_is_refused_and_not_retried(serve, headers, body, words):
    calls = []

    def handler(h):
        calls.append(1)
        answer(h, body, headers)

    server = serve(handler)
    client = Client("pub", "secret", base_url=server.url, backoff=Backoff(max_retries=3))
    with pytest.raises(SigcalcloudError, match=re.escape(words)):
        client.call("X", {})
    assert len(calls) == 1


def test_a_chunked_answer_over_the_cap_is_refused(serve):
    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b" " * (1 << 20)
        for _chunk in range(12):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")

    server = serve(chunked)
    with pytest.raises(SigcalcloudError, match="the answer is more than the 8 MiB an answer may be"):
        Client("pub", "secret", base_url=server.url).call("X", {})


def test_a_gzip_answer_within_the_cap_is_read(serve):
    server = serve(lambda h: answer(h, gzip.compress(GOOD), [("Content-Encoding", "gzip")]))
    assert Client("pub", "secret", base_url=server.url).call("X", {})["TotalCount"] == 0


@pytest.mark.parametrize("body, words", [
    (b'{"RetCode": 0, "DataSet": ' + b"[" * 100000 + b"]" * 100000 + b"}", "nested too deeply"),
    (b'{"RetCode": Infinity}', "the answer holds Infinity, which is not a number an API sends"),
    (b'{"RetCode": NaN}', "the answer holds NaN"),
    (b'{"RetCode": 1e400}', "the answer holds 1e400"),
    (b'{"RetCode": 0, "TotalCount": ' + b"9" * 5000 + b"}", "the answer could not be read: Exceeds the limit"),
    (b'{"RetCode": 0.9}', "RetCode is not an integer from 0 to 2147483647: 0.9"),
    (b'{"RetCode": true}', "RetCode is not an integer from 0 to 2147483647: True"),
    (b'{"RetCode": -1}', "RetCode is not an integer from 0 to 2147483647: -1"),
    (b'{"RetCode": 99999999999}', "RetCode is not an integer from 0 to 2147483647"),
])
def test_hostile_json_is_refused_once_with_the_one_error_type(body, words):
    client, session, _sleeps = make_client([FakeResponse(body=body)])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {}, region="cn-bj2")
    assert words in str(caught.value) and "region cn-bj2" in str(caught.value)
    assert caught.value.http_status == 200 and len(session.posts) == 1


def test_a_ret_code_as_a_string_of_digits_is_read():
    client, _session, _sleeps = make_client([FakeResponse(body={"RetCode": "0", "Action": "XResponse"})])
    assert client.call("X", {})["RetCode"] == "0"


def test_server_text_in_errors_is_escaped_for_terminals():
    hostile = "\x1b[2J\x1b[H\r\nok: [localhost]\x1b]0;pwned\x07\u202e"
    client, _session, _sleeps = make_client([FakeResponse(
        body={"RetCode": 230, "Message": hostile}, headers={"X-SIGCALCLOUD-REQUEST-UUID": "\x1b[31mid"})])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    text = str(caught.value)
    assert "\\x1b[2J\\x1b[H\\r\\nok: [localhost]\\x1b]0;pwned\\x07\\u202e" in text
    assert not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in text)
    assert caught.value.request_id == "\\x1b[31mid"


def test_a_long_message_is_clipped():
    client, _session, _sleeps = make_client([FakeResponse(body={"RetCode": 230, "Message": "x" * 100000})])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    assert len(str(caught.value)) < 700 and "(100000 characters in all)" in str(caught.value)


@pytest.mark.parametrize("url, shown", [
    ("https://alice:secret@gw.example/", "https://<redacted>@gw.example/"),
    ("http://token@127.0.0.1:8080", "http://<redacted>@127.0.0.1:8080"),
    ("https://gw.example/a@b", "https://gw.example/a@b"),
])
def test_userinfo_in_base_url_is_never_shown(url, shown):
    client = Client("pub", "secret", base_url=url, session=ScriptedSession([
        _transport.requests.exceptions.ConnectionError("refused")]), backoff=Backoff(max_retries=0))
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    assert shown.rstrip("/") in str(caught.value) and "secret" not in str(caught.value)
    assert "secret" not in repr(client)
    assert _text.redact_url("see %s and more" % url) == "see %s and more" % shown


def test_url_secrets():
    assert _text.url_secrets("https://alice:pw@h/") == ["alice:pw", "pw"]
    assert _text.url_secrets("https://token@h/") == ["token"]
    assert _text.url_secrets("https://h/x@y") == [] and _text.url_secrets(None) == []


@pytest.mark.parametrize("ca_path, words", [
    (None, "Set ca_path to the CA bundle"),
    ("/etc/ca.pem", "The server's certificate is not signed by a CA in ca_path /etc/ca.pem"),
])
def test_tls_failures_say_what_applies(ca_path, words):
    error = _transport.requests.exceptions.SSLError("certificate verify failed")
    client = Client("p", "s", ca_path=ca_path, session=ScriptedSession([error]), backoff=Backoff(max_retries=0))
    with pytest.raises(SigcalcloudError, match=re.escape(words)):
        client.call("X", {})
    client = Client("p", "s", ca_path=ca_path, validate_certs=False, session=ScriptedSession([error]))
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    assert "validate_certs is false, so certificates were not checked" in str(caught.value)
    assert "Set ca_path" not in str(caught.value) and "validate_certs to false" not in str(caught.value)


def test_a_password_holding_an_at_sign_is_hidden_whole():
    assert _text.redact_url("https://a:p@ss@gw/x@y") == "https://<redacted>@gw/x@y"
    assert _text.url_secrets("https://a:p@ss@gw/") == ["a:p@ss", "p@ss"]
