# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Cross-region copies end to end, through real ansible-playbook, ansible and ansible-inventory runs against
the emulator: uredis_backup_policy switches them on and off, uredis_backup takes the backups, and the copies
are seen where they arrive by uredis_backup_info, uredis_backup_url_info, the inventory and the event source.

The emulator reads an AutoBackup or BackupTime left out of a modify or close call as the server's
defaults (enable, hour 0), so these tests also show that switching copies on or off leaves the group's
automatic backups as they were.
"""

from __future__ import annotations

import asyncio
import os
import runpy

import pytest

from emulator.server import DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, copy_id
from helpers import (REGION, collections_path, hostvars, inventory_file, inventory_list, module,
                     run_tasks, updates)

GROUP = "uredis-cnbj2-91"  # no backup of its own; its automatic backups are set off at hour 5 below
DESTINATION = "hk"


@pytest.fixture
def emu(start_emulator):
    emu = start_emulator(backup_seconds=0.3)
    emu.change_groups(policy={GROUP: {"AutoBackup": "disable", "BackupTime": 5}})
    return emu


def group_row(emu):
    return next(row for row in emu.groups() if (row["Region"], row["ProjectId"], row["GroupId"]) == (REGION, "org-demo", GROUP))


def automatic(emu):
    row = group_row(emu)
    return row["AutoBackup"], row["BackupTime"]


def playbook(run_ansible, emu, tmp_path, tasks, name="play.yml"):
    result, results = run_tasks(run_ansible, emu, tmp_path, tasks, name=name)
    assert result.rc == 0, result
    return results


SWITCH_ON_AND_BACK_UP = """\
- sigcalcloud.cloud.uredis_backup_policy:
    group_id: %(group)s
    cross_region:
      region: %(dest)s
      keep_days: 7
  register: switched
- sigcalcloud.cloud.uredis_backup:
    group_id: %(group)s
    backup_name: copied-backup-1
    poll_interval: 0.2
  register: taken
- sigcalcloud.cloud.uredis_backup_info:
    region: %(dest)s
    region_type: target
  register: arrived
- sigcalcloud.cloud.uredis_backup_info:
    region_type: source
  register: sent
- sigcalcloud.cloud.uredis_backup_url_info:
    region: %(dest)s
    backup_id: "{{ (arrived.backups | selectattr('group_id', 'eq', '%(group)s') | first).backup_id }}"
    cross_region: true
  register: link
  no_log: true
- sigcalcloud.cloud.uredis_backup_download:
    region: %(dest)s
    backup_id: "{{ (arrived.backups | selectattr('group_id', 'eq', '%(group)s') | first).backup_id }}"
    cross_region: true
    dest: %(file)s
  register: downloaded
"""

SWITCH_OFF_AND_BACK_UP = """\
- sigcalcloud.cloud.uredis_backup_policy:
    group_id: %(group)s
    cross_region:
      state: absent
  register: switched
- sigcalcloud.cloud.uredis_backup:
    group_id: %(group)s
    backup_name: not-copied-2
    poll_interval: 0.2
  register: taken
- sigcalcloud.cloud.uredis_backup_info:
    region: %(dest)s
    region_type: target
  register: arrived
