#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_backup_policy
short_description: Set the automatic backup policy and cross-region copies of a URedis (Redis) group on sigcalcloud
version_added: 1.0.0
description:
  - Reads a group's automatic backup policy (its C(AutoBackup) and C(BackupTime), from C(DescribeURedisGroup))
    and sends C(UpdateURedisBackupStrategy) only when O(auto_backup) or O(backup_time) differs from it.
  - The update always carries both values, the ones not given taken from the group as it is. The server reads
    an omitted C(AutoBackup) as V(enable) and an omitted C(BackupTime) as hour 0, so an update of one value alone
    would switch automatic backups on, or move them to midnight.
  - With neither O(auto_backup) nor O(backup_time), the module only reports the policy.
  - O(cross_region) switches the group's cross-region copies on or off (C(UpdateURedisBackupStrategy) with
    C(OperationType=modify) or C(close)). That call too carries the automatic backup policy as it is (after the
    task's own update, when it has one). What the server does with values left out of that call is not documented;
    sending them is the only way to be sure that switching copies on or off leaves the automatic backups as they are.
  - When a task changes the automatic policy and sets O(cross_region), that is two calls, the policy update first.
  - B(No API call reads the cross-region policy back.) The module cannot tell whether copies are already on, or to
    which region, so a task with O(cross_region) always sends its call and always reports C(changed), in check mode
    too (where it sends nothing). To see the copies, list them with M(sigcalcloud.cloud.uredis_backup_info),
    O(sigcalcloud.cloud.uredis_backup_info#module:region_type=target), in the destination region.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
attributes:
  check_mode:
    support: full
    description:
      - Reads the policy, reports what would change (and the diff), and sends no update.
      - With O(cross_region), reports C(changed) and sends nothing, since the cross-region policy cannot be read to compare.
  diff_mode:
    support: full
    description:
      - The policy before and after, as RV(policy) shows it.
      - With O(cross_region), C(after) also holds the requested copies and C(before) has them as V(unknown).
options:
  group_id:
    description:
      - The Redis group, for example V(uredis-abc123).
    type: str
    required: true
  zone:
    description:
      - The group's availability zone. The group must be in it; it is sent with the update.
    type: str
  slave_zone:
    description:
      - For a group spread over two zones, the zone of its replica. Sent with the update.
    type: str
  auto_backup:
    description:
      - Whether the cloud backs the group up automatically every day. Unchanged when not set.
    type: bool
  backup_time:
    description:
      - The hour of the day, V(0) to V(23), at which the automatic backup runs. Unchanged when not set.
    type: int
  cross_region:
    description:
      - The group's cross-region copies. Not set, they are left as they are.
      - With O(cross_region.state=present), every backup of the group taken from then on is copied to
        O(cross_region.region) and kept there O(cross_region.keep_days) days.
      - With O(cross_region.state=absent), no further backup is copied. Copies already made stay until they expire.
      - Always sent, and always reported as a change (see the description).
    type: dict
    version_added: 1.1.0
    suboptions:
      state:
        description:
          - V(present) switches copies on (or changes their region or days), V(absent) switches them off.
        type: str
        choices: [present, absent]
        default: present
      region:
        description:
          - The region the copies go to, for example V(hk). Required with O(cross_region.state=present), refused with
            V(absent) (which stops the copies to any region). Must not be the group's own region.
        type: str
      keep_days:
        description:
          - How many days each copy is kept in O(cross_region.region), V(1) or more. Required with
            O(cross_region.state=present), refused with V(absent).
        type: int
seealso:
  - module: sigcalcloud.cloud.uredis_group_info
    description: Every group's policy at once.
  - module: sigcalcloud.cloud.uredis_backup_info
    description: The copies, with O(sigcalcloud.cloud.uredis_backup_info#module:region_type=target) in their region.
  - module: sigcalcloud.cloud.uredis_backup_url_info
    description: A copy's link, with O(sigcalcloud.cloud.uredis_backup_url_info#module:cross_region=true).
  - module: sigcalcloud.cloud.uredis_backup
    description: Take a backup now.
  - name: UpdateURedisBackupStrategy
    description: The API call this module makes.
    link: https://docs.sigcalcloud.com/api/umem-api/update_uredis_backup_strategy
"""

EXAMPLES = r"""
- name: Back the orders cache up every night at 03:00
  sigcalcloud.cloud.uredis_backup_policy:
    region: cn-bj2
    group_id: uredis-abc123
    auto_backup: true
    backup_time: 3

- name: Switch automatic backups back on wherever they are off, keeping each group's hour
  sigcalcloud.cloud.uredis_backup_policy:
    region: cn-bj2
    group_id: "{{ item.group_id }}"
    auto_backup: true
  loop: "{{ redis.groups | selectattr('auto_backup', 'eq', 'disable') }}"
  loop_control:
    label: "{{ item.group_id }}"

- name: Show a group's policy without changing it
  sigcalcloud.cloud.uredis_backup_policy:
    region: cn-bj2
    group_id: uredis-abc123
  register: current

- name: Copy every new backup of the orders cache to Hong Kong and keep the copies two weeks
  sigcalcloud.cloud.uredis_backup_policy:
    region: cn-bj2
    group_id: uredis-abc123
    cross_region:
      region: hk
      keep_days: 14

- name: Stop copying (the automatic backups stay as they are; the copies made so far expire on their own)
  sigcalcloud.cloud.uredis_backup_policy:
    region: cn-bj2
    group_id: uredis-abc123
    cross_region:
      state: absent

- name: See the copies that arrived in Hong Kong
  sigcalcloud.cloud.uredis_backup_info:
    region: hk
    region_type: target
    group_id: uredis-abc123
  register: copies
"""

RETURN = r"""
changed:
  description: Whether the policy was changed (in check mode, whether it would be).
  returned: always
  type: bool
  sample: true
policy:
  description: The group's automatic backup policy after the task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    auto_backup:
      description: Whether automatic backups are on.
      type: bool
      sample: true
    backup_time:
      description: The hour (0-23) of the automatic backup.
      type: int
      sample: 3
cross_region:
  description:
    - The cross-region copies the task asked for (in check mode, would ask for), as checked. The module sent it;
      no API call reads it back, so this is the request, not a reading of the group.
  returned: when O(cross_region) is set
  type: dict
  version_added: 1.1.0
  contains:
    state:
      description: V(present) (copies on) or V(absent) (copies off).
      type: str
      sample: present
    region:
      description: The region the copies go to; V(null) for V(absent).
      type: str
      sample: hk
    keep_days:
      description: How many days a copy is kept; V(null) for V(absent).
      type: int
      sample: 14
diff:
  description: The policy before and after, with C(--diff).
  returned: with --diff
  type: dict
  contains:
    before:
      description:
        - The policy before the task.
        - With O(cross_region), its C(cross_region) is the text V(unknown), as nothing reads it back.
      type: dict
      sample: {"auto_backup": false, "backup_time": 3}
    after:
      description:
        - The policy after the task.
        - With O(cross_region), its C(cross_region) is RV(cross_region).
      type: dict
      sample: {"auto_backup": true, "backup_time": 3}
ret_code:
  description: The API's RetCode when the API refused a call.
  returned: failure, when the API answered
  type: int
  sample: 230
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

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule


class BackupPolicyModule(SigcalcloudModule):
    argument_spec = dict(
        group_id=dict(type="str", required=True),
        zone=dict(type="str"),
        slave_zone=dict(type="str"),
        auto_backup=dict(type="bool"),
        backup_time=dict(type="int"),
        cross_region=dict(type="dict", options=dict(
            state=dict(type="str", choices=list(_groups.CROSS_REGION_STATES), default="present"),
            region=dict(type="str"),
            keep_days=dict(type="int"),
        )),
    )

    def run(self):
        params, settings = self.params, self.settings
        _options.require_text(params, "group_id")
        if params["backup_time"] is not None and not 0 <= params["backup_time"] <= 23:
            self.fail("backup_time=%s is out of range: use an hour from 0 to 23" % params["backup_time"])
        copies = None
        if params["cross_region"] is not None:  # checked before any call
            copies = _groups.check_cross_region(params["cross_region"], settings.region)
        group = _groups.require_group(self.client, settings.region, settings.project_id, params["group_id"],
                                      zone=params["zone"])
        before = _groups.policy_of(group)
        after = dict(before)
        for name in ("auto_backup", "backup_time"):
            if params[name] is not None:
                after[name] = params[name]
        changed = after != before
        zones = dict(zone=params["zone"], slave_zone=params["slave_zone"])
        if changed and not self.check_mode:
            _groups.update_policy(self.client, group, after, **zones)
        result = dict(changed=changed, policy=after)
        if copies is not None:
            # Nothing reads the cross-region policy back: there is nothing to compare with, so it is sent and reported.
            result.update(changed=True, cross_region=copies)
            if not self.check_mode:
                try:
                    _groups.update_cross_region(self.client, group, after, copies, **zones)
                except SigcalcloudError as error:
                    if changed:  # say so: the first call did change the group
                        error.message = "%s (the automatic backup policy was already updated: auto_backup=%s, " \
                            "backup_time=%d)" % (error.message, str(after["auto_backup"]).lower(), after["backup_time"])
                        error.args = (error.message,)
                    raise
        if self.module._diff:
            result["diff"] = dict(before=dict(before), after=dict(after))
            if copies is not None:
                result["diff"]["before"]["cross_region"] = "unknown"
                result["diff"]["after"]["cross_region"] = copies
        return result


def main():
    BackupPolicyModule().main()


if __name__ == "__main__":
    main()
