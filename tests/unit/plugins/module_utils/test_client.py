# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Signing, encoding, retry decisions and error mapping of the shared client.

The transport itself is exercised against the emulator in test_client_http.py;
here a scripted session stands in for the network so each retry decision is exact.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _client
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

class FakeResponse:
    def __init__(self, status=200, body=b"", headers=None, reason="OK"):
        self.status_code = status
        self.content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}
        self.reason = reason


class ScriptedSession:
    """Answers each post with the next scripted item (a response or an exception)."""

    def __init__(self, script):
        self.script = list(script)
        self.headers = {}
        self.posts = []

    def post(self, url, data, timeout, verify, allow_redirects=True):
        self.posts.append({"url": url, "data": dict(data), "timeout": timeout, "verify": verify,
                           "allow_redirects": allow_redirects})
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


OK = FakeResponse(body={"RetCode": 0, "Action": "XResponse", "TotalCount": 0, "DataSet": []})


def make_client(script, max_retries=3, **kwargs):
    sleeps = []
    backoff = Backoff(max_retries=max_retries, rand=lambda: 0.5, sleep=sleeps.append, **kwargs)
    session = ScriptedSession(script)
    client = Client("pub", "secret", base_url="http://emulator:1", backoff=backoff, session=session, timeout=7)
    return client, session, sleeps


@pytest.mark.parametrize("failure", [
    FakeResponse(429, b"slow down"), FakeResponse(500, b"oops"), FakeResponse(502), FakeResponse(503),
    FakeResponse(504), FakeResponse(200, b'{"RetCode": 0, "DataS'), FakeResponse(200, b"<html>busy</html>"),
    FakeResponse(body={"RetCode": 150, "Message": "Service unavailable"}),
    FakeResponse(body={"RetCode": "153", "Message": "Request rate limited"}),
    FakeResponse(body={"RetCode": 110, "Message": "API timeout"}),
    FakeResponse(body={"RetCode": 130, "Message": "Service error and break"}),
    FakeResponse(body={"RetCode": 20208, "Message": "product hiccup"}),
    _client.requests.exceptions.ConnectionError("reset by peer"),
    _client.requests.exceptions.ReadTimeout("read timed out"),
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
    assert Client("p", "s", validate_certs=False, ca_path="/ca.pem", session=ScriptedSession([])).verify == "/ca.pem"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed_and_say_where_they_lead(status):
    client, session, sleeps = make_client([FakeResponse(status, b"", headers={"Location": "https://elsewhere/"})])
    with pytest.raises(SigcalcloudError) as caught:
        client.call("X", {})
    assert "redirect to https://elsewhere/: set base_url to the API endpoint itself" in str(caught.value)
    assert session.posts[0]["allow_redirects"] is False and sleeps == []