"""


def mine(backups):
    return [b for b in backups if b["group_id"] == GROUP]


def test_copies_on_a_backup_is_copied_off_no_more_copies_and_the_automatic_backups_never_change(
        run_ansible, emu, tmp_path):
    names = dict(group=GROUP, dest=DESTINATION, file=tmp_path / "copy.rdb")
    switched, taken, arrived, sent, _link, downloaded = playbook(run_ansible, emu, tmp_path, SWITCH_ON_AND_BACK_UP % names)
    assert switched["changed"] is True
    assert switched["policy"] == {"auto_backup": False, "backup_time": 5}
    assert switched["cross_region"] == {"state": "present", "region": DESTINATION, "keep_days": 7}
    assert automatic(emu) == ("disable", 5)  # modify carried the group's values
    assert (group_row(emu)["DstRegion"], group_row(emu)["SaveDays"]) == (DESTINATION, 7)
    source = taken["backup"]
    copies = mine(arrived["backups"])
    assert [c["backup_id"] for c in copies] == [copy_id(source["backup_id"])]
    copy = copies[0]
    assert (copy["src_region_name"], copy["dst_region_name"], copy["region"], copy["state"]) == (
        REGION, DESTINATION, DESTINATION, "Success")
    for fact in ("backup_name", "backup_time", "backup_size", "group_name", "redis_version"):
        assert copy[fact] == source[fact], fact
    assert mine(sent["backups"]) == [dict(copy, region=REGION)]  # the same copy, seen from the group's region
    data = (tmp_path / "copy.rdb").read_bytes()  # downloaded from the destination region, and proven whole
    assert downloaded["changed"] and downloaded["checksum"] == "ok" and len(data) == copy["backup_size"] == downloaded["size"]
    assert downloaded["backup"]["src_region_name"] == REGION and downloaded["created"] == source["backup_time"]

    switched, taken, arrived = playbook(run_ansible, emu, tmp_path, SWITCH_OFF_AND_BACK_UP % names, name="off.yml")
    assert switched["changed"] is True
    assert switched["cross_region"] == {"state": "absent", "region": None, "keep_days": None}
    assert automatic(emu) == ("disable", 5)  # so did close
    assert "DstRegion" not in group_row(emu)
    assert taken["backup"]["state"] == "Success"
    assert [c["backup_id"] for c in mine(arrived["backups"])] == [copy["backup_id"]]  # no new copy
    assert updates(emu) == 2  # one call each: the automatic policy did not need changing


def test_the_copies_are_hosts_of_the_inventory(run_ansible, emu, tmp_path):
    playbook(run_ansible, emu, tmp_path, SWITCH_ON_AND_BACK_UP % dict(group=GROUP, dest=DESTINATION,
                                                                      file=tmp_path / "copy.rdb"))
    source = next(row for row in emu.data["backups"] if row["GroupId"] == GROUP and "SrcRegionName" not in row)
    path = inventory_file(tmp_path, """
        regions: [%s, %s]
        region_types: [normal, target]
        group_ids: [%s]
    """ % (REGION, DESTINATION, GROUP))
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    hosts = hostvars(result.json())
    assert sorted(hosts) == sorted([source["BackupId"], copy_id(source["BackupId"])])
    copy = hosts[copy_id(source["BackupId"])]
    assert (copy["region"], copy["src_region_name"], copy["dst_region_name"]) == (DESTINATION, REGION, DESTINATION)
    assert hosts[source["BackupId"]]["src_region_name"] is None


def test_changing_the_automatic_policy_and_the_copies_is_two_calls_each_with_the_new_policy(run_ansible, emu):
    args = {"group_id": GROUP, "auto_backup": True, "backup_time": 6,
            "cross_region": {"region": DESTINATION, "keep_days": 3}}
    result, task = module(run_ansible, emu, "uredis_backup_policy", args, diff=True)
    assert result.rc == 0, result
    assert task["changed"] is True and task["policy"] == {"auto_backup": True, "backup_time": 6}
    assert task["diff"] == {
        "before": {"auto_backup": False, "backup_time": 5, "cross_region": "unknown"},
        "after": {"auto_backup": True, "backup_time": 6,
                  "cross_region": {"state": "present", "region": DESTINATION, "keep_days": 3}}}
    assert updates(emu) == 2
    assert automatic(emu) == ("enable", 6) and group_row(emu)["SaveDays"] == 3
    # The same task again: the automatic policy is as asked (no call), the copies cannot be read (a call).
    result, task = module(run_ansible, emu, "uredis_backup_policy", args)
    assert result.rc == 0 and task["changed"] is True, result
    assert updates(emu) == 3 and automatic(emu) == ("enable", 6)


def test_check_mode_reports_a_change_and_sends_nothing(run_ansible, emu):
    args = {"group_id": GROUP, "backup_time": 8, "cross_region": {"state": "absent"}}
    result, task = module(run_ansible, emu, "uredis_backup_policy", args, check=True, diff=True)
    assert result.rc == 0, result
    assert task["changed"] is True
    assert task["diff"]["before"]["cross_region"] == "unknown"
    assert task["diff"]["after"] == {"auto_backup": False, "backup_time": 8,
                                     "cross_region": {"state": "absent", "region": None, "keep_days": None}}
    assert updates(emu) == 0 and automatic(emu) == ("disable", 5)


@pytest.mark.parametrize("cross_region, message", [
    ({"region": DESTINATION, "keep_days": 0}, "cross_region.keep_days=0 is out of range"),
    ({"keep_days": 3}, "cross_region.region is required with cross_region.state=present"),
    ({"region": DESTINATION}, "cross_region.keep_days is required with cross_region.state=present"),
    ({"region": REGION, "keep_days": 3}, "cross_region.region='cn-bj2' is the group's own region"),
    ({"state": "absent", "region": DESTINATION}, "go with state=present only"),
    ({"region": DESTINATION, "keep_days": 3, "days": 3}, "cross_region.days"),
    ({"state": "off"}, "state"),
], ids=["zero days", "no region", "no days", "own region", "region with absent", "unknown key", "bad state"])
def test_bad_cross_region_options_fail_before_any_call(run_ansible, emu, cross_region, message):
    emu.reset_stats()
    result, task = module(run_ansible, emu, "uredis_backup_policy", {"group_id": GROUP, "cross_region": cross_region})
    assert result.rc != 0
    assert message in task["msg"], task["msg"]
    assert emu.stats()["api_requests"] == 0


def test_a_destination_the_cloud_does_not_know_is_its_refusal(run_ansible, emu):
    result, task = module(run_ansible, emu, "uredis_backup_policy",
                          {"group_id": GROUP, "cross_region": {"region": "mars-1", "keep_days": 3}})
    assert result.rc != 0
    assert task["ret_code"] == 230 and "Params [DstRegion] not available" in task["msg"], task
    assert "already updated" not in task["msg"]
    assert automatic(emu) == ("disable", 5)
    # With a policy change too, that change was made (the first call) and the failure says so.
    result, task = module(run_ansible, emu, "uredis_backup_policy",
                          {"group_id": GROUP, "backup_time": 9, "cross_region": {"region": "mars-1", "keep_days": 3}})
    assert result.rc != 0 and task["ret_code"] == 230, task
    assert "(the automatic backup policy was already updated: auto_backup=false, backup_time=9)" in task["msg"], task
    assert automatic(emu) == ("disable", 9)


def test_the_event_source_announces_a_copy_where_it_arrives(run_ansible, emu, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SIGCALCLOUD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    source = runpy.run_path(os.path.join(collections_path(), "ansible_collections", "sigcalcloud", "cloud", "extensions",
                                         "eda", "plugins", "event_source", "uredis_backup_events.py"))
    args = {"base_url": emu.base_url, "public_key": DEMO_PUBLIC_KEY, "private_key": DEMO_PRIVATE_KEY,
            "regions": [DESTINATION], "region_types": ["target"], "group_ids": [GROUP], "interval": 0.1,
            "watch_groups": False}

    async def scenario():
        queue = asyncio.Queue()
        task = asyncio.get_running_loop().create_task(source["main"](queue, args))
        try:
            await asyncio.sleep(0.5)  # the first poll: the group has no copy yet
            assert queue.empty()
            tasks = SWITCH_ON_AND_BACK_UP % dict(group=GROUP, dest=DESTINATION, file=tmp_path / "copy.rdb")
            await asyncio.get_running_loop().run_in_executor(None, lambda: playbook(run_ansible, emu, tmp_path, tasks))
            return await asyncio.wait_for(queue.get(), 15)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    event = asyncio.run(scenario())
    source_row = next(row for row in emu.data["backups"] if row["GroupId"] == GROUP and "SrcRegionName" not in row)
    assert (event["type"], event["backup_id"]) == ("backup_new", copy_id(source_row["BackupId"]))
    assert (event["region"], event["src_region_name"], event["dst_region_name"]) == (DESTINATION, REGION, DESTINATION)
