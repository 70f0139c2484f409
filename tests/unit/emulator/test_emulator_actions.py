# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's actions on backups, checked on the wire against API.md ("Acting on backups"):
DescribeURedisGroup, CreateURedisBackup, DescribeURedisBackupURL, UpdateURedisBackupStrategy,
the groups of the data set, and the control paths and knobs that go with them.

Requests are signed and sent by emulator_helpers.py (written from API.md, not by the
emulator's code); what a group listing must hold is worked out here from the data set.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import urllib.parse

import pytest

from emulator.server import (CONTROL_TEXT, Emulator, FaultPlan, _parser, check_dataset, emulator_from_args,
                             generate_dataset)
from emulator_helpers import (DEMO_PRIVATE, DEMO_PUBLIC, EPOCH, OTHER_PRIVATE, OTHER_PUBLIC, api, attempt, control,
                              fresh_data, http, is_connection_error, not_json, peek, run_cli, send, signed)

GROUP_HIDDEN = ("Region", "ProjectId", "FailBackups")
GROUP = "uredis-cnbj2-00"            # has backups, 3 Manual ones among them
DOUBLE = "uredis-cnbj2-01"           # has a slave zone
NEVER_BACKED_UP = "uredis-cnbj2-90"  # no backup at all, AutoBackup enable at hour 3
AUTO_OFF = "uredis-cnbj2-91"         # no backup at all, AutoBackup disable
GROUP_ACTION = "DescribeURedisGroup"
CREATE_ACTION = "CreateURedisBackup"
URL_ACTION = "DescribeURedisBackupURL"
POLICY_ACTION = "UpdateURedisBackupStrategy"
ACTIONS = ("DescribeURedisBackup", GROUP_ACTION, CREATE_ACTION, URL_ACTION, POLICY_ACTION)


# --- requests --------------------------------------------------------------------------------

def action_params(action, **overrides):
    """``action`` in cn-bj2 for the demo key, unsigned; an override of None drops the parameter."""
    params = {"Action": action, "PublicKey": DEMO_PUBLIC, "Region": "cn-bj2"}
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return params


def call(emu, action, private_key=DEMO_PRIVATE, **overrides):
    """The document a signed ``action`` gets (HTTP 200 asserted)."""
    return api(emu, action_params(action, **overrides), private_key)


def ok(emu, action, **overrides):
    document = call(emu, action, **overrides)
    assert document["RetCode"] == 0 and document["Action"] == action + "Response", document
    return document


def refused(document, ret_code, message):
    assert (document["RetCode"], document.get("Message")) == (ret_code, message), document
    assert set(document) == {"RetCode", "Action", "Message"}


def create(emu, group_id=GROUP, name="manual-test-1", **overrides):
    return call(emu, CREATE_ACTION, GroupId=group_id, BackupName=name, **overrides)


def backup(emu, backup_id, group_id=GROUP, **overrides):
    """The backup's row as DescribeURedisBackup returns it, or None."""
    document = ok(emu, "DescribeURedisBackup", GroupId=group_id, BackupId=backup_id, **overrides)
    return document["DataSet"][0] if document["DataSet"] else None


def wait_for_state(emu, backup_id, group_id=GROUP, seconds=5.0):
    """The backup once it is no longer Backuping (polled), or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        row = backup(emu, backup_id, group_id)
        if row["State"] != "Backuping" or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def url_of(emu, backup_id, **overrides):
    return ok(emu, URL_ACTION, BackupId=backup_id, **overrides)["BackupPath"]


def link_query(link):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))


def rows_named(emu, name):
    return [row for row in emu.data["backups"] if row.get("BackupName") == name]


def one_with(data, **fields):
    return next(row for row in data["backups"] if all(row.get(k) == v for k, v in fields.items()))


# --- what a group listing must hold, worked out from the data set ---------------------------

def public_group(row):
    return dict((key, value) for key, value in row.items() if key not in GROUP_HIDDEN)


def expected_groups(data, region="cn-bj2", project="org-demo", **filters):
    rows = [public_group(row) for row in data["groups"]
            if row["Region"] == region and row["ProjectId"] == project
            and all(row.get(key) == value for key, value in filters.items())]
    return sorted(rows, key=lambda row: (-row["CreateTime"], row["GroupId"]))


def group_row(data, group_id, region="cn-bj2", project="org-demo"):
    return next(row for row in data["groups"]
                if (row["Region"], row["ProjectId"], row["GroupId"]) == (region, project, group_id))


def manual_count(data, group_id, region="cn-bj2", project="org-demo"):
    return sum(1 for row in data["backups"]
               if (row["Region"], row["ProjectId"], row.get("GroupId")) == (region, project, group_id)
               and row.get("BackupType") == "Manual" and row.get("State") not in ("Expired", "Error"))


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def make_emulator(make_emulator):
    """conftest.py's make_emulator(**Emulator kwargs), with backups done in 0.2 s unless a test says otherwise."""
    return functools.partial(make_emulator, backup_seconds=0.2)


# --- every action: the gateway's checks ------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("change, private_key, ret_code, message", [
    ({}, "not-the-private-key", 171, "Signature VerifyAC Error"),
    ({"PublicKey": "nobody-public-key"}, DEMO_PRIVATE, 172, "User Not Exists"),
    ({"Region": None}, DEMO_PRIVATE, 210, "Missing params [Region]"),
    ({"Region": "mars-1"}, DEMO_PRIVATE, 230, "Params [Region] not available"),
    ({"ProjectId": "org-nope"}, DEMO_PRIVATE, 292, "Project not exist"),
    ({"ProjectId": "org-other"}, DEMO_PRIVATE, 299, "IAM permission denied"),
], ids=["wrong key", "unknown key", "no region", "unknown region", "unknown project", "another account's project"])
def test_every_action_goes_through_the_gateways_checks(make_emulator, action, change, private_key, ret_code, message):
    emu = make_emulator()
    params = dict({"GroupId": GROUP, "BackupName": "manual-test-1", "BackupId": "x", "RegionType": "normal"}, **change)
    document = call(emu, action, private_key, **params)
    refused(document, ret_code, message)
    assert document["Action"] == action + "Response"
    assert emu.stats()["creates"] == 0 and emu.stats()["by_action"] == {action: 1}


def test_an_unknown_action_is_161_and_the_five_actions_are_known(shared):
    refused(call(shared, "DeleteURedisBackup"), 161, "Action [DeleteURedisBackup] not exist")
    for action in ACTIONS:
        assert call(shared, action)["RetCode"] != 161


# --- DescribeURedisGroup ----------------------------------------------------------------------

def test_group_listing_is_the_regions_groups_newest_first_without_hidden_fields(shared):
    document = ok(shared, GROUP_ACTION)
    rows = expected_groups(shared.data)
    assert len(rows) == 8  # six with backups, two without
    assert document == {"RetCode": 0, "Action": "DescribeURedisGroupResponse", "TotalCount": 8, "DataSet": rows}
    ids = [row["GroupId"] for row in document["DataSet"]]
    assert NEVER_BACKED_UP in ids and AUTO_OFF in ids
    assert not any(key in row for row in document["DataSet"] for key in GROUP_HIDDEN)
    created = [row["CreateTime"] for row in document["DataSet"]]
    assert created == sorted(created, reverse=True)


