# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An answer must answer the question asked, through real ``ansible`` and ``ansible-inventory`` runs.

A server (a misconfigured proxy, a degraded cloud) that answers another action, rows of another
group, every row whatever the filter, pages larger than asked or a listing larger than any account,
and a listing that shows a new backup only some calls later (the emulator's modes of the same
names). Each case used to be taken as data, or to make a second backup.
"""

from __future__ import annotations

import time

import pytest

from emulator.server import FaultPlan
from helpers import (
    GROUP,
    NEVER_BACKED_UP,
    REGION,
    backups_named,
    creates,
    credentials_env,
    inventory_file,
    inventory_list,
    module,
)


STRICT = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}


def flat(text):
    return " ".join(text.split())


def other_group_with_backups(emu, group_id):
    """The group the emulator's other_group answers with: the first other one (by id) with normal backups."""
    return sorted(set(row["GroupId"] for row in emu.data["backups"] if row["Region"] == REGION
                      and row["ProjectId"] == "org-demo" and not row.get("SrcRegionName") and not row.get("DstRegionName")
                      and row.get("GroupId") and row["GroupId"] != group_id))[0]


# --- answers to another question --------------------------------------------------------------

def test_an_answer_to_another_action_is_an_error_not_backups(run_ansible, tmp_path, start_emulator):
    emu = start_emulator(fail_regions={REGION: "wrong_action"})
    result, task = module(run_ansible, emu, "uredis_backup_info", {})
    assert result.rc != 0 and "backups" not in task
    assert "DescribeURedisBackup: the answer is not one to DescribeURedisBackup: it has Action " \
        "'DescribeURedisGroupResponse', expected DescribeURedisBackupResponse; none of it is used" in task["msg"]
    assert emu.stats()["by_action"] == {"DescribeURedisBackup": 1}  # not asked again

    result = inventory_list(run_ansible, emu, inventory_file(tmp_path, "regions: [%s]\n" % REGION), STRICT)
    assert result.rc != 0 and "it has Action 'DescribeURedisGroupResponse'" in flat(result.stderr)


@pytest.mark.parametrize("option", ["backup_name", "fresh_within"])
def test_another_groups_backup_never_makes_uredis_backup_report_ok(run_ansible, start_emulator, option):
    # The worst case: g-1 needs a backup; the listing of its backups answers g-2's, one of which would do.
    emu = start_emulator(faults=FaultPlan(schedule={2: "other_group"}))  # 1: the group, 2: its backups
    other = other_group_with_backups(emu, NEVER_BACKED_UP)
    fresh = {"Region": REGION, "ProjectId": "org-demo", "BackupId": "fresh-of-the-other-group", "GroupId": other,
             "BackupName": "nightly-good", "BackupTime": int(time.time()) - 60, "BackupSize": 1 << 20,
             "BackupType": "Manual", "State": "Success", "Zone": "%s-01" % REGION}
    emu.change(upsert=[fresh])
    args = {"group_id": NEVER_BACKED_UP, "backup_name": "nightly-good"} if option == "backup_name" else \
        {"group_id": NEVER_BACKED_UP, "fresh_within": "1h"}
    result, task = module(run_ansible, emu, "uredis_backup", args)
    assert result.rc != 0, task
    assert task.get("backup") is None  # it used to be the other group's, with changed: false
    assert "unexpected answer for region cn-bj2, group %s: it holds backup 'fresh-of-the-other-group' of group " \
        "'%s', which that request did not ask for; none of it is used" % (NEVER_BACKED_UP, other) in task["msg"]
    assert creates(emu) == 0


def test_rows_of_another_group_or_backup_fail_every_face(run_ansible, tmp_path, start_emulator):
    emu = start_emulator(fail_regions={REGION: "other_group"})
    other = other_group_with_backups(emu, GROUP)
    result, task = module(run_ansible, emu, "uredis_backup_info", {"group_id": GROUP})
    assert result.rc != 0 and "backups" not in task
    assert "unexpected answer for region cn-bj2, group %s: it holds backup" % GROUP in task["msg"]
    assert "of group '%s'" % other in task["msg"]

    path = inventory_file(tmp_path, "regions: [%s]\ngroup_ids: [%s]\n" % (REGION, GROUP))
    result = inventory_list(run_ansible, emu, path, STRICT)
    assert result.rc != 0 and "of group '%s', which that request did not ask for" % other in flat(result.stderr)

    result, task = module(run_ansible, emu, "uredis_group_info", {"group_id": GROUP})
    assert result.rc != 0 and "groups" not in task
    assert "it holds group '%s', which that request did not ask for" % other in task["msg"]


