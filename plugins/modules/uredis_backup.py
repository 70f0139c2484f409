#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_backup
short_description: Take a backup of a URedis (Redis) group on sigcalcloud, and wait for it
version_added: 1.0.0
description:
  - Ensures that a Redis group has a backup, taking one with C(CreateURedisBackup) when it has none that
    will do, and by default waits until it is V(Success).
  - "Which backup will do: with O(fresh_within), any backup of the group that is V(Success), or still
    V(Backuping), and was taken within that age; with O(backup_name), a backup of that name that is
    V(Success) or V(Backuping). A backup that is still V(Backuping) is waited for. With both,
    O(fresh_within) is checked first. With neither, every run takes a new backup."
  - A second identical run therefore changes nothing, as long as the first run's backup did not fail.
  - "Never two backups for one task: the create is not idempotent on the server, so once it may have been made it
    is never sent again. When its answer may have been lost (a timeout, a reset, an HTTP 5xx, a garbled answer, an
    answer to another action, RetCode 110 or 130), the module looks for a new backup of that name in the group's
    backups, at once and then on a schedule (0.5 s, each wait 1.5 times longer up to 5 s), for a minute or
    O(wait_timeout) if shorter, since a listing may show a new backup only some calls later; it takes the one it
    finds as the result. When none appeared, the task fails saying the backup may still appear."
  - "Only a refusal that proves nothing was made and says to try again (RetCode 150 or 153, HTTP 429, a connection
    that could not be made) is sent again, after the usual backoff, within O(max_retries) and the 60 s retry time
    budget. Any other refusal (a request error, a product RetCode such as 20208 for a group at its limit of manual
    backups) fails at once."
  - A created backup is waited for until the group's backups list it, on the same schedule, within O(wait_timeout).
  - Fails when the group does not exist, when the backup ends in V(Error) or V(Expired) (naming its id, group
    and state), or when it is not done within O(wait_timeout) (naming the last state seen and how long it
    waited).
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
attributes:
  check_mode:
    support: full
    description:
      - Reads the group and its backups, says in RV(changed) whether a backup would be taken, and sends no
        create. RV(backup) is the existing backup that makes a new one unnecessary, or V(null).
  diff_mode:
    support: none
    description: A backup is taken or not; RV(changed) says which.
