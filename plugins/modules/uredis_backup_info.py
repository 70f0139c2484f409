#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_backup_info
short_description: List URedis backups on sigcalcloud
version_added: 0.1.0
description:
  - Signs and runs the C(DescribeURedisBackup) API call and returns every backup of a region,
    reading all pages concurrently, or exactly one page when O(offset) or O(limit) is given.
  - Client-side filters O(state), O(backup_type) and O(since) narrow the result for conditional automation.
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
      - Only the backups of this Redis group (instance), for example V(uredis-abc123).
      - When the group has no backup listed, the module asks whether the group exists (one more call,
        C(DescribeURedisGroup), only then) and fails naming it when the region (and project) has no such
        group, so that a mistyped id is not taken for a group without backups. Not for O(region_type=source)
        or O(region_type=target), whose groups live in another region.
    type: str
  backup_id:
    description:
      - Only this backup.
    type: str
  region_type:
    description:
      - V(normal) lists ordinary backups; V(source) and V(target) list cross-region backups
        whose source or target is O(region).
      - When neither O(group_id) nor O(region_type) is set, V(normal) is sent, the API's documented default.
    type: str
    choices: [normal, source, target]
  slave_zone:
    description:
      - For cross-zone Redis, the zone that holds the replica.
    type: str
  offset:
    description:
      - Return one page starting at this row instead of all pages.
      - With O(offset) or O(limit), exactly one API page is returned, as the API answers it
        (the server may return fewer rows than O(limit)).
    type: int
  limit:
    description:
      - Rows per page when returning one page; see O(offset).
    type: int
  state:
    description:
      - Only backups in one of these states.
    type: list
    elements: str
    choices: [Backuping, Success, Error, Expired]
  backup_type:
    description:
      - Only backups of one of these types.
    type: list
    elements: str
    choices: [Manual, Auto]
  since:
    description:
      - Only backups taken at or after this time.
      - An age back from now such as V(30m), V(24h), V(7d) or V(1d12h), in units of V(s), V(m), V(h), V(d)
        and V(w), at most V(36525d) (100 years); a UNIX timestamp in plain digits from V(0) to V(253402300799)
        (the end of year 9999); or an ISO 8601 date such as V(2026-01-31T12:00:00Z), years 1 to 9999
        (UTC when no zone is given).
      - Anything else, such as V(-5), V(1e9) or V(yesterday), fails with a message that says what is accepted.
    type: str
seealso:
  - module: sigcalcloud.cloud.uredis_backup
    description: Take a backup of a group, and wait for it.
  - module: sigcalcloud.cloud.uredis_backup_url_info
    description: The download link of a backup.
  - module: sigcalcloud.cloud.uredis_group_info
    description: The groups, also those that have no backup, and their automatic backup policy.
  - name: DescribeURedisBackup
    description: The API call this module runs.
    link: https://docs.sigcalcloud.com/api/umem-api/describe_uredis_backup
"""

EXAMPLES = r"""
# Ad hoc, with credentials in SIGCALCLOUD_PUBLIC_KEY / SIGCALCLOUD_PRIVATE_KEY:
#   ansible localhost -m sigcalcloud.cloud.uredis_backup_info -a region=cn-bj2

- name: Every backup of the region (all pages)
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
  register: all_backups

- name: The backups of one Redis group
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    group_id: uredis-abc123
  register: group_backups

- name: Show the newest successful backup of that group
  ansible.builtin.debug:
    msg: >-
      {{ (group_backups.backups | selectattr('state', 'eq', 'Success') | first).backup_id
         | default('no successful backup') }}

- name: Failed backups of the last day
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    state: [Error]
    since: 24h
  register: failed

