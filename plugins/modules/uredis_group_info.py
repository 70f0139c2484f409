#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_group_info
short_description: List the URedis (Redis) groups of a sigcalcloud region
version_added: 1.0.0
description:
  - Runs C(DescribeURedisGroup) and returns every Redis group of a region, reading all pages concurrently,
    or the one group O(group_id).
  - Use it to find the groups that have no backup at all, which no backup listing can show, and to read a
    group's automatic backup policy (RV(groups[].auto_backup), RV(groups[].backup_time)).
  - Fails with a message that names the cause, never with a partial list.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
  - sigcalcloud.cloud.module.read_only
options:
  group_id:
    description:
      - Only this Redis group. An unknown group gives an empty RV(groups), not a failure.
    type: str
  zone:
    description:
      - Only the groups of this availability zone, for example V(cn-bj2-02).
    type: str
seealso:
  - module: sigcalcloud.cloud.uredis_backup_info
    description: The backups of a group.
  - module: sigcalcloud.cloud.uredis_backup_policy
    description: Switch a group's automatic backups on or off, or move their hour.
  - module: sigcalcloud.cloud.uredis_backup
    description: Take a backup of a group that has none.
  - name: DescribeURedisGroup
    description: The API call this module runs.
    link: https://docs.sigcalcloud.com/api/umem-api/describe_uredis_group
"""

EXAMPLES = r"""
# Ad hoc: ansible localhost -m sigcalcloud.cloud.uredis_group_info -a region=cn-bj2

- name: Every Redis group of the region
  sigcalcloud.cloud.uredis_group_info:
    region: cn-bj2
  register: redis

- name: The groups whose automatic backups are off
  ansible.builtin.debug:
    msg: "{{ redis.groups | selectattr('auto_backup', 'eq', 'disable') | map(attribute='group_id') | list }}"

- name: Every backup of the region, to compare
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    state: [Success]
  register: good

- name: The groups that have never had a successful backup
  ansible.builtin.debug:
    msg: >-
      {{ redis.groups | map(attribute='group_id')
         | difference(good.backups | map(attribute='group_id')) }}

- name: One group
  sigcalcloud.cloud.uredis_group_info:
    region: cn-bj2
    group_id: uredis-abc123
  register: one
"""

RETURN = r"""
groups:
  description:
    - The groups, by RV(groups[].group_id).
    - Every field of the API's C(URedisGroupSet), in snake_case, with the values the API gives
      (RV(groups[].auto_backup) is V(enable) or V(disable)); fields the API left out are V(null).
  returned: success
  type: list
  elements: dict
  contains:
    group_id:
      description: The Redis group's ID.
      type: str
      sample: "uredis-abc123"
    name:
      description: The group's name.
      type: str
      sample: "orders-cache"
    group_name:
      description: The group's name, as some API versions report it; V(null) when it does not.
      type: str
      sample: "orders-cache"
    zone:
      description: The availability zone of the master.
      type: str
      sample: "cn-bj2-02"
    slave_zone:
      description: For a group spread over two zones, the zone of the replica.
      type: str
      sample: "cn-bj2-03"
    state:
      description: V(Creating), V(CreateFail), V(Deleting), V(DeleteFail), V(Running), V(Resizing), V(ResizeFail), V(Configing) or V(ConfigFail).
      type: str
      sample: "Running"
    version:
      description: The Redis version.
      type: str
      sample: "6.0"
    size:
      description: The capacity in GB.
      type: int
      sample: 4
    used_size:
      description: The memory in use, in MB.
      type: int
      sample: 512
    memory_size:
      description: The memory size in GB, as some API versions report it.
      type: int
      sample: 4
    auto_backup:
      description: Whether automatic backups are on, V(enable) or V(disable), as the API gives it.
      type: str
      sample: "enable"
    backup_time:
      description: The hour (0-23) at which the automatic backup runs.
      type: int
      sample: 3
    rewrite_time:
      description: The hour of the AOF rewrite.
      type: int
      sample: 4
    config_id:
      description: The configuration's ID.
      type: str
      sample: "03f58ca9-b64d-4bdd-abc7-c6b9a46fd801"
    protocol:
      description: The protocol.
      type: str
      sample: "redis"
    role:
      description: The group's role.
      type: str
      sample: "master"
    type:
      description: V(single) or V(double) (master and replica).
      type: str
      sample: "double"
    high_availability:
      description: The high availability mode.
      type: str
      sample: "enable"
    is_high_performance:
      description: Whether it is a high-performance group.
      type: bool
      sample: false
    charge_type:
      description: How it is paid for, for example V(Month) or V(Dynamic).
      type: str
      sample: "Month"
    virtual_ip:
      description: The address clients connect to.
      type: str
      sample: "10.9.1.23"
    port:
      description: The port clients connect to.
      type: int
      sample: 6379
    vpc_id:
      description: The VPC.
      type: str
      sample: "uvnet-abc123"
    subnet_id:
      description: The subnet.
      type: str
      sample: "subnet-abc123"
    tag:
      description: The business group tag.
      type: str
      sample: "Default"
    sec_policy:
      description: The security policy.
      type: int
      sample: 0
    ssl_enable:
      description: Whether TLS is on.
      type: bool
      sample: false
    ssl_version:
      description: The TLS version, when TLS is on.
      type: str
      sample: "TLSv1.2"
    ssl_cert_expire_time:
      description: When the TLS certificate expires, as a UNIX timestamp.
      type: int
      sample: 1893456000
    create_time:
      description: When the group was created, as a UNIX timestamp.
      type: int
      sample: 1764633600
    modify_time:
      description: When the group was last modified, as a UNIX timestamp.
      type: int
      sample: 1764637200
    expire_time:
      description: When a prepaid group expires, as a UNIX timestamp; V(0) when it does not.
      type: int
      sample: 1796169600
    region:
      description: The region that was queried.
      type: str
      sample: "cn-bj2"
    project_id:
      description: The project that was queried; V(null) for the account's default project.
      type: str
      sample: "org-demo"
    create_time_iso:
      description: RV(groups[].create_time) as an ISO 8601 UTC date.
      type: str
      sample: "2025-12-02T00:00:00Z"
    modify_time_iso:
      description: RV(groups[].modify_time) as an ISO 8601 UTC date.
      type: str
      sample: "2025-12-02T01:00:00Z"
    expire_time_iso:
      description: RV(groups[].expire_time) as an ISO 8601 UTC date; V(null) when it is V(0) or absent.
      type: str
      sample: "2026-12-02T00:00:00Z"
ret_code:
  description: The API's RetCode when the API refused the call.
  returned: failure, when the API answered
  type: int
  sample: 171
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
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule


class GroupInfoModule(SigcalcloudModule):
    argument_spec = dict(
        group_id=dict(type="str"),
        zone=dict(type="str"),
    )

    def run(self):
        settings = self.settings
        query = _groups.Query(settings.region, settings.project_id, group_id=self.params["group_id"],
                              zone=self.params["zone"])
        results, _errors = _groups.list_groups(self.client, [query], max_concurrency=settings.max_concurrency)
        groups = results[query]
        if self.params["group_id"]:  # a server that ignored the filter does not name other groups for it
            groups = [group for group in groups if group["group_id"] == self.params["group_id"]]
        return dict(changed=False, groups=groups)


def main():
    GroupInfoModule().main()


if __name__ == "__main__":
    main()
