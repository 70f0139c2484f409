#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_restore_check
short_description: Check that a Redis group restored from a backup holds the backup's keys
version_added: 1.1.0
description:
  - Compares a Redis restored from a backup (a group created from it, see M(sigcalcloud.cloud.uredis_group)) with
    the backup's own file, and fails unless they agree. It is the check step of the restore drill
    (role C(sigcalcloud.cloud.restore_drill)).
  - It asks the Redis at O(host):O(port) how many keys each database holds (C(INFO keyspace)) and, when
    O(canary_key) is given, whether that key holds O(canary_value).
  - It then streams the backup's file from a fresh download link (C(DescribeURedisBackupURL)), with the checks of
    M(sigcalcloud.cloud.uredis_backup_download) (size, RDB header, CRC-64, structure), and walks every key of it,
    counting per database the keys and when they expire. The file is never written to disk, as it is the customer's
    data. A link refused as expired is asked for again, once.
  - Redis does not load a key whose expiry has passed when it loads the file. A key that expired at or before
    O(restored_at) is counted out (RV(key_counts.expired_out)); a key expiring between O(restored_at) and the moment
    the Redis answered may or may not still be counted by Redis, so both are accepted. The check passes when
    every database holds between RV(key_counts.expected_min) and RV(key_counts.expected) keys, and the canary matches.
  - Nothing of the data appears in the result, a message or the output at any verbosity, but key counts and
    whether the canary matched.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
requirements:
  - redis (redis-py) on the host that runs the module
  - anycrc >= 2.0 (optional), to compute the CRC-64 at memory speed
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
attributes:
  check_mode:
    support: full
    description: The module changes nothing; check mode runs the whole check.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
