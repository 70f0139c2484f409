# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""uredis_group through real ``ansible`` runs against the emulator: creating a group (empty, or restored
from a backup) and deleting one, with the emulator's lost answers, failed creates and hostile listings."""

from __future__ import annotations

import base64

import pytest

from emulator.server import FaultPlan, config_id
from helpers import AUTO_OFF, REGION, module

PASSWORD = "s3cret-Pa55word-for-tests"
FAST = dict(group_create_seconds=0.6, group_delete_seconds=0.3)
POLL = {"poll_interval": 0.2}


def flat(text):
    return " ".join(text.split())


def named(emu, name):
    return [row for row in emu.groups() if row.get("Name") == name]


def stat(emu, key):
    return emu.stats().get(key, 0)


def calls(emu, action):
    return emu.stats()["by_action"].get(action, 0)


def success_backup(emu, version):
    return next(row for row in emu.data["backups"] if row["Region"] == REGION and row["ProjectId"] == "org-demo"
                and row["State"] == "Success" and row.get("RedisVersion") == version and row.get("Zone")
                and not row.get("DstRegionName"))


def group_row(emu, group_id):
    rows = [row for row in emu.groups() if row["GroupId"] == group_id and row["ProjectId"] == "org-demo"]
    return rows[0] if rows else None


# --- state=present --------------------------------------------------------------------------------

def test_an_empty_group_is_created_waited_for_and_a_rerun_changes_nothing(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    args = dict(POLL, name="scratch-empty", zone="cn-bj2-01", password=PASSWORD, tag="drill")
    result, task = module(run_ansible, emu, "uredis_group", args)
    assert result.rc == 0, result
    group = task["group"]
    assert task["changed"] is True and group["state"] == "Running" and group["name"] == "scratch-empty"
    assert isinstance(task["elapsed"], float) and task["elapsed"] >= 0.5  # the emulator's Creating time
    row = group_row(emu, group["group_id"])
    assert row["Password"] == PASSWORD and row["ChargeType"] == "Dynamic" and row["Tag"] == "drill"
    assert "SourceBackupId" not in row and row["HighAvailability"] == "disable"

    result, again = module(run_ansible, emu, "uredis_group", args)
    assert result.rc == 0 and again["changed"] is False and again["group"]["group_id"] == group["group_id"]
    assert again["elapsed"] == 0.0
    assert stat(emu, "group_creates") == 1 and len(named(emu, "scratch-empty")) == 1


def test_a_restore_takes_the_backups_version_and_the_default_configuration(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    backup = success_backup(emu, "7.0")
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, name="restore-test", backup_id=backup["BackupId"],
                                                                 password=PASSWORD))
    assert result.rc == 0, result
    group = task["group"]
    assert task["changed"] is True and group["state"] == "Running"
    assert group["version"] == "7.0" and group["zone"] == backup["Zone"]  # the zone defaults to the backup's
    assert group["config_id"] == config_id(backup["Zone"], "7.0", "default")
    row = group_row(emu, group["group_id"])
    assert row["SourceBackupId"] == backup["BackupId"] and row["Password"] == PASSWORD


def test_a_version_older_than_the_backup_is_refused_before_any_create(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    backup = success_backup(emu, "7.0")
    result, task = module(run_ansible, emu, "uredis_group", dict(name="restore-old", backup_id=backup["BackupId"],
                                                                 version="5.0"))
    assert result.rc != 0
    assert "version=5.0 cannot load backup %s, taken of Redis 7.0" % backup["BackupId"] in task["msg"]
    assert calls(emu, "CreateURedisGroup") == 0


def test_a_lost_create_answer_makes_exactly_one_group(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    emu.lose_create_answers(1, "reset")
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, name="lost-answer", zone="cn-bj2-01"))
    assert result.rc == 0, result
    assert task["changed"] is True and task["group"]["state"] == "Running"
    assert len(named(emu, "lost-answer")) == 1 and named(emu, "lost-answer")[0]["GroupId"] == task["group"]["group_id"]
    assert calls(emu, "CreateURedisGroup") == 1 and stat(emu, "group_creates") == 1
    assert stat(emu, "faults_injected") == 1  # the answer was lost indeed