def test_group_listing_keeps_absent_fields_absent(shared):
    rows = dict((row["GroupId"], row) for row in ok(shared, GROUP_ACTION)["DataSet"])
    assert "SSLVersion" not in rows[GROUP] and "SSLCertExpireTime" not in rows[GROUP] and not rows[GROUP]["SSLEnable"]
    assert "SlaveZone" not in rows[GROUP] and rows[GROUP]["Type"] == "single"
    assert rows[DOUBLE]["SlaveZone"] == "cn-bj2-03" and rows[DOUBLE]["Type"] == "double"
    tls = rows["uredis-cnbj2-04"]
    assert tls["SSLEnable"] is True and tls["SSLVersion"] == "TLSv1.2" and isinstance(tls["SSLCertExpireTime"], int)


def test_group_listing_one_group_and_an_unknown_one(shared):
    document = ok(shared, GROUP_ACTION, GroupId=AUTO_OFF)
    assert document["TotalCount"] == 1 and document["DataSet"] == expected_groups(shared.data, GroupId=AUTO_OFF)
    assert document["DataSet"][0]["AutoBackup"] == "disable"
    for unknown in ("uredis-nope-00", "uredis-cnsh2-00"):  # no such group; a group of another region
        assert ok(shared, GROUP_ACTION, GroupId=unknown) == {
            "RetCode": 0, "Action": "DescribeURedisGroupResponse", "TotalCount": 0, "DataSet": []}


def test_group_listing_zone_filter(make_emulator):
    emu = make_emulator()
    moved = dict(group_row(emu.data, AUTO_OFF), Zone="cn-bj2-02")
    emu.change_groups(upsert=[moved])
    document = ok(emu, GROUP_ACTION, Zone="cn-bj2-02")
    assert [row["GroupId"] for row in document["DataSet"]] == [AUTO_OFF] and document["TotalCount"] == 1
    assert ok(emu, GROUP_ACTION, Zone="cn-bj2-01")["TotalCount"] == 7
    assert ok(emu, GROUP_ACTION, Zone="cn-bj2-09")["DataSet"] == []


def test_group_listing_is_scoped_to_the_region_and_project(shared):
    data = shared.data
    for region in ("cn-sh2", "hk"):
        assert ok(shared, GROUP_ACTION, Region=region)["DataSet"] == expected_groups(data, region=region)
    second = ok(shared, GROUP_ACTION, ProjectId="org-second")
    assert [row["GroupId"] for row in second["DataSet"]] == [GROUP]
    assert second["DataSet"] == expected_groups(data, project="org-second")
    other = call(shared, GROUP_ACTION, OTHER_PRIVATE, PublicKey=OTHER_PUBLIC)
    assert other["DataSet"] == expected_groups(data, project="org-other") and other["TotalCount"] == 1
    assert ok(shared, GROUP_ACTION, Region="hk", ProjectId="org-second")["TotalCount"] == 1


def test_group_listing_pages_under_the_servers_cap(make_emulator):
    emu = make_emulator(max_page_size=3)
    rows = expected_groups(emu.data)
    pages = [ok(emu, GROUP_ACTION, Offset=offset, Limit=20) for offset in (0, 3, 6, 9)]
    assert [len(page["DataSet"]) for page in pages] == [3, 3, 2, 0]
    assert all(page["TotalCount"] == 8 for page in pages)
    assert [row for page in pages for row in page["DataSet"]] == rows
    assert ok(emu, GROUP_ACTION, Offset=1, Limit=2)["DataSet"] == rows[1:3]


def test_group_listing_limit_defaults_to_20(make_emulator):
    emu = make_emulator()
    extra = [dict(group_row(emu.data, GROUP), GroupId="uredis-extra-%02d" % n, CreateTime=EPOCH - n) for n in range(30)]
    emu.change_groups(upsert=extra)
    document = ok(emu, GROUP_ACTION)
    assert document["TotalCount"] == 38 and len(document["DataSet"]) == 20
    assert document["DataSet"] == expected_groups(emu.data)[:20]


@pytest.mark.parametrize("name, value", [("Offset", "-1"), ("Offset", "x"), ("Limit", "0"), ("Limit", "1.5"),
                                         ("Limit", u"\u0663")])
def test_group_listing_bad_paging_is_230(shared, name, value):
    refused(call(shared, GROUP_ACTION, **{name: value}), 230, "Params [%s] not available" % name)


def test_group_listing_sees_changes_at_once(make_emulator):
    emu = make_emulator()
    before = ok(emu, GROUP_ACTION)["DataSet"]  # fills the listing's cache
    ok(emu, POLICY_ACTION, GroupId=GROUP, AutoBackup="disable", BackupTime="7")
    after = dict((row["GroupId"], row) for row in ok(emu, GROUP_ACTION)["DataSet"])
    assert (after[GROUP]["AutoBackup"], after[GROUP]["BackupTime"]) == ("disable", 7)
    emu.change_groups(delete=[AUTO_OFF])
    assert [row["GroupId"] for row in ok(emu, GROUP_ACTION)["DataSet"]] == [
        row["GroupId"] for row in before if row["GroupId"] != AUTO_OFF]


# --- CreateURedisBackup ---------------------------------------------------------------------------

def test_create_answers_a_backup_id_and_the_backup_is_listed_backuping(make_emulator):
    emu = make_emulator(backup_seconds=30)
    before = time.time()
    document = create(emu, name="manual-test-1")
    assert set(document) == {"RetCode", "Action", "BackupId"} and document["RetCode"] == 0
    assert document["Action"] == "CreateURedisBackupResponse"
    group = group_row(emu.data, GROUP)
    row = backup(emu, document["BackupId"])
    assert row == {"BackupId": document["BackupId"], "BackupName": "manual-test-1", "BackupTime": row["BackupTime"],
                   "BackupSize": 0, "BackupType": "Manual", "State": "Backuping", "GroupId": GROUP,
                   "GroupName": group["Name"], "Zone": group["Zone"], "MemorySize": group["Size"],
                   "RedisVersion": group["Version"]}
    assert int(before) <= row["BackupTime"] <= time.time()  # real time, not the data set's epoch
    listed = ok(emu, "DescribeURedisBackup", GroupId=GROUP, Limit=100)["DataSet"]
    assert listed[0]["BackupId"] == document["BackupId"]  # the newest
    stored = rows_named(emu, "manual-test-1")
    assert len(stored) == 1 and (stored[0]["Region"], stored[0]["ProjectId"]) == ("cn-bj2", "org-demo")
    assert emu.stats()["creates"] == 1


def test_create_in_a_double_group_keeps_its_slave_zone_hidden(make_emulator):
    emu = make_emulator()
    backup_id = create(emu, DOUBLE, "manual-double")["BackupId"]
    assert "SlaveZone" not in backup(emu, backup_id, DOUBLE)
    assert rows_named(emu, "manual-double")[0]["SlaveZone"] == "cn-bj2-03"
    assert backup(emu, backup_id, DOUBLE, SlaveZone="cn-bj2-03")["BackupId"] == backup_id  # the filter sees it
    assert backup(emu, backup_id, DOUBLE, SlaveZone="cn-bj2-02") is None


