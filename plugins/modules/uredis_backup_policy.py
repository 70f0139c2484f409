#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_backup_policy
short_description: Set the automatic backup policy of a URedis (Redis) group on sigcalcloud
version_added: 1.0.0
description:
  - Reads a group's automatic backup policy (its C(AutoBackup) and C(BackupTime), from C(DescribeURedisGroup))
    and sends C(UpdateURedisBackupStrategy) only when O(auto_backup) or O(backup_time) differs from it.
  - The update always carries both values, the ones not given taken from the group as it is. The server reads
    an omitted C(AutoBackup) as V(enable) and an omitted C(BackupTime) as hour 0, so an update of one value alone
    would switch automatic backups on, or move them to midnight.
  - With neither O(auto_backup) nor O(backup_time), the module only reports the policy.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
attributes:
  check_mode:
    support: full
    description: Reads the policy, reports what would change (and the diff), and sends no update.
  diff_mode:
    support: full
    description: The policy before and after, as RV(policy) shows it.
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
seealso:
  - module: sigcalcloud.cloud.uredis_group_info
    description: Every group's policy at once.
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
diff:
  description: The policy before and after, with C(--diff).
  returned: with --diff
  type: dict
  contains:
    before:
      description: The policy before the task.
      type: dict
      sample: {"auto_backup": false, "backup_time": 3}
    after:
      description: The policy after the task.
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
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule


class BackupPolicyModule(SigcalcloudModule):
    argument_spec = dict(
        group_id=dict(type="str", required=True),
        zone=dict(type="str"),
        slave_zone=dict(type="str"),
        auto_backup=dict(type="bool"),
        backup_time=dict(type="int"),
    )

    def run(self):
        params, settings = self.params, self.settings
        _options.require_text(params, "group_id")
        if params["backup_time"] is not None and not 0 <= params["backup_time"] <= 23:
            self.fail("backup_time=%s is out of range: use an hour from 0 to 23" % params["backup_time"])
        group = _groups.require_group(self.client, settings.region, settings.project_id, params["group_id"],
                                      zone=params["zone"])
        before = _groups.policy_of(group)
        after = dict(before)
        for name in ("auto_backup", "backup_time"):
            if params[name] is not None:
                after[name] = params[name]
        changed = after != before
        if changed and not self.check_mode:
            _groups.update_policy(self.client, group, after, zone=params["zone"], slave_zone=params["slave_zone"])
        result = dict(changed=changed, policy=after)
        if self.module._diff:
            result["diff"] = dict(before=before, after=after)
        return result


def main():
    BackupPolicyModule().main()


if __name__ == "__main__":
    main()
