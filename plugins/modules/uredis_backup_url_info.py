#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_backup_url_info
short_description: Get the download link of a URedis backup on sigcalcloud
version_added: 1.0.0
description:
  - Runs C(DescribeURedisBackupURL) and returns the signed, time-limited link to a backup's file.
  - B(The link gives anyone who has it the backup's data.) The module never puts it in a warning, an error
    or its invocation, but it is in the result. Set C(no_log) to V(true) on this task and on every task that
    uses the link, and do not print it.
  - Only a backup in state V(Success) has a link; for another the API refuses the call.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
  - sigcalcloud.cloud.module.read_only
options:
  backup_id:
    description:
      - The backup, for example from M(sigcalcloud.cloud.uredis_backup_info) or M(sigcalcloud.cloud.uredis_backup).
    type: str
    required: true
  group_id:
    description:
      - The Redis group the backup is of.
    type: str
  zone:
    description:
      - The group's availability zone.
    type: str
  slave_zone:
    description:
      - For a group spread over two zones, the zone of its replica.
    type: str
  region_flag:
    description:
      - Set for a group spread over two zones (the API's C(RegionFlag)).
    type: bool
  cross_region:
    description:
      - Set for the link of a cross-region backup (the API's C(IsCrossRegion)).
    type: bool
seealso:
  - module: sigcalcloud.cloud.uredis_backup_info
    description: Find the backup to download.
  - module: sigcalcloud.cloud.uredis_backup
    description: Take a backup to download.
  - name: ansible.builtin.get_url
    description: Download the file.
    link: https://docs.ansible.com/ansible/latest/collections/ansible/builtin/get_url_module.html
  - name: DescribeURedisBackupURL
    description: The API call this module runs.
    link: https://docs.sigcalcloud.com/api/umem-api/describe_uredis_backup_url
"""

EXAMPLES = r"""
# Download the newest good backup of a group. The link is a secret: no_log on every task that holds it.
- name: Find the group's successful backups
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    group_id: uredis-abc123
    state: [Success]
  register: good

- name: Get the newest one's download link
  sigcalcloud.cloud.uredis_backup_url_info:
    region: cn-bj2
    group_id: uredis-abc123
    backup_id: "{{ (good.backups | first).backup_id }}"
  register: link
  no_log: true

- name: Download it
  ansible.builtin.get_url:
    url: "{{ link.backup_path }}"
    dest: /var/backups/redis/uredis-abc123-{{ (good.backups | first).backup_time_iso }}.rdb
    mode: "0600"
  no_log: true

- name: Say until when the link works (the link itself is never printed)
  ansible.builtin.debug:
    msg: "The link expires at {{ link.expires_at | default('an unknown time', true) }}"
"""

RETURN = r"""
backup_path:
  description:
    - The link to the backup's file (the API's C(BackupPath), or its deprecated C(BackupURL) when a server
      sends only that). Anyone who has it can download the data.
  returned: success
  type: str
  sample: https://download.sigcalcloud.example/backups/a75a1ba9?Expires=1764640800&Signature=...
expires:
  description: When the link stops working, as a UNIX timestamp, read from its C(Expires=); V(null) when it has none.
  returned: success
  type: int
  sample: 1764640800
expires_at:
  description: RV(expires) as an ISO 8601 UTC date; V(null) when the link does not say.
  returned: success
  type: str
  sample: "2025-12-02T02:00:00Z"
ret_code:
  description:
    - The API's RetCode when the API refused the call, for example for a backup that is not V(Success).
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

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule


class BackupUrlInfoModule(SigcalcloudModule):
    argument_spec = dict(
        backup_id=dict(type="str", required=True),
        group_id=dict(type="str"),
        zone=dict(type="str"),
        slave_zone=dict(type="str"),
        region_flag=dict(type="bool"),
        cross_region=dict(type="bool"),
    )

    def run(self):
        params = self.params
        _options.require_text(params, "backup_id")
        link = _backups.backup_url(self.client, self.settings.region, params["backup_id"], group_id=params["group_id"],
                                   zone=params["zone"], slave_zone=params["slave_zone"],
                                   region_flag=params["region_flag"], cross_region=params["cross_region"])
        return dict(changed=False, **link)


def main():
    BackupUrlInfoModule().main()


if __name__ == "__main__":
    main()