def test_create_for_another_project_is_that_projects_backup(make_emulator):
    emu = make_emulator()
    backup_id = create(emu, GROUP, "manual-second", ProjectId="org-second")["BackupId"]
    assert backup(emu, backup_id, ProjectId="org-second")["BackupName"] == "manual-second"
    assert backup(emu, backup_id) is None  # not in the default project's listing


def test_a_created_backup_turns_success_after_backup_seconds(make_emulator):
    emu = make_emulator(backup_seconds=0.3)
    backup_id = create(emu)["BackupId"]
    assert backup(emu, backup_id)["State"] == "Backuping"  # the listing is cached now
    time.sleep(0.4)
    row = backup(emu, backup_id)
    assert row["State"] == "Success" and row["BackupSize"] > 0
    assert rows_named(emu, "manual-test-1")[0]["State"] == "Success"


def test_a_backup_of_a_failing_group_ends_in_error(make_emulator):
    emu = make_emulator()
    emu.change_groups(fail=[GROUP])
    failed = create(emu, name="manual-fails")["BackupId"]
    emu.change_groups(succeed=[GROUP])
    good = create(emu, name="manual-works")["BackupId"]
    assert wait_for_state(emu, failed)["State"] == "Error"  # its fate was set when it was created
    assert wait_for_state(emu, good)["State"] == "Success"
    assert group_row(emu.data, GROUP)["FailBackups"] is False


def test_emulator_data_sees_a_settled_backup_without_an_api_request(make_emulator):
    emu = make_emulator(backup_seconds=0.1)
    create(emu)
    time.sleep(0.2)
    assert rows_named(emu, "manual-test-1")[0]["State"] == "Success"


@pytest.mark.parametrize("overrides, ret_code, message", [
    ({"GroupId": None}, 210, "Missing params [GroupId]"),
    ({"GroupId": ""}, 210, "Missing params [GroupId]"),
    ({"BackupName": None}, 210, "Missing params [BackupName]"),
    ({"GroupId": None, "BackupName": None}, 210, "Missing params [GroupId]"),
    ({"BackupName": "short"}, 230, "Params [BackupName] not available"),
    ({"BackupName": "x" * 64}, 230, "Params [BackupName] not available"),
    ({"BackupName": "has space"}, 230, "Params [BackupName] not available"),
    ({"BackupName": "dotted.name"}, 230, "Params [BackupName] not available"),
    ({"BackupName": "trailing-newline\n"}, 230, "Params [BackupName] not available"),
    ({"BackupName": u"\u00fcnicode-name"}, 230, "Params [BackupName] not available"),
    ({"GroupId": "uredis-nope-00"}, 230, "Params [GroupId] not available"),
    ({"GroupId": "uredis-cnsh2-00"}, 230, "Params [GroupId] not available"),  # a group of another region
    ({"GroupId": DOUBLE, "ProjectId": "org-second"}, 230, "Params [GroupId] not available"),  # not in that project
    ({"Zone": "cn-bj2-02"}, 230, "Params [Zone] not available"),
], ids=["no group", "empty group", "no name", "neither", "name too short", "name too long", "space", "dot", "newline",
        "non-ASCII", "unknown group", "other region's group", "other project's group", "other zone"])
def test_create_refusals_create_nothing(make_emulator, overrides, ret_code, message):
    emu = make_emulator()
    before = emu.data
    params = dict({"GroupId": GROUP, "BackupName": "manual-test-1"}, **overrides)
    refused(call(emu, CREATE_ACTION, **params), ret_code, message)
    assert emu.data == before and emu.stats()["creates"] == 0


@pytest.mark.parametrize("name", ["abc123", "a" * 63, "Nightly_2025-06-01", "------"])
def test_create_takes_names_of_6_to_63_letters_digits_dashes_and_underscores(make_emulator, name):
    emu = make_emulator()
    assert create(emu, name=name, Zone="cn-bj2-01")["RetCode"] == 0  # the group's own zone is fine
    assert len(rows_named(emu, name)) == 1


def test_the_manual_backup_limit_answers_20208(make_emulator):
    emu = make_emulator(manual_backup_limit=2)
    assert create(emu, NEVER_BACKED_UP, "manual-one")["RetCode"] == 0
    second = create(emu, NEVER_BACKED_UP, "manual-two")["BackupId"]
    refused(create(emu, NEVER_BACKED_UP, "manual-three"), 20208, "backup count exceeds limit")
    assert emu.stats()["creates"] == 2 and not rows_named(emu, "manual-three")
    assert create(emu, AUTO_OFF, "manual-other-group")["RetCode"] == 0  # the limit is per group
    # Expired and Error backups do not count
    emu.change(upsert=[dict(rows_named(emu, "manual-two")[0], State="Expired")])
    assert backup(emu, second, NEVER_BACKED_UP)["State"] == "Expired"
    emu.change_groups(fail=[NEVER_BACKED_UP])
    failing = create(emu, NEVER_BACKED_UP, "manual-four")["BackupId"]
    assert wait_for_state(emu, failing, NEVER_BACKED_UP)["State"] == "Error"
    emu.change_groups(succeed=[NEVER_BACKED_UP])
    assert create(emu, NEVER_BACKED_UP, "manual-five")["RetCode"] == 0
    refused(create(emu, NEVER_BACKED_UP, "manual-six"), 20208, "backup count exceeds limit")


def test_the_limit_counts_the_manual_backups_a_group_already_has(make_emulator):
    data = fresh_data()
    count = manual_count(data, GROUP)
    assert count == 3
    emu = make_emulator(data=data, manual_backup_limit=count + 1)
    assert create(emu, name="manual-last-one")["RetCode"] == 0
    refused(create(emu, name="manual-over"), 20208, "backup count exceeds limit")
    refused(create(make_emulator(manual_backup_limit=0), NEVER_BACKED_UP), 20208, "backup count exceeds limit")


def test_concurrent_creates_never_pass_the_limit(make_emulator):
    emu = make_emulator(manual_backup_limit=3)
    codes = []

    def one(number):
        codes.append(create(emu, NEVER_BACKED_UP, "manual-race-%d" % number)["RetCode"])

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(codes) == [0] * 3 + [20208] * 5
    assert emu.stats()["creates"] == 3


# --- lost create answers ----------------------------------------------------------------------------

def lost(result, kind):
    """Whether ``result`` (a Reply or an exception) is a create answer lost as ``kind`` loses it."""
    if kind in ("reset", "hang"):
        return is_connection_error(result)
    if kind == "504":
        return result.status == 504
    if kind == "html":
        return result.status == 200 and result.headers["Content-Type"].startswith("text/html")
    return result.status == 200 and not_json(result.body)  # truncated


@pytest.mark.parametrize("kind", ["reset", "504", "html", "truncated", "hang"])
def test_a_lost_create_answer_is_lost_after_the_backup_is_made(make_emulator, kind):
    emu = make_emulator(hang_seconds=0.3)
    emu.lose_create_answers(1, kind)
    start = time.monotonic()
    result = attempt(emu, signed(action_params(CREATE_ACTION, GroupId=GROUP, BackupName="lost-answer-1")))
    assert lost(result, kind), result
    if kind == "hang":
        assert time.monotonic() - start >= 0.3  # held, then reset: no answer ever comes
    made = rows_named(emu, "lost-answer-1")
    assert len(made) == 1 and made[0]["State"] in ("Backuping", "Success")
    assert emu.stats()["creates"] == 1 and emu.stats()["faults_injected"] == 1
    assert emu.create_answers_to_lose() == (0, kind)
    # a client that looks before it sends again finds it; the next create is answered
    assert backup(emu, made[0]["BackupId"])["BackupName"] == "lost-answer-1"
    assert create(emu, name="answered-1")["RetCode"] == 0


