#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uredis_group
short_description: Create a URedis (Redis) group on sigcalcloud, empty or from a backup, or delete one
version_added: 1.1.0
description:
  - With O(state=present), makes sure a Redis group called O(name) exists in O(zone), creating it with
    C(CreateURedisGroup) when there is none, empty or restored from the backup O(backup_id), and by default
    waits until it is V(Running).
  - The cloud restores a backup only into a B(new) group, so this is how a backup is restored, and how a restore
    drill proves that one works.
  - "Idempotent by name: a group called O(name) in the zone (one not being deleted) is returned unchanged, whatever
    its other settings; the module never resizes or reconfigures a group. Two groups of that name fail the task,
    naming both, since either could be the one meant. A group of that name still V(Creating) is waited for."
  - "Never two groups for one task: the create is not idempotent on the server, so once it may have been made it is
    never sent again. When its answer may have been lost (a timeout, a reset, an HTTP 5xx, a garbled answer), the
    module looks for a new group of that name in the zone, at once and then on a schedule (0.5 s, each wait 1.5 times
    longer up to 5 s), for a minute or until O(wait_timeout), and takes the one it finds. When none appeared, the
    task fails saying the group may still appear."
  - "With O(state=absent), deletes the group O(group_id) with C(DeleteURedisGroup), and by default waits until it is
    no longer listed. B(Deleting is irreversible), so only O(group_id) chooses the group: a name is refused (it can
    match several groups), and the only C(GroupId) ever sent to the delete is O(group_id). A listing that answers
    another group's row is an error, never a reason to delete or to report done."
  - "A delete whose answer was lost, or that the API answers with RetCode 20201 (group does not exist), is checked
    by listing the group: gone or V(Deleting) means it was deleted; still there means it was not, and the delete is
    sent again (a lost answer) or the task fails (20201 for a group that is still listed)."
  - A group already gone is V(changed=false); so is one already V(Deleting) (another task's delete), which is waited
    for. A group still V(Creating) is waited for until it is created, then deleted (the API refuses to delete it before).
  - Fails when the group ends in V(CreateFail), or is not V(Running) (or gone) within O(wait_timeout), naming the
    group, its state and how long it waited.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
extends_documentation_fragment:
  - sigcalcloud.cloud.connection
  - sigcalcloud.cloud.module
attributes:
  check_mode:
    support: full
    description:
      - Reads the groups (and the backup), says in RV(changed) whether a group would be created or deleted, and sends
        no create or delete. RV(group) is the existing group, or V(null) when one would be created.
  diff_mode:
    support: full
    description:
      - The group before and after, as RV(group) shows it; V({}) where there is none. In check mode, the C(after) of a
        create holds the requested settings only.
options:
  state:
    description:
      - V(present) creates the group when there is none of that O(name) in O(zone); V(absent) deletes O(group_id).
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - The group's name, 6 to 63 letters, digits, V(-) and V(_); checked before any API call.
      - Required with O(state=present). With O(state=absent) it is optional, and when given the group O(group_id) must
        have this name, else nothing is deleted.
    type: str
  group_id:
    description:
      - The group to delete, for example V(uredis-abc123). Required with O(state=absent), refused with
        O(state=present) (the API chooses a new group's id).
    type: str
  zone:
    description:
      - The availability zone, for example V(cn-bj2-02).
      - With O(state=present), required unless O(backup_id) is given; then it defaults to the backup's zone.
      - With O(state=absent), the group must be in it; it is sent with the delete.
    type: str
  backup_id:
    description:
      - Create the group from this backup (a restore). The backup must be V(Success) and of the region.
      - Only read when a group is created; a group of that name already there is returned as it is.
    type: str
  version:
    description:
      - The Redis version, V(4.0), V(5.0), V(6.0) or V(7.0).
      - When restoring, the backup's own Redis version (its C(RedisVersion)) when not given; a version older than the backup's is
        refused, since a Redis cannot load a newer backup file (the group would end in V(CreateFail)).
      - Otherwise the API's default, V(4.0), when not given.
    type: str
  config_id:
    description:
      - The Redis configuration (C(ConfigId)) of the group.
      - When restoring and not given, the default configuration of the version in the zone, the V(Unmodifiable),
        V(Usable) one that C(DescribeURedisConfig) lists; none there fails the task, naming the zone and version.
      - Otherwise the API's own default of the version when not given.
    type: str
  size:
    description:
      - The memory of each node in GB, V(1), V(2), V(4), V(8), V(16) or V(32).
    type: int
    default: 1
  high_availability:
    description:
      - Whether the group has a replica in another node (C(HighAvailability=enable)).
      - V(false) by default, the cheaper single node, which is what a scratch group for a restore test needs.
    type: bool
    default: false
  password:
    description:
      - The group's password (C(requirepass)). Sent base64-encoded, as the official SDKs send it, and never shown.
      - Not set, the group has no password.
    type: str
  vpc_id:
    description:
      - The VPC of the group; the API's default VPC when not set.
    type: str
  subnet_id:
    description:
      - The subnet of the group; the API's default when not set.
    type: str
  tag:
    description:
      - The group's business group, free text; the API's V(Default) when not set.
    type: str
  charge_type:
    description:
      - How the group is paid for. V(Dynamic) (per hour) by default, unlike the API's own V(Month).
      - A group made by a module is often a scratch group, such as a restore test's, that lives an hour or less; with
        V(Month) each of them would be paid for a whole month. Set V(Month) or V(Year) for a lasting group.
    type: str
    choices: [Dynamic, Month, Year]
    default: Dynamic
  wait:
    description:
      - Wait until the group is V(Running) (O(state=present)) or no longer listed (O(state=absent)).
      - With V(false), the task returns right after the create (once the new group is listed) or the delete.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds the task waits, at most, from its start, V(1) to V(86400).
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two readings of a group being created or deleted, V(0.1) to V(3600), each with a little random
        jitter so that many tasks waiting at once do not poll in step.
    type: float
    default: 5
notes:
  - A group costs money while it exists. A task that failed after the create returns RV(group_id) of the group it made.
seealso:
  - module: sigcalcloud.cloud.uredis_group_info
    description: Find a group's id, or the groups of a name.
  - module: sigcalcloud.cloud.uredis_backup_info
    description: Find the newest good backup to restore.
  - module: sigcalcloud.cloud.uredis_backup
    description: Take a backup of a group.
  - name: CreateURedisGroup
    description: The API call that creates a group.
    link: https://docs.sigcalcloud.com/api/umem-api/create_uredis_group
  - name: DeleteURedisGroup
    description: The API call that deletes a group.
    link: https://docs.sigcalcloud.com/api/umem-api/delete_uredis_group
"""

EXAMPLES = r"""
- name: Find the newest good backup of the orders cache
  sigcalcloud.cloud.uredis_backup_info:
    region: cn-bj2
    group_id: uredis-abc123
    state: [Success]
    limit: 1
  register: newest

- name: Restore it into a new group (Redis version and configuration taken from the backup)
  sigcalcloud.cloud.uredis_group:
    region: cn-bj2
    name: orders-restore-test
    backup_id: "{{ newest.backups[0].backup_id }}"
    password: "{{ scratch_password }}"
  register: restored

- name: Say how long the restore took
  ansible.builtin.debug:
    msg: "{{ restored.group.group_id }} at {{ restored.group.virtual_ip }}:{{ restored.group.port }} in {{ restored.elapsed }}s"

- name: Delete the scratch group
  sigcalcloud.cloud.uredis_group:
    region: cn-bj2
    state: absent
    group_id: "{{ restored.group.group_id }}"

- name: An empty, lasting group with a replica
  sigcalcloud.cloud.uredis_group:
    region: cn-bj2
    zone: cn-bj2-02
    name: sessions
    version: "6.0"
    size: 4
    high_availability: true
    charge_type: Month
    password: "{{ sessions_password }}"
"""

RETURN = r"""
changed:
  description: Whether a group was created or deleted (in check mode, whether one would be).
  returned: always
  type: bool
  sample: true
elapsed:
  description:
    - Seconds from the create or delete request until the group was V(Running) or gone (with O(wait)), or until the
      task returned (O(wait=false)); for a group already there and being created or deleted, the time this task waited
      for it; V(0.0) when there was nothing to wait for. A restore test's restore time.
  returned: success, and failure after a create or delete
  type: float
  sample: 95.4
group_id:
  description: The id of the group the task created, when it failed after the create.
  returned: failure, after a group was created
  type: str
  sample: uredis-abc123
group:
  description:
    - The group, with the same facts as M(sigcalcloud.cloud.uredis_group_info) returns.
    - With O(state=present) the group (V(Running) after a wait); V(null) in check mode when one would be created.
    - With O(state=absent) the group as last listed before it went; V(null) when it was already gone.
    - Also returned when the group failed or the wait timed out, as it was last seen.
  returned: success, and failure once a group was found or created
  type: dict
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
      sample: "Dynamic"
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
      sample: 0
    region:
      description: The region that was queried.
      type: str
      sample: "cn-bj2"
    project_id:
      description: The project that was queried; V(null) for the account's default project.
      type: str
      sample: "org-demo"
    create_time_iso:
      description: RV(group.create_time) as an ISO 8601 UTC date.
      type: str
      sample: "2025-12-02T00:00:00Z"
    modify_time_iso:
      description: RV(group.modify_time) as an ISO 8601 UTC date.
      type: str
      sample: "2025-12-02T01:00:00Z"
    expire_time_iso:
      description: RV(group.expire_time) as an ISO 8601 UTC date; V(null) when it is V(0) or absent.
      type: str
      sample: null
diff:
  description: The group before and after, with C(--diff).
  returned: with --diff
  type: dict
  contains:
    before:
      description: The group's facts before the task; V({}) when there was none.
      type: dict
      sample: {}
    after:
      description: The group's facts after the task; V({}) when it is gone. In check mode, the requested settings.
      type: dict
      sample: {"name": "orders-restore-test", "zone": "cn-bj2-02", "state": "Running"}
ret_code:
  description: The API's RetCode when the API refused a call, for example V(20201) for a delete the API refused.
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

import time

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _create
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _group_actions as _actions
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._module import SigcalcloudModule

WAIT_TIMEOUT_MAX = 86400
POLL_INTERVAL_RANGE = (0.1, 3600)


class GroupModule(SigcalcloudModule):
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        name=dict(type="str"),
        group_id=dict(type="str"),
        zone=dict(type="str"),
        backup_id=dict(type="str"),
        version=dict(type="str"),
        config_id=dict(type="str"),
        size=dict(type="int", default=1),
        high_availability=dict(type="bool", default=False),
        password=dict(type="str", no_log=True),
        vpc_id=dict(type="str"),
        subnet_id=dict(type="str"),
        tag=dict(type="str"),
        charge_type=dict(type="str", choices=list(_actions.CHARGE_TYPES), default="Dynamic"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=5),
    )

    def checked_options(self):
        params = self.params
        if not 1 <= params["wait_timeout"] <= WAIT_TIMEOUT_MAX:
            self.fail("wait_timeout=%s is out of range: use 1 to %d seconds" % (params["wait_timeout"], WAIT_TIMEOUT_MAX))
        low, high = POLL_INTERVAL_RANGE
        if not low <= params["poll_interval"] <= high:  # NaN fails this too
            self.fail("poll_interval=%s is out of range: use %s to %s seconds" % (params["poll_interval"], low, high))
        if params["name"] is None and params["state"] == "present":
            self.fail("name is required with state=present: a group is found, and made, by its name in the zone")
        if params["name"] is not None:
            problem = _actions.check_name(params["name"])
            if problem:
                self.fail(problem)
        if params["state"] == "absent":
            if params["group_id"] is None:
                self.fail("state=absent needs group_id: deleting is irreversible, and a name can match several groups "
                          "(or another's); find the id with sigcalcloud.cloud.uredis_group_info")
            _options.require_text(params, "group_id")
            return
        if params["group_id"] is not None:
            self.fail("group_id goes with state=absent only: the API chooses a new group's id; find a group by name")
        if params["size"] not in _actions.SIZES:
            self.fail("size=%s is not accepted: use one of %s (GB)" % (
                params["size"], ", ".join(map(str, _actions.SIZES))))
        if params["zone"] is None and params["backup_id"] is None:
            self.fail("zone is required to create a group, unless backup_id is given (then it is the backup's zone)")
        if params["password"] is not None:
            if not params["password"]:
                self.fail("password must not be empty: leave it out for a group without a password")
            # Its base64 is as secret as itself: never shown either.
            self.module.no_log_values.add(_actions.encoded_password(params["password"]))

    def run(self):
        self.checked_options()
        self.started = time.monotonic()
        self.deadline = self.started + self.params["wait_timeout"]
        if self.params["state"] == "absent":
            return self.absent()
        return self.present()

    def result(self, changed, before, group, elapsed, after=None):
        result = dict(changed=changed, group=group, elapsed=round(elapsed, 3))
        if self.module._diff:
            result["diff"] = dict(before=before or {}, after=(after if after is not None else group) or {})
        return result

    def waited(self, group, done, what, since, action, changed, **fail_result):
        """``wait_for_group``, failing the task with the group's facts and how long it waited."""
        try:
            return _actions.wait_for_group(self.client, group, done, what, self.deadline, self.params["poll_interval"],
                                           since, action)
        except _actions.GroupFailed as error:
            self.fail_from(error, changed=changed, group=error.group, elapsed=round(time.monotonic() - since, 3),
                           **fail_result)
        except SigcalcloudError as error:  # a listing that failed while waiting
            error.message = "while waiting for %s: %s" % (_actions.described(group), error.message)
            self.fail_from(error, changed=changed, group=group, elapsed=round(time.monotonic() - since, 3),
                           **fail_result)

    # --- state=present -----------------------------------------------------------------------

    def backup(self):
        params, settings = self.params, self.settings
        query = _backups.Query(settings.region, settings.project_id, backup_id=params["backup_id"])
        results, _errors = _backups.list_backups(self.client, [query], max_concurrency=1)
        if not results[query]:
            self.fail("there is no backup %s in region %s" % (params["backup_id"], settings.region))
        return results[query][0]  # the paginator let no other backup through

    def present(self):
        params, settings = self.params, self.settings
        region, project_id, name = settings.region, settings.project_id, params["name"]
        backup = self.backup() if params["backup_id"] else None
        zone = params["zone"] or (backup and backup["zone"])
        if not zone:
            self.fail("backup %s does not say its zone: set zone" % params["backup_id"])
        listed = _actions.zone_groups(self.client, region, project_id, zone)
        existing = _actions.same_named(listed, name, zone)
        if len(existing) > 1:
            self.fail("%d Redis groups are called %s in zone %s (%s): which one is meant cannot be told; rename or "
                      "delete the others" % (len(existing), name, zone,
                                             ", ".join(sorted(g["group_id"] for g in existing))))
        if existing:
            group = existing[0]
            if group["state"] == "CreateFail":
                self.fail("%s is in state CreateFail: delete it (state=absent, group_id=%s) before creating it again"
                          % (_actions.described(group), group["group_id"]), group=group)
            if params["wait"] and group["state"] == "Creating" and not self.check_mode:
                since = time.monotonic()
                group = self.waited(group, _actions.running, "Running", since, _actions.CREATE_ACTION, False)
                return self.result(False, group, group, time.monotonic() - since)
            return self.result(False, group, group, 0.0)
        if backup is not None and backup["state"] != "Success":
            self.fail("backup %s is %s: only a Success backup can be restored" % (backup["backup_id"], backup["state"]))
        create = self.create_params(backup, zone)
        if self.check_mode:
            wanted = dict(name=name, zone=zone, version=create["Version"], config_id=create.get("ConfigId"),
                          size=params["size"], charge_type=params["charge_type"], backup_id=params["backup_id"])
            return self.result(True, None, None, 0.0, after=wanted)
        sent = time.monotonic()
        group_id, _sends = _actions.create_group(self.client, region, project_id, create,
                                                 [g["group_id"] for g in listed], self.deadline)
        try:
            found, _lookups, _seconds = _create.look_up(
                lambda: _groups.get_group(self.client, region, project_id, group_id),
                max(0.0, self.deadline - time.monotonic()))
        except SigcalcloudError as error:
            error.message = "Redis group %s (%s) was created, then: %s" % (group_id, name, error.message)
            self.fail_from(error, changed=True, group_id=group_id, elapsed=round(time.monotonic() - sent, 3))
        if found is None:
            self.fail("Redis group %s (%s) was created, but the listing did not hold it within %ss (wait_timeout)" % (
                group_id, name, params["wait_timeout"]), changed=True, group_id=group_id,
                elapsed=round(time.monotonic() - sent, 3))
        group = found
        if params["wait"]:
            group = self.waited(group, _actions.running, "Running", sent, _actions.CREATE_ACTION, True,
                                group_id=group_id)
        return self.result(True, None, group, time.monotonic() - sent)

    def create_params(self, backup, zone):
        """CreateURedisGroup's parameters (the Password base64-encoded)."""
        params, settings = self.params, self.settings
        version, config_id = params["version"], params["config_id"]
        if backup is not None:
            version = _actions.restore_version(backup, version)
            if config_id is None:
                config_id = _actions.find_default_config(self.client, settings.region, settings.project_id, zone,
                                                         version)
        password = params["password"]
        return {"Name": params["name"], "Zone": zone, "HighAvailability": "enable" if params["high_availability"]
                else "disable", "BackupId": params["backup_id"], "ConfigId": config_id, "Version": version,
                "Size": params["size"], "Password": _actions.encoded_password(password) if password else None,
                "VPCId": params["vpc_id"], "SubnetId": params["subnet_id"], "Tag": params["tag"],
                "ChargeType": params["charge_type"]}

    # --- state=absent ------------------------------------------------------------------------

    def absent(self):
        params, settings = self.params, self.settings
        group_id, zone = params["group_id"].strip(), params["zone"]
        group = _groups.get_group(self.client, settings.region, settings.project_id, group_id, zone=zone)
        if group is None:
            return self.result(False, None, None, 0.0)
        if params["name"] is not None and _actions.group_name_of(group) != params["name"]:
            self.fail("Redis group %s is called %s, not %s: nothing was deleted" % (
                group_id, _options.shown_value(_actions.group_name_of(group)), params["name"]), group=group)
        since = time.monotonic()
        if group["state"] == "Deleting":  # another task's delete: wait for it, not ours to report
            if params["wait"] and not self.check_mode:
                self.waited(group, _actions.gone, "gone", since, _actions.DELETE_ACTION, False)
            return self.result(False, group, group, time.monotonic() - since, after={})
        if self.check_mode:
            return self.result(True, group, group, 0.0, after={})
        if group["state"] == "Creating":  # the API deletes no group before it is made
            group = self.waited(group, _actions.settled, "out of Creating", since, _actions.DELETE_ACTION, False)
            if group is None:
                return self.result(False, None, None, time.monotonic() - since)
        sent = time.monotonic()
        changed = _actions.delete_group(self.client, group, zone=zone)
        if params["wait"]:
            self.waited(group, _actions.gone, "gone", sent, _actions.DELETE_ACTION, changed)
        return self.result(changed, group, group, time.monotonic() - sent, after={})


def main():
    GroupModule().main()


if __name__ == "__main__":
    main()
