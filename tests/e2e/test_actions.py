# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The modules that act on backups, through real ansible / ansible-playbook runs against
the emulator: uredis_group_info, uredis_backup, uredis_backup_url_info, uredis_backup_policy."""

from __future__ import annotations

import re
import subprocess
import textwrap
import time

import pytest

from emulator.server import GROUP_HIDDEN_FIELDS, FaultPlan
from helpers import (
    AUTO_OFF,
    GROUP,
    NEVER_BACKED_UP,
    REGION,
    backups_named,
    creates,
    credentials_env,
    expected_backups,
    module,
    oldest_target_python,
    target_pythons,
    updates,
)


@pytest.fixture
def fast_emulator(start_emulator):
    """The demo data set, with backups that take half a second."""
    return start_emulator(backup_seconds=0.5)


# --- uredis_group_info ---------------------------------------------------------------------

def api_snake(name):
    """SSLEnable -> ssl_enable, VPCId -> vpc_id, VirtualIP -> virtual_ip, GroupId -> group_id."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def expected_groups(emu, region, project_id="org-demo"):
    rows = [row for row in emu.groups() if row["Region"] == region and row["ProjectId"] == project_id]
    return sorted(row["GroupId"] for row in rows), dict((row["GroupId"], row) for row in rows)


def test_group_info_lists_every_group_also_those_without_backups(run_ansible, start_emulator):
    emu = start_emulator(max_page_size=3)  # several pages of groups
    result, task = module(run_ansible, emu, "uredis_group_info", {})
    assert result.rc == 0, result
    ids, rows = expected_groups(emu, REGION)
    assert [g["group_id"] for g in task["groups"]] == ids
    assert NEVER_BACKED_UP in ids and AUTO_OFF in ids
    backed_up = set(row["GroupId"] for row in emu.data["backups"])
    assert NEVER_BACKED_UP not in backed_up
    for group in task["groups"]:
        row = rows[group["group_id"]]
        for field, value in row.items():
            if field in GROUP_HIDDEN_FIELDS:  # the emulator's own (Region, ProjectId, FailBackups, a server's Pid...)
                continue
            assert group[api_snake(field)] == value, field
        assert group["region"] == REGION and group["project_id"] is None
    off = next(g for g in task["groups"] if g["group_id"] == AUTO_OFF)
    assert off["auto_backup"] == "disable"
    # every fact is there, absent ones as null
    assert len(set(len(g) for g in task["groups"])) == 1


def test_group_info_one_group_and_an_unknown_one(run_ansible, emulator):
    result, task = module(run_ansible, emulator, "uredis_group_info", {"group_id": GROUP})
    assert result.rc == 0, result
    assert [g["group_id"] for g in task["groups"]] == [GROUP]
    result, task = module(run_ansible, emulator, "uredis_group_info", {"group_id": "uredis-nope-00"})
    assert result.rc == 0, result
    assert task["groups"] == []


# --- uredis_backup: take, wait, idempotence ---------------------------------------------------