def test_lost_answers_count_down_and_spare_refusals(make_emulator):
    emu = make_emulator()
    emu.lose_create_answers(2)
    assert emu.create_answers_to_lose() == (2, "reset")
    refused(create(emu, name="bad"), 230, "Params [BackupName] not available")  # answered: nothing was made
    assert emu.create_answers_to_lose() == (2, "reset")
    assert ok(emu, GROUP_ACTION)["TotalCount"] == 8  # other actions are answered
    for number, left in ((1, 1), (2, 0)):
        result = attempt(emu, signed(action_params(CREATE_ACTION, GroupId=GROUP, BackupName="lost-%d-x" % number)))
        assert is_connection_error(result)
        assert emu.create_answers_to_lose() == (left, "reset")
    assert create(emu, name="answered-1")["RetCode"] == 0
    assert emu.stats()["creates"] == 3 and len(rows_named(emu, "lost-1-x") + rows_named(emu, "lost-2-x")) == 2


def test_lose_create_answers_refuses_bad_settings():
    emu = Emulator(data=fresh_data())
    for count, kind in ((-1, "reset"), (True, "reset"), ("1", "reset"), (1, "503"), (1, "nope")):
        with pytest.raises(ValueError, match="lose_create_answers takes a count"):
            emu.lose_create_answers(count, kind)
    with pytest.raises(ValueError):
        Emulator(data=fresh_data(), lose_create_answers=(1, "nope"))
    assert Emulator(data=fresh_data(), lose_create_answers=(3, "html")).create_answers_to_lose() == (3, "html")


# --- the fault plan and the actions ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["503", "reset", "truncated", "hang", "retcode150", "drip", "no_retcode"])
def test_a_faulted_create_creates_nothing(make_emulator, kind):
    emu = make_emulator(faults=FaultPlan(schedule={1: kind}), hang_seconds=0.1, drip_interval=0.001)
    result = attempt(emu, signed(action_params(CREATE_ACTION, GroupId=GROUP, BackupName="faulted-1")))
    assert is_connection_error(result) == (kind == "reset")
    if kind in ("hang", "retcode150", "drip"):
        refused(result.json(), 150, "Service unavailable")  # the gateway's, in place of the answer
        assert result.json()["Action"] == "CreateURedisBackupResponse"
    assert rows_named(emu, "faulted-1") == [] and emu.stats()["creates"] == 0
    assert emu.stats()["faults_injected"] == 1
    assert create(emu, name="faulted-1")["RetCode"] == 0  # request 2: no fault


def test_a_faulted_policy_update_changes_nothing(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "truncated", 2: "500"}))
    before = emu.groups()
    for _number in (1, 2):
        send(emu, signed(action_params(POLICY_ACTION, GroupId=GROUP, AutoBackup="disable", BackupTime="5")))
    assert emu.groups() == before and emu.stats()["faults_injected"] == 2


@pytest.mark.parametrize("kind", ["endless", "total_claimed", "empty_dataset", "control_rows", "lone_surrogate"])
def test_listing_faults_pass_actions_without_a_dataset_through(make_emulator, kind):
    emu = make_emulator(faults=FaultPlan(rate=1.0, kinds=(kind,)))
    document = create(emu, name="listing-fault")
    assert document["RetCode"] == 0 and set(document) == {"RetCode", "Action", "BackupId"}
    time.sleep(0.3)
    assert ok(emu, URL_ACTION, BackupId=document["BackupId"])["BackupPath"]
    assert ok(emu, POLICY_ACTION, GroupId=GROUP) == {"RetCode": 0, "Action": "UpdateURedisBackupStrategyResponse"}
    assert emu.stats()["creates"] == 1 and emu.stats()["faults_injected"] == 0


def test_listing_faults_lie_about_group_listings_with_groups(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "endless", 2: "control_rows", 3: "total_claimed"}),
                        max_page_size=5, claimed_total=99)
    endless = ok(emu, GROUP_ACTION, Offset=10)
    assert [row["GroupId"] for row in endless["DataSet"]] == ["endless-%d" % n for n in range(10, 15)]
    assert endless["TotalCount"] == 99 and "BackupId" not in endless["DataSet"][0]
    marked = ok(emu, GROUP_ACTION)["DataSet"]
    assert all(row["Name"].endswith(CONTROL_TEXT) and "BackupName" not in row for row in marked)
    assert ok(emu, GROUP_ACTION)["TotalCount"] == 99


def test_garbled_answers_name_the_requests_action(make_emulator):
    emu = make_emulator(faults=FaultPlan(rate=1.0, kinds=("retcode150",)))
    for action in ACTIONS:
        assert call(emu, action)["Action"] == action + "Response"


# --- DescribeURedisBackupURL and the download ------------------------------------------------------

def test_url_of_a_success_backup_downloads_its_file(make_emulator):
    emu = make_emulator(url_ttl=600)
    row = dict(one_with(emu.data, Region="cn-bj2", ProjectId="org-demo", State="Success"), BackupSize=5000,
               RedisVersion="5.0")
    emu.change(upsert=[row])  # a file of 5000 bytes (the data set's are up to 8 GiB)
    before = time.time()
    document = ok(emu, URL_ACTION, BackupId=row["BackupId"])
    assert set(document) == {"RetCode", "Action", "BackupPath", "BackupURL"}
    assert document["BackupPath"] == document["BackupURL"]
    link = urllib.parse.urlsplit(document["BackupPath"])
    assert "%s://%s" % (link.scheme, link.netloc) == emu.base_url
    assert link.path == "/_emulator/download/%s" % row["BackupId"]
    query = link_query(document["BackupPath"])
    assert set(query) == {"Expires", "Signature"} and len(query["Signature"]) == 64
    assert int(before + 600) <= int(query["Expires"]) <= time.time() + 600
    emu.reset_stats()
    reply = http(document["BackupPath"])
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.body.startswith(b"REDIS0009") and len(reply.body) == 5000 == int(reply.headers["Content-Length"])
    assert reply.body[-9:-8] == b"\xff"  # the RDB end, then its checksum (test_backup_files.py checks the rest)
    assert http(document["BackupPath"]).body == reply.body  # the same bytes every time
    assert emu.stats()["api_requests"] == 0  # no API request, no signature


def test_url_with_the_optional_parameters(make_emulator):
    emu = make_emulator()
    row = one_with(emu.data, Region="cn-bj2", ProjectId="org-demo", State="Success", GroupId=DOUBLE)
    for extra in ({"GroupId": DOUBLE}, {"RegionFlag": "true", "SlaveZone": "cn-bj2-03"}, {"IsCrossRegion": "false"},
                  {"Zone": "cn-bj2-01", "RegionFlag": "false"}):
        assert peek(url_of(emu, row["BackupId"], **extra)).status == 200