options:
  backup_id:
    description:
      - The backup the group was restored from. It must be in state V(Success).
    type: str
    required: true
  group_id:
    description:
      - The group the backup is of (not the restored group). Without it the backup is looked up among every
        backup of the region.
    type: str
  zone:
    description:
      - The backup's availability zone, sent with the link request.
    type: str
  host:
    description:
      - The restored group's address (its C(VirtualIP)), as the host that runs the module reaches it. In the
        cloud only hosts inside the group's VPC reach it; use C(delegate_to) to run the check on one.
    type: str
    required: true
  port:
    description:
      - The restored group's port.
    type: int
    default: 6379
  password:
    description:
      - The restored group's password.
    type: str
  restored_at:
    description:
      - When the restore began (the group's create), as seconds since the epoch (a float). Keys whose expiry is
        at or before it are not expected.
      - Defaults to the time the module starts. Give the time the restore began. Then a key that Redis loaded and
        that expired before the check is then accepted whether Redis has removed it yet or not; with the
        default, such a key not yet removed makes the database hold one key more than expected.
      - Compared with the clock of the host that runs the module.
    type: float
  canary_key:
    description:
      - A key that must hold O(canary_value) in the restored group. Its value is compared byte for byte and is
        never returned or printed.
    type: str
  canary_value:
    description:
      - The value O(canary_key) must hold (UTF-8). Customer data, so never logged.
    type: str
  canary_db:
    description:
      - The database that holds O(canary_key).
    type: int
    default: 0
  redis_timeout:
    description:
      - Seconds to wait for the Redis to accept the connection, and for each of its answers. No call to Redis
        is retried.
    type: float
    default: 10
seealso:
  - module: sigcalcloud.cloud.uredis_backup_download
    description: The same checks of a backup's file, keeping a copy.
  - module: sigcalcloud.cloud.uredis_backup_info
    description: Find the backup to restore.
notes:
  - The whole file is read. The resize-db record at the start of each database gives its number of keys and of
    keys with an expiry, but not when they expire, so only the walk of every key (each key's expiry record
    comes right before it) tells which keys Redis dropped on loading. A file of several databases has the
    second database's records after every key of the first, so even the counts of all databases need the
    walk to the end. The walk costs a few microseconds a key in Python, on top of the download.
  - A file whose walk meets a value this reader cannot pass (a module's value of the first module format, a
    type newer than Redis 7.4) fails the check, saying so, rather than guess.
  - The Redis is asked first, then the file is read, so that a Redis that cannot be reached fails the check
    before any download.
"""

EXAMPLES = r"""
- name: Check the scratch group restored from the backup, from a host inside its VPC
  sigcalcloud.cloud.uredis_restore_check:
    region: cn-bj2
    group_id: uredis-abc123
    backup_id: "{{ backup.backup_id }}"
    host: "{{ scratch.group.virtual_ip }}"
    port: "{{ scratch.group.port }}"
    password: "{{ scratch_password }}"
    restored_at: "{{ restore_started }}"
    canary_key: drill:canary
    canary_value: "{{ canary_value }}"
  delegate_to: bastion.example.com
  register: restore_check

- name: Say what it found
  ansible.builtin.debug:
    msg: "{{ restore_check.key_counts.found }} keys found, {{ restore_check.key_counts.expected_min }} to {{ restore_check.key_counts.expected }} expected"
"""

RETURN = r"""
backup:
  description: The backup's id.
  returned: always
  type: str
  sample: a75a1ba9-3b8f-4f43-9d8c-2f3c39d0d5c4
passed:
  description: Whether every database held the keys expected and the canary matched. V(false) only on failure.
  returned: always
  type: bool
  sample: true
key_counts:
  description:
    - The keys the backup's file holds and the Redis holds.
    - Named so, not C(keys), which in Jinja is the method of every dict.
  returned: when both were read
  type: dict
  contains:
    expected:
      description: The keys of the file not expired at O(restored_at), added up over RV(key_counts.databases).
      type: int
      sample: 120340
    expected_min:
      description: The keys of the file not expired by the time the Redis answered.
      type: int
      sample: 120338
    found:
      description: The keys the Redis holds, every database.
      type: int
      sample: 120339
    expired_out:
      description: The keys of the file that expired at or before O(restored_at), so Redis did not load them.
      type: int
      sample: 5
    databases:
      description: Per database of the file or of the Redis, by number.
      type: list
      elements: dict
      contains:
        db:
          description: The database number.
          type: int
        expected:
          description: The most keys it may hold.
          type: int
        expected_min:
          description: The fewest keys it may hold.
          type: int
        found:
          description: The keys it holds.
          type: int
canary:
  description: The canary's verdict, never its value.
  returned: when the Redis was asked
  type: dict
  contains:
    checked:
      description: Whether O(canary_key) was given and checked.
      type: bool
    matched:
      description: Whether it holds O(canary_value); V(null) when not checked.
      type: bool
  sample: {"checked": true, "matched": true}
rdb_version:
  description: The RDB format version in the file's header.
  returned: when the file was read
  type: int
  sample: 10
redis_version:
  description: The Redis version that wrote the file (its C(redis-ver) auxiliary field); V(null) when it has none.
  returned: when the file was read
  type: str
  sample: 7.0.15
checksum:
  description: What the CRC-64 check found, as M(sigcalcloud.cloud.uredis_backup_download)'s RV(sigcalcloud.cloud.uredis_backup_download#module:checksum).
  returned: when the file was read
  type: str
  sample: ok
check:
  description: The check of the file that failed, V(size), V(header), V(checksum) or V(structure).
  returned: when a check of the file failed
  type: str
  sample: checksum
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
  description: The HTTP status of the failed answer (of the API, or of the download server).
  returned: failure, when there was an answer
  type: int
  sample: 503
"""

import math
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _download
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _restore_check
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import clip, printable


class RestoreCheckModule(SigcalcloudModule):
    argument_spec = dict(
        backup_id=dict(type="str", required=True),
        group_id=dict(type="str"),
        zone=dict(type="str"),
        host=dict(type="str", required=True),
        port=dict(type="int", default=6379),
        password=dict(type="str", no_log=True),
        restored_at=dict(type="float"),
        canary_key=dict(type="str", no_log=False),
        canary_value=dict(type="str", no_log=True),
        canary_db=dict(type="int", default=0),
        redis_timeout=dict(type="float", default=10),
    )
    module_kwargs = dict(required_together=[("canary_key", "canary_value")])

    def run(self):
        params = self.params
        started = time.time()
        if not _restore_check.HAS_REDIS:
            self.fail(missing_required_lib("redis"), exception=_restore_check.REDIS_IMPORT_ERROR)
        backup_id = _options.require_text(params, "backup_id")
        host = _options.require_text(params, "host")
        if not 0 < params["port"] < 65536:
            self.fail("port must be between 1 and 65535, not %d" % params["port"])
        if not 0 <= params["canary_db"] < 100000:
            self.fail("canary_db must be a database number, not %d" % params["canary_db"])
        timeout = params["redis_timeout"]
        if not (math.isfinite(timeout) and 0 < timeout <= 3600):
            self.fail("redis_timeout must be more than 0 and at most 3600 seconds, not %s" % timeout)
        restored_at = started if params["restored_at"] is None else params["restored_at"]
        if not (math.isfinite(restored_at) and 0 <= restored_at <= started + 86400):
            self.fail("restored_at must be a time in seconds since the epoch, at most a day ahead of this host's clock "
                      "(the restore has begun), not %s" % restored_at)
        result = dict(changed=False, backup=backup_id, passed=False)
        try:
            return self._check(backup_id, host, timeout, restored_at, result)
        except SigcalcloudError as error:  # the fields found so far go with the failure
            self.fail_from(error, **result)

    def _check(self, backup_id, host, timeout, restored_at, result):
        params = self.params
        size = self._backup_size(backup_id, result)
        canary = None
        if params["canary_key"] is not None:
            canary = (params["canary_key"], params["canary_value"].encode("utf-8"), params["canary_db"])
        # Redis first: one that cannot be reached fails the check before any download.
        answer = _restore_check.probe(host, params["port"], params["password"], timeout, canary)
        result["canary"] = {"checked": canary is not None, "matched": answer["canary_matched"]}
        # The host's clock may lag the one that set restored_at: the cuts stay in order.
        checked_at = max(answer["checked_at"], restored_at)
        check, facts = self._walk(backup_id, size, (int(restored_at * 1000), int(checked_at * 1000)), result)
        result.update(rdb_version=facts["rdb_version"], redis_version=facts["redis_version"], checksum=facts["checksum"])
        if check.scanner.stopped:
            self.fail("the backup's keys could not all be counted: %s" % facts["scan_note"], **result)
        keys, failures = _restore_check.verdict(_restore_check.expected(check.scanner.key_tallies()), answer["found"])
        result["key_counts"] = keys
        if failures:
            failures = ["key check failed: " + "; ".join(failures)]
        if canary is not None and not answer["canary_matched"]:
            failures.append("canary check failed: key %s in db %d does not hold the value given (or is missing)" % (
                clip(printable(canary[0]), 100), canary[2]))
        if failures:
            where = "%s:%d" % (host, params["port"])
            self.fail("restore check of backup %s at %s failed: %s" % (backup_id, where, "; ".join(failures)), **result)
        result["passed"] = True
        return result

    def _backup_size(self, backup_id, result):
        params, settings = self.params, self.settings
        query = _backups.Query(settings.region, settings.project_id, group_id=params["group_id"], backup_id=backup_id)
        results, _errors = _backups.list_backups(self.client, [query], max_concurrency=1)
        found = [backup for backup in results[query] if backup["backup_id"] == backup_id]
        if not found:
            self.fail("there is no backup %s in %s" % (backup_id, settings.region), **result)
        if found[0]["state"] != "Success" or not found[0]["backup_size"] or found[0]["backup_size"] < 1:
            self.fail("backup %s is %s with BackupSize %r: only a successful backup has a file to check against" % (
                backup_id, found[0]["state"], found[0]["backup_size"]), **result)
        return found[0]["backup_size"]

    def _walk(self, backup_id, size, cuts, result):
        """(FileCheck, facts) of the whole file, streamed and walked, never written."""
        downloader = _download.Downloader(self.client.session, self.client.verify, self.settings.timeout)

        def attempt(link):
            check = _download.FileCheck(size, walk_keys=True, expiry_cuts=cuts)
            downloader.fetch(link, _restore_check.Discard(), check)
            return check, check.result()
        try:
            return _download.retrying_with_fresh_link(attempt, lambda: self._link(backup_id), self.client.backoff)
        except _download.FileProblem as problem:
            self.fail("the backup's file failed a check: %s" % problem, check=problem.check, **result)

    def _link(self, backup_id):
        link = _backups.backup_url(self.client, self.settings.region, backup_id, group_id=self.params["group_id"],
                                   zone=self.params["zone"])["backup_path"]
        self.module.no_log_values.add(link)  # anything that might echo it is masked too
        return link


def main():
    RestoreCheckModule().main()


if __name__ == "__main__":
    main()
