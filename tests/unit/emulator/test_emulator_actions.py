# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's actions that act on backups, over real HTTP with signed requests:
DescribeURedisGroup, CreateURedisBackup, DescribeURedisBackupURL, UpdateURedisBackupStrategy,
and the control paths that drive them (groups, lost answers, downloads)."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from emulator.server import Emulator, derive_groups, generate_dataset, load_dataset
from test_server import DEMO_PUBLIC, attempt, control, http, is_connection_error, send, signed

GROUP = "uredis-cnbj2-90"  # never backed up, automatic backups on
OFF = "uredis-cnbj2-91"    # never backed up, automatic backups off


def call(emu, action, **params):
    document = dict({"Action": action, "PublicKey": DEMO_PUBLIC, "Region": "cn-bj2"},
                    **dict((k, str(v)) for k, v in params.items() if v is not None))
    reply = send(emu, signed(document))
    assert reply.status == 200, reply
    return reply.json()


def demo_group(emu, group_id):
    return next(g for g in emu.groups() if g["GroupId"] == group_id and g["ProjectId"] == "org-demo")


@pytest.fixture
def emu():
    with Emulator(data=generate_dataset(["cn-bj2", "hk"], 10, seed=5), backup_seconds=0.3, max_page_size=2,
                  manual_backup_limit=2, url_ttl=60) as server:
        yield server


# --- DescribeURedisGroup -------------------------------------------------------------------

def test_groups_page_with_the_server_cap_and_hide_their_stored_fields(emu):
    mine = sorted(g["GroupId"] for g in emu.groups() if g["Region"] == "cn-bj2" and g["ProjectId"] == "org-demo")
    rows, offset = [], 0
    while True:
        page = call(emu, "DescribeURedisGroup", Offset=offset, Limit=100)
        assert page["RetCode"] == 0 and page["Action"] == "DescribeURedisGroupResponse"
        assert page["TotalCount"] == len(mine) and len(page["DataSet"]) <= 2
        if not page["DataSet"]:
            break
        rows += page["DataSet"]
        offset += len(page["DataSet"])
    assert sorted(r["GroupId"] for r in rows) == mine
    assert all("Region" not in r and "ProjectId" not in r and "FailBackups" not in r for r in rows)
    created = [r["CreateTime"] for r in rows]
    assert created == sorted(created, reverse=True)


def test_one_group_an_unknown_one_a_zone_and_another_project(emu):
    assert [g["GroupId"] for g in call(emu, "DescribeURedisGroup", GroupId=OFF)["DataSet"]] == [OFF]
    unknown = call(emu, "DescribeURedisGroup", GroupId="uredis-nope")
    assert (unknown["RetCode"], unknown["TotalCount"], unknown["DataSet"]) == (0, 0, [])
    assert call(emu, "DescribeURedisGroup", Zone="cn-bj2-09")["TotalCount"] == 0
    second = call(emu, "DescribeURedisGroup", ProjectId="org-second", Limit=100)
    assert second["TotalCount"] == 1


def test_the_generated_groups_include_two_never_backed_up_per_region():
    data = generate_dataset(["cn-bj2", "hk"], 10, seed=5)
    backed_up = set(b["GroupId"] for b in data["backups"])
    for region in ("cnbj2", "hk"):
        never = sorted(g["GroupId"] for g in data["groups"] if g["ProjectId"] == "org-demo"
                       and g["GroupId"] not in backed_up and region in g["GroupId"])
        assert never == ["uredis-%s-90" % region, "uredis-%s-91" % region]
    auto = dict((g["GroupId"], g["AutoBackup"]) for g in data["groups"] if g["ProjectId"] == "org-demo")
    assert auto["uredis-hk-90"] == "enable" and auto["uredis-hk-91"] == "disable"
    assert any("SSLVersion" not in g for g in data["groups"])  # absent is not zero


