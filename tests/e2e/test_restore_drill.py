# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The restore drill (playbook sigcalcloud.cloud.restore_drill, role restore_drill) through real
ansible-playbook runs against the emulator with its data plane on: every group is a real redis-server,
a restore really loads the backup's file, and the drill's key counts are Redis's own.

Each drill must leave no scratch group behind (no group named rdrill-... and no redis-server of one),
whatever failed; the leftovers of an interrupted drill are removed by the next one, and nothing that
merely looks like one."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from helpers import BIN, GROUP, REGION, credentials_env, inventory_file, small_good_backups

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian: apt-get install redis-server): a drill needs real Redis groups")
pytest.importorskip("redis", reason="redis-py is not installed in the test virtualenv")

TAG = "sigcalcloud-restore-drill"
DAY = 86400
QUICK = ("-e", "restore_drill_poll_interval=0.2")


@pytest.fixture
def drill_emulator(start_emulator):
    """The demo data set with real redis-servers, quick restores and deletes."""
    return start_emulator(redis=True, group_create_seconds=0.5, group_delete_seconds=0.2, backup_seconds=0.3)


def fresh_backup(emu, group_id=GROUP, age=3600, **fields):
    """A Success backup of the group taken ``age`` seconds ago, its file small (a generated RDB)."""
    row, = small_good_backups(emu, 1, group_id=group_id)
    row = dict(row, BackupId="%s-drill" % row["BackupId"][:24], BackupTime=int(time.time()) - age, **fields)
    emu.change(upsert=[row])
    return row


def scratch_groups(emu):
    return [row for row in emu.groups() if str(row.get("Name", "")).startswith("rdrill-")]


def drill(run_ansible, emu, tmp_path, *extra, group_id=GROUP, verbosity=None, inventory=None, timeout=300):
    """ansible-playbook sigcalcloud.cloud.restore_drill for ``group_id`` (or an inventory's groups): (run, report)."""
    report = tmp_path / ("report-%d.json" % time.monotonic_ns())
    argv = ["sigcalcloud.cloud.restore_drill", "-e", "restore_drill_report_file=%s" % report] + list(QUICK)
    if inventory:
        argv += ["-i", str(inventory), "-e", "restore_drill_hosts=uredis_groups"]
    else:
        argv += ["-e", "group_id=%s" % group_id]
    argv += list(extra) + ([verbosity] if verbosity else [])
    result = run_ansible("ansible-playbook", *argv, env=credentials_env(emu, region=REGION), timeout=timeout)
    return result, (json.loads(report.read_text()) if report.exists() else None)


def assert_cleaned_up(emu, servers_before):
    assert scratch_groups(emu) == []
    stats = emu.stats()
    assert stats["group_deletes"] == stats["group_creates"]
    deadline = time.monotonic() + 5
    while len(emu.redis_pids()) != servers_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(emu.redis_pids()) == servers_before