def test_a_server_that_ignores_the_backup_id_filter_fails_the_listing(run_ansible, start_emulator):
    emu = start_emulator(fail_regions={REGION: "ignore_filter"})
    wanted = next(row for row in emu.data["backups"] if row["Region"] == REGION and row["GroupId"] == GROUP)
    result, task = module(run_ansible, emu, "uredis_backup_info", {"group_id": GROUP, "backup_id": wanted["BackupId"]})
    assert result.rc != 0 and "backups" not in task
    assert "unexpected answer for region cn-bj2, group %s: it holds backup" % GROUP in task["msg"]
    assert "which that request did not ask for" in task["msg"]


# --- rows without bound -----------------------------------------------------------------------

@pytest.mark.parametrize("name, noun", [("uredis_backup_info", "backups"), ("uredis_group_info", "groups")])
def test_a_page_larger_than_its_limit_is_refused(run_ansible, start_emulator, name, noun):
    emu = start_emulator(fail_regions={REGION: "over_limit"})
    result, task = module(run_ansible, emu, name, {})
    assert result.rc != 0 and noun not in task
    assert "its page at offset 0 holds 1000 %s, more than the Limit of 100 asked for" % noun in task["msg"]
    assert emu.stats()["api_requests"] == 1


def test_a_listing_past_max_rows_is_refused_naming_the_option(run_ansible, tmp_path, start_emulator):
    emu = start_emulator(fail_regions={REGION: "endless"}, claimed_total=1000000)
    result, task = module(run_ansible, emu, "uredis_backup_info", {})
    assert result.rc != 0
    assert "the server claims TotalCount=1000000 for region cn-bj2, more than the 100000 backups one listing may " \
        "hold (max_rows, SIGCALCLOUD_MAX_ROWS)" in task["msg"]
    assert emu.stats()["api_requests"] == 1

    emu = start_emulator()  # a real listing of 30 backups, against a smaller max_rows
    result, task = module(run_ansible, emu, "uredis_backup_info", {"max_rows": 10})
    assert result.rc != 0 and "more than the 10 backups one listing may hold (max_rows" in task["msg"]
    result, task = module(run_ansible, emu, "uredis_backup_info", {}, env={"SIGCALCLOUD_MAX_ROWS": "30"})
    assert result.rc == 0 and len(task["backups"]) == 30
    path = inventory_file(tmp_path, "regions: [%s]\nmax_rows: 10\n" % REGION)
    result = inventory_list(run_ansible, emu, path, STRICT)
    assert result.rc != 0 and "more than the 10 backups one listing may hold (max_rows" in flat(result.stderr)
    result, task = module(run_ansible, emu, "uredis_backup_info", {"max_rows": 0})
    assert result.rc != 0 and "max_rows=0 is out of range: use 1 to 1000000" in task["msg"]


# --- never two backups, also when the listing lags ---------------------------------------------

@pytest.mark.parametrize("lost", [None, "reset", "504"])
@pytest.mark.parametrize("lag", [3, 6])
def test_a_lagging_listing_never_makes_a_second_backup(run_ansible, start_emulator, lost, lag):
    emu = start_emulator(backup_seconds=0.5, listing_lag=lag)
    if lost:
        emu.lose_create_answers(1, lost)
    name = "lagging-%s-%d" % (lost or "answered", lag)
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": name,
                                                              "poll_interval": 0.2, "wait_timeout": 60})
    assert result.rc == 0, result
    assert len(backups_named(emu, GROUP, name)) == 1
    assert creates(emu) == 1
    assert task["changed"] is True and task["backup"]["state"] == "Success"
    assert task["backup"]["backup_id"] == backups_named(emu, GROUP, name)[0]["BackupId"]


def test_a_lost_create_never_listed_is_not_sent_again_past_wait_timeout(run_ansible, start_emulator):
    # The listing lags past the whole lookup window (wait_timeout=3): the task fails, one backup exists.
    emu = start_emulator(backup_seconds=0.5, listing_lag=1000)
    emu.lose_create_answers(1, "reset")
    env = credentials_env(emu)
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "never-listed",
                                                              "wait_timeout": 3}, env=env)
    assert result.rc != 0
    assert "the answer to creating backup never-listed of group %s was lost" % GROUP in task["msg"]
    assert "not sent again, so as never to make two: it may still appear" in task["msg"]
    assert creates(emu) == 1 and emu.stats()["creates"] == 1


def test_a_failure_after_the_create_says_the_backup_was_created_and_its_id(run_ansible, start_emulator):
    # 1 the group, 2 its backups, 3 the create (made), 4 the lookup of the new backup: a server that ignores
    # the BackupId filter there. The task fails, but says it changed something, and what.
    emu = start_emulator(backup_seconds=0.5, faults=FaultPlan(schedule={4: "ignore_filter"}))
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "made-then-lost"})
    assert result.rc != 0
    made = backups_named(emu, GROUP, "made-then-lost")
    assert len(made) == 1 and task["changed"] is True and task["backup_id"] == made[0]["BackupId"]
    assert "backup %s (made-then-lost) of group %s was created, then: unexpected answer" % (
        made[0]["BackupId"], GROUP) in task["msg"]