def test_url_of_a_cross_region_backup_from_its_source_and_target(make_emulator):
    emu = make_emulator()
    rows = [row for row in emu.data["backups"] if row.get("SrcRegionName") and row.get("State") == "Success"]
    assert rows
    for row in rows:
        for region in (row["SrcRegionName"], row["DstRegionName"]):
            assert peek(url_of(emu, row["BackupId"], Region=region, IsCrossRegion="true")).status == 200


def test_url_of_a_created_backup_once_it_is_done(make_emulator):
    emu = make_emulator()
    backup_id = create(emu)["BackupId"]
    refused(call(emu, URL_ACTION, BackupId=backup_id), 20202, "get backup url failed: backup is Backuping")
    assert wait_for_state(emu, backup_id)["State"] == "Success"
    assert peek(url_of(emu, backup_id)).body.startswith(b"REDIS00")


@pytest.mark.parametrize("state", ["Error", "Expired", "Backuping"])
def test_url_of_a_backup_that_is_not_success_is_20202(shared, state):
    row = one_with(shared.data, Region="cn-bj2", ProjectId="org-demo", State=state)
    refused(call(shared, URL_ACTION, BackupId=row["BackupId"]), 20202, "get backup url failed: backup is %s" % state)


@pytest.mark.parametrize("overrides, ret_code, message", [
    ({"BackupId": None}, 210, "Missing params [BackupId]"),
    ({"BackupId": "no-such-backup"}, 230, "Params [BackupId] not available"),
    ({"Region": "cn-sh2"}, 230, "Params [BackupId] not available"),
    ({"ProjectId": "org-second"}, 230, "Params [BackupId] not available"),
    ({"GroupId": "uredis-cnbj2-05"}, 230, "Params [BackupId] not available"),
    ({"RegionFlag": "yes"}, 230, "Params [RegionFlag] not available"),
    ({"IsCrossRegion": "1"}, 230, "Params [IsCrossRegion] not available"),
], ids=["no id", "unknown id", "other region", "other project", "other group", "bad RegionFlag", "bad IsCrossRegion"])
def test_url_refusals(shared, overrides, ret_code, message):
    row = one_with(shared.data, Region="cn-bj2", ProjectId="org-demo", State="Success", GroupId=GROUP)
    refused(call(shared, URL_ACTION, **dict({"BackupId": row["BackupId"]}, **overrides)), ret_code, message)


def tampered(link, **changes):
    """``link`` with its query's values (None: dropped) or its path changed."""
    parts = urllib.parse.urlsplit(link)
    query = dict(link_query(link), **changes)
    path = query.pop("path", parts.path)
    query = dict((k, v) for k, v in query.items() if v is not None)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, urllib.parse.urlencode(query), ""))


def test_an_altered_or_foreign_link_is_403(make_emulator):
    emu = make_emulator()
    rows = [row for row in emu.data["backups"]
            if (row["Region"], row["ProjectId"], row.get("State")) == ("cn-bj2", "org-demo", "Success")]
    link = url_of(emu, rows[0]["BackupId"])
    good, expires = link_query(link)["Signature"], int(link_query(link)["Expires"])
    flipped = ("0" if good[0] != "0" else "1") + good[1:]
    for bad in (tampered(link, Signature=flipped), tampered(link, Signature=good.upper()),
                tampered(link, Expires=str(expires + 3600)), tampered(link, Expires=None),
                tampered(link, Signature=None), tampered(link, path="/_emulator/download/%s" % rows[1]["BackupId"])):
        reply = http(bad)
        assert reply.status == 403 and reply.body == b"this link is not valid (expired or altered)", bad
    other = make_emulator()  # another emulator's secret: the link is not its own
    assert http(link.replace(emu.base_url, other.base_url)).status == 403
    assert peek(link).status == 200
    emu.change(delete=[rows[0]["BackupId"]])  # the backup is gone: so is its file
    assert peek(link).status == 403


def test_an_expired_link_is_403(make_emulator):
    emu = make_emulator(url_ttl=1)
    row = one_with(emu.data, Region="cn-bj2", ProjectId="org-demo", State="Success")
    link = url_of(emu, row["BackupId"])
    expires = int(link_query(link)["Expires"])
    assert expires <= time.time() + 1
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    assert http(link).status == 403


def test_downloads_take_no_faults(make_emulator):
    emu = make_emulator(faults=FaultPlan(rate=1.0, kinds=("503",)))
    row = one_with(emu.data, Region="cn-bj2", ProjectId="org-demo", State="Success")
    answer = emu.answer(signed(action_params(URL_ACTION, BackupId=row["BackupId"])))  # in-process: no faults
    assert peek(answer["BackupPath"]).status == 200
    assert emu.stats()["faults_injected"] == 0


# --- UpdateURedisBackupStrategy ----------------------------------------------------------------------

def test_policy_update_sets_the_groups_policy(make_emulator):
    emu = make_emulator()
    before = time.time()
    document = ok(emu, POLICY_ACTION, GroupId=NEVER_BACKED_UP, AutoBackup="disable", BackupTime="17")
    assert document == {"RetCode": 0, "Action": "UpdateURedisBackupStrategyResponse"}
    group = group_row(emu.data, NEVER_BACKED_UP)
    assert (group["AutoBackup"], group["BackupTime"]) == ("disable", 17)
    assert int(before) <= group["ModifyTime"] <= time.time()
    listed = ok(emu, GROUP_ACTION, GroupId=NEVER_BACKED_UP)["DataSet"][0]
    assert (listed["AutoBackup"], listed["BackupTime"], listed["ModifyTime"]) == ("disable", 17, group["ModifyTime"])
    ok(emu, POLICY_ACTION, GroupId=GROUP, AutoBackup="enable", BackupTime="07", ProjectId="org-second")
    assert group_row(emu.data, GROUP, project="org-second")["BackupTime"] == 7
    assert group_row(emu.data, GROUP)["BackupTime"] == 0  # the demo project's group is another one


@pytest.mark.parametrize("sent, auto_backup, backup_time", [
    ({"BackupTime": "5"}, "enable", 5),         # no AutoBackup: automatic backups go on
    ({"AutoBackup": "disable"}, "disable", 0),  # no BackupTime: hour 0
    ({}, "enable", 0),                          # neither
    ({"AutoBackup": "", "BackupTime": ""}, "enable", 0),
], ids=["no AutoBackup", "no BackupTime", "neither", "both empty"])
def test_the_policy_trap_what_is_left_out_takes_the_servers_default(make_emulator, sent, auto_backup, backup_time):
    emu = make_emulator()
    emu.change_groups(policy={AUTO_OFF: {"AutoBackup": "disable", "BackupTime": 9}})
    ok(emu, POLICY_ACTION, GroupId=AUTO_OFF, **sent)
    group = group_row(emu.data, AUTO_OFF)
    assert (group["AutoBackup"], group["BackupTime"]) == (auto_backup, backup_time)


