#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_backup_download
short_description: Download a URedis backup's file and prove it whole
version_added: 1.1.0
description:
  - Downloads a backup's Redis RDB file to O(dest) on the host that runs the module, and checks it while it
    streams in. The file is proven whole when its size is the backup's C(BackupSize), it starts with an RDB
    header, and its CRC-64 (Redis's own, CRC-64/REDIS) matches the checksum in its last 8 bytes.
  - The file is written beside O(dest) under a temporary name and moved into place only once every check
    passed. A failed or interrupted download (SIGINT, SIGTERM, SIGHUP) leaves O(dest) as it was and no temporary
    file behind. Only SIGKILL, which no process can catch, leaves its hidden C(.<name>.<random>.part) file.
  - It asks for a fresh download link itself (C(DescribeURedisBackupURL)). The link gives anyone the data, so it
    never appears in the result, a warning, an error or the output at any verbosity. A link refused as expired is
    asked for again, once.
  - An existing O(dest) that is a whole copy of this backup is kept (V(changed=false)) without downloading
    anything. The module knows cheaply. The file system gives the size and which backup the file is (the
    extended attribute C(user.sigcalcloud.backup_id) the module sets on every file it writes; on a file system
    without user extended attributes, a file named C(<backup_id>.rdb)), and only a file of the right size and
    backup is read, locally, to check its CRC-64 (at disk speed with a C implementation of the CRC). A file whose
    checksum is off or absent cannot be told from a torn one, and is downloaded again.
  - The CRC-64 is computed by the Python library C(anycrc) when the host has it (or C(crcmod) with its C
    extension), at memory speed. Without either, a correct pure-Python implementation runs at about 6 MB/s
    (minutes for a GiB), and RV(crc_implementation) says V(python).
  - Never reads more than the backup's C(BackupSize) bytes; a server that sends more fails the size check.
    O(timeout) bounds each API call and each wait for data during the download (a stall). The download as a
    whole may take O(timeout) plus the time of C(BackupSize) at 64 KiB/s (days for a large file), so that a
    server dripping bytes cannot hold the task for ever. A transient failure (a 5xx answer, a reset, a
    connection that ends before its C(Content-Length), a stall) starts the download again, up to
    O(max_retries) times. Redirects are followed (at most 5), never from https to http.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
requirements:
  - anycrc >= 2.0 (optional, on the host that runs the module), to compute the CRC-64 at memory speed
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description: Checks an existing O(dest) as a normal run does, and downloads nothing.
  diff_mode:
    support: none
    description: A backup file has no diff to show.
options:
  backup_id:
    description:
      - The backup, for example from M(sigcalcloud.cloud.uredis_backup_info) or M(sigcalcloud.cloud.uredis_backup).
      - It must be in state V(Success).
    type: str
    required: true
  group_id:
    description:
      - The Redis group the backup is of. Without it the backup is looked up among every backup of the region.
    type: str
  zone:
    description:
      - The group's availability zone, sent with the link request.
    type: str
  dest:
    description:
      - Where to put the file on the host that runs the module. An existing directory (or a path ending in C(/))
        gets the file C(<backup_id>.rdb) in it.
      - The directory must exist. A new file is readable by its owner only (V(0600)) unless O(mode) says otherwise;
        a file that replaces another keeps that one's mode, owner and group unless O(mode), O(owner) or O(group)
        say otherwise. A symbolic link at O(dest) is followed.
    type: path
    required: true
  cross_region:
    description:
      - The backup is a cross-region copy listed in O(region) (the destination region), as
        M(sigcalcloud.cloud.uredis_backup_info) lists it with O(sigcalcloud.cloud.uredis_backup_info#module:region_type=target).
        The link is asked for with C(IsCrossRegion).
    type: bool
    default: false
  verify:
    description:
      - Check the file's RDB header and CRC-64 (and, for an existing O(dest), decide by them whether to download).
      - With V(false), only the size is checked, and an existing O(dest) is downloaded again.
    type: bool
    default: true
  force:
    description:
      - Download even when O(dest) is already a whole copy of the backup.
    type: bool
    default: false
  scan_keys:
    description:
      - Walk every key's header in the file (never keeping a value), so that RV(databases) lists every database
        of the file, not only the first one.
      - Without it, the facts come from the records before the first key (the header, the auxiliary fields and
        the first database's resize-db record, which are all that a file of one database needs), and
        RV(databases_complete) is V(false) for a file that has keys.
      - The walk costs a few microseconds a key in Python (about 7 s for a million keys), on top of the download.
    type: bool
    default: false
seealso:
  - module: sigcalcloud.cloud.uredis_backup_info
    description: Find the backup to download.
  - module: sigcalcloud.cloud.uredis_backup
    description: Take a backup to download.
  - module: sigcalcloud.cloud.uredis_backup_url_info
    description: Only the link, for another download tool.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.verified_copy
    description: The guide to keeping a verified copy, also in another region.
notes:
  - The file is not synced to disk before it is moved into place (as C(ansible.builtin.get_url) does not), which
    would cost seconds a GiB. A copy torn by a crash fails the next run's size or checksum check and is downloaded
    again.
  - The module runs on the host it targets; in a play against remote hosts, use C(delegate_to) or
    a play on C(localhost) to download where the copy must be kept.
"""

EXAMPLES = r"""
- name: Find the newest good backup of a group
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    group_id: uredis-abc123
    state: [Success]
  register: good

- name: Download it and prove it whole
  sigcalcloud.cloud.uredis_backup_download:
    region: cn-bj2
    group_id: uredis-abc123
    backup_id: "{{ (good.backups | first).backup_id }}"
    dest: /var/backups/redis/
    mode: "0600"
  register: copy

- name: Say what the file holds
  ansible.builtin.debug:
    msg: >-
      {{ copy.dest }}: {{ copy.size }} bytes, RDB {{ copy.rdb_version }} written by Redis {{ copy.redis_version }}
      at {{ copy.created_at }}, {{ copy.key_count }} keys, checksum {{ copy.checksum }}

- name: Download a cross-region copy from the region it was copied to
  sigcalcloud.cloud.uredis_backup_download:
    region: cn-sh2
    backup_id: "{{ copy_id }}"
    cross_region: true
    dest: /var/backups/redis/copies/
"""

RETURN = r"""
dest:
  description: The file's path.
  returned: always
  type: str
  sample: /var/backups/redis/a75a1ba9-3b8f-4f43-9d8c-2f3c39d0d5c4.rdb
size:
  description: The file's size in bytes, the backup's C(BackupSize).
  returned: always
  type: int
  sample: 38797312
sha256:
  description: The SHA-256 of the file, for comparing copies.
  returned: when the file is in place
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
checksum:
  description:
    - What the CRC-64 check found. V(ok) the trailer matches; V(off) the trailer is zero, because Redis wrote
      the file with C(rdbchecksum no) (nothing to check, so the file is not proven whole, and a warning says so);
      V(absent) an RDB version before 5, which has none; V(not checked) with O(verify=false).
  returned: when the file is in place
  type: str
  sample: ok
crc_implementation:
  description:
    - What computed the CRC-64. V(anycrc) or V(crcmod) (C, at memory speed), or V(python), the slow path of a
      host without them.
  returned: always
  type: str
  sample: anycrc
rdb_version:
  description: The RDB format version in the file's header (Redis 4.0 writes 8, 5.0 to 6.2 write 9, 7.0 writes 10).
  returned: when the file is in place and O(verify=true)
  type: int
  sample: 9
redis_version:
  description: The Redis version that wrote the file (its C(redis-ver) auxiliary field); V(null) when it has none.
  returned: when the file is in place and O(verify=true)
  type: str
  sample: 6.0.16
created:
  description: When the file was written (its C(ctime) auxiliary field), as a UNIX timestamp; V(null) when it has none.
  returned: when the file is in place and O(verify=true)
  type: int
  sample: 1764640800
created_at:
  description: RV(created) as an ISO 8601 UTC date; V(null) when the file does not say.
  returned: when the file is in place and O(verify=true)
  type: str
  sample: "2025-12-02T02:00:00Z"
databases:
  description:
    - The databases the file's resize-db records list, in file order, with their number of keys and of keys
      with an expiry. Without O(scan_keys), the first database only (see RV(databases_complete)).
  returned: when the file is in place and O(verify=true)
  type: list
  elements: dict
  contains:
    db:
      description: The database number.
      type: int
      sample: 0
    key_count:
      description: Keys in the database.
      type: int
      sample: 120345
    expires_count:
      description: Keys in the database that have an expiry.
      type: int
      sample: 17
key_count:
  description:
    - The keys of RV(databases), added up. (Not C(keys), which Jinja would read as a dictionary's C(keys) method.)
  returned: when the file is in place and O(verify=true)
  type: int
  sample: 120345
expires_count:
  description: The keys with an expiry of RV(databases), added up.
  returned: when the file is in place and O(verify=true)
  type: int
  sample: 17
databases_complete:
  description:
    - Whether the file was read to its end marker, so RV(databases) lists every database. V(false) without
      O(scan_keys) for a file that has keys, or when the walk met a value it cannot pass (then RV(scan_note) says
      which).
  returned: when the file is in place and O(verify=true)
  type: bool
  sample: true
scan_note:
  description: Why the walk of O(scan_keys) stopped before the end of the file.
  returned: when the walk stopped early
  type: str
  sample: "keys were counted up to a value of type 22, which this reader does not know; the databases after it are not listed"
backup:
  description:
    - The backup's facts as listed, with the fields of
      M(sigcalcloud.cloud.uredis_backup_info)'s RV(sigcalcloud.cloud.uredis_backup_info#module:backups).
  returned: when the backup was found
  type: dict
  sample: {"backup_id": "a75a1ba9-3b8f-4f43-9d8c-2f3c39d0d5c4", "group_id": "uredis-abc123", "state": "Success",
           "backup_size": 38797312}
check:
  description: The check the file failed, V(size), V(header), V(checksum) or V(structure).
  returned: when a check failed
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

import os
import re
import stat

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _download
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rdb
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule

_FILE_NAME_RE = re.compile(r"\A[A-Za-z0-9_-][A-Za-z0-9_.-]{0,200}\Z")


class BackupDownloadModule(SigcalcloudModule):
    argument_spec = dict(
        backup_id=dict(type="str", required=True),
        group_id=dict(type="str"),
        zone=dict(type="str"),
        dest=dict(type="path", required=True),
        cross_region=dict(type="bool", default=False),
        verify=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        scan_keys=dict(type="bool", default=False),
    )
    module_kwargs = dict(add_file_common_args=True)

    def run(self):
        params, settings = self.params, self.settings
        backup_id = _options.require_text(params, "backup_id")
        dest = self._destination(params["dest"], backup_id)
        backup = self._backup(backup_id)
        size = backup["backup_size"]
        result = dict(changed=False, dest=dest, size=size, backup=backup, crc_implementation=_rdb.CRC_IMPLEMENTATION)

        if params["verify"] and not params["force"]:
            facts = _download.check_local_file(dest, size, backup_id, walk_keys=params["scan_keys"])
            if facts is not None:
                result.update(facts)
                result["changed"] = self._set_attributes(dest, False)
                return self._finish(result)
        if self.check_mode:
            result["changed"] = True
            return result

        downloader = _download.Downloader(self.client.session, self.client.verify, settings.timeout)

        def write(handle):
            def attempt(link):
                check = _download.FileCheck(size, verify=params["verify"], walk_keys=params["scan_keys"])
                downloader.fetch(link, handle, check)
                return check.result()
            return _download.retrying_with_fresh_link(attempt, lambda: self._link(backup_id), self.client.backoff)

        def prepare(path):
            self._keep_attributes_of(dest, path)
            self._set_attributes(path, True)
            _download.mark(path, backup_id)  # so that a later run knows which backup the file is

        try:
            facts = _download.download_to(dest, write, prepare)
        except _download.FileProblem as problem:
            self.fail(str(problem), check=problem.check, dest=dest, backup=backup)
        except KeyboardInterrupt:
            self.fail("the download of backup %s was interrupted; %s was left as it was, and no temporary file"
                      % (backup_id, dest))
        except OSError as exc:
            self.fail("could not write %s: %s" % (dest, os.strerror(exc.errno or 0) if exc.errno else exc))
        result.update(facts, changed=True)
        return self._finish(result)

    def _finish(self, result):
        if result.get("checksum") == "off":
            self.module.warn("the file's checksum is zero: Redis wrote it with rdbchecksum off, so its CRC-64 could "
                             "not be checked (its size and header were)")
        if result.get("checksum") not in (None, "not checked") and _rdb.CRC_IMPLEMENTATION == "python":
            self.module.warn("the CRC-64 was computed in pure Python (slow): install the Python library anycrc on "
                             "this host to check at memory speed")
        return result

    def _destination(self, dest, backup_id):
        if os.path.isdir(dest) or dest.endswith(os.sep):
            if not _FILE_NAME_RE.match(backup_id):
                self.fail("backup_id %r cannot name a file: give dest a file name" % backup_id)
            dest = os.path.join(dest, backup_id + ".rdb")
        dest = os.path.realpath(dest)  # a symlink at dest is followed: the file it points at is the copy
        directory = os.path.dirname(dest)
        if not os.path.isdir(directory):
            self.fail("dest's directory %s does not exist" % directory)
        if os.path.isdir(dest):
            self.fail("dest %s is a directory" % dest)
        return dest

    def _backup(self, backup_id):
        params, settings = self.params, self.settings
        query = _backups.Query(settings.region, settings.project_id, region_type="target" if params["cross_region"] else None,
                               group_id=params["group_id"], backup_id=backup_id)
        results, _errors = _backups.list_backups(self.client, [query], max_concurrency=1)
        found = [backup for backup in results[query] if backup["backup_id"] == backup_id]
        where = "%s%s%s" % ("cross-region copies in " if params["cross_region"] else "", settings.region,
                            ", group %s" % params["group_id"] if params["group_id"] else "")
        if not found:
            self.fail("there is no backup %s (looked in %s)" % (backup_id, where))
        backup = found[0]
        if backup["state"] != "Success":
            self.fail("backup %s is %s, not Success: only a successful backup has a file to download" % (
                backup_id, backup["state"]), backup=backup)
        if not backup["backup_size"] or backup["backup_size"] < 1:
            self.fail("backup %s lists no BackupSize (%r), so its file cannot be checked" % (
                backup_id, backup["backup_size"]), backup=backup)
        return backup

    def _link(self, backup_id):
        params = self.params
        link = _backups.backup_url(self.client, self.settings.region, backup_id, group_id=params["group_id"],
                                   zone=params["zone"], cross_region=params["cross_region"] or None)["backup_path"]
        self.module.no_log_values.add(link)  # anything that might echo it is masked too
        return link

    def _keep_attributes_of(self, dest, path):
        """A file that replaces another keeps its mode and owner, unless the task sets them (as atomic_move does)."""
        try:
            info = os.stat(dest)
        except OSError:
            return  # a new file: readable by its owner only (mkstemp's 0600), unless mode says otherwise
        if self.params["mode"] is None:
            os.chmod(path, stat.S_IMODE(info.st_mode))
        if self.params["owner"] is None and self.params["group"] is None:
            try:
                os.chown(path, info.st_uid, info.st_gid)
            except OSError:
                pass  # not ours to give away: the new file stays the running user's

    def _set_attributes(self, path, changed):
        file_args = self.module.load_file_common_arguments(self.params, path=path)
        return self.module.set_fs_attributes_if_different(file_args, changed)


def main():
    BackupDownloadModule().main()


if __name__ == "__main__":
    main()
