# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DescribeURedisGroup rows as facts, and the automatic backup policy of a group.

Groups are listed by the one paginator (``_paging``), like backups. The policy has no
read action of its own: it is the group's ``AutoBackup`` and ``BackupTime``, and it is
changed with ``UpdateURedisBackupStrategy``, which must always be sent both values.
"""

from __future__ import annotations

import collections

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _paging
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError

ACTION = "DescribeURedisGroup"
UPDATE_POLICY_ACTION = "UpdateURedisBackupStrategy"
AUTO_BACKUP_VALUES = ("enable", "disable")

# (API field, fact name, type) for every field of the official SDK's URedisGroupSet.
FIELDS = (
    ("GroupId", "group_id", str),
    ("Name", "name", str),
    ("GroupName", "group_name", str),
    ("Zone", "zone", str),
    ("SlaveZone", "slave_zone", str),
    ("State", "state", str),
    ("Version", "version", str),
    ("Size", "size", int),
    ("UsedSize", "used_size", int),
    ("MemorySize", "memory_size", int),
    ("AutoBackup", "auto_backup", str),
    ("BackupTime", "backup_time", int),
    ("RewriteTime", "rewrite_time", int),
    ("ConfigId", "config_id", str),
    ("Protocol", "protocol", str),
    ("Role", "role", str),
    ("Type", "type", str),
    ("HighAvailability", "high_availability", str),
    ("IsHighPerformance", "is_high_performance", bool),
    ("ChargeType", "charge_type", str),
    ("VirtualIP", "virtual_ip", str),
    ("Port", "port", int),
    ("VPCId", "vpc_id", str),
    ("SubnetId", "subnet_id", str),
    ("Tag", "tag", str),
    ("SecPolicy", "sec_policy", int),
    ("SSLEnable", "ssl_enable", bool),
    ("SSLVersion", "ssl_version", str),
    ("SSLCertExpireTime", "ssl_cert_expire_time", int),
    ("CreateTime", "create_time", int),
    ("ModifyTime", "modify_time", int),
    ("ExpireTime", "expire_time", int),
)
# Times that also get an ISO 8601 twin, as backups' backup_time does.
TIME_FACTS = ("create_time", "modify_time", "expire_time")
FACT_TYPES = dict([(fact, kind) for _field, fact, kind in FIELDS]
                  + [("region", str), ("project_id", str)]
                  + [("%s_iso" % name, str) for name in TIME_FACTS])
FACT_NAMES = tuple(FACT_TYPES)
_KINDS = {int: "an integer", str: "a string", bool: "a boolean"}


class Query(collections.namedtuple("Query", "region project_id group_id zone")):
    """One DescribeURedisGroup listing: a region (and project), one group or a zone."""

    __slots__ = ()

    def __new__(cls, region, project_id=None, group_id=None, zone=None):
        return super(Query, cls).__new__(cls, region, project_id, group_id, zone)

    def params(self, offset, limit):
        return {"ProjectId": self.project_id, "GroupId": self.group_id, "Zone": self.zone,
                "Offset": offset, "Limit": limit}

    def mismatch(self, facts):
        """What in a listed group's facts shows it is not one this listing asked for, or None:
        another group id, another zone, or a zone outside the region."""
        if self.group_id is not None and facts["group_id"] != self.group_id:
            return "group %s" % _options.shown_value(facts["group_id"])
        zone = facts["zone"]
        if (self.zone is not None and zone and zone != self.zone) or not _backups.in_region(zone, self.region):
            return "group %s in zone %s" % (_options.shown_value(facts["group_id"]), _options.shown_value(zone))
        return None

    def describe(self):
        parts = ["the Redis groups of region %s" % self.region]
        if self.project_id:
            parts.append("project %s" % self.project_id)
        if self.group_id:
            parts.append("group %s" % self.group_id)
        if self.zone:
            parts.append("zone %s" % self.zone)
        return ", ".join(parts)


def _as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError


def _convert(value, kind):
    if kind is int:
        return _backups._as_int(value)
    if kind is bool:
        return _as_bool(value)
    return _backups._as_text(value)


def shape_group(row, query):
    """One URedisGroupSet row as snake_case facts; absent fields are None, values as the API sends them.

    Raises SigcalcloudError naming the group and the field when a value has the wrong type.
    """
    if not isinstance(row, dict):
        raise SigcalcloudError("unexpected answer for %s: a DataSet entry is %s, not an object" % (
            query.describe(), type(row).__name__), action=ACTION, region=query.region)
    facts = {}
    for field, fact, kind in FIELDS:
        value = row.get(field)
        if value is not None:
            try:
                value = _convert(value, kind)
            except ValueError:
                raise SigcalcloudError("unexpected answer for %s: group %s has %s=%s, expected %s" % (
                    query.describe(), _options.shown_value(row.get("GroupId", "(no GroupId)")), field,
                    _options.shown_value(value), _KINDS[kind]), action=ACTION, region=query.region)
        facts[fact] = value
    facts["region"] = query.region
    facts["project_id"] = query.project_id
    for name in TIME_FACTS:
        # 0 is how the API says "never" (ExpireTime of a pay-as-you-go group): no date for it.
        try:
            facts["%s_iso" % name] = _backups.iso_utc(facts[name]) if facts[name] else None
        except (ValueError, OverflowError, OSError):
            raise SigcalcloudError("unexpected answer for %s: group %s has %s=%s, out of range for a date" % (
                query.describe(), _options.shown_value(facts["group_id"]), name,
                _options.shown_value(facts[name])), action=ACTION, region=query.region)
    return facts


def check_facts(facts):
    """Raise ValueError unless ``facts`` is one group's facts as ``shape_group`` makes them
    (for facts read back from a cache or a state file)."""
    if not isinstance(facts, dict):
        raise ValueError("a group is %s, not a mapping" % type(facts).__name__)
    if set(facts) != set(FACT_NAMES):
        raise ValueError("a group has the facts %s, expected %s" % (
            ", ".join(sorted(map(str, facts))), ", ".join(sorted(FACT_NAMES))))
    for name, kind in FACT_TYPES.items():
        value = facts[name]
        if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
            raise ValueError("group %r has %s=%r, expected %s or null" % (facts.get("group_id"), name, value, _KINDS[kind]))
    if facts["region"] is None or facts["group_id"] is None:
        raise ValueError("a group has no region or no group_id")


def by_group_id(groups):
    return sorted(groups, key=lambda g: (g["group_id"] is None, g["group_id"] or ""))


GROUPS = _paging.Resource(action=ACTION, noun="groups", shape=shape_group, key="group_id", order=by_group_id)


def list_groups(client, queries, max_concurrency=16, fail_fast=True):
    """Every group of every query (see ``_paging.list_all``), by group id: ``(results, errors)``."""
    return _paging.list_all(client, GROUPS, queries, max_concurrency=max_concurrency, fail_fast=fail_fast)


def get_group(client, region, project_id, group_id, zone=None):
    """The facts of one group, or None when the region (and project) has no such group."""
    query = Query(region, project_id, group_id=group_id, zone=zone)
    results, _errors = list_groups(client, [query], max_concurrency=1)
    return results[query][0] if results[query] else None  # the paginator let no other group through


def require_group(client, region, project_id, group_id, zone=None):
    """``get_group``, or a SigcalcloudError that says the group is not there."""
    group = get_group(client, region, project_id, group_id, zone)
    if group is None:
        where = "region %s" % region + (", project %s" % project_id if project_id else "") + (
            ", zone %s" % zone if zone else "")
        raise SigcalcloudError("there is no Redis group %s in %s" % (group_id, where), action=ACTION)
    return group


# --- the automatic backup policy ---------------------------------------------------------

def policy_of(group):
    """``{"auto_backup": bool, "backup_time": int}`` from a group's facts.

    A group that reports no AutoBackup or no BackupTime has the server's defaults for them
    (enable, hour 0), which is what an update that omitted them would set.
    """
    auto = group["auto_backup"]
    if auto is not None and auto not in AUTO_BACKUP_VALUES:
        raise SigcalcloudError("group %s reports AutoBackup=%s, expected enable or disable" % (
            group["group_id"], _options.shown_value(auto)), action=ACTION, region=group["region"])
    hour = group["backup_time"]
    if hour is not None and not 0 <= hour <= 23:
        raise SigcalcloudError("group %s reports BackupTime=%s, expected an hour from 0 to 23" % (
            group["group_id"], _options.shown_value(hour)), action=ACTION, region=group["region"])
    return {"auto_backup": auto != "disable", "backup_time": 0 if hour is None else hour}


def update_policy(client, group, policy, zone=None, slave_zone=None):
    """Set a group's automatic backup policy, always sending both values.

    The server takes an omitted AutoBackup as enable and an omitted BackupTime as hour 0,
    so an update that sent only what changed could switch backups on or move them to midnight.
    Setting a value is idempotent, so the call is retried as a read is (but a product refusal is not).
    """
    params = {"GroupId": group["group_id"],
              "AutoBackup": "enable" if policy["auto_backup"] else "disable",
              "BackupTime": str(policy["backup_time"]),  # the API takes the hour as a string
              "Zone": zone, "SlaveZone": slave_zone}
    client.call(UPDATE_POLICY_ACTION, params, region=group["region"], retry_product_codes=False)