options:
  group_id:
    description:
      - The Redis group to back up, for example V(uredis-abc123).
    type: str
    required: true
  backup_name:
    description:
      - The backup's name, 6 to 63 letters, digits, V(-) and V(_); checked before any API call.
      - When a backup of this name is already V(Success) or V(Backuping) in the group, none is taken.
      - When not set, a name such as V(ansible-20261202-031500) (the UTC time) is made up, and every run takes
        a new backup unless O(fresh_within) finds one.
    type: str
  fresh_within:
    description:
      - An age such as V(24h), V(90m) or V(1d12h) (units V(s), V(m), V(h), V(d), V(w)), at most V(36525d).
      - When the group has a V(Success) backup taken within that age, or one still V(Backuping) that was,
        no backup is taken; one in progress is waited for (with O(wait)).
    type: str
  zone:
    description:
      - The group's availability zone, for example V(cn-bj2-02). Sent with the create; the group must be in it.
    type: str
  slave_zone:
    description:
      - For a group spread over two zones, the zone of its replica. Sent with the create.
    type: str
  wait:
    description:
      - Wait until the backup is V(Success). With V(false), RV(backup) is returned as soon as the backup
        is listed, usually still V(Backuping).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds the task waits, at most, from its start, for a new backup to be listed after its
        create (whether the create's answer came or was lost, and also with O(wait=false)), then for it to
        finish; V(1) to V(604800) (a week).
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between the first checks of a backup in progress, V(0.1) to V(3600). Checks then slow down by
        half each time, up to one a minute (or one every O(poll_interval), if that is longer), with a little
        random jitter, so that many tasks waiting at once do not poll in step.
    type: float
    default: 10
notes:
  - There is no API to delete a backup, so this module has no C(state=absent). Manual backups expire on the
    cloud's schedule; a group at its limit of manual backups fails with RetCode 20208 until some do.
seealso:
  - module: sigcalcloud.cloud.uredis_backup_info
    description: List backups, for example to find the newest good one.
  - module: sigcalcloud.cloud.uredis_backup_url_info
    description: The download link of a backup.
  - module: sigcalcloud.cloud.uredis_backup_policy
    description: The group's automatic backups.
  - module: sigcalcloud.cloud.uredis_group_info
    description: Find the groups that have no backup at all.
  - name: CreateURedisBackup
    description: The API call this module makes.
    link: https://docs.sigcalcloud.com/api/umem-api/create_uredis_backup
"""

EXAMPLES = r"""
# Before a risky change: make sure the group has a good backup from the last hour.
- name: Ensure a fresh backup of the orders cache
  sigcalcloud.cloud.uredis_backup:
    region: cn-bj2
    group_id: uredis-abc123
    fresh_within: 1h
  register: before_change

- name: Say which backup we can roll back to
  ansible.builtin.debug:
    msg: "Roll back to {{ before_change.backup.backup_id }}, taken {{ before_change.backup.backup_time_iso }}"

# A named backup: running the play again does not take a second one.
- name: Take the pre-upgrade backup once
  sigcalcloud.cloud.uredis_backup:
    region: cn-bj2
    group_id: uredis-abc123
    backup_name: pre-upgrade-7_2
    wait_timeout: 3600

# Start backups of many groups at once, then wait for them all.
- name: Start a backup of every group that has none from today
  sigcalcloud.cloud.uredis_backup:
    region: cn-bj2
    group_id: "{{ item }}"
    fresh_within: 24h
    wait: false
  loop: "{{ redis_group_ids }}"
  register: started

- name: Wait for them
  sigcalcloud.cloud.uredis_backup:
    region: cn-bj2
    group_id: "{{ item.backup.group_id }}"
    backup_name: "{{ item.backup.backup_name }}"
  loop: "{{ started.results }}"
  loop_control:
    label: "{{ item.backup.group_id }}"

# What would be taken, without taking anything.
- name: Would the group need a backup today?
  sigcalcloud.cloud.uredis_backup:
    region: cn-bj2
    group_id: uredis-abc123
    fresh_within: 24h
  check_mode: true
  register: would
"""

RETURN = r"""
changed:
  description: Whether a backup was taken (in check mode, whether one would be).
  returned: always
  type: bool
  sample: true
backup_id:
  description:
    - The ID of the backup the task created, when it failed after the create and before the group's backups
      listed it (so RV(backup) could not be returned). Look for it before running the task again.
  returned: failure, after a backup was created but before it was listed
  type: str
  sample: a75a1ba9-d9e1-4d38-9af1-aecad4641e65
backup:
  description:
    - The backup that satisfies the task, with the same facts as M(sigcalcloud.cloud.uredis_backup_info) returns.
    - The new backup when one was taken, else the existing one that made it unnecessary.
    - Its RV(backup.state) is V(Success) after a wait; with O(wait=false) usually V(Backuping).
    - V(null) in check mode when a backup would be taken.
    - Also returned when the backup failed or the wait timed out, as it was last seen.
  returned: success, and failure once a backup was found or taken
  type: dict
  contains:
    backup_id:
      description: The backup's ID.
      type: str
      sample: a75a1ba9-d9e1-4d38-9af1-aecad4641e65
    backup_name:
      description: The backup's name.
      type: str
      sample: nightly
    backup_time:
      description: When the backup was taken, as a UNIX timestamp in seconds.
      type: int
      sample: 1529912363
    backup_time_iso:
      description: RV(backup.backup_time) as an ISO 8601 UTC date.
      type: str
      sample: "2018-06-25T07:39:23Z"
    backup_size:
      description: Size of the backup file in bytes.
      type: int
      sample: 18
    backup_type:
      description: V(Manual) or V(Auto).
      type: str
      sample: Manual
    state:
      description: V(Backuping), V(Success), V(Error) or V(Expired).
      type: str
      sample: Success
    group_id:
      description: The Redis group (instance) the backup is of.
      type: str
      sample: uredis-abc123
    group_name:
      description: The Redis group's name.
      type: str
      sample: orders-cache
    zone:
      description: The availability zone.
      type: str
      sample: cn-bj2-04
    src_region_name:
      description: For a cross-region backup, its source region.
      type: str
      sample: cn-bj2
    dst_region_name:
      description: For a cross-region backup, its target region.
      type: str
      sample: cn-sh2
    memory_size:
      description: Memory size of the source Redis in GB.
      type: int
      sample: 4
    redis_version:
      description: Version of the source Redis.
      type: str
      sample: "6.0"
    region:
      description: The region that was queried.
      type: str
      sample: cn-bj2
    project_id:
      description: The project that was queried; V(null) for the account's default project.
      type: str
      sample: org-demo
ret_code:
  description:
    - The API's RetCode when the API refused a call, for example V(20208) when the group has as many
      manual backups as it may keep.
  returned: failure, when the API answered
  type: int
  sample: 20208
request_id:
  description: The request id the server sent, for support tickets.
  returned: failure, when the server sent one
  type: str
  sample: 7d3f0a4e-2b1c-4c55-9e0e-0f9c2a1b3c4d
http_status:
  description: The HTTP status of the failed answer.
  returned: failure, when there was an answer
  type: int
  sample: 503
"""

import time

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule

# The longest wait_timeout accepted: a week. Backups take minutes to hours.
WAIT_TIMEOUT_MAX = 7 * 86400
POLL_INTERVAL_RANGE = (0.1, 3600)


class BackupModule(SigcalcloudModule):
    argument_spec = dict(
        group_id=dict(type="str", required=True),
        backup_name=dict(type="str"),
        fresh_within=dict(type="str"),
        zone=dict(type="str"),
        slave_zone=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=10),
    )

    def checked_options(self):
        """Fail on a bad option before any call; the fresh_within age in seconds, or None."""
        params = self.params
        _options.require_text(params, "group_id")
        if params["backup_name"] is not None:
            problem = _backups.check_backup_name(params["backup_name"])
            if problem:
                self.fail(problem)
        if not 1 <= params["wait_timeout"] <= WAIT_TIMEOUT_MAX:
            self.fail("wait_timeout=%s is out of range: use 1 to %d seconds" % (params["wait_timeout"], WAIT_TIMEOUT_MAX))
        low, high = POLL_INTERVAL_RANGE
        if not low <= params["poll_interval"] <= high:  # NaN fails this too
            self.fail("poll_interval=%s is out of range: use %s to %s seconds" % (params["poll_interval"], low, high))
        if params["fresh_within"] is None:
            return None
        age = _options.parse_age(params["fresh_within"], name="fresh_within")  # ValueError past 100 years
        if not age:
            self.fail("fresh_within=%s is not an age such as 24h, 90m or 1d12h" % (
                _options.shown_value(params["fresh_within"]),))
        return age

    def run(self):
        params, settings = self.params, self.settings
        fresh_within = self.checked_options()
        # One deadline for the whole task: looking for the new backup, and waiting for it.
        started = time.monotonic()
        deadline = started + params["wait_timeout"]
        region, project_id, group_id = settings.region, settings.project_id, params["group_id"]
        # That the group is there first: a create for a missing group fails less clearly.
        _groups.require_group(self.client, region, project_id, group_id, zone=params["zone"])
        backups = _backups.group_backups(self.client, region, project_id, group_id,
                                         max_concurrency=settings.max_concurrency)
        backup = None
        if fresh_within:
            backup = _backups.fresh_backup(backups, time.time() - fresh_within)
        if backup is None and params["backup_name"]:
            backup = _backups.named_backup(backups, params["backup_name"])
        changed = backup is None
        if self.check_mode:
            return dict(changed=changed, backup=backup)
        if changed:
            name = params["backup_name"] or _backups.generated_backup_name()
            backup_id, _sends = _backups.create_backup(
                self.client, region, project_id, group_id, name, zone=params["zone"],
                slave_zone=params["slave_zone"], known_ids=[b["backup_id"] for b in backups],
                wait_timeout=params["wait_timeout"])
            try:
                backup = _backups.listed_backup(self.client, region, project_id, group_id, backup_id,
                                                max(0.0, deadline - time.monotonic()))
            except SigcalcloudError as error:  # the backup exists: say so, and which
                error.message = "backup %s (%s) of group %s was created, then: %s" % (
                    backup_id, name, group_id, error.message)
                self.fail_from(error, changed=True, backup_id=backup_id)
            if backup is None:
                self.fail("backup %s (%s) of group %s was created, but the group's backups did not list it within "
                          "%ss (wait_timeout)" % (backup_id, name, group_id, params["wait_timeout"]),
                          changed=True, backup_id=backup_id)
        if params["wait"]:
            try:
                backup = _backups.wait_for_backup(self.client, backup, params["wait_timeout"], params["poll_interval"],
                                                  started=started)
            except _backups.BackupFailed as error:
                self.fail_from(error, changed=changed, backup=error.backup)
            except SigcalcloudError as error:  # a listing that failed while waiting
                error.message = "while waiting for backup %s of group %s: %s" % (
                    backup["backup_id"], group_id, error.message)
                self.fail_from(error, changed=changed, backup=backup)
        return dict(changed=changed, backup=backup)


def main():
    BackupModule().main()


if __name__ == "__main__":
    main()