def test_two_groups_of_the_name_fail_naming_both(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    assert module(run_ansible, emu, "uredis_group", dict(POLL, name="twin-name", zone="cn-bj2-01"))[0].rc == 0
    first, = named(emu, "twin-name")
    emu.change_groups(upsert=[dict(first, GroupId="uredis-cnbj2-twin")])
    ids = sorted([first["GroupId"], "uredis-cnbj2-twin"])
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, name="twin-name", zone="cn-bj2-01"))
    assert result.rc != 0
    assert "2 Redis groups are called twin-name in zone cn-bj2-01 (%s)" % ", ".join(ids) in task["msg"]
    assert stat(emu, "group_creates") == 1


def test_a_create_fail_names_the_group_its_state_and_the_time(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    emu.fail_group_creates(1)
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, name="doomed-group", zone="cn-bj2-01"))
    assert result.rc != 0
    group_id = task["group_id"]
    assert "Redis group %s ('doomed-group') ended in state CreateFail after" % group_id in task["msg"]
    assert task["changed"] is True and task["group"]["state"] == "CreateFail" and task["elapsed"] > 0
    assert "Traceback" not in result.output


def test_a_wait_past_wait_timeout_fails_naming_the_state(run_ansible, start_emulator):
    emu = start_emulator(group_create_seconds=60)
    result, task = module(run_ansible, emu, "uredis_group", dict(name="slow-group", zone="cn-bj2-01", wait_timeout=2,
                                                                 poll_interval=0.5))
    assert result.rc != 0
    assert "('slow-group') was still Creating after waiting" in task["msg"] and "(wait_timeout)" in task["msg"]
    assert task["group"]["state"] == "Creating" and 1.5 < task["elapsed"] < 10


def test_wait_false_returns_the_group_still_creating(run_ansible, start_emulator):
    emu = start_emulator(group_create_seconds=60)
    result, task = module(run_ansible, emu, "uredis_group", dict(name="nowait-group", zone="cn-bj2-01", wait=False))
    assert result.rc == 0 and task["changed"] is True and task["group"]["state"] == "Creating"


def test_check_mode_and_diff_create_and_delete_nothing(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    result, task = module(run_ansible, emu, "uredis_group", dict(name="checked-group", zone="cn-bj2-01"),
                          check=True, diff=True)
    assert result.rc == 0 and task["changed"] is True and task["group"] is None
    assert task["diff"]["before"] == {} and task["diff"]["after"]["name"] == "checked-group"
    result, task = module(run_ansible, emu, "uredis_group", dict(state="absent", group_id=AUTO_OFF), check=True, diff=True)
    assert result.rc == 0 and task["changed"] is True
    assert task["diff"]["before"]["group_id"] == AUTO_OFF and task["diff"]["after"] == {}
    assert calls(emu, "CreateURedisGroup") == 0 and calls(emu, "DeleteURedisGroup") == 0
    assert group_row(emu, AUTO_OFF)["State"] == "Running"


def test_the_password_and_its_base64_never_show_even_at_vvvv(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    secret = "Zq-never-shown-9137"
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, name="secret-group", zone="cn-bj2-01",
                                                                 password=secret), verbosity="-vvvv", diff=True)
    assert result.rc == 0, result
    assert group_row(emu, task["group"]["group_id"])["Password"] == secret
    encoded = base64.b64encode(secret.encode()).decode()
    for text in (secret, encoded, encoded.rstrip("=")):
        assert text not in result.stdout and text not in result.raw_stderr


# --- state=absent ---------------------------------------------------------------------------------