def test_drill_of_a_fresh_snapshot_passes_and_deletes_its_scratch_group(drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    servers = len(emu.redis_pids())
    # a real snapshot of the group's redis-server (its known keys), taken through the module
    taken = run_ansible("ansible", "localhost", "-m", "sigcalcloud.cloud.uredis_backup", "-a",
                        json.dumps({"group_id": GROUP, "backup_name": "before-drill", "poll_interval": 0.2}),
                        env=credentials_env(emu, region=REGION))
    assert taken.rc == 0, taken
    result, report = drill(run_ansible, emu, tmp_path, "-e", "restore_drill_canary_key=emulator:group",
                           "-e", "restore_drill_canary_value=%s" % GROUP)
    assert result.rc == 0, result
    assert (report["drills"], report["passed"], report["failed"]) == (1, 1, 0)
    entry, = report["results"]
    snapshot = next(row for row in emu.data["backups"] if row.get("BackupName") == "before-drill")
    assert entry["backup_id"] == snapshot["BackupId"]  # the newest Success backup
    assert entry["passed"] is True and entry["scratch_group_gone"] is True and entry["msg"] == "the backup restores"
    assert entry["key_counts"]["found"] == entry["key_counts"]["expected"] > 0
    assert entry["key_counts"]["expired_out"] == 0
    assert entry["canary"] == {"checked": True, "matched": True}
    assert entry["restore_seconds"] >= 0.5  # from the create to Running: the emulator's Creating time at least
    assert entry["scratch_group_name"].startswith("rdrill-%s-" % GROUP)
    assert emu.stats()["group_creates"] == 1
    assert_cleaned_up(emu, servers)


def test_drill_counts_out_keys_that_expired_before_the_restore(drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    # a generated file written 40 days ago: its two expiring keys (1-30 days after) are past
    backup = fresh_backup(emu, age=40 * DAY)
    result, report = drill(run_ansible, emu, tmp_path, "-e", "restore_drill_max_backup_age_hours=1000")
    assert result.rc == 0, result
    entry, = report["results"]
    assert entry["backup_id"] == backup["BackupId"]
    assert entry["key_counts"]["expired_out"] == 2
    assert entry["key_counts"]["found"] == entry["key_counts"]["expected"]
    assert entry["backup_age_seconds"] >= 40 * DAY


def create_fail(emu):
    emu.fail_group_creates(1)


def slow(emu):
    emu.slow_group_creates(1, 4)


def fewer_keys(emu):
    emu.drop_restored_keys(1, 1)


def corrupt(emu):
    backup = next(row for row in emu.data["backups"] if row["BackupId"].endswith("-drill"))
    emu.corrupt_backup(backup["BackupId"], "flip_byte")


@pytest.mark.parametrize("fault, extra, message", [
    (create_fail, (), "CreateFail"),
    (slow, ("-e", "restore_drill_wait_timeout=1"), "Creating"),
    (fewer_keys, (), "key check failed: db 0 holds"),
    (corrupt, (), "CreateFail"),
    (None, ("-e", "restore_drill_canary_key=emulator:group", "-e", "restore_drill_canary_value=not-it"),
     "canary check failed"),
], ids=["create_fail", "timeout", "fewer_keys", "corrupt_file", "canary"])
def test_a_failed_drill_names_what_failed_and_deletes_its_scratch_group(drill_emulator, run_ansible, tmp_path, fault,
                                                                        extra, message):
    emu = drill_emulator
    servers = len(emu.redis_pids())
    fresh_backup(emu)
    if fault:
        fault(emu)
    result, report = drill(run_ansible, emu, tmp_path, *extra)
    assert result.rc != 0, result
    entry, = report["results"]
    assert entry["passed"] is False
    assert message in entry["msg"], entry
    assert "restore drill of %s failed: " % GROUP in result.output
    assert entry["scratch_group_gone"] is True and entry["scratch_group_id"]
    assert emu.stats()["group_creates"] == 1
    assert_cleaned_up(emu, servers)
    assert "not-it" not in result.output  # the canary's value is never printed


def test_a_backup_too_old_fails_the_drill_and_creates_nothing(drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    fresh_backup(emu, age=30 * 3600)
    result, report = drill(run_ansible, emu, tmp_path)  # the default limit: 26 hours
    assert result.rc != 0
    entry, = report["results"]
    assert "hours old, older than restore_drill_max_backup_age_hours (26" in entry["msg"]
    assert entry["scratch_group_id"] is None and entry["scratch_group_gone"] is True
    assert emu.stats()["group_creates"] == 0


def test_a_group_without_a_good_backup_fails_the_drill(drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    result, report = drill(run_ansible, emu, tmp_path, group_id="uredis-cnbj2-90")  # never backed up
    assert result.rc != 0
    assert report["results"][0]["msg"] == "no Success backup of uredis-cnbj2-90"
    assert emu.stats()["group_creates"] == 0


def test_a_lost_create_answer_makes_one_scratch_group_and_a_lost_delete_answer_still_deletes_it(
        drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    servers = len(emu.redis_pids())
    fresh_backup(emu)
    emu.lose_create_answers(1)
    emu.lose_delete_answers(1)
    result, report = drill(run_ansible, emu, tmp_path)
    assert result.rc == 0, result
    assert report["results"][0]["passed"] is True
    stats = emu.stats()
    assert (stats["group_creates"], stats["group_deletes"]) == (1, 1)
    assert_cleaned_up(emu, servers)


def leftover_row(emu, name, tag, age, group_id):
    model = next(row for row in emu.groups() if row["GroupId"] == GROUP and row["Region"] == REGION)
    row = dict((k, v) for k, v in model.items() if k != "Pid")
    row.update(GroupId=group_id, Name=name, GroupName=name, Tag=tag, CreateTime=int(time.time()) - age, State="Running")
    return row


def test_the_next_drill_removes_an_interrupted_drills_leftover_and_nothing_that_merely_looks_like_one(
        drill_emulator, run_ansible, tmp_path, ansible_env):
    emu = drill_emulator
    fresh_backup(emu)
    # A drill killed while its restore is Creating leaves its scratch group.
    emu.slow_group_creates(1, 60)
    argv = [os.path.join(BIN, "ansible-playbook"), "sigcalcloud.cloud.restore_drill", "-e", "group_id=%s" % GROUP] + list(QUICK)
    env = dict(ansible_env, **credentials_env(emu, region=REGION))
    process = subprocess.Popen(argv, env=env, cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not scratch_groups(emu):
            assert time.monotonic() < deadline and process.poll() is None, "the drill made no scratch group"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    interrupted, = scratch_groups(emu)
    assert interrupted["Tag"] == TAG
    # Time passes (longer than a drill can run): the emulator's clock is the row's CreateTime.
    emu.change_groups(upsert=[dict((k, v) for k, v in interrupted.items() if k != "Pid")
                              | {"CreateTime": interrupted["CreateTime"] - 2 * DAY, "State": "Running"}])
    others = [
        leftover_row(emu, "rdrill-%s-0123456789" % GROUP, "Default", 2 * DAY, "uredis-cnbj2-look1"),      # name only
        leftover_row(emu, "orders-%s-0123456789" % GROUP, TAG, 2 * DAY, "uredis-cnbj2-look2"),            # tag only
        leftover_row(emu, "rdrill-%s-abcdefabcd" % GROUP, TAG, 60, "uredis-cnbj2-look3"),                 # a drill running now
        leftover_row(emu, "rdrill-uredis-cnbj2-01-0123456789", TAG, 2 * DAY, "uredis-cnbj2-look4"),       # another group's
        leftover_row(emu, "rdrill-%s-0123456789-x" % GROUP, TAG, 2 * DAY, "uredis-cnbj2-look5"),          # not the pattern
        leftover_row(emu, "rdrill-%s-0123456789" % GROUP.upper(), TAG, 2 * DAY, "uredis-cnbj2-look6"),    # another id
    ]
    emu.change_groups(upsert=others)
    emu.reset_stats()
    result, report = drill(run_ansible, emu, tmp_path)
    assert result.rc == 0, result
    entry, = report["results"]
    assert entry["leftovers_deleted"] == [interrupted["GroupId"]]
    listed = set(row["GroupId"] for row in emu.groups())
    assert interrupted["GroupId"] not in listed
    assert set(row["GroupId"] for row in others) <= listed
    assert emu.stats()["group_deletes"] == 2  # the leftover and this drill's own scratch group


def test_every_group_of_an_inventory_is_drilled_in_parallel(drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    groups = ["uredis-cnbj2-01", "uredis-cnbj2-02", "uredis-cnbj2-03"]
    for group_id in groups:
        fresh_backup(emu, group_id=group_id)
    inventory = inventory_file(tmp_path, "plugin: sigcalcloud.cloud.uredis_backup\nhosts_from: redis_group\n"
                                         "regions: [%s]\ngroup_ids: %s\n" % (REGION, json.dumps(groups)),
                               name="drill.uredis_backup.yml")
    result, report = drill(run_ansible, emu, tmp_path, "-f", "3", inventory=inventory)
    assert result.rc == 0, result
    assert (report["drills"], report["passed"]) == (3, 3)
    assert sorted(entry["group_id"] for entry in report["results"]) == groups
    assert emu.stats()["group_creates"] == 3
    assert scratch_groups(emu) == []


def test_the_scratch_groups_password_never_shows(drill_emulator, run_ansible, tmp_path):
    emu = drill_emulator
    fresh_backup(emu)
    seen, stop = set(), threading.Event()

    def watch():  # the password lives only in the emulator's hidden field while the group exists
        while not stop.is_set():
            seen.update(row["Password"] for row in scratch_groups(emu) if row.get("Password"))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result, report = drill(run_ansible, emu, tmp_path, verbosity="-vvvv")
    finally:
        stop.set()
        watcher.join()
    assert result.rc == 0, result
    password, = seen
    assert len(password) == 32
    for secret in (password, base64.b64encode(password.encode()).decode()):
        assert secret not in result.output
        assert secret not in json.dumps(report)
    assert "Make the scratch group's password" in result.output  # the task ran, censored
