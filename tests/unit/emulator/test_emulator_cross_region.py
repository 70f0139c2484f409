# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's cross-region copies, on the wire (API.md, "Cross-region copies"):
UpdateURedisBackupStrategy with OperationType modify and close, the copies of the backups taken
while copies are on, their listings (RegionType source and target), their links (IsCrossRegion)
and their expiry after SaveDays days.

Requests are signed and sent by emulator_helpers.py, not by the emulator's own code.
"""

from __future__ import annotations

import functools
import logging
import time

import pytest

from emulator.server import _parser, check_dataset, copy_id, emulator_from_args
from emulator_helpers import DEMO_PRIVATE, DEMO_PUBLIC, api, control, fresh_data, http

GROUP = "uredis-cnbj2-90"  # no backup of its own: every backup of it in a listing is one a test took
SOURCE, DESTINATION = "cn-bj2", "hk"
POLICY_ACTION = "UpdateURedisBackupStrategy"


def call(emu, action, region=SOURCE, **params):
    sent = {"Action": action, "PublicKey": DEMO_PUBLIC, "Region": region}
    sent.update((key, str(value)) for key, value in params.items() if value is not None)
    return api(emu, sent)


def ok(emu, action, **params):
    document = call(emu, action, **params)
    assert document["RetCode"] == 0, document
    return document


def group_row(emu, group_id=GROUP):
    return next(row for row in emu.groups() if (row["Region"], row["ProjectId"], row["GroupId"]) == (SOURCE, "org-demo", group_id))


def copies_on(emu, days=7, group_id=GROUP, **params):
    params = dict({"AutoBackup": "enable", "BackupTime": "3"}, **params)
    ok(emu, POLICY_ACTION, GroupId=group_id, OperationType="modify", DstRegion=DESTINATION, SaveDays=days, **params)


def copies_off(emu, group_id=GROUP):
    ok(emu, POLICY_ACTION, GroupId=group_id, OperationType="close", AutoBackup="enable", BackupTime="3")


def take(emu, name, group_id=GROUP):
    """Create a backup and wait until it is done; its BackupId."""
    backup_id = ok(emu, "CreateURedisBackup", GroupId=group_id, BackupName=name)["BackupId"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = listing(emu, SOURCE, "normal", group_id=group_id, BackupId=backup_id)
        if rows and rows[0]["State"] != "Backuping":
            return backup_id
        time.sleep(0.05)
    raise AssertionError("backup %s never finished" % backup_id)


def listing(emu, region, region_type, group_id=GROUP, **params):
    return ok(emu, "DescribeURedisBackup", region=region, RegionType=region_type, GroupId=group_id, Limit=100,
              **params)["DataSet"]


@pytest.fixture
def make_emulator(make_emulator):
    """conftest.py's make_emulator, with backups done in 0.1 s."""
    return functools.partial(make_emulator, backup_seconds=0.1)


# --- the policy ----------------------------------------------------------------------------------

def test_modify_stores_the_policy_in_hidden_fields_and_close_clears_it(make_emulator):
    emu = make_emulator()
    copies_on(emu, days=5)
    row = group_row(emu)
    assert (row["DstRegion"], row["SaveDays"]) == (DESTINATION, 5)
    listed = ok(emu, "DescribeURedisGroup", GroupId=GROUP)["DataSet"][0]
    assert "DstRegion" not in listed and "SaveDays" not in listed  # no action reads the policy back
    shown = [g for g in control(emu, "groups").json() if g["GroupId"] == GROUP and g["Region"] == SOURCE
             and g["ProjectId"] == "org-demo"]
    assert shown[0]["DstRegion"] == DESTINATION
    copies_off(emu)
    row = group_row(emu)
    assert "DstRegion" not in row and "SaveDays" not in row
    copies_off(emu)  # closing what is closed is no error


@pytest.mark.parametrize("params, ret_code, message", [
    ({"DstRegion": None}, 210, "Missing params [DstRegion]"),
    ({"DstRegion": SOURCE}, 230, "Params [DstRegion] not available"),
    ({"DstRegion": "mars-1"}, 230, "Params [DstRegion] not available"),
    ({"SaveDays": None}, 210, "Missing params [SaveDays]"),
    ({"SaveDays": "0"}, 230, "Params [SaveDays] not available"),
    ({"SaveDays": "-1"}, 230, "Params [SaveDays] not available"),
    ({"GroupId": "uredis-nope-00"}, 230, "Params [GroupId] not available"),
], ids=["no region", "own region", "unknown region", "no days", "zero days", "negative days", "unknown group"])
def test_modify_refusals_change_nothing(make_emulator, params, ret_code, message):
    emu = make_emulator()
    before = emu.groups()
    sent = dict({"GroupId": GROUP, "OperationType": "modify", "DstRegion": DESTINATION, "SaveDays": "7",
                 "AutoBackup": "disable", "BackupTime": "5"}, **params)
    document = call(emu, POLICY_ACTION, **sent)
    assert (document["RetCode"], document["Message"]) == (ret_code, message)
    assert emu.groups() == before