@pytest.mark.parametrize("overrides, ret_code, message", [
    ({"GroupId": None}, 210, "Missing params [GroupId]"),
    ({"GroupId": "uredis-nope-00"}, 230, "Params [GroupId] not available"),
    ({"GroupId": "uredis-hk-00"}, 230, "Params [GroupId] not available"),
    ({"BackupTime": "24"}, 230, "Params [BackupTime] not available"),
    ({"BackupTime": "-1"}, 230, "Params [BackupTime] not available"),
    ({"BackupTime": "3.0"}, 230, "Params [BackupTime] not available"),
    ({"BackupTime": " 3"}, 230, "Params [BackupTime] not available"),
    ({"BackupTime": "003"}, 230, "Params [BackupTime] not available"),
    ({"BackupTime": u"\u0663"}, 230, "Params [BackupTime] not available"),
    ({"AutoBackup": "on"}, 230, "Params [AutoBackup] not available"),
    ({"AutoBackup": "Enable"}, 230, "Params [AutoBackup] not available"),
    ({"OperationType": "remove"}, 230, "Params [OperationType] not available"),
    ({"OperationType": "modify", "SaveDays": "a week"}, 230, "Params [SaveDays] not available"),
], ids=["no group", "unknown group", "other region's group", "hour 24", "negative", "fraction", "space", "three digits",
        "non-ASCII digit", "AutoBackup on", "AutoBackup case", "operation", "SaveDays"])
def test_policy_refusals_change_nothing(make_emulator, overrides, ret_code, message):
    emu = make_emulator()
    before = emu.groups()
    params = dict({"GroupId": GROUP, "AutoBackup": "disable", "BackupTime": "5"}, **overrides)
    refused(call(emu, POLICY_ACTION, **params), ret_code, message)
    assert emu.groups() == before


@pytest.mark.parametrize("extra", [{"OperationType": "normal"}, {"OperationType": "close"},
                                   {"OperationType": "modify", "DstRegion": "cn-sh2", "SaveDays": "7"},
                                   {"Zone": "cn-bj2-01", "SlaveZone": "cn-bj2-03"}])
def test_policy_update_takes_the_cross_region_and_zone_parameters(make_emulator, extra):
    emu = make_emulator()
    ok(emu, POLICY_ACTION, GroupId=GROUP, AutoBackup="disable", BackupTime="23", **extra)
    assert group_row(emu.data, GROUP)["BackupTime"] == 23


# --- the data set's groups ---------------------------------------------------------------------------

def test_generated_groups_cover_every_group_the_backups_name():
    data = fresh_data()
    check_dataset(data)
    groups = set((g["Region"], g["ProjectId"], g["GroupId"]) for g in data["groups"])
    for row in data["backups"]:
        region = row.get("SrcRegionName", row["Region"])  # a cross-region backup's group is in its source
        assert (region, row["ProjectId"], row["GroupId"]) in groups, row
        group = group_row(data, row["GroupId"], region, row["ProjectId"])
        assert group["Name"] == row["GroupName"] and group.get("SlaveZone") == row.get("SlaveZone")
    assert len(data["groups"]) == 3 * 8 + 3 + 1  # org-demo's per region, org-second's per region, org-other's
    assert set(g["GroupId"] for g in data["groups"] if g["ProjectId"] == "org-other") == {GROUP}


@pytest.mark.parametrize("regions", [["cn-bj2", "cn-sh2", "hk"], ["a-b-c"]])
def test_generated_groups_without_backups(regions):
    data = generate_dataset(regions, 7, seed=5, epoch=EPOCH)
    used = set((row.get("SrcRegionName", row["Region"]), row["GroupId"]) for row in data["backups"])
    for region in regions:
        prefix = "uredis-%s-" % region.replace("-", "")
        mine = dict((g["GroupId"], g) for g in data["groups"] if g["Region"] == region and g["ProjectId"] == "org-demo")
        assert sorted(mine) == [prefix + "00", prefix + "01", prefix + "90", prefix + "91"]
        never = [group_id for group_id in sorted(mine) if (region, group_id) not in used]
        assert never == [prefix + "90", prefix + "91"]
        assert (mine[prefix + "90"]["AutoBackup"], mine[prefix + "90"]["BackupTime"]) == ("enable", 3)
        assert (mine[prefix + "91"]["AutoBackup"], mine[prefix + "91"]["BackupTime"]) == ("disable", 0)
        for group_id in never:
            group = mine[group_id]
            assert group["CreateTime"] == EPOCH - 10 * 86400 and group["State"] == "Running"
            assert group["CreateTime"] <= group["ModifyTime"] <= EPOCH
            assert group["ExpireTime"] in (0, group["CreateTime"] + 365 * 86400)


def test_generated_groups_are_typed_as_the_sdk_says_and_leave_optional_fields_absent():
    data = fresh_data()
    strings = ("GroupId", "Name", "Zone", "ConfigId", "Version", "Protocol", "Role", "Type", "HighAvailability",
               "AutoBackup", "ChargeType", "VirtualIP", "VPCId", "SubnetId", "Tag", "State")
    integers = ("BackupTime", "Size", "UsedSize", "MemorySize", "Port", "CreateTime", "ModifyTime", "ExpireTime",
                "RewriteTime", "SecPolicy")
    for group in data["groups"]:
        assert all(isinstance(group[key], str) for key in strings), group
        assert all(isinstance(group[key], int) and not isinstance(group[key], bool) for key in integers), group
        assert isinstance(group["IsHighPerformance"], bool) and isinstance(group["SSLEnable"], bool)
        assert group["Type"] in ("single", "double") and group["AutoBackup"] in ("enable", "disable")
        assert 0 <= group["BackupTime"] <= 23 and group["CreateTime"] < EPOCH
        assert ("SlaveZone" in group) == (group["Type"] == "double")
        assert ("SSLVersion" in group) == ("SSLCertExpireTime" in group) == group["SSLEnable"]
        assert "FailBackups" not in group
    assert any(g["SSLEnable"] for g in data["groups"]) and not all(g["SSLEnable"] for g in data["groups"])


def test_generated_groups_are_the_same_for_a_seed_and_leave_the_backups_as_they_were():
    first, again = generate_dataset(seed=4, epoch=EPOCH), generate_dataset(seed=4, epoch=EPOCH)
    assert first["groups"] == again["groups"]
    assert first["groups"] != generate_dataset(seed=5, epoch=EPOCH)["groups"]
    # the backups do not depend on the groups' generator: 107 of them, as before groups existed
    assert len(first["backups"]) == 107 and first["backups"] == again["backups"]


def old_data():
    """A data file of before groups: the backups name their groups, nothing lists them."""
    backups = [
        {"Region": "cn-bj2", "ProjectId": "org-a", "BackupId": "b1", "BackupTime": EPOCH, "GroupId": "g-1",
         "GroupName": "orders cache", "Zone": "cn-bj2-03", "MemorySize": 4, "RedisVersion": "6.0",
         "SlaveZone": "cn-bj2-04", "State": "Success", "BackupType": "Manual"},
        {"Region": "cn-bj2", "ProjectId": "org-a", "BackupId": "b2", "BackupTime": EPOCH - 500, "GroupId": "g-1"},
        {"Region": "cn-bj2", "ProjectId": "org-a", "BackupId": "b3", "BackupTime": EPOCH, "GroupId": "g-2"},
        {"Region": "hk", "ProjectId": "org-a", "BackupId": "b4", "GroupId": "g-1"},
        {"Region": "hk", "ProjectId": "org-a", "BackupId": "b5", "BackupTime": EPOCH, "GroupId": "g-3",
         "SrcRegionName": "cn-bj2", "DstRegionName": "hk"},
        {"Region": "hk", "ProjectId": "org-a", "BackupId": "b6"},
    ]
    return {"accounts": [{"public_key": "pk", "private_key": "sk", "default_project": "org-a"}],
            "regions": ["cn-bj2", "hk"], "backups": backups}


