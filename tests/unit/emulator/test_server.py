# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The API emulator, checked on the wire against API.md.

Requests are signed and sent by emulator_helpers.py (written from API.md, not by the
collection's client, so the check is independent). What a listing must hold is worked
out from the data set by ``expected`` below, a second reading of the API's rules, not the
emulator's own code.
"""

from __future__ import annotations

import hashlib
import json
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import uuid
from http.client import HTTPConnection, HTTPException

import pytest

from emulator.server import Emulator, FaultPlan, default_epoch, generate_dataset, load_dataset, main, sign
from emulator_helpers import (DEMO_PRIVATE, DEMO_PUBLIC, EPOCH, OTHER_PRIVATE, OTHER_PUBLIC, REGIONS, ROOT, SERVER, Reply, api,
                              attempt, control, fresh_data, http, is_connection_error, is_timeout, not_json, run_cli, send,
                              signature, signed)

ACTION = "DescribeURedisBackup"
HIDDEN = ("Region", "ProjectId", "SlaveZone")
STATES = {"Success", "Error", "Expired", "Backuping"}
BAD_BODY_KINDS = ("truncated", "html", "empty", "retcode150", "no_retcode", "dataset_not_list", "bad_row_types")
ALL_KINDS = ("429", "500", "502", "503", "504", "reset", "hang") + BAD_BODY_KINDS


# --- the requests of a listing ---------------------------------------------------------------

def base_params(**overrides):
    """DescribeURedisBackup of cn-bj2 for the demo key; an override of None drops the parameter."""
    params = {"Action": ACTION, "PublicKey": DEMO_PUBLIC, "Region": "cn-bj2", "RegionType": "normal"}
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return params


def listing(target, method="POST", private_key=DEMO_PRIVATE, **overrides):
    """A signed request that must succeed: its document."""
    document = api(target, base_params(**overrides), private_key, method)
    assert document["RetCode"] == 0, document
    assert document["Action"] == ACTION + "Response"
    return document


# --- what the API should answer, worked out from the data set -----------------------------

def public(row):
    return dict((key, value) for key, value in row.items() if key not in HIDDEN)


def expected(data, region="cn-bj2", project="org-demo", region_type="normal", **filters):
    """Every row a listing must hold, newest first, as the API returns them."""
    rows = []
    for row in data["backups"]:
        cross = "SrcRegionName" in row or "DstRegionName" in row
        if row["ProjectId"] != project:
            continue
        if region_type == "normal":
            wanted = not cross and row["Region"] == region
        elif region_type == "source":
            wanted = cross and row.get("SrcRegionName") == region
        else:
            wanted = cross and row.get("DstRegionName") == region
        if wanted and all(row.get(key) == value for key, value in filters.items()):
            rows.append(public(row))
    return sorted(rows, key=lambda row: (-row["BackupTime"], row["BackupId"]))


def good_document(data, limit=10, **kwargs):
    rows = expected(data, **kwargs)
    return {"RetCode": 0, "Action": ACTION + "Response", "TotalCount": len(rows), "DataSet": rows[:limit]}


# sha256 of json.dumps(generate_dataset(), sort_keys=True, ensure_ascii=False): see its test.
GOLDEN_DIGEST = "81e061babeb0e7078c08ef7b40563c067ee59eae7d464cb8d0d790d425aa83b6"
# The same without its "groups": the data set before groups were added, which they left as it was.
GOLDEN_DIGEST_WITHOUT_GROUPS = "c229f06d8af0e2a342f26026e6880094f4b84dfd8fa87bbc2c4a8b43191cefcb"


# --- signing --------------------------------------------------------------------------------

UCLOUD_KEY = "46f09bb9fab4f12dfc160dae12273d5332b5debe"
UCLOUD_PUBLIC = "ucloudsomeone@example.com1296235120854146120"


@pytest.mark.parametrize("private_key, params, expected_signature", [
    ("my_private_key", {"foo": "bar"}, "634edc1bb957c0d65e5ab5494cf3b7784fbc87af"),
    (UCLOUD_KEY, {"Action": "CreateUHostInstance", "CPU": "2", "ChargeType": "Month", "DiskSpace": "10",
                  "ImageId": "f43736e1-65a5-4bea-ad2e-8a46e18883c2", "LoginMode": "Password", "Memory": "2048",
                  "Name": "Host01", "Password": "VUNsb3VkLmNu", "PublicKey": UCLOUD_PUBLIC, "Quantity": "1",
                  "Region": "cn-bj2", "Zone": "cn-bj2-04"}, "4f9ef5df2abab2c6fccd1e9515cb7e2df8c6bb65"),
    (UCLOUD_KEY, {"Action": "DescribeUHostInstance", "Region": "cn-bj2", "Limit": "10", "PublicKey": UCLOUD_PUBLIC},
     "cba5cf5ec4d4233d206b1b54951e3787350a642f"),
    (UCLOUD_KEY, {"Action": "DescribeURedisBackup", "PublicKey": UCLOUD_PUBLIC, "Region": "cn-bj2",
                  "RegionType": "normal", "Offset": "0", "Limit": "100"}, "f36a986d9a082cd479c64a5615de5eb35bdbce44"),
], ids=["foo-bar", "CreateUHostInstance", "DescribeUHostInstance", "DescribeURedisBackup"])
def test_signing_matches_the_api_test_vectors(private_key, params, expected_signature):
    assert signature(params, private_key) == expected_signature  # the helper these tests sign with
    assert sign(params, private_key) == expected_signature  # the emulator's own


# --- RetCodes ---------------------------------------------------------------------------------

def _signed(**overrides):
    return signed(base_params(**overrides))


RETCODE_CASES = [
    ("missing Action", lambda: _signed(Action=None), 160, "Missing Action"),
    ("empty Action", lambda: _signed(Action=""), 160, "Missing Action"),
    ("unknown Action", lambda: _signed(Action="DescribeUHostInstance"), 161,
     "Action [DescribeUHostInstance] not exist"),
    ("missing Signature", base_params, 170, "Missing signature"),
    ("empty Signature", lambda: dict(base_params(), Signature=""), 170, "Missing signature"),
    ("unknown PublicKey", lambda: _signed(PublicKey="nobody-public-key"), 172, "User Not Exists"),
    ("missing PublicKey", lambda: _signed(PublicKey=None), 172, "User Not Exists"),
    ("wrong private key", lambda: signed(base_params(), "not-the-private-key"), 171, "Signature VerifyAC Error"),
    ("another account's private key", lambda: signed(base_params(), OTHER_PRIVATE), 171, "Signature VerifyAC Error"),
    ("parameter added after signing", lambda: dict(_signed(), Limit="11"), 171, "Signature VerifyAC Error"),
    ("parameter changed after signing", lambda: dict(_signed(), Region="cn-sh2"), 171, "Signature VerifyAC Error"),
    ("non-ASCII Signature", lambda: dict(base_params(), Signature=u"\u00fc" * 40), 171, "Signature VerifyAC Error"),
    ("missing Region", lambda: _signed(Region=None), 210, "Missing params [Region]"),
    ("unknown Region", lambda: _signed(Region="mars-1"), 230, "Params [Region] not available"),
    ("unknown ProjectId", lambda: _signed(ProjectId="org-nope"), 292, "Project not exist"),
    ("project of another account", lambda: _signed(ProjectId="org-other"), 299, "IAM permission denied"),
    ("neither GroupId nor RegionType", lambda: _signed(RegionType=None), 210, "Missing params [GroupId]"),
    ("bad RegionType", lambda: _signed(RegionType="cross"), 230, "Params [RegionType] not available"),
    ("negative Offset", lambda: _signed(Offset=-1), 230, "Params [Offset] not available"),
    ("non-integer Offset", lambda: _signed(Offset="abc"), 230, "Params [Offset] not available"),
    ("fractional Offset", lambda: _signed(Offset="1.5"), 230, "Params [Offset] not available"),
    ("Limit 0", lambda: _signed(Limit=0), 230, "Params [Limit] not available"),
    ("negative Limit", lambda: _signed(Limit=-5), 230, "Params [Limit] not available"),
    ("non-integer Limit", lambda: _signed(Limit="ten"), 230, "Params [Limit] not available"),
    ("fractional Limit", lambda: _signed(Limit="2.5"), 230, "Params [Limit] not available"),
    ("Offset with a sign", lambda: _signed(Offset="+1"), 230, "Params [Offset] not available"),
    ("Offset in non-ASCII digits", lambda: _signed(Offset=u"\u0663"), 230, "Params [Offset] not available"),
    ("Limit with spaces", lambda: _signed(Limit=" 5"), 230, "Params [Limit] not available"),
]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("make_params, ret_code, message", [case[1:] for case in RETCODE_CASES],
                         ids=[case[0] for case in RETCODE_CASES])
def test_retcode(shared, make_params, ret_code, message, method):
    params = make_params()
    reply = send(shared, params, method)
    assert reply.status == 200  # the gateway refuses in the body, not with an HTTP status
    document = reply.json()
    assert document["RetCode"] == ret_code
    assert document["Message"] == message
    assert document["Action"] == (params.get("Action") or "") + "Response"
    assert "DataSet" not in document and "TotalCount" not in document
    assert DEMO_PRIVATE not in reply.body.decode("utf-8")


@pytest.mark.parametrize("params, ret_code", [
    (lambda: base_params(Action=None, Region=None), 160),  # no Action goes before no Signature
    (lambda: dict(base_params(Action="Nope"), Signature="x"), 161),  # unknown Action before a bad Signature
    (lambda: base_params(PublicKey="nobody", Region=None), 170),  # no Signature before an unknown key
    (lambda: dict(base_params(PublicKey="nobody"), Signature="x"), 172),  # unknown key before the signature check
    (lambda: signed(base_params(Region=None), "wrong"), 171),  # the signature before the parameters
    (lambda: _signed(Region=None, ProjectId="org-nope", RegionType=None), 210),
    (lambda: _signed(Region="mars-1", ProjectId="org-nope"), 230),
    (lambda: _signed(ProjectId="org-nope", RegionType=None), 292),
    (lambda: _signed(ProjectId="org-other", RegionType=None), 299),
    (lambda: _signed(RegionType=None, Offset=-1), 210),
    (lambda: _signed(RegionType="x", Offset=-1), 230),
], ids=["160", "161", "170", "172", "171", "210 Region", "230 Region", "292", "299", "210 GroupId", "230 RegionType"])
def test_checks_go_in_the_gateways_order(shared, params, ret_code):
    assert send(shared, params()).json()["RetCode"] == ret_code


def test_the_same_request_signed_right_succeeds(shared):
    # The positive control of the cases above: each differs from this one by its defect alone.
    document = listing(shared)
    assert document["TotalCount"] == 30 and len(document["DataSet"]) == 10


def test_another_account_reads_its_own_project(shared):
    params = base_params(PublicKey=OTHER_PUBLIC)
    document = api(shared, params, OTHER_PRIVATE)
    assert document == good_document(shared.data, project="org-other")
    assert document["TotalCount"] == 2
    assert api(shared, base_params(PublicKey=OTHER_PUBLIC, ProjectId="org-demo"), OTHER_PRIVATE) == {
        "RetCode": 299, "Action": ACTION + "Response", "Message": "IAM permission denied"}


# --- transport ------------------------------------------------------------------------------

def test_post_form_body_and_get_query_string_give_the_same_answer(shared):
    params = signed(base_params(Limit=5, Offset=3))
    post, get = send(shared, params, "POST"), send(shared, params, "GET")
    assert post.status == get.status == 200
    assert post.json() == get.json() == {"RetCode": 0, "Action": ACTION + "Response", "TotalCount": 30,
                                         "DataSet": expected(shared.data)[3:8]}
    assert post.headers["Content-Type"].startswith("application/json")


def test_json_answers_say_application_json(shared):
    for params in (signed(base_params()), base_params()):
        assert send(shared, params).headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("length", ["-1", "many", str(64 << 20)])
def test_a_bad_content_length_is_400(shared, length):
    connection = HTTPConnection("127.0.0.1", shared.port, timeout=5)
    try:
        connection.putrequest("POST", "/")
        connection.putheader("Content-Length", length)
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 400 and response.read() == b"bad Content-Length"
    finally:
        connection.close()


def test_unknown_path_is_404(shared):
    reply = send(shared.base_url + "/v2", signed(base_params()))
    assert reply.status == 404


@pytest.mark.parametrize("how", ["success", "retcode error", "control path", "unknown path", "fault"])
def test_every_answer_carries_a_request_uuid(make_emulator, shared, how):
    emu = make_emulator(faults=FaultPlan(schedule={1: "503", 2: "503"})) if how == "fault" else shared
    if how == "success":
        replies = [send(emu, signed(base_params())) for _round in range(2)]
    elif how == "retcode error":
        replies = [send(emu, base_params()) for _round in range(2)]
    elif how == "control path":
        replies = [control(emu, "stats") for _round in range(2)]
    elif how == "unknown path":
        replies = [http(emu.base_url + "/nowhere") for _round in range(2)]
    else:
        replies = [send(emu, signed(base_params())) for _round in range(2)]
        assert [reply.status for reply in replies] == [503, 503]
    ids = [reply.headers["X-SIGCALCLOUD-REQUEST-UUID"] for reply in replies]
    assert all(str(uuid.UUID(value)) == value for value in ids)
    assert ids[0] != ids[1]


# --- paging ---------------------------------------------------------------------------------

def test_limit_defaults_to_10(shared):
    document = listing(shared)
    assert document == good_document(shared.data, limit=10)
    assert len(document["DataSet"]) == 10 and document["TotalCount"] == 30


def test_pages_put_together_are_the_whole_listing(shared):
    pages = [listing(shared, Offset=offset, Limit=7) for offset in range(0, 30, 7)]
    assert [len(page["DataSet"]) for page in pages] == [7, 7, 7, 7, 2]
    assert all(page["TotalCount"] == 30 for page in pages)
    assert [row for page in pages for row in page["DataSet"]] == expected(shared.data)


@pytest.mark.parametrize("limit, offset, rows", [(100, 0, 7), (5, 0, 5), (None, 0, 7), (100, 28, 2), (7, 7, 7)])
def test_the_server_caps_a_page_at_max_page_size(make_emulator, limit, offset, rows):
    emu = make_emulator(max_page_size=7)
    document = listing(emu, Limit=limit, Offset=offset)
    assert document["TotalCount"] == 30
    assert document["DataSet"] == expected(emu.data)[offset:offset + rows]


@pytest.mark.parametrize("offset", [30, 31, 10 ** 6])
def test_an_offset_past_the_end_gives_an_empty_page(shared, offset):
    document = listing(shared, Offset=offset, Limit=10)
    assert document["DataSet"] == [] and document["TotalCount"] == 30


def test_rows_come_newest_first(shared):
    rows = listing(shared, Limit=100, Region="cn-sh2")["DataSet"]
    times = [row["BackupTime"] for row in rows]
    assert len(times) == 30 and len(set(times)) > 20
    assert times == sorted(times, reverse=True)
    assert rows == expected(shared.data, region="cn-sh2")


# --- filters and fields ---------------------------------------------------------------------

def test_group_id_filter(shared):
    data = shared.data
    groups = sorted(set(row["GroupId"] for row in expected(data)))
    assert len(groups) == 6
    for group in groups:
        rows = expected(data, GroupId=group)
        assert 0 < len(rows) < 30
        document = listing(shared, GroupId=group, Limit=100)
        assert document["DataSet"] == rows and document["TotalCount"] == len(rows)
        # GroupId alone (no RegionType) is enough, and means the normal listing
        assert listing(shared, GroupId=group, RegionType=None, Limit=100)["DataSet"] == rows


def test_backup_id_filter(shared):
    data = shared.data
    wanted = expected(data)[4]
    document = listing(shared, BackupId=wanted["BackupId"])
    assert document["DataSet"] == [wanted] and document["TotalCount"] == 1
    elsewhere = expected(data, region="hk")[0]["BackupId"]
    assert listing(shared, BackupId=elsewhere)["DataSet"] == []
    assert listing(shared, BackupId="no-such-backup") == {
        "RetCode": 0, "Action": ACTION + "Response", "TotalCount": 0, "DataSet": []}


def test_slave_zone_filter(shared):
    data = shared.data
    zones = sorted(set(row["SlaveZone"] for row in data["backups"] if row["Region"] == "cn-bj2" and "SlaveZone" in row))
    assert zones
    for zone in zones:
        rows = expected(data, SlaveZone=zone)
        assert 0 < len(rows) < 30
        assert listing(shared, SlaveZone=zone, Limit=100)["DataSet"] == rows
    assert listing(shared, SlaveZone="cn-bj2-99")["DataSet"] == []


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("region_type", ["normal", "source", "target"])
def test_region_type_filter(shared, region, region_type):
    data = shared.data
    rows = expected(data, region=region, region_type=region_type)
    assert len(rows) == (30 if region_type == "normal" else 2)
    document = listing(shared, Region=region, RegionType=region_type, Limit=100)
    assert document["DataSet"] == rows and document["TotalCount"] == len(rows)
    if region_type == "source":
        assert set(row["SrcRegionName"] for row in rows) == {region}
    if region_type == "target":
        assert set(row["DstRegionName"] for row in rows) == {region}
        assert all(row["SrcRegionName"] != region for row in rows)


def test_project_id_filter(shared):
    data = shared.data
    second = listing(shared, ProjectId="org-second", Limit=100)
    assert second["DataSet"] == expected(data, project="org-second") and second["TotalCount"] == 3
    explicit = listing(shared, ProjectId="org-demo", Limit=100)
    assert explicit == listing(shared, Limit=100)  # no ProjectId: the account's default project
    assert explicit["DataSet"] == expected(data, project="org-demo")
    assert not set(row["BackupId"] for row in second["DataSet"]) & set(row["BackupId"] for row in explicit["DataSet"])


def test_hidden_fields_are_never_returned(shared):
    data = shared.data
    answers = [listing(shared, Region=region, RegionType=kind, Limit=100)
               for region in REGIONS for kind in ("normal", "source", "target")]
    answers.append(listing(shared, ProjectId="org-second", Limit=100))
    answers.append(listing(shared, SlaveZone="cn-bj2-03", Limit=100))
    rows = [row for answer in answers for row in answer["DataSet"]]
    assert len(rows) == 3 * 30 + 3 * 2 * 2 + 3 + len(expected(data, SlaveZone="cn-bj2-03"))
    assert [row for row in rows if set(HIDDEN) & set(row)] == []
    assert any("SlaveZone" in row for row in data["backups"])  # the data does hold them


def test_rows_missing_optional_fields_stay_missing(shared):
    stored = dict((row["BackupId"], row) for row in shared.data["backups"])
    rows = listing(shared, Limit=100)["DataSet"]
    for row in rows:
        assert set(row) == set(stored[row["BackupId"]]) - set(HIDDEN)
        assert None not in row.values()
    assert any("MemorySize" not in row and "RedisVersion" not in row for row in rows)
    assert any("Zone" not in row for row in rows)
    assert any("MemorySize" in row for row in rows)


AWKWARD_VALUES = ["a&b=c+d", "two  spaces + plus", "line\nbreak\r\nand\ttab", u"\u7f13\u5b58 \u00fcn\u00efcode \u2713",
                  "100% %41 sure", "semi;colon?x=1#frag", "a&b"]


@pytest.fixture(scope="module")
def awkward():
    data = fresh_data()
    for number, value in enumerate(AWKWARD_VALUES):
        data["backups"].append({"Region": "cn-bj2", "ProjectId": "org-demo", "BackupId": "awkward-%d" % number,
                                "BackupName": value, "BackupTime": EPOCH + number, "BackupSize": 1,
                                "BackupType": "Manual", "State": "Success", "GroupId": value, "GroupName": value})
    with Emulator(data=data) as emu:
        yield emu


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("number", range(len(AWKWARD_VALUES)), ids=[repr(value) for value in AWKWARD_VALUES])
def test_awkward_values_round_trip_as_a_group_id_filter(awkward, method, number):
    value = AWKWARD_VALUES[number]
    document = listing(awkward, method=method, GroupId=value, RegionType=None)
    assert document["TotalCount"] == 1
    assert [(row["BackupId"], row["GroupId"], row["BackupName"]) for row in document["DataSet"]] == [
        ("awkward-%d" % number, value, value)]


# --- faults -----------------------------------------------------------------------------------

def check_fault(kind, result, good):
    """Assert that ``result`` is what a client sees of fault ``kind``; ``good`` is the right answer."""
    if kind == "reset":
        assert is_connection_error(result), result
        return
    if kind == "hang":
        assert is_timeout(result), result
        return
    assert isinstance(result, Reply), result
    if kind in ("429", "500", "502", "503", "504"):
        assert result.status == int(kind)
        assert result.headers.get("Retry-After") == ("1" if kind == "429" else None)
        assert result.headers["Content-Type"].startswith("text/html") and not_json(result.body)
        return
    assert result.status == 200, result
    if kind == "truncated":
        whole = json.dumps(good, ensure_ascii=False).encode("utf-8")
        assert result.body == whole[:len(whole) // 2] and not_json(result.body)
    elif kind == "html":
        assert result.headers["Content-Type"].startswith("text/html")
        assert result.body.startswith(b"<!DOCTYPE html>") and not_json(result.body)
    elif kind == "empty":
        assert result.body == b""
    elif kind == "retcode150":
        assert result.json() == {"RetCode": 150, "Action": ACTION + "Response", "Message": "Service unavailable"}
    elif kind == "no_retcode":
        assert result.json() == dict((key, value) for key, value in good.items() if key != "RetCode")
    elif kind == "dataset_not_list":
        assert result.json() == dict(good, DataSet="not a list")
    elif kind == "bad_row_types":
        rows = result.json()["DataSet"]
        assert [row["BackupId"] for row in rows] == [row["BackupId"] for row in good["DataSet"]]
        assert all(row["BackupTime"] == "yesterday" and row["BackupSize"] == [1] for row in rows)
    else:
        raise AssertionError("no check for %s" % kind)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_scheduled_fault(make_emulator, kind):
    emu = make_emulator(faults=FaultPlan(schedule={1: kind}), hang_seconds=0.3)
    good = good_document(emu.data)
    first = attempt(emu, signed(base_params()), timeout=0.1 if kind == "hang" else 5)
    check_fault(kind, first, good)
    assert api(emu, base_params()) == good  # request 2 is not in the schedule
    stats = emu.stats()
    assert stats["api_requests"] == 2 and stats["faults_injected"] == 1


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_fail_region_fault(make_emulator, kind):
    emu = make_emulator(fail_regions={"cn-sh2": kind}, hang_seconds=0.3)
    good = good_document(emu.data, region="cn-sh2")
    for _round in range(2):  # every request for the region fails, not just the first
        result = attempt(emu, signed(base_params(Region="cn-sh2")), timeout=0.1 if kind == "hang" else 5)
        check_fault(kind, result, good)
    assert api(emu, base_params(Region="cn-bj2")) == good_document(emu.data, region="cn-bj2")
    assert emu.stats()["faults_injected"] == 2


def test_a_hang_answers_after_hang_seconds_and_blocks_no_one_else(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "hang"}), hang_seconds=0.4)
    outcome = {}

    def hanging():
        start = time.monotonic()
        outcome["reply"] = send(emu, signed(base_params()))
        outcome["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=hanging)
    thread.start()
    while emu.stats()["api_requests"] < 1:
        time.sleep(0.01)
    start = time.monotonic()
    assert api(emu, base_params()) == good_document(emu.data)
    assert time.monotonic() - start < 0.4
    thread.join(5)
    assert outcome["elapsed"] >= 0.4
    assert outcome["reply"].json() == good_document(emu.data)


def test_fail_regions_and_a_fault_plan_combine(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "502"}), fail_regions={"hk": "504"})
    assert send(emu, signed(base_params())).status == 502
    assert send(emu, signed(base_params(Region="hk"))).status == 504
    assert send(emu, signed(base_params())).status == 200


def outcome_of(result):
    if isinstance(result, Reply):
        if result.status != 200:
            return str(result.status)
        if result.body == b"" or not_json(result.body):
            return "garbled"
        return "RetCode %s" % result.json().get("RetCode")
    return type(result).__name__


def test_a_seeded_fault_rate_is_reproducible(make_emulator):
    def run(seed):
        emu = make_emulator(faults=FaultPlan(rate=0.5, kinds=("500", "503", "html", "retcode150", "empty"), seed=seed))
        outcomes = [outcome_of(attempt(emu, signed(base_params()))) for _round in range(24)]
        return outcomes, emu.stats()["faults_injected"]

    first, faults = run(11)
    second, faults_again = run(11)
    assert first == second and faults == faults_again
    assert faults == sum(outcome != "RetCode 0" for outcome in first)
    assert 0 < faults < 24
    assert set(first) - {"RetCode 0"} <= {"500", "503", "garbled", "RetCode 150"}
    assert run(12)[0] != first  # the seed, not chance, decides


@pytest.mark.parametrize("plan", [dict(kinds=("boom",)), dict(schedule={1: "boom"}), dict(fail_regions={"hk": "boom"})],
                         ids=["kinds", "schedule", "fail_regions"])
def test_fault_plan_refuses_an_unknown_kind(plan):
    with pytest.raises(ValueError, match=r"^unknown fault kind 'boom'; known: 429, 500"):
        FaultPlan(**plan)


# --- latency and statistics ---------------------------------------------------------------------

def test_latency_delays_every_api_answer(make_emulator):
    emu = make_emulator(latency=0.2)
    for params in (signed(base_params()), base_params()):  # a refusal is delayed too
        start = time.monotonic()
        reply = send(emu, params)
        assert time.monotonic() - start >= 0.2
        assert reply.status == 200


def test_stats_count_requests_regions_and_faults(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={2: "503"}))
    assert send(emu, signed(base_params())).status == 200
    assert send(emu, signed(base_params())).status == 503
    assert send(emu, signed(base_params(Region="cn-sh2"))).status == 200
    assert send(emu, signed(base_params(Region="hk"))).status == 200
    assert send(emu, signed(base_params(Region=None))).json()["RetCode"] == 210
    expected_stats = {"requests": 6, "api_requests": 5, "peak_concurrency": 1, "faults_injected": 1,
                      "by_region": {"cn-bj2": 2, "cn-sh2": 1, "hk": 1, "": 1},
                      "by_action": {"DescribeURedisBackup": 5}, "creates": 0, "downloads": 0, "download_bytes": 0,
                      "group_creates": 0, "group_deletes": 0,
                      "redis_servers": 0, "snapshots": 0, "restored_keys_dropped": 0}
    assert control(emu, "stats").json() == expected_stats  # the stats request counts itself
    assert emu.stats() == expected_stats


def test_peak_concurrency_counts_requests_in_flight_together(make_emulator):
    emu = make_emulator(latency=0.2)
    threads_count = 5
    barrier = threading.Barrier(threads_count)
    replies = []

    def worker():
        barrier.wait()
        replies.append(send(emu, signed(base_params())))

    threads = [threading.Thread(target=worker) for _round in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [reply.status for reply in replies] == [200] * threads_count
    stats = emu.stats()
    assert stats["api_requests"] == threads_count
    assert 4 <= stats["peak_concurrency"] <= threads_count
    assert "in_flight" not in stats
    send(emu, signed(base_params()))
    assert emu.stats()["peak_concurrency"] == stats["peak_concurrency"]  # a peak, not the last value


def test_sequential_requests_never_count_as_concurrent(make_emulator):
    # A client that sends its next request as soon as it has read an answer is not concurrent.
    emu = make_emulator()
    for _round in range(300):
        assert send(emu, base_params()).status == 200
    assert emu.stats()["peak_concurrency"] == 1


# --- /_emulator/ control paths ---------------------------------------------------------------

def test_control_stats_and_reset_stats(make_emulator):
    emu = make_emulator()
    listing(emu)
    listing(emu, Region="hk")
    assert control(emu, "stats").json()["api_requests"] == 2
    reply = control(emu, "reset_stats", b"")
    assert reply.status == 200 and reply.json() == {"ok": True} and reply.json()["ok"] is True
    assert emu.stats() == {"requests": 0, "api_requests": 0, "peak_concurrency": 0, "faults_injected": 0,
                           "by_region": {}, "by_action": {}, "creates": 0, "downloads": 0, "download_bytes": 0,
                           "group_creates": 0, "group_deletes": 0,
                           "redis_servers": 0, "snapshots": 0, "restored_keys_dropped": 0}
    assert control(emu, "stats").json()["requests"] == 1


def test_control_get_backups_is_the_whole_data_set(make_emulator):
    emu = make_emulator()
    reply = control(emu, "backups")
    assert reply.status == 200 and reply.json() == fresh_data()
    assert emu.stats()["api_requests"] == 0  # control paths need no signature and are not API requests


def test_control_post_backups_upserts_and_deletes(make_emulator):
    emu = make_emulator()
    before = listing(emu, Limit=100)["DataSet"]
    new = {"Region": "cn-bj2", "ProjectId": "org-demo", "BackupId": "added-1", "BackupName": "fresh",
           "BackupTime": EPOCH + 10, "BackupSize": 5, "BackupType": "Manual", "State": "Backuping",
           "GroupId": "uredis-new", "GroupName": "new", "SlaveZone": "cn-bj2-02"}
    reply = control(emu, "backups", {"upsert": [new]})
    assert reply.status == 200 and reply.json() == {"ok": True, "backups": len(fresh_data()["backups"]) + 1}
    assert reply.json()["ok"] is True
    document = listing(emu, Limit=100)
    assert document["TotalCount"] == 31 and document["DataSet"] == [public(new)] + before

    reply = control(emu, "backups", {"upsert": [dict(new, State="Success")], "delete": [before[0]["BackupId"]]})
    assert reply.json() == {"ok": True, "backups": len(fresh_data()["backups"])}
    document = listing(emu, Limit=100)
    assert document["DataSet"] == [dict(public(new), State="Success")] + before[1:]
    assert control(emu, "backups").json()["backups"] == emu.data["backups"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"upsert": ["a row"]}', b'{"delete": 5}',
                                  b'{"upsert": [{"BackupId": "x", "BackupTime": 1}]}'],
                         ids=["not JSON", "a list", "a row not an object", "delete not a list", "a row without Region"])
def test_control_a_bad_post_is_400_and_changes_nothing(make_emulator, body):
    emu = make_emulator()
    before = emu.data
    reply = control(emu, "backups", body)
    assert reply.status == 400 and reply.body.startswith(b"bad change: ")
    assert emu.data == before
    assert listing(emu) == good_document(before)  # and the API still answers


def test_change_refuses_a_bad_row_and_keeps_the_data():
    emu = Emulator(data=fresh_data())  # change() works on a stopped emulator too
    with pytest.raises(ValueError, match=r"needs a non-empty string 'ProjectId'"):
        emu.change(upsert=[{"BackupId": "x", "Region": "cn-bj2"}])
    assert emu.data == fresh_data()


@pytest.mark.parametrize("method, name, status", [("GET", "reset_stats", 405), ("POST", "stats", 405),
                                                  ("GET", "nothing", 404), ("POST", "nothing", 404)])
def test_control_unknown_path_is_404_and_wrong_method_405(shared, method, name, status):
    before = shared.stats()["api_requests"]
    reply = http("%s/_emulator/%s" % (shared.base_url, name), data=b"" if method == "POST" else None, method=method)
    assert reply.status == status
    assert shared.stats()["api_requests"] == before  # never taken for an API request


# --- rows shifting between pages ------------------------------------------------------------

def test_mutate_between_pages_shifts_the_listing(make_emulator):
    emu = make_emulator(mutate_between_pages=2)
    before = expected(emu.data)
    first = listing(emu, Offset=0, Limit=10)
    assert first["DataSet"] == before[:10] and emu.data["backups"] == fresh_data()["backups"]  # Offset 0: no change
    second = listing(emu, Offset=10, Limit=10)
    # One backup was created (newest) and the oldest deleted: the page starts one row early.
    assert second["TotalCount"] == 30
    assert second["DataSet"] == before[9:19]
    now = expected(emu.data)
    assert now[0]["BackupName"] == "created mid-listing" and now[0]["BackupTime"] == before[0]["BackupTime"] + 1
    assert before[-1]["BackupId"] not in [row["BackupId"] for row in now]
    listing(emu, Offset=20, Limit=10)  # the second and last mutation
    after = expected(emu.data)
    assert [row["BackupName"] for row in after[:2]] == ["created mid-listing"] * 2
    assert listing(emu, Offset=20, Limit=10)["DataSet"] == after[20:30] == listing(emu, Offset=20)["DataSet"]
    ids = [row["BackupId"] for row in emu.data["backups"]]
    assert len(ids) == len(set(ids)) == len(fresh_data()["backups"])  # each mutation adds a new id


def mutated_ids(emu, pages=3, **overrides):
    for offset in range(10, 10 * (pages + 1), 10):
        listing(emu, Offset=offset, **overrides)
    return sorted(row["BackupId"] for row in emu.data["backups"] if row["BackupId"].startswith("mutated-"))


@pytest.mark.parametrize("every", [True, -1], ids=["True", "-1"])
def test_mutate_every_page_and_deterministically(make_emulator, every):
    first = mutated_ids(make_emulator(mutate_between_pages=every), pages=5)
    assert len(first) == len(set(first)) == 5
    assert mutated_ids(make_emulator(mutate_between_pages=every), pages=5) == first  # the same run, the same ids
    assert mutated_ids(make_emulator(mutate_between_pages=0), pages=5) == []


def test_mutate_changes_the_listing_being_paged(make_emulator):
    emu = make_emulator(mutate_between_pages=True)
    before = expected(emu.data, region="hk", region_type="source")
    document = listing(emu, Region="hk", RegionType="source", Offset=1, Limit=10)
    after = expected(emu.data, region="hk", region_type="source")
    assert document["TotalCount"] == len(before) == len(after) == 2
    assert after[0]["BackupName"] == "created mid-listing" and after[0]["SrcRegionName"] == "hk"
    assert after[1] == before[0] and document["DataSet"] == after[1:]
    assert expected(emu.data, region="hk") == expected(fresh_data(), region="hk")  # other listings keep still


def test_mutate_ignores_refused_requests(make_emulator):
    emu = make_emulator(mutate_between_pages=True)
    assert send(emu, signed(base_params(Offset=10, Limit=0))).json()["RetCode"] == 230
    assert send(emu, base_params(Offset=10)).json()["RetCode"] == 170
    assert emu.data == fresh_data()


def test_the_emulator_keeps_its_own_copy_of_the_data(make_emulator):
    data = fresh_data()
    emu = make_emulator(data=data, mutate_between_pages=True)
    data["backups"].clear()
    listing(emu, Offset=10)
    assert len(emu.data["backups"]) == len(fresh_data()["backups"])
    assert data["backups"] == []
    copy = emu.data
    copy["backups"].clear()
    assert emu.data["backups"]


# --- the generated data set ---------------------------------------------------------------------

def normal_demo_rows(data, region):
    return [row for row in data["backups"] if row["Region"] == region and row["ProjectId"] == "org-demo"
            and "SrcRegionName" not in row and "DstRegionName" not in row]


def test_generate_dataset_is_deterministic_for_a_seed_and_epoch():
    data = generate_dataset(REGIONS, 30, seed=7, epoch=EPOCH)
    assert data == generate_dataset(REGIONS, 30, seed=7, epoch=EPOCH)
    assert data != generate_dataset(REGIONS, 30, seed=8, epoch=EPOCH)
    later = generate_dataset(REGIONS, 30, seed=7, epoch=EPOCH + 3600)
    assert [row["BackupId"] for row in later["backups"]] == [row["BackupId"] for row in data["backups"]]
    assert [b["BackupTime"] - a["BackupTime"] for a, b in zip(data["backups"], later["backups"])] == [3600] * len(
        data["backups"])
    assert json.loads(json.dumps(data)) == data  # plain JSON


@pytest.mark.parametrize("regions", [["cn-bj2"], REGIONS, ["r1", "r2", "r3", "r4", "r5"]], ids=len)
@pytest.mark.parametrize("per_region", [1, 4, 12, 30, 55])
def test_generate_dataset_has_exactly_n_normal_demo_rows_per_region(regions, per_region):
    data = generate_dataset(regions, per_region, seed=3, epoch=EPOCH)
    assert data["regions"] == regions
    assert [len(normal_demo_rows(data, region)) for region in regions] == [per_region] * len(regions)
    ids = [row["BackupId"] for row in data["backups"]]
    assert len(ids) == len(set(ids))


def test_generate_dataset_rows():
    data = generate_dataset(REGIONS, 30, seed=1, epoch=EPOCH)
    for region in REGIONS:
        rows = normal_demo_rows(data, region)
        assert set(row["State"] for row in rows) == STATES
        assert set(row["BackupType"] for row in rows) == {"Manual", "Auto"}
        assert len(set(row["GroupId"] for row in rows)) > 1
    for row in data["backups"]:
        for key in ("BackupId", "BackupName", "BackupType", "State", "GroupId", "GroupName"):
            assert isinstance(row[key], str), (key, row)
        assert isinstance(row["BackupSize"], int) and row["BackupSize"] > 0
        assert EPOCH - 30 * 86400 <= row["BackupTime"] <= EPOCH - 60
    assert any("MemorySize" not in row and "RedisVersion" not in row for row in data["backups"])
    assert any("Zone" not in row for row in data["backups"])
    assert any("SlaveZone" in row for row in data["backups"])
    names = [row["GroupName"] for row in data["backups"]] + [row["BackupName"] for row in data["backups"]]
    assert any("&" in name and "=" in name for name in names)
    assert any(any(ord(char) > 127 for char in name) for name in names)


@pytest.mark.parametrize("regions", [["cn-bj2"], REGIONS, ["r%d" % n for n in range(8)]], ids=len)
@pytest.mark.parametrize("per_region", [0, 30, 1250])
def test_generate_dataset_total_count(regions, per_region):
    # The count docs/docsite/rst/emulator.rst gives: N + 3 per region, 2 cross-region per region when there
    # are several, and 2 of another account in the first region.
    data = generate_dataset(regions, per_region, seed=1)
    count = len(regions)
    assert len(data["backups"]) == count * (per_region + 3) + (2 * count if count > 1 else 0) + 2


def test_generate_dataset_without_an_epoch_is_fixed_by_the_seed():
    assert generate_dataset(REGIONS, 30, seed=4) == generate_dataset(REGIONS, 30, seed=4, epoch=default_epoch(4))
    assert default_epoch(4) - default_epoch(3) == 86400
    assert default_epoch(1) < time.time()
    # The same bytes on every Python this runs on (3.9 and up): pinned by a digest. A change
    # to the generator changes it on purpose, and then this value with it.
    data = generate_dataset()
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == GOLDEN_DIGEST
    del data["groups"]
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == GOLDEN_DIGEST_WITHOUT_GROUPS


@pytest.mark.parametrize("regions, per_region", [([], 5), (["a", "a"], 5), (["a"], -1)])
def test_generate_dataset_refuses_bad_arguments(regions, per_region):
    with pytest.raises(ValueError):
        generate_dataset(regions, per_region)


def test_generate_dataset_names_one_backup_with_jinja_text():
    data = generate_dataset(REGIONS, 30, seed=1, epoch=EPOCH)
    templated = [row for row in data["backups"] if "{{" in row["BackupName"]]
    assert len(templated) == 1
    assert templated[0] in normal_demo_rows(data, REGIONS[0])
    assert "lookup(" in templated[0]["BackupName"]


@pytest.mark.parametrize("regions", [["cn-bj2"], REGIONS], ids=len)
def test_generate_dataset_cross_region_and_other_projects(regions):
    data = generate_dataset(regions, 30, seed=1, epoch=EPOCH)
    for number, region in enumerate(regions):
        cross = [row for row in data["backups"] if row.get("SrcRegionName") == region]
        if len(regions) == 1:
            assert cross == []
        else:
            target = regions[(number + 1) % len(regions)]
            assert len(cross) == 2
            assert all(row["DstRegionName"] == target and row["ProjectId"] == "org-demo" for row in cross)
            # One is stored on the source's side, one on the target's: listings go by the names.
            assert sorted(row["Region"] for row in cross) == sorted([region, target])
        second = [row for row in data["backups"] if row["Region"] == region and row["ProjectId"] == "org-second"]
        assert len(second) == 3
        other = [row for row in data["backups"] if row["Region"] == region and row["ProjectId"] == "org-other"]
        assert len(other) == (2 if number == 0 else 0)
    assert len([row for row in data["backups"] if "SrcRegionName" in row or "DstRegionName" in row]) == (
        0 if len(regions) == 1 else 2 * len(regions))
    assert data["accounts"] == [
        {"public_key": DEMO_PUBLIC, "private_key": DEMO_PRIVATE, "default_project": "org-demo",
         "projects": ["org-demo", "org-second"]},
        {"public_key": OTHER_PUBLIC, "private_key": OTHER_PRIVATE, "default_project": "org-other",
         "projects": ["org-other"]},
    ]


# --- data files ---------------------------------------------------------------------------------

def test_load_dataset_reads_what_was_dumped(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(fresh_data(), ensure_ascii=False), encoding="utf-8")
    assert load_dataset(str(path)) == fresh_data()


def test_load_dataset_missing_file(tmp_path):
    path = str(tmp_path / "absent.json")
    with pytest.raises(ValueError) as error:
        load_dataset(path)
    assert str(error.value) == "cannot read data file %s: No such file or directory" % path


def test_load_dataset_a_directory(tmp_path):
    with pytest.raises(ValueError, match=r"^cannot read data file .*: Is a directory$"):
        load_dataset(str(tmp_path))


def test_load_dataset_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"accounts": [', encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_dataset(str(path))
    assert str(error.value).startswith("bad data file %s: Expecting value: line 1" % path)


WRONG_SHAPES = [
    ([], "the data set must be a JSON object with accounts, regions and backups"),
    ({"accounts": {}, "regions": [], "backups": []}, "the data set's 'accounts' must be a list"),
    ({"accounts": [], "regions": ["r"]}, "the data set's 'backups' must be a list"),
    ({"accounts": [], "regions": [], "backups": []}, "the data set needs at least one account"),
    ({"accounts": [{"public_key": "p", "default_project": "d"}], "regions": [], "backups": []},
     "accounts[0] needs a non-empty string 'private_key'"),
    ({"accounts": [{"public_key": "p", "private_key": "", "default_project": "d"}], "regions": [], "backups": []},
     "accounts[0] needs a non-empty string 'private_key'"),
    ({"accounts": ["p"], "regions": [], "backups": []}, "accounts[0] must be an object"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}] * 2, "regions": [],
      "backups": []}, "public_key 'p' appears twice"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d", "projects": "d"}],
      "regions": [], "backups": []}, "accounts[0].projects must be a list of strings"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r", 2],
      "backups": []}, "regions[1] must be a non-empty string"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": [],
      "backups": []}, "the data set needs at least one region"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": ["row"]}, "backups[0] must be an object"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "r", "ProjectId": "d", "BackupId": "b0"}, {"ProjectId": "d"}]},
     "backups[1] needs a non-empty string 'Region'"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "r", "ProjectId": "d"}]}, "backups[0] needs a non-empty string 'BackupId'"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "elsewhere", "ProjectId": "d", "BackupId": "b0"}]},
     "backups[0].Region 'elsewhere' is not one of the data set's regions"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "r", "ProjectId": "d", "BackupId": "b0"}] * 2}, "BackupId 'b0' appears twice"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "r", "ProjectId": "d", "BackupId": "b0", "BackupTime": "1700000000"}]},
     "backups[0].BackupTime must be an integer"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "r", "ProjectId": "d", "BackupId": "b0", "MemorySize": True}]},
     "backups[0].MemorySize must be an integer"),
    ({"accounts": [{"public_key": "p", "private_key": "k", "default_project": "d"}], "regions": ["r"],
      "backups": [{"Region": "r", "ProjectId": "d", "BackupId": "b0", "GroupName": 7}]},
     "backups[0].GroupName must be a string"),
]


@pytest.mark.parametrize("document, message", WRONG_SHAPES, ids=[shape[1] for shape in WRONG_SHAPES])
def test_load_dataset_wrong_shape(tmp_path, document, message):
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_dataset(str(path))
    assert str(error.value) == "bad data file %s: %s" % (path, message)
    with pytest.raises(ValueError, match=r"^%s$" % message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        Emulator(data=document)


def test_a_minimal_data_file_serves(tmp_path, make_emulator):
    document = {"accounts": [{"public_key": "pk", "private_key": "sk", "default_project": "p1"}], "regions": ["r1"],
                "backups": [{"Region": "r1", "ProjectId": "p1", "BackupId": "only", "BackupTime": 5}]}
    path = tmp_path / "min.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    emu = make_emulator(data=load_dataset(str(path)))
    assert api(emu, base_params(PublicKey="pk", Region="r1"), "sk") == {
        "RetCode": 0, "Action": ACTION + "Response", "TotalCount": 1, "DataSet": [{"BackupId": "only", "BackupTime": 5}]}


# --- lifecycle --------------------------------------------------------------------------------

def test_emulator_is_a_context_manager():
    with Emulator(data=fresh_data()) as emu:
        assert emu.base_url == "http://127.0.0.1:%d" % emu.port and emu.port > 0
        assert listing(emu)["TotalCount"] == 30
    result = attempt(emu, signed(base_params()), timeout=2)
    assert isinstance(getattr(result, "reason", result), ConnectionRefusedError), result


def test_stop_closes_kept_alive_connections():
    emu = Emulator(data=fresh_data()).start()
    connection = HTTPConnection("127.0.0.1", emu.port, timeout=5)
    body = urllib.parse.urlencode(signed(base_params()))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        connection.request("POST", "/", body, headers)
        assert json.loads(connection.getresponse().read())["RetCode"] == 0
        emu.stop()  # a stopped emulator answers no one, not even a connection kept alive
        with pytest.raises((HTTPException, OSError)):
            connection.request("POST", "/", body, headers)
            connection.getresponse().read()
    finally:
        connection.close()
        emu.stop()  # twice is harmless


@pytest.mark.parametrize("kwargs", [dict(max_page_size=0), dict(latency=-1), dict(hang_seconds=-1)])
def test_emulator_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        Emulator(data=fresh_data(), **kwargs)


def test_ipv6_host():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        emu = Emulator(data=fresh_data(), host="::1").start()
    except OSError as error:
        pytest.skip("cannot listen on ::1 here: %s" % error)
    try:
        assert emu.base_url == "http://[::1]:%d" % emu.port
        assert listing(emu)["TotalCount"] == 30
    finally:
        emu.stop()


# --- the command line ---------------------------------------------------------------------------

@pytest.fixture
def cli():
    """Start server.py as a user does; returns (process, ready document). Kills leftovers."""
    processes = []

    def start(*args):
        process = subprocess.Popen([sys.executable, SERVER, "--port", "0"] + list(args), cwd=str(ROOT),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        processes.append(process)
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(15):
                raise AssertionError("no ready line within 15 s")
        line = process.stdout.readline()
        assert line.endswith("\n"), (line, process.poll(), process.stderr.read() if process.poll() is not None else "")
        return process, json.loads(line)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def stop_cli(process, signum=signal.SIGTERM):
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=10)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_ready_line_dump_data_and_clean_exit(cli, tmp_path, signum):
    dump = tmp_path / "dump.json"
    process, ready = cli("--regions", "cn-bj2,hk", "--backups-per-region", "5", "--seed", "3",
                         "--epoch", str(EPOCH), "--dump-data", str(dump))
    assert set(ready) == {"base_url", "port", "public_key", "private_key", "regions", "backups", "groups"}
    assert ready["port"] > 0 and ready["base_url"] == "http://127.0.0.1:%d" % ready["port"]
    assert (ready["public_key"], ready["private_key"]) == (DEMO_PUBLIC, DEMO_PRIVATE)
    assert ready["regions"] == ["cn-bj2", "hk"]
    data = json.loads(dump.read_text(encoding="utf-8"))
    assert data == generate_dataset(["cn-bj2", "hk"], 5, seed=3, epoch=EPOCH)
    assert ready["backups"] == len(data["backups"])
    assert listing(ready["base_url"], Region="hk", Limit=100) == good_document(data, limit=100, region="hk")
    returncode, stdout, stderr = stop_cli(process, signum)
    assert returncode == 0
    assert stdout == "" and stderr == ""  # one ready line, and nothing else


def test_cli_serves_a_data_file_with_its_flags(cli, tmp_path):
    rows = [{"Region": region, "ProjectId": "p1", "BackupId": "%s-%02d" % (region, n), "BackupTime": EPOCH - n}
            for region in ("test-1", "test-2") for n in range(12)]
    document = {"accounts": [{"public_key": "pk", "private_key": "sk", "default_project": "p1"}],
                "regions": ["test-1", "test-2"], "backups": rows}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    process, ready = cli("--data", str(path), "--max-page-size", "4", "--fault-schedule", "1=503",
                         "--fail-region", "test-2", "--latency-ms", "50")
    assert (ready["public_key"], ready["private_key"], ready["regions"], ready["backups"]) == (
        "pk", "sk", ["test-1", "test-2"], 24)
    params = base_params(PublicKey="pk", Region="test-1", Limit=100)
    assert send(ready["base_url"], signed(params, "sk")).status == 503  # --fault-schedule
    start = time.monotonic()
    answer = api(ready["base_url"], params, "sk")
    assert time.monotonic() - start >= 0.05  # --latency-ms
    assert answer["TotalCount"] == 12 and [row["BackupId"] for row in answer["DataSet"]] == [
        "test-1-00", "test-1-01", "test-1-02", "test-1-03"]  # --max-page-size
    assert send(ready["base_url"], signed(dict(params, Region="test-2"), "sk")).status == 500  # --fail-region
    stats = control(ready["base_url"], "stats").json()
    assert stats["faults_injected"] == 2 and stats["by_region"] == {"test-1": 2, "test-2": 1}
    assert stop_cli(process)[0] == 0


def test_cli_now_relative_and_mutate_every_page(cli):
    process, ready = cli("--now-relative", "--backups-per-region", "12", "--mutate-between-pages")
    data = control(ready["base_url"], "backups").json()
    now = time.time()
    assert all(now - 31 * 86400 <= row["BackupTime"] <= now for row in data["backups"])
    for offset in (5, 10):
        listing(ready["base_url"], Offset=offset, Limit=5)
    names = [row["BackupName"] for row in control(ready["base_url"], "backups").json()["backups"]]
    assert names.count("created mid-listing") == 2
    assert stop_cli(process)[0] == 0


def test_cli_verbose_logs_requests_to_stderr_without_the_private_key(cli):
    process, ready = cli("--verbose")
    listing(ready["base_url"], method="GET")
    returncode, _stdout, stderr = stop_cli(process)
    assert returncode == 0
    assert "GET /?" in stderr and '" 200 ' in stderr
    assert DEMO_PRIVATE not in stderr


@pytest.mark.parametrize("content, message", [
    (None, "emulator: cannot read data file %s: No such file or directory"),
    ("{not json", "emulator: bad data file %s: Expecting property name"),
    ('{"accounts": []}', "emulator: bad data file %s: the data set's 'regions' must be a list"),
], ids=["missing", "invalid JSON", "wrong shape"])
def test_cli_bad_data_file_exits_2_without_a_traceback(tmp_path, content, message):
    path = tmp_path / "data.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("--data", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(message % path) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--fault-rate", "0.1", "--fault-kinds", "500,boom"], "emulator: unknown fault kind 'boom'; known: "),
    (["--fault-schedule", "1=boom"], "emulator: unknown fault kind 'boom'; known: "),
    (["--fail-region", "hk=boom"], "emulator: unknown fault kind 'boom'; known: "),
    (["--fault-schedule", "first=503"], "emulator: bad fault schedule item 'first=503': use NUMBER=KIND"),
    (["--fault-rate", "1.5"], "emulator: the fault rate must be between 0 and 1, not 1.5"),
    (["--fail-region", "=503"], "emulator: bad --fail-region '=503': use REGION or REGION=KIND"),
    (["--tls-cert", "absent-cert.pem", "--tls-key", "absent-key.pem"],
     "emulator: cannot load TLS certificate absent-cert.pem and key absent-key.pem: No such file or directory"),
    (["--regions", " , "], "emulator: regions must be a non-empty list of distinct names"),
    (["--tls-cert", "cert.pem"], "emulator: --tls-cert and --tls-key go together"),
], ids=["fault-kinds", "fault-schedule", "fail-region", "schedule number", "fault rate", "fail-region empty",
        "tls files", "no regions", "tls half"])
def test_cli_bad_flags_exit_2_without_a_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_main_in_process_exits_2_on_a_bad_data_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "0", "--data", str(tmp_path / "absent.json")])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("emulator: cannot read data file ") and captured.out == ""


# --- TLS ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("the openssl command is not installed: it makes the self-signed certificate of the TLS tests")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    result = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60,
                            check=False)
    if result.returncode != 0:
        pytest.skip("openssl could not make a self-signed certificate (needs OpenSSL 1.1.1+): %s" % result.stderr)
    return cert, key


def test_tls_serves_https_that_verifies_against_its_certificate(make_emulator, certificate):
    cert, key = certificate
    emu = make_emulator(tls=(cert, key))
    assert emu.base_url == "https://127.0.0.1:%d" % emu.port
    trusting = ssl.create_default_context(cafile=cert)
    reply = send(emu, signed(base_params()), context=trusting)
    assert reply.status == 200 and reply.json() == good_document(emu.data)

    refused = attempt(emu, signed(base_params()), context=ssl.create_default_context())
    assert isinstance(refused, urllib.error.URLError), refused
    assert isinstance(refused.reason, ssl.SSLCertVerificationError)
    assert "certificate verify failed" in str(refused.reason)

    plain = attempt(emu.base_url.replace("https:", "http:"), signed(base_params()), timeout=5)
    assert not isinstance(plain, Reply) or plain.status >= 400  # plain HTTP gets no API answer
    # neither failed client stalled the server
    assert send(emu, signed(base_params()), context=trusting).json() == good_document(emu.data)


def test_cli_tls_flags(cli, certificate):
    cert, key = certificate
    process, ready = cli("--tls-cert", cert, "--tls-key", key, "--backups-per-region", "3", "--epoch", str(EPOCH))
    assert ready["base_url"] == "https://127.0.0.1:%d" % ready["port"]
    reply = send(ready["base_url"], signed(base_params()), context=ssl.create_default_context(cafile=cert))
    document = reply.json()
    assert document["RetCode"] == 0 and document["TotalCount"] == 3
    assert stop_cli(process)[0] == 0