@pytest.mark.parametrize("operation", ["modify", "close"])
def test_modify_and_close_without_the_automatic_policy_take_the_defaults(make_emulator, operation):
    # What the real server does is not documented: the emulator takes the pessimistic reading.
    emu = make_emulator()
    emu.change_groups(policy={GROUP: {"AutoBackup": "disable", "BackupTime": 9}})
    extra = {"DstRegion": DESTINATION, "SaveDays": "3"} if operation == "modify" else {}
    ok(emu, POLICY_ACTION, GroupId=GROUP, OperationType=operation, **extra)
    assert (group_row(emu)["AutoBackup"], group_row(emu)["BackupTime"]) == ("enable", 0)
    emu.change_groups(policy={GROUP: {"AutoBackup": "disable", "BackupTime": 9}})
    ok(emu, POLICY_ACTION, GroupId=GROUP, OperationType=operation, AutoBackup="disable", BackupTime="9", **extra)
    assert (group_row(emu)["AutoBackup"], group_row(emu)["BackupTime"]) == ("disable", 9)


def test_normal_leaves_the_cross_region_policy_alone(make_emulator):
    emu = make_emulator()
    copies_on(emu)
    ok(emu, POLICY_ACTION, GroupId=GROUP, AutoBackup="disable", BackupTime="4")
    assert group_row(emu)["DstRegion"] == DESTINATION


# --- copies ----------------------------------------------------------------------------------------

def test_a_backup_taken_while_copies_are_on_is_copied_to_the_destination(make_emulator):
    emu = make_emulator()
    copies_on(emu, days=2)
    source_id = take(emu, "copied-1")
    source = listing(emu, SOURCE, "normal", BackupId=source_id)[0]
    target = listing(emu, DESTINATION, "target")
    assert [row["BackupId"] for row in target] == [copy_id(source_id)] and copy_id(source_id) != source_id
    copy = target[0]
    assert (copy["SrcRegionName"], copy["DstRegionName"], copy["State"]) == (SOURCE, DESTINATION, "Success")
    for field in ("GroupId", "GroupName", "BackupName", "BackupTime", "BackupSize", "BackupType", "RedisVersion",
                  "MemorySize", "Zone"):
        assert copy[field] == source[field], field
    assert "SourceBackupId" not in copy and "SaveDays" not in copy and "Region" not in copy
    assert listing(emu, SOURCE, "source") == target  # what the group's region sent
    assert copy["BackupId"] not in [row["BackupId"] for row in listing(emu, DESTINATION, "normal", group_id=None)]
    assert listing(emu, SOURCE, "target") == [] and listing(emu, SOURCE, "normal")[0]["BackupId"] == source_id
    stored = next(row for row in emu.data["backups"] if row["BackupId"] == copy["BackupId"])
    assert (stored["SourceBackupId"], stored["SaveDays"], stored["Region"]) == (source_id, 2, DESTINATION)


def test_no_copy_before_modify_after_close_or_of_a_failed_backup(make_emulator):
    emu = make_emulator()
    take(emu, "before-on")
    copies_on(emu)
    emu.change_groups(fail=[GROUP])
    take(emu, "failed-1")
    emu.change_groups(succeed=[GROUP])
    copied = take(emu, "while-on")
    copies_off(emu)
    take(emu, "after-off")
    assert [row["BackupId"] for row in listing(emu, DESTINATION, "target")] == [copy_id(copied)]
    assert len(listing(emu, SOURCE, "normal")) == 4


def test_only_the_groups_with_copies_on_are_copied(make_emulator):
    emu = make_emulator()
    copies_on(emu)
    take(emu, "other-group", group_id="uredis-cnbj2-91")
    assert listing(emu, DESTINATION, "target", group_id="uredis-cnbj2-91") == []


def test_a_copy_arrives_copy_seconds_after_its_source_is_done(make_emulator):
    emu = make_emulator(copy_seconds=0.5)
    copies_on(emu)
    source_id = take(emu, "slow-copy")
    assert listing(emu, DESTINATION, "target") == []
    copies_off(emu)  # a copy already on its way still arrives
    time.sleep(0.6)
    assert [row["BackupId"] for row in listing(emu, DESTINATION, "target")] == [copy_id(source_id)]