def test_a_data_set_without_groups_derives_them_from_its_backups(make_emulator):
    emu = make_emulator(data=old_data())
    groups = dict(((g["Region"], g["GroupId"]), g) for g in emu.groups())
    assert sorted(groups) == [("cn-bj2", "g-1"), ("cn-bj2", "g-2"), ("cn-bj2", "g-3"), ("hk", "g-1")]
    g1 = groups[("cn-bj2", "g-1")]
    assert dict((k, g1[k]) for k in ("ProjectId", "Name", "Zone", "SlaveZone", "Type", "Size", "MemorySize", "Version",
                                     "State", "AutoBackup", "BackupTime", "CreateTime")) == {
        "ProjectId": "org-a", "Name": "orders cache", "Zone": "cn-bj2-03", "SlaveZone": "cn-bj2-04", "Type": "double",
        "Size": 4, "MemorySize": 4, "Version": "6.0", "State": "Running", "AutoBackup": "enable", "BackupTime": 3,
        "CreateTime": EPOCH - 500 - 86400}
    g2 = groups[("cn-bj2", "g-2")]
    assert g2["Name"] == "g-2" and g2["Type"] == "single" and "SlaveZone" not in g2 and "Version" not in g2
    check_dataset(emu.data)  # the derived groups keep the data file's rules
    answer = api(emu, action_params(GROUP_ACTION, PublicKey="pk"), "sk")
    # newest CreateTime first: g-1 was created a day before its oldest backup (EPOCH - 500)
    assert [row["GroupId"] for row in answer["DataSet"]] == ["g-2", "g-3", "g-1"] and "Region" not in answer["DataSet"][0]
    document = api(emu, action_params(CREATE_ACTION, PublicKey="pk", GroupId="g-2", BackupName="on-old-data"), "sk")
    assert document["RetCode"] == 0


def test_the_generated_data_without_its_groups_gets_groups_for_its_backups(make_emulator):
    data = fresh_data()
    del data["groups"]
    emu = make_emulator(data=data)
    ids = set((g["Region"], g["ProjectId"], g["GroupId"]) for g in emu.groups())
    assert ids == set((row.get("SrcRegionName", row["Region"]), row["ProjectId"], row["GroupId"])
                      for row in data["backups"])
    assert NEVER_BACKED_UP not in [row["GroupId"] for row in ok(emu, GROUP_ACTION)["DataSet"]]


def test_a_backup_whose_group_is_not_listed_is_allowed(make_emulator):
    data = fresh_data()
    data["groups"] = [g for g in data["groups"] if g["GroupId"] != "uredis-cnbj2-02"]  # a deleted group
    emu = make_emulator(data=data)
    assert ok(emu, "DescribeURedisBackup", GroupId="uredis-cnbj2-02")["TotalCount"] > 0
    assert ok(emu, GROUP_ACTION, GroupId="uredis-cnbj2-02")["TotalCount"] == 0
    refused(create(emu, "uredis-cnbj2-02"), 230, "Params [GroupId] not available")
    refused(call(emu, POLICY_ACTION, GroupId="uredis-cnbj2-02"), 230, "Params [GroupId] not available")


ABSENT = object()


def with_group(**fields):
    """old_data() with one group, its fields changed (ABSENT: left out)."""
    group = dict({"Region": "cn-bj2", "ProjectId": "org-a", "GroupId": "g-1", "Name": "orders"}, **fields)
    return dict(old_data(), groups=[dict((k, v) for k, v in group.items() if v is not ABSENT)])


@pytest.mark.parametrize("data, message", [
    (dict(old_data(), groups={}), "the data set's 'groups' must be a list"),
    (dict(old_data(), groups=["g-1"]), "groups[0] must be an object"),
    (with_group(GroupId=ABSENT), "groups[0] needs a non-empty string 'GroupId'"),
    (with_group(GroupId=""), "groups[0] needs a non-empty string 'GroupId'"),
    (with_group(Region=ABSENT), "groups[0] needs a non-empty string 'Region'"),
    (with_group(ProjectId=7), "groups[0] needs a non-empty string 'ProjectId'"),
    (with_group(Region="mars-1"), "groups[0].Region 'mars-1' is not one of the data set's regions"),
    (with_group(Name=5), "groups[0].Name must be a string"),
    (with_group(VirtualIP=None), "groups[0].VirtualIP must be a string"),
    (with_group(Size="4"), "groups[0].Size must be an integer"),
    (with_group(Port=True), "groups[0].Port must be an integer"),
    (with_group(CreateTime=1.5), "groups[0].CreateTime must be an integer"),
    (with_group(SSLEnable="true"), "groups[0].SSLEnable must be true or false"),
    (with_group(FailBackups=1), "groups[0].FailBackups must be true or false"),
    (with_group(AutoBackup="on"), "groups[0].AutoBackup must be enable or disable"),
    (with_group(BackupTime=24), "groups[0].BackupTime must be an hour from 0 to 23"),
    (with_group(BackupTime=-1), "groups[0].BackupTime must be an hour from 0 to 23"),
    (dict(old_data(), groups=with_group()["groups"] * 2),
     "group (Region, ProjectId, GroupId) ('cn-bj2', 'org-a', 'g-1') appears twice"),
], ids=["not a list", "not an object", "no GroupId", "empty GroupId", "no Region", "ProjectId type", "unknown region",
        "Name type", "null", "Size type", "bool as int", "float", "SSLEnable type", "FailBackups type", "AutoBackup",
        "hour 24", "hour -1", "duplicate"])
def test_check_dataset_refuses_bad_groups(data, message):
    with pytest.raises(ValueError) as error:
        check_dataset(data)
    assert str(error.value) == message


def test_check_dataset_takes_good_groups():
    data = with_group(BackupTime=0, AutoBackup="disable", SSLEnable=False, FailBackups=True, Size=4)
    data["groups"].append(dict(data["groups"][0], ProjectId="org-b"))  # the same GroupId in another project
    data["groups"].append(dict(data["groups"][0], Region="hk"))  # and in another region
    assert check_dataset(data) is data


def test_a_data_file_with_groups_is_served_as_it_is(tmp_path):
    path = tmp_path / "data.json"
    data = fresh_data()
    path.write_text(json.dumps(data), encoding="utf-8")
    emu = emulator_from_args(_parser().parse_args(["--data", str(path)]))
    assert emu.groups() == data["groups"]


# --- control paths and knobs -------------------------------------------------------------------------

def test_control_get_groups_holds_the_hidden_fields(make_emulator):
    emu = make_emulator()
    reply = control(emu, "groups")
    assert reply.status == 200 and reply.json() == emu.groups() == fresh_data()["groups"]
    assert all(row["Region"] and row["ProjectId"] for row in reply.json())