def test_a_data_set_without_groups_gets_them_from_its_backups(tmp_path):
    data = generate_dataset(["cn-bj2"], 10, seed=5)
    del data["groups"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    with Emulator(data=load_dataset(str(path))) as server:
        listed = call(server, "DescribeURedisGroup", Limit=100)["DataSet"]
    assert sorted(g["GroupId"] for g in listed) == sorted(set(
        b["GroupId"] for b in data["backups"] if b["ProjectId"] == "org-demo" and b["Region"] == "cn-bj2"
        and not b.get("SrcRegionName")))
    assert len(derive_groups(data)) >= len(listed)


@pytest.mark.parametrize("change, words", [
    ({"groups": "nope"}, "'groups' must be a list"),
    ({"groups": [{"Region": "cn-bj2", "ProjectId": "org-demo"}]}, "groups[0] needs a non-empty string 'GroupId'"),
    ({"groups": [{"Region": "mars", "ProjectId": "p", "GroupId": "g"}]}, "is not one of the data set's regions"),
    ({"groups": [{"Region": "cn-bj2", "ProjectId": "p", "GroupId": "g", "Port": "6379"}]}, "groups[0].Port must be an integer"),
    ({"groups": [{"Region": "cn-bj2", "ProjectId": "p", "GroupId": "g", "SSLEnable": 1}]}, "must be true or false"),
    ({"groups": [{"Region": "cn-bj2", "ProjectId": "p", "GroupId": "g", "AutoBackup": "on"}]}, "enable or disable"),
    ({"groups": [{"Region": "cn-bj2", "ProjectId": "p", "GroupId": "g", "BackupTime": 24}]}, "an hour from 0 to 23"),
    ({"groups": [{"Region": "cn-bj2", "ProjectId": "p", "GroupId": "g"}] * 2}, "appears twice"),
])
def test_bad_groups_in_a_data_set_are_refused_by_name(change, words):
    data = dict(generate_dataset(["cn-bj2"], 3, seed=5), **change)
    with pytest.raises(ValueError) as caught:
        Emulator(data=data)
    assert words in str(caught.value)


# --- CreateURedisBackup --------------------------------------------------------------------

def test_a_created_backup_is_backuping_then_success(emu):
    answer = call(emu, "CreateURedisBackup", GroupId=GROUP, BackupName="first-backup")
    assert answer["RetCode"] == 0 and answer["Action"] == "CreateURedisBackupResponse"
    backup_id = answer["BackupId"]
    listed = call(emu, "DescribeURedisBackup", GroupId=GROUP)["DataSet"]
    assert [(b["BackupId"], b["State"], b["BackupType"]) for b in listed] == [(backup_id, "Backuping", "Manual")]
    assert abs(listed[0]["BackupTime"] - time.time()) < 5  # real time, not the data's epoch
    time.sleep(0.4)
    [done] = call(emu, "DescribeURedisBackup", GroupId=GROUP)["DataSet"]
    assert done["State"] == "Success" and done["BackupSize"] > 0
    assert emu.stats()["creates"] == 1 and emu.stats()["by_action"]["CreateURedisBackup"] == 1


def test_a_failing_group_ends_in_error(emu):
    emu.change_groups(fail=[GROUP])
    call(emu, "CreateURedisBackup", GroupId=GROUP, BackupName="doomed-backup")
    time.sleep(0.4)
    assert [b["State"] for b in call(emu, "DescribeURedisBackup", GroupId=GROUP)["DataSet"]] == ["Error"]
    emu.change_groups(succeed=[GROUP])
    assert demo_group(emu, GROUP)["FailBackups"] is False


def test_the_manual_backup_limit_is_20208(emu):
    for name in ("limit-one", "limit-two"):
        assert call(emu, "CreateURedisBackup", GroupId=GROUP, BackupName=name)["RetCode"] == 0
    refused = call(emu, "CreateURedisBackup", GroupId=GROUP, BackupName="limit-three")
    assert (refused["RetCode"], refused["Message"]) == (20208, "backup count exceeds limit")
    assert emu.stats()["creates"] == 2


@pytest.mark.parametrize("params, code, message", [
    ({"BackupName": "named-backup"}, 210, "Missing params [GroupId]"),
    ({"GroupId": GROUP}, 210, "Missing params [BackupName]"),
    ({"GroupId": GROUP, "BackupName": "short"}, 230, "Params [BackupName] not available"),
    ({"GroupId": GROUP, "BackupName": "has space"}, 230, "Params [BackupName] not available"),
    ({"GroupId": "uredis-nope", "BackupName": "named-backup"}, 230, "Params [GroupId] not available"),
    ({"GroupId": GROUP, "BackupName": "named-backup", "Zone": "cn-bj2-09"}, 230, "Params [Zone] not available"),
])
def test_create_refusals(emu, params, code, message):
    refused = call(emu, "CreateURedisBackup", **params)
    assert (refused["RetCode"], refused["Message"]) == (code, message)
    assert emu.stats()["creates"] == 0


@pytest.mark.parametrize("kind", ["reset", "504", "html", "truncated"])
def test_a_lost_answer_still_creates_the_backup(emu, kind):
    control(emu, "lose_create_answers", {"count": 1, "kind": kind})
    document = {"Action": "CreateURedisBackup", "PublicKey": DEMO_PUBLIC, "Region": "cn-bj2",
                "GroupId": GROUP, "BackupName": "lost-answer"}
    reply = attempt(emu, signed(document))
    if kind == "reset":
        assert is_connection_error(reply)
    elif kind == "504":
        assert reply.status == 504
    else:
        assert reply.status == 200
        with pytest.raises(ValueError):
            json.loads(reply.body)
    assert [b["BackupName"] for b in call(emu, "DescribeURedisBackup", GroupId=GROUP)["DataSet"]] == ["lost-answer"]
    # only the next one: the one after is answered
    assert call(emu, "CreateURedisBackup", GroupId=GROUP, BackupName="answered")["RetCode"] == 0


def test_control_paths_refuse_bad_orders(emu):
    assert control(emu, "lose_create_answers", {"count": -1}).status == 400
    assert control(emu, "lose_create_answers", {"count": 1, "kind": "explode"}).status == 400
    assert control(emu, "groups", {"fail": ["uredis-nope"]}).status == 400
    assert control(emu, "groups", {"policy": {OFF: {"Colour": "red"}}}).status == 400
    assert control(emu, "groups", {"policy": {OFF: {"BackupTime": 30}}}).status == 400
    assert demo_group(emu, OFF)["BackupTime"] != 30  # a bad change changes nothing
    reply = control(emu, "groups", {"policy": {OFF: {"AutoBackup": "enable", "BackupTime": 9}}})
    assert reply.status == 200 and (demo_group(emu, OFF)["AutoBackup"], demo_group(emu, OFF)["BackupTime"]) == ("enable", 9)
    assert [g["GroupId"] for g in control(emu, "groups").json()] == [g["GroupId"] for g in emu.groups()]


# --- DescribeURedisBackupURL ------------------------------------------------------------------

def a_good_backup(emu):
    return next(b for b in emu.data["backups"] if b["State"] == "Success" and b["Region"] == "cn-bj2"
                and b["ProjectId"] == "org-demo" and not b.get("SrcRegionName"))


def test_a_link_downloads_until_it_expires_and_not_when_altered(emu):
    backup = a_good_backup(emu)
    answer = call(emu, "DescribeURedisBackupURL", BackupId=backup["BackupId"], GroupId=backup["GroupId"],
                  RegionFlag="false")
    link = answer["BackupPath"]
    assert answer["BackupURL"] == link and link.startswith(emu.base_url + "/_emulator/download/")
    got = http(link)
    assert got.status == 200 and got.body.startswith(b"REDIS0009")
    parts = urllib.parse.urlsplit(link)
    query = dict(urllib.parse.parse_qsl(parts.query))
    altered = "%s://%s%s?Expires=%d&Signature=%s" % (parts.scheme, parts.netloc, parts.path,
                                                     int(query["Expires"]) + 3600, query["Signature"])
    assert http(altered).status == 403
    expired = "%s://%s%s?Expires=%d&Signature=%s" % (parts.scheme, parts.netloc, parts.path, 1000,
                                                     emu._link_signature(backup["BackupId"], "1000"))
    assert http(expired).status == 403


def test_no_link_for_a_backup_that_is_not_good_or_not_there(emu):
    bad = next(b for b in emu.data["backups"] if b["State"] == "Error" and b["Region"] == "cn-bj2"
               and b["ProjectId"] == "org-demo")
    refused = call(emu, "DescribeURedisBackupURL", BackupId=bad["BackupId"])
    assert (refused["RetCode"], refused["Message"]) == (20202, "get backup url failed: backup is Error")
    assert call(emu, "DescribeURedisBackupURL", BackupId="nope")["RetCode"] == 230
    assert call(emu, "DescribeURedisBackupURL")["RetCode"] == 210
    backup = a_good_backup(emu)
    assert call(emu, "DescribeURedisBackupURL", BackupId=backup["BackupId"], GroupId="other")["RetCode"] == 230
    assert call(emu, "DescribeURedisBackupURL", BackupId=backup["BackupId"], IsCrossRegion="maybe")["RetCode"] == 230


# --- UpdateURedisBackupStrategy ---------------------------------------------------------------

def test_the_policy_update_sets_both_values_and_keeps_the_servers_defaults(emu):
    assert call(emu, "UpdateURedisBackupStrategy", GroupId=OFF, AutoBackup="disable", BackupTime=7)["RetCode"] == 0
    assert (demo_group(emu, OFF)["AutoBackup"], demo_group(emu, OFF)["BackupTime"]) == ("disable", 7)
    # the traps a client must not fall into: an omitted AutoBackup is enable, an omitted BackupTime hour 0
    call(emu, "UpdateURedisBackupStrategy", GroupId=OFF, BackupTime=7)
    assert demo_group(emu, OFF)["AutoBackup"] == "enable"
    call(emu, "UpdateURedisBackupStrategy", GroupId=OFF, AutoBackup="enable")
    assert demo_group(emu, OFF)["BackupTime"] == 0
    listed = call(emu, "DescribeURedisGroup", GroupId=OFF)["DataSet"][0]
    assert (listed["AutoBackup"], listed["BackupTime"]) == ("enable", 0)  # the listing sees it at once


@pytest.mark.parametrize("params, message", [
    ({}, "Missing params [GroupId]"),
    ({"GroupId": "uredis-nope"}, "Params [GroupId] not available"),
    ({"GroupId": OFF, "BackupTime": "24"}, "Params [BackupTime] not available"),
    ({"GroupId": OFF, "BackupTime": "-1"}, "Params [BackupTime] not available"),
    ({"GroupId": OFF, "AutoBackup": "on"}, "Params [AutoBackup] not available"),
    ({"GroupId": OFF, "OperationType": "explode"}, "Params [OperationType] not available"),
])
def test_policy_refusals(emu, params, message):
    before = demo_group(emu, OFF)
    refused = call(emu, "UpdateURedisBackupStrategy", **params)
    assert refused["Message"] == message and refused["RetCode"] in (210, 230)
    assert demo_group(emu, OFF) == before