def test_a_copy_is_gone_after_save_days(make_emulator):
    emu = make_emulator()
    copies_on(emu, days=3)
    source_id = take(emu, "expiring")
    copy = next(row for row in emu.data["backups"] if row["BackupId"] == copy_id(source_id))
    emu.change(upsert=[dict(copy, BackupTime=int(time.time()) - 3 * 86400 + 60)])  # a minute left
    assert len(listing(emu, DESTINATION, "target")) == 1
    emu.change(upsert=[dict(copy, BackupTime=int(time.time()) - 3 * 86400 - 1)])
    assert listing(emu, DESTINATION, "target") == [] and listing(emu, SOURCE, "source") == []
    assert listing(emu, SOURCE, "normal")[0]["BackupId"] == source_id  # the source stays


# --- links -------------------------------------------------------------------------------------------

def test_the_link_of_a_copy_needs_is_cross_region(make_emulator):
    emu = make_emulator()
    copies_on(emu)
    source_id = take(emu, "linked-1")
    copy = copy_id(source_id)
    document = ok(emu, "DescribeURedisBackupURL", region=DESTINATION, BackupId=copy, IsCrossRegion="true")
    assert http(document["BackupPath"]).status == 200
    for region, backup_id, flag in ((DESTINATION, copy, None), (DESTINATION, copy, "false"),
                                    (SOURCE, source_id, "true"), (DESTINATION, source_id, "true")):
        document = call(emu, "DescribeURedisBackupURL", region=region, BackupId=backup_id, IsCrossRegion=flag)
        assert (document["RetCode"], document["Message"]) == (230, "Params [BackupId] not available"), (region, flag)
    assert ok(emu, "DescribeURedisBackupURL", BackupId=source_id)["BackupPath"]


# --- data sets and the command line ----------------------------------------------------------------

@pytest.mark.parametrize("changes, words", [
    ({"DstRegion": "hk"}, "needs both DstRegion and SaveDays"),
    ({"DstRegion": "cn-bj2", "SaveDays": 3}, "DstRegion must be another of the data set's regions"),
    ({"DstRegion": "mars-1", "SaveDays": 3}, "DstRegion must be another of the data set's regions"),
    ({"DstRegion": "hk", "SaveDays": 0}, "SaveDays must be 1 or more"),
    ({"DstRegion": "hk", "SaveDays": "3"}, "SaveDays must be an integer"),
])
def test_a_data_set_with_a_bad_group_policy_is_refused(changes, words):
    data = fresh_data()
    data["groups"][0].update(changes)
    with pytest.raises(ValueError) as caught:
        check_dataset(data)
    assert words in str(caught.value)


def test_a_data_set_with_a_bad_copy_row_is_refused():
    data = fresh_data()
    data["backups"][0]["SaveDays"] = 0
    with pytest.raises(ValueError, match="SaveDays must be 1 or more"):
        check_dataset(data)
    data["backups"][0]["SaveDays"] = "7"
    with pytest.raises(ValueError, match="SaveDays must be an integer"):
        check_dataset(data)


def test_copy_seconds_from_the_command_line():
    assert emulator_from_args(_parser().parse_args(["--copy-seconds", "1.5"])).copy_seconds == 1.5
    assert emulator_from_args(_parser().parse_args([])).copy_seconds == 0.0


# --- the official SDK --------------------------------------------------------------------------------

def test_sdk_switches_copies_on_and_off(make_emulator):
    client_module = pytest.importorskip("ucloud.client", reason="ucloud-sdk-python3 is not installed")
    emu = make_emulator()
    settings = {"region": SOURCE, "public_key": DEMO_PUBLIC, "private_key": DEMO_PRIVATE, "base_url": emu.base_url,
                "max_retries": 0, "timeout": 10}
    umem = client_module.Client(settings, logger=logging.getLogger("test_cross_region")).umem()
    umem.update_uredis_backup_strategy({"GroupId": GROUP, "OperationType": "modify", "DstRegion": DESTINATION,
                                        "SaveDays": 4, "AutoBackup": "disable", "BackupTime": "6"})
    row = group_row(emu)
    assert (row["DstRegion"], row["SaveDays"], row["AutoBackup"], row["BackupTime"]) == (DESTINATION, 4, "disable", 6)
    umem.update_uredis_backup_strategy({"GroupId": GROUP, "OperationType": "close", "AutoBackup": "disable",
                                        "BackupTime": "6"})
    assert "DstRegion" not in group_row(emu)