def test_control_post_groups_upserts_deletes_fails_and_sets_policies(make_emulator):
    emu = make_emulator()
    new = dict(group_row(emu.data, GROUP), GroupId="uredis-new-01", Name="new", CreateTime=EPOCH + 5)
    reply = control(emu, "groups", {"upsert": [new], "delete": [DOUBLE]})
    assert reply.status == 200 and reply.json() == {"ok": True, "groups": len(fresh_data()["groups"])}
    ids = [row["GroupId"] for row in ok(emu, GROUP_ACTION)["DataSet"]]
    assert ids[0] == "uredis-new-01" and DOUBLE not in ids
    assert control(emu, "groups", {"policy": {AUTO_OFF: {"AutoBackup": "enable", "BackupTime": 5}}}).status == 200
    assert (group_row(emu.data, AUTO_OFF)["AutoBackup"], group_row(emu.data, AUTO_OFF)["BackupTime"]) == ("enable", 5)
    assert control(emu, "groups", {"fail": ["uredis-new-01"]}).status == 200
    assert group_row(emu.data, "uredis-new-01")["FailBackups"] is True
    failing = create(emu, "uredis-new-01", "manual-new-1")["BackupId"]
    assert wait_for_state(emu, failing, "uredis-new-01")["State"] == "Error"
    assert control(emu, "groups", {"succeed": ["uredis-new-01"]}).status == 200
    working = create(emu, "uredis-new-01", "manual-new-2")["BackupId"]
    assert wait_for_state(emu, working, "uredis-new-01")["State"] == "Success"
    assert control(emu, "groups", {"upsert": [dict(new, Name="renamed")]}).json()["groups"] == len(fresh_data()["groups"])
    assert ok(emu, GROUP_ACTION, GroupId="uredis-new-01")["DataSet"][0]["Name"] == "renamed"


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "bad change: "),
    ([], 'bad change: send {"upsert": [rows], "delete": [ids], "fail": [ids], "succeed": [ids], '),
    ({"remove": [GROUP]}, "bad change: send {"),
    ({"upsert": {"GroupId": "x"}}, "bad change: upsert must be a list"),
    ({"delete": GROUP}, "bad change: delete must be a list"),
    ({"fail": GROUP}, "bad change: fail must be a list"),
    ({"upsert": ["x"]}, "bad change: upsert takes a list of group rows"),
    ({"upsert": [{"GroupId": "x"}]}, "bad change: groups[28] needs a non-empty string 'Region'"),
    ({"fail": ["uredis-nope-00"]}, "bad change: there is no group 'uredis-nope-00'"),
    ({"policy": [AUTO_OFF]}, "bad change: policy must map group ids to objects"),
    ({"policy": {AUTO_OFF: "disable"}}, "bad change: policy must map group ids to objects"),
    ({"policy": {AUTO_OFF: {"State": "Deleting"}}}, "bad change: a policy sets AutoBackup and BackupTime, not 'State'"),
    ({"policy": {AUTO_OFF: {"BackupTime": 30}}}, "bad change: groups[7].BackupTime must be an hour from 0 to 23"),
    ({"policy": {AUTO_OFF: {"AutoBackup": "off"}}}, "bad change: groups[7].AutoBackup must be enable or disable"),
], ids=["not JSON", "a list", "unknown key", "upsert object", "delete string", "fail string", "upsert strings",
        "bad row", "unknown group", "policy list", "policy string", "policy field", "policy hour", "policy value"])
def test_control_a_bad_post_groups_is_400_and_changes_nothing(make_emulator, body, reason):
    emu = make_emulator()
    before = emu.groups()
    reply = control(emu, "groups", body)
    assert reply.status == 400 and reply.headers["Content-Type"].startswith("text/plain")
    assert reply.body.decode("utf-8").startswith(reason), reply
    assert emu.groups() == before


def test_control_lose_create_answers(make_emulator):
    emu = make_emulator()
    assert control(emu, "lose_create_answers").json() == {"count": 0, "kind": "reset"}
    reply = control(emu, "lose_create_answers", {"count": 2, "kind": "504"})
    assert reply.status == 200 and reply.json() == {"ok": True, "count": 2, "kind": "504"}
    assert emu.create_answers_to_lose() == (2, "504")
    assert send(emu, signed(action_params(CREATE_ACTION, GroupId=GROUP, BackupName="lost-http-1"))).status == 504
    assert control(emu, "lose_create_answers").json() == {"count": 1, "kind": "504"}
    assert len(rows_named(emu, "lost-http-1")) == 1
    assert control(emu, "lose_create_answers", {"count": 0}).json() == {"ok": True, "count": 0, "kind": "reset"}


@pytest.mark.parametrize("body", [b"nope", [1], {"count": -1}, {"count": "2"}, {"count": 1, "kind": "503"},
                                  {"count": 1, "extra": True}])
def test_control_bad_lose_create_answers_is_400(make_emulator, body):
    emu = make_emulator()
    emu.lose_create_answers(1, "html")
    reply = control(emu, "lose_create_answers", body)
    assert reply.status == 400 and reply.body.startswith(b"bad change: ")
    assert emu.create_answers_to_lose() == (1, "html")


def test_stats_count_actions_and_creates(make_emulator):
    emu = make_emulator()
    ok(emu, GROUP_ACTION)
    create(emu, name="stats-one")
    create(emu, name="bad")  # refused: sent, not created
    create(emu, "uredis-nope-00", name="stats-two")
    ok(emu, POLICY_ACTION, GroupId=GROUP)
    call(emu, URL_ACTION)
    stats = control(emu, "stats").json()
    assert stats["by_action"] == {GROUP_ACTION: 1, CREATE_ACTION: 3, POLICY_ACTION: 1, URL_ACTION: 1}
    assert stats["creates"] == 1 and stats == emu.stats()
    emu.reset_stats()
    assert (emu.stats()["by_action"], emu.stats()["creates"]) == ({}, 0)


def test_the_knobs_from_the_command_line():
    args = _parser().parse_args(["--backup-seconds", "0.5", "--manual-backup-limit", "3", "--url-ttl", "60",
                                 "--lose-create-answers", "2=hang"])
    emu = emulator_from_args(args)
    assert (emu.backup_seconds, emu.manual_backup_limit, emu.url_ttl) == (0.5, 3, 60)
    assert emu.create_answers_to_lose() == (2, "hang")
    defaults = emulator_from_args(_parser().parse_args([]))
    assert (defaults.backup_seconds, defaults.manual_backup_limit, defaults.url_ttl) == (2.0, 10, 3600)
    assert defaults.create_answers_to_lose() == (0, "reset")
    assert emulator_from_args(_parser().parse_args(["--lose-create-answers", "4"])).create_answers_to_lose() == (4, "reset")


@pytest.mark.parametrize("args, message", [
    (["--lose-create-answers", "x"], "emulator: bad --lose-create-answers 'x': use N or N=KIND"),
    (["--lose-create-answers", "1=nope"], "emulator: lose_create_answers takes a count of 0 or more and a kind"),
    (["--backup-seconds", "-1"], "server.py: error: argument --backup-seconds: must be 0 or more"),
    (["--manual-backup-limit", "many"], "server.py: error: argument --manual-backup-limit: 'many' is not a number"),
    (["--url-ttl", "-5"], "server.py: error: argument --url-ttl: must be 0 or more"),
], ids=["lose count", "lose kind", "backup seconds", "limit", "url ttl"])
def test_bad_knobs_exit_2_without_a_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("kwargs", [{"backup_seconds": -1}, {"manual_backup_limit": -1}, {"url_ttl": -1}])
def test_emulator_refuses_bad_knobs(kwargs):
    with pytest.raises(ValueError):
        Emulator(data=fresh_data(), **kwargs)