def test_options_are_checked_before_any_call(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    for args, words in [({"zone": "cn-bj2-01"}, "name is required with state=present"),
                        ({"name": "abc"}, "name='abc' is not accepted"),
                        ({"name": "no-zone-given"}, "zone is required to create a group, unless backup_id is given"),
                        ({"name": "sized-group", "zone": "cn-bj2-01", "size": 3}, "size=3 is not accepted"),
                        ({"name": "has-an-id", "zone": "cn-bj2-01", "group_id": AUTO_OFF}, "group_id goes with state=absent")]:
        result, task = module(run_ansible, emu, "uredis_group", args)
        assert result.rc != 0 and words in task["msg"], (args, task)
    assert emu.stats()["api_requests"] == 0


def test_a_name_alone_never_deletes(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    result, task = module(run_ansible, emu, "uredis_group", dict(state="absent", name="never-backed-up-91"))
    assert result.rc != 0 and "state=absent needs group_id: deleting is irreversible" in task["msg"]
    assert emu.stats()["api_requests"] == 0


def test_delete_waits_until_gone_and_a_group_already_gone_is_unchanged(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    before = len(emu.groups())
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, state="absent", group_id=AUTO_OFF))
    assert result.rc == 0, result
    assert task["changed"] is True and task["group"]["group_id"] == AUTO_OFF and task["elapsed"] >= 0.25
    assert group_row(emu, AUTO_OFF) is None and len(emu.groups()) == before - 1
    assert stat(emu, "group_deletes") == 1

    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, state="absent", group_id=AUTO_OFF))
    assert result.rc == 0 and task["changed"] is False and task["group"] is None
    assert calls(emu, "DeleteURedisGroup") == 1


def test_a_delete_whose_answer_was_lost_is_looked_up_then_sent_again(run_ansible, start_emulator):
    # 1: the group's listing, 2: the delete (the 504 strikes before it is performed), 3: the lookup, 4: the delete again.
    emu = start_emulator(faults=FaultPlan(schedule={2: "504"}), **FAST)
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, state="absent", group_id=AUTO_OFF))
    assert result.rc == 0, result
    assert task["changed"] is True and group_row(emu, AUTO_OFF) is None
    assert calls(emu, "DeleteURedisGroup") == 2 and stat(emu, "group_deletes") == 1
    assert stat(emu, "faults_injected") == 1


def test_a_group_named_otherwise_is_not_deleted(run_ansible, start_emulator):
    emu = start_emulator(**FAST)
    result, task = module(run_ansible, emu, "uredis_group", dict(state="absent", group_id=AUTO_OFF, name="other-name"))
    assert result.rc != 0 and "nothing was deleted" in task["msg"]
    assert calls(emu, "DeleteURedisGroup") == 0


@pytest.mark.parametrize("faults", [
    dict(fail_regions={REGION: "other_group"}),
    dict(fail_regions={REGION: "ignore_filter"}),
    dict(faults=FaultPlan(schedule={1: "other_group"})),
    dict(faults=FaultPlan(schedule={2: "504", 3: "other_group"})),  # the lookup after a lost answer lies
    dict(faults=FaultPlan(schedule={2: "504", 3: "ignore_filter"})),
])
def test_a_hostile_listing_never_deletes_another_group(run_ansible, start_emulator, faults):
    emu = start_emulator(**dict(FAST, **faults))
    before = sorted((row["ProjectId"], row["GroupId"], row["State"]) for row in emu.groups())
    result, task = module(run_ansible, emu, "uredis_group", dict(POLL, state="absent", group_id=AUTO_OFF))
    assert result.rc != 0, result
    assert "which that request did not ask for" in flat(task["msg"])
    assert stat(emu, "group_deletes") == 0 and stat(emu, "faults_injected") >= 1
    # The delete is sent once, for the group given, only when the first listing was honest; never again after a lie.
    assert calls(emu, "DeleteURedisGroup") == (1 if "faults" in faults and 2 in faults["faults"].schedule else 0)
    assert sorted((row["ProjectId"], row["GroupId"], row["State"]) for row in emu.groups()) == before