def test_backup_is_taken_waited_for_and_has_the_info_modules_facts(run_ansible, fast_emulator, tmp_path):
    emu = fast_emulator
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - sigcalcloud.cloud.uredis_backup:
                group_id: %s
                backup_name: before-change-1
                poll_interval: 0.2
              register: taken
            - sigcalcloud.cloud.uredis_backup_info:
                group_id: %s
                backup_id: "{{ taken.backup.backup_id }}"
              register: listed
            - sigcalcloud.cloud.uredis_backup:
                group_id: %s
                backup_name: before-change-1
                poll_interval: 0.2
              register: again
        """ % (GROUP, GROUP, GROUP)))
    result = run_ansible("ansible-playbook", "-i", "localhost,", "-c", "local", str(play),
                         env=credentials_env(emu, region=REGION), record=True)
    assert result.rc == 0, result
    taken, listed, again = result.task_results()
    assert taken["changed"] is True
    assert taken["backup"]["state"] == "Success"
    assert taken["backup"] == listed["backups"][0]
    assert again["changed"] is False
    assert again["backup"]["backup_id"] == taken["backup"]["backup_id"]
    assert len(backups_named(emu, GROUP, "before-change-1")) == 1
    assert creates(emu) == 1


def test_generated_name_and_no_wait(run_ansible, start_emulator):
    emu = start_emulator(backup_seconds=30)
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": NEVER_BACKED_UP, "wait": False})
    assert result.rc == 0, result
    assert task["changed"] is True
    assert task["backup"]["state"] == "Backuping"
    assert re.fullmatch(r"ansible-\d{8}-\d{6}", task["backup"]["backup_name"])
    assert task["backup"]["backup_type"] == "Manual"


def test_fresh_within_takes_none_when_a_fresh_good_backup_exists(run_ansible, fast_emulator):
    emu = fast_emulator
    fresh = {"Region": REGION, "ProjectId": "org-demo", "BackupId": "fresh-1", "BackupName": "nightly-fresh",
             "BackupTime": int(time.time()) - 3600, "BackupSize": 10, "BackupType": "Auto", "State": "Success",
             "GroupId": GROUP, "GroupName": "orders cache"}
    emu.change(upsert=[fresh])
    # a fresh one whatever its name: fresh_within is checked before backup_name
    result, task = module(run_ansible, emu, "uredis_backup",
                          {"group_id": GROUP, "fresh_within": "24h", "backup_name": "other-name"})
    assert result.rc == 0, result
    assert task["changed"] is False
    assert task["backup"]["backup_id"] == "fresh-1"
    # older than 30m: a new one
    result, task = module(run_ansible, emu, "uredis_backup",
                          {"group_id": GROUP, "fresh_within": "30m", "poll_interval": 0.2})
    assert result.rc == 0, result
    assert task["changed"] is True and task["backup"]["state"] == "Success"
    assert creates(emu) == 1


def test_fresh_within_waits_for_a_backup_in_progress(run_ansible, start_emulator):
    emu = start_emulator(backup_seconds=2)
    result, started = module(run_ansible, emu, "uredis_backup", {"group_id": NEVER_BACKED_UP, "wait": False})
    assert result.rc == 0 and started["backup"]["state"] == "Backuping", result
    result, task = module(run_ansible, emu, "uredis_backup",
                          {"group_id": NEVER_BACKED_UP, "fresh_within": "1h", "poll_interval": 0.2})
    assert result.rc == 0, result
    assert task["changed"] is False
    assert task["backup"]["backup_id"] == started["backup"]["backup_id"]
    assert task["backup"]["state"] == "Success"
    assert creates(emu) == 1


def test_check_mode_sends_no_create(run_ansible, fast_emulator):
    emu = fast_emulator
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": NEVER_BACKED_UP, "fresh_within": "24h"},
                          check=True)
    assert result.rc == 0, result
    assert task["changed"] is True
    assert task["backup"] is None
    assert creates(emu) == 0
    result, _task = module(run_ansible, emu, "uredis_backup",
                           {"group_id": NEVER_BACKED_UP, "backup_name": "checked-1", "poll_interval": 0.2})
    assert result.rc == 0, result
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": NEVER_BACKED_UP, "backup_name": "checked-1"},
                          check=True)
    assert result.rc == 0, result
    assert task["changed"] is False
    assert task["backup"]["backup_name"] == "checked-1"
    assert creates(emu) == 1


# --- uredis_backup: failures ------------------------------------------------------------------

def test_a_backup_that_ends_in_error_fails_the_task_naming_it(run_ansible, fast_emulator):
    emu = fast_emulator
    emu.change_groups(fail=[GROUP])
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "doomed-1",
                                                              "poll_interval": 0.2})
    assert result.rc != 0
    backup_id = backups_named(emu, GROUP, "doomed-1")[0]["BackupId"]
    assert backup_id in task["msg"] and GROUP in task["msg"] and "Error" in task["msg"], task["msg"]
    assert task["backup"]["state"] == "Error"
    assert task["changed"] is True


def test_a_wait_that_times_out_names_the_state_and_the_time(run_ansible, start_emulator):
    emu = start_emulator(backup_seconds=600)
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "wait_timeout": 2,
                                                              "poll_interval": 0.5})
    assert result.rc != 0
    assert "still Backuping after waiting 2s" in task["msg"], task["msg"]
    # waiting is polling, not a busy loop: about one listing per poll
    assert emu.stats()["by_action"]["DescribeURedisBackup"] <= 10


def test_quota_is_a_clear_failure_and_never_retried(run_ansible, start_emulator):
    emu = start_emulator(manual_backup_limit=0)
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP})
    assert result.rc != 0
    assert task["ret_code"] == 20208
    assert "manual backups" in task["msg"] and GROUP in task["msg"], task["msg"]
    assert creates(emu) == 1


def test_an_unknown_group_fails_before_any_create(run_ansible, emulator):
    result, task = module(run_ansible, emulator, "uredis_backup", {"group_id": "uredis-nope-00"})
    assert result.rc != 0
    assert "there is no Redis group uredis-nope-00 in region cn-bj2" in task["msg"], task["msg"]
    assert creates(emulator) == 0


@pytest.mark.parametrize("args, message", [
    ({"backup_name": "short"}, "backup_name='short' is not accepted: use 6 to 63 characters"),
    ({"backup_name": "has space in it"}, "is not accepted"),
    ({"backup_name": "x" * 64}, "is not accepted"),
    ({"fresh_within": "yesterday"}, "fresh_within='yesterday' is not an age"),
    ({"fresh_within": "0h"}, "is not an age"),
    ({"fresh_within": "99999999d"}, "out of range"),
    ({"wait_timeout": 0}, "wait_timeout=0 is out of range"),
    ({"poll_interval": 0}, "poll_interval=0.0 is out of range"),
])
def test_bad_options_fail_before_any_call(run_ansible, emulator, args, message):
    emulator.reset_stats()
    result, task = module(run_ansible, emulator, "uredis_backup", dict(group_id=GROUP, **args))
    assert result.rc != 0
    assert message in task["msg"], task["msg"]
    assert "Traceback" not in result.output
    assert emulator.stats()["api_requests"] == 0


# --- uredis_backup: never two backups for one task ---------------------------------------------

@pytest.mark.parametrize("kind", ["reset", "504", "html", "truncated"])
def test_a_lost_create_answer_is_looked_up_not_sent_again(run_ansible, fast_emulator, kind):
    emu = fast_emulator
    emu.lose_create_answers(1, kind)
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "lost-answer-1",
                                                              "poll_interval": 0.2})
    assert result.rc == 0, result
    assert task["changed"] is True and task["backup"]["state"] == "Success"
    assert len(backups_named(emu, GROUP, "lost-answer-1")) == 1
    assert creates(emu) == 1
    assert task["backup"]["backup_id"] == backups_named(emu, GROUP, "lost-answer-1")[0]["BackupId"]


def test_a_create_whose_answer_never_came_is_looked_up_after_the_timeout(run_ansible, start_emulator):
    emu = start_emulator(backup_seconds=0.5, hang_seconds=10)
    emu.lose_create_answers(1, "hang")
    started = time.monotonic()
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "timed-out-1",
                                                              "poll_interval": 0.2, "timeout": 2})
    assert result.rc == 0, result
    assert time.monotonic() - started < 10  # it did not wait for the held answer
    assert len(backups_named(emu, GROUP, "timed-out-1")) == 1
    assert creates(emu) == 1 and task["backup"]["state"] == "Success"


@pytest.mark.parametrize("kind", ["retcode150", "429"])
def test_a_create_the_gateway_refused_is_sent_again_once(run_ansible, start_emulator, kind):
    # API requests: 1 the group, 2 its backups (one page), 3 the create: the gateway says "try again"
    # (nothing was made), and it is sent again (request 4) without a lookup.
    emu = start_emulator(backup_seconds=0.5, faults=FaultPlan(schedule={3: kind}))
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "second-try-1",
                                                              "poll_interval": 0.2})
    assert result.rc == 0, result
    assert len(backups_named(emu, GROUP, "second-try-1")) == 1
    assert creates(emu) == 2  # two sent, one performed


@pytest.mark.parametrize("kind", ["503", "500"])
def test_a_create_that_may_have_happened_is_looked_up_and_never_sent_again(run_ansible, start_emulator, kind):
    # A 5xx leaves open whether the server made it (here it did not): looked up until wait_timeout, not sent again.
    emu = start_emulator(backup_seconds=0.5, faults=FaultPlan(schedule={3: kind}))
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": GROUP, "backup_name": "second-try-1",
                                                              "poll_interval": 0.2, "wait_timeout": 4})
    assert result.rc != 0
    assert "the answer to creating backup second-try-1 of group %s was lost" % GROUP in task["msg"]
    assert "not sent again, so as never to make two: it may still appear" in task["msg"]
    assert creates(emu) == 1 and emu.stats()["creates"] == 0
    assert 2 <= emu.stats()["by_action"]["DescribeURedisBackup"] - 1 <= 8  # the lookups within 4 s (a loaded machine: fewer)


def test_a_generated_name_survives_a_lost_answer_too(run_ansible, fast_emulator):
    emu = fast_emulator
    emu.lose_create_answers(1, "reset")
    result, task = module(run_ansible, emu, "uredis_backup", {"group_id": NEVER_BACKED_UP, "poll_interval": 0.2})
    assert result.rc == 0, result
    mine = [row for row in emu.data["backups"] if row["GroupId"] == NEVER_BACKED_UP]
    assert len(mine) == 1
    assert mine[0]["BackupId"] == task["backup"]["backup_id"]


# --- uredis_backup_url_info ------------------------------------------------------------------

def test_url_of_a_good_backup_downloads_and_stays_out_of_the_output(run_ansible, fast_emulator, tmp_path):
    emu = fast_emulator
    # The data set's files are as big as their BackupSize (up to 8 GiB): this play fetches one of 64 KiB.
    emu.change(upsert=[dict(row, BackupSize=65536) for row in emu.data["backups"]
                       if row["GroupId"] == GROUP and row.get("State") == "Success"])
    dest = tmp_path / "backup.rdb"
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - sigcalcloud.cloud.uredis_backup_info:
                group_id: %s
                state: [Success]
              register: good
            - sigcalcloud.cloud.uredis_backup_url_info:
                group_id: %s
                backup_id: "{{ (good.backups | first).backup_id }}"
              register: link
              no_log: true
            - ansible.builtin.get_url:
                url: "{{ link.backup_path }}"
                dest: %s
                mode: "0600"
              no_log: true
            - ansible.builtin.debug:
                msg: "expires {{ link.expires_at }}"
        """ % (GROUP, GROUP, dest)))
    result = run_ansible("ansible-playbook", "-i", "localhost,", "-c", "local", str(play), "-vvv",
                         env=credentials_env(emu, region=REGION), record=True)
    assert result.rc == 0, result
    assert dest.read_bytes().startswith(b"REDIS") and dest.stat().st_size == 65536
    assert "Signature=" not in result.output and "/_emulator/download/" not in result.output
    assert re.search(r"expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result.output)


def test_url_info_returns_the_link_and_its_expiry(run_ansible, emulator):
    good = [b for b in expected_backups(emulator.data, REGION) if b["state"] == "Success"][0]
    result, task = module(run_ansible, emulator, "uredis_backup_url_info", {"backup_id": good["backup_id"]})
    assert result.rc == 0, result
    assert task["backup_path"].startswith(emulator.base_url + "/_emulator/download/")
    assert task["expires"] > time.time() and task["expires_at"].endswith("Z")


def test_url_of_a_backup_that_is_not_good_fails_without_a_link(run_ansible, emulator):
    bad = [b for b in expected_backups(emulator.data, REGION) if b["state"] == "Error"][0]
    emulator.reset_stats()
    result, task = module(run_ansible, emulator, "uredis_backup_url_info", {"backup_id": bad["backup_id"]})
    assert result.rc != 0
    assert task["ret_code"] == 20202, task
    assert "://" not in task["msg"]
    # "not Success" is an answer: asked once, not retried for seconds (it used to be asked 4 times).
    assert emulator.stats()["by_action"] == {"DescribeURedisBackupURL": 1}


# --- uredis_backup_policy --------------------------------------------------------------------

def group_row(emu, group_id):
    return next(row for row in emu.groups() if row["GroupId"] == group_id)


def test_policy_switches_backups_on_keeping_the_hour_and_is_idempotent(run_ansible, emulator):
    hour = group_row(emulator, AUTO_OFF)["BackupTime"]
    emulator.change_groups(policy={AUTO_OFF: {"AutoBackup": "disable", "BackupTime": 5}})
    result, task = module(run_ansible, emulator, "uredis_backup_policy", {"group_id": AUTO_OFF, "auto_backup": True},
                          diff=True)
    assert result.rc == 0, result
    assert task["changed"] is True
    assert task["policy"] == {"auto_backup": True, "backup_time": 5}
    assert task["diff"] == {"before": {"auto_backup": False, "backup_time": 5},
                            "after": {"auto_backup": True, "backup_time": 5}}
    row = group_row(emulator, AUTO_OFF)
    assert (row["AutoBackup"], row["BackupTime"]) == ("enable", 5), hour
    result, task = module(run_ansible, emulator, "uredis_backup_policy", {"group_id": AUTO_OFF, "auto_backup": True})
    assert result.rc == 0 and task["changed"] is False, result
    assert updates(emulator) == 1


def test_policy_hour_alone_does_not_switch_backups_on(run_ansible, emulator):
    # The server takes an omitted AutoBackup as enable: the module must send the current one.
    emulator.change_groups(policy={AUTO_OFF: {"AutoBackup": "disable", "BackupTime": 2}})
    result, task = module(run_ansible, emulator, "uredis_backup_policy", {"group_id": AUTO_OFF, "backup_time": 7})
    assert result.rc == 0, result
    row = group_row(emulator, AUTO_OFF)
    assert (row["AutoBackup"], row["BackupTime"]) == ("disable", 7)
    assert task["policy"] == {"auto_backup": False, "backup_time": 7}


def test_policy_switch_off_alone_keeps_the_hour(run_ansible, emulator):
    # ...and an omitted BackupTime as hour 0.
    emulator.change_groups(policy={GROUP: {"AutoBackup": "enable", "BackupTime": 4}})
    result, _task = module(run_ansible, emulator, "uredis_backup_policy", {"group_id": GROUP, "auto_backup": False})
    assert result.rc == 0, result
    row = group_row(emulator, GROUP)
    assert (row["AutoBackup"], row["BackupTime"]) == ("disable", 4)


def test_policy_check_mode_sends_no_update(run_ansible, emulator):
    emulator.change_groups(policy={AUTO_OFF: {"AutoBackup": "disable", "BackupTime": 1}})
    result, task = module(run_ansible, emulator, "uredis_backup_policy", {"group_id": AUTO_OFF, "auto_backup": True},
                          check=True, diff=True)
    assert result.rc == 0, result
    assert task["changed"] is True
    assert task["diff"]["after"] == {"auto_backup": True, "backup_time": 1}
    assert group_row(emulator, AUTO_OFF)["AutoBackup"] == "disable"
    assert updates(emulator) == 0


@pytest.mark.parametrize("args, message", [
    ({"group_id": AUTO_OFF, "backup_time": 24}, "backup_time=24 is out of range"),
    ({"group_id": AUTO_OFF, "backup_time": -1}, "backup_time=-1 is out of range"),
    ({"group_id": "uredis-nope-00", "auto_backup": True}, "there is no Redis group uredis-nope-00"),
])
def test_policy_bad_input(run_ansible, emulator, args, message):
    result, task = module(run_ansible, emulator, "uredis_backup_policy", args)
    assert result.rc != 0
    assert message in task["msg"], task["msg"]
    assert updates(emulator) == 0


# --- every module: secrets and the action group -----------------------------------------------

def test_every_module_keeps_the_private_key_out_of_a_vvvv_run(run_ansible, fast_emulator, tmp_path):
    emu = fast_emulator
    private_key = emu.data["accounts"][0]["private_key"]
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          module_defaults:
            group/sigcalcloud.cloud.sigcalcloud:
              private_key: "%s"
              region: cn-bj2
          tasks:
            - sigcalcloud.cloud.uredis_group_info:
            - sigcalcloud.cloud.uredis_backup:
                group_id: %s
                poll_interval: 0.2
              register: taken
            - sigcalcloud.cloud.uredis_backup_policy:
                group_id: %s
                auto_backup: true
            - sigcalcloud.cloud.uredis_backup_url_info:
                backup_id: "{{ taken.backup.backup_id }}"
              no_log: true
            - sigcalcloud.cloud.uredis_backup:
                group_id: uredis-nope-00
              ignore_errors: true
        """ % (private_key, NEVER_BACKED_UP, AUTO_OFF)))
    env = credentials_env(emu, region=REGION)
    del env["SIGCALCLOUD_PRIVATE_KEY"]
    result = run_ansible("ansible-playbook", "-i", "localhost,", "-c", "local", str(play), "-vvvv", env=env)
    assert result.rc == 0, result
    assert private_key not in result.output
    assert "there is no Redis group uredis-nope-00" in result.output


# --- the acting modules on older managed-host Pythons ---------------------------------------------


@pytest.mark.parametrize("python", target_pythons() or [
    pytest.param(None, marks=pytest.mark.skip(
        reason="no older target Python given: scripts/test.sh sets SIGCALCLOUD_TEST_TARGET_PYTHONS where pyenv has 3.7-3.9"))])
def test_acting_modules_run_on_older_managed_host_pythons(run_ansible, fast_emulator, tmp_path, python):
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if tuple(int(n) for n in version.split(".")) < oldest_target_python():
        pytest.skip("this ansible-core does not run modules on Python %s" % version)
    emu = fast_emulator
    emu.lose_create_answers(1, "reset")
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          vars:
            ansible_python_interpreter: %s
          tasks:
            - sigcalcloud.cloud.uredis_group_info:
              register: redis_groups  # not groups: Ansible's magic variable
            - sigcalcloud.cloud.uredis_backup:
                group_id: %s
                backup_name: old-python-1
                poll_interval: 0.2
              register: taken
            - sigcalcloud.cloud.uredis_backup_url_info:
                backup_id: "{{ taken.backup.backup_id }}"
              no_log: true
            - sigcalcloud.cloud.uredis_backup_policy:
                group_id: %s
                auto_backup: true
        """ % (python, NEVER_BACKED_UP, AUTO_OFF)))
    result = run_ansible("ansible-playbook", "-i", "localhost,", "-c", "local", str(play),
                         env=credentials_env(emu, region=REGION), record=True)
    assert result.rc == 0, result
    groups, taken, _link, policy = result.task_results()
    assert NEVER_BACKED_UP in [g["group_id"] for g in groups["groups"]]
    assert taken["backup"]["state"] == "Success" and len(backups_named(emu, NEVER_BACKED_UP, "old-python-1")) == 1
    assert policy["changed"] is True