- name: Stop the release when the newest backup is not good and fresh
  vars:
    newest: "{{ group_backups.backups | first | default({}) }}"
  ansible.builtin.assert:
    that:
      - newest.state | default('') == 'Success'
      - newest.backup_time | default(0) | int > now(utc=true).timestamp() - 86400
    fail_msg: "Newest backup of uredis-abc123 is {{ newest.state | default('missing') }} from {{ newest.backup_time_iso | default('never') }}"

- name: Wait until a backup has finished
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    backup_id: "{{ backup_id }}"
  register: one
  until: one.backups | length > 0 and one.backups[0].state in ['Success', 'Error']
  retries: 30
  delay: 20

- name: One page, as the API returns it
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    offset: 0
    limit: 50

- name: Set credentials once for every sigcalcloud module of the play
  module_defaults:
    group/sigcalcloud.cloud.sigcalcloud:
      public_key: "{{ vault_sigcalcloud_public_key }}"
      private_key: "{{ vault_sigcalcloud_private_key }}"
      region: cn-bj2
  block:
    - name: Cross-region backups that leave this region
      sigcalcloud.cloud.uredis_backup_info:
        region_type: source
"""

RETURN = r"""
backups:
  description:
    - The backups, newest RV(backups[].backup_time) first, after the client-side filters.
    - In one-page mode (O(offset) or O(limit) set), the rows of that page in the API's order.
    - Fields the API left out are V(null).
  returned: success
  type: list
  elements: dict
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
      description: RV(backups[].backup_time) as an ISO 8601 UTC date.
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
total_count:
  description:
    - The number of backups the API reported for the query (its C(TotalCount)),
      before the client-side filters O(state), O(backup_type) and O(since).
  returned: success
  type: int
  sample: 42
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

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule

INT32_MAX = 2147483647


def check_paging(params):
    """The message for an out-of-range offset or limit, or None."""
    if params["offset"] is not None and not 0 <= params["offset"] <= INT32_MAX:
        return "offset=%s is out of range: use 0 to %d" % (params["offset"], INT32_MAX)
    if params["limit"] is not None and not 1 <= params["limit"] <= INT32_MAX:
        return "limit=%s is out of range: use 1 to %d" % (params["limit"], INT32_MAX)
    return None


class BackupInfoModule(SigcalcloudModule):
    argument_spec = dict(
        group_id=dict(type="str"),
        backup_id=dict(type="str"),
        region_type=dict(type="str", choices=list(_backups.REGION_TYPES)),
        slave_zone=dict(type="str"),
        offset=dict(type="int"),
        limit=dict(type="int"),
        state=dict(type="list", elements="str", choices=list(_backups.STATES)),
        backup_type=dict(type="list", elements="str", choices=list(_backups.BACKUP_TYPES)),
        since=dict(type="str"),
    )

    def run(self):
        params, settings = self.params, self.settings
        since = _options.parse_since(params["since"]) if params["since"] is not None else None
        problem = check_paging(params)
        if problem:
            self.fail(problem)
        query = _backups.Query(
            region=settings.region,
            project_id=settings.project_id,
            region_type=params["region_type"],
            group_id=params["group_id"],
            backup_id=params["backup_id"],
            slave_zone=params["slave_zone"],
        )
        if params["offset"] is None and params["limit"] is None:
            results, _errors = _backups.list_backups(self.client, [query], max_concurrency=settings.max_concurrency)
            backups = results[query]
            total = len(backups)
        else:
            page = _backups.read_page(self.client, query, params["offset"] or 0, params["limit"] or _backups.PAGE_SIZE)
            backups, total = page.rows, page.total
        if total == 0 and params["group_id"] and params["region_type"] in (None, "normal"):
            # No backup: a group without any, or no such group? A typo must not pass a release gate.
            _groups.require_group(self.client, settings.region, settings.project_id, params["group_id"])
        backups = _backups.filter_backups(backups, params["state"], params["backup_type"], since)
        return dict(changed=False, backups=backups, total_count=total)


def main():
    BackupInfoModule().main()


if __name__ == "__main__":
    main()
