# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DescribeURedisGroup listings, and the automatic backup policy of a group.

Groups are listed by the one paginator (``_paging``) and their rows shaped by ``_rows``, like backups. The policy has no
read action of its own: it is the group's ``AutoBackup`` and ``BackupTime``, and it is
changed with ``UpdateURedisBackupStrategy``, which must always be sent both values.
The same action switches the group's cross-region copies on (``OperationType=modify``) or off
(``close``); nothing reads that policy back, and those calls carry both automatic values too.
"""

from __future__ import annotations

import collections
from typing import Any, Dict, Iterable, List, Mapping, Optional

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _paging
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rows
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._rows import Facts

ACTION = "DescribeURedisGroup"
UPDATE_POLICY_ACTION = "UpdateURedisBackupStrategy"
AUTO_BACKUP_VALUES = ("enable", "disable")

# A group's facts: _rows.GROUP_FIELDS.
ROWS = _rows.Table(ACTION, "group", _rows.GROUP_FIELDS, key="group_id", required=("region", "group_id"))
shape_group, check_facts = ROWS.shape, ROWS.check
FACT_NAMES, FACT_TYPES = ROWS.fact_names, ROWS.fact_types


class Query(collections.namedtuple("Query", "region project_id group_id zone")):
    """One DescribeURedisGroup listing: a region (and project), one group or a zone."""

    __slots__ = ()

    def __new__(cls, region: str, project_id: Optional[str] = None, group_id: Optional[str] = None,
                zone: Optional[str] = None) -> Query:
        return super(Query, cls).__new__(cls, region, project_id, group_id, zone)

    def params(self, offset: int, limit: int) -> Dict[str, Any]:
        return {"ProjectId": self.project_id, "GroupId": self.group_id, "Zone": self.zone,
                "Offset": offset, "Limit": limit}

    def mismatch(self, facts: Facts) -> Optional[str]:
        """What in a listed group's facts shows it is not one this listing asked for, or None:
        another group id, another zone, or a zone outside the region."""
        if self.group_id is not None and facts["group_id"] != self.group_id:
            return "group %s" % _options.shown_value(facts["group_id"])
        zone = facts["zone"]
        if (self.zone is not None and zone and zone != self.zone) or not _rows.in_region(zone, self.region):
            return "group %s in zone %s" % (_options.shown_value(facts["group_id"]), _options.shown_value(zone))
        return None

    def describe(self) -> str:
        parts = ["the Redis groups of region %s" % self.region]
        if self.project_id:
            parts.append("project %s" % self.project_id)
        if self.group_id:
            parts.append("group %s" % self.group_id)
        if self.zone:
            parts.append("zone %s" % self.zone)
        return ", ".join(parts)


def by_group_id(groups: Iterable[Facts]) -> List[Facts]:
    return sorted(groups, key=lambda g: (g["group_id"] is None, g["group_id"] or ""))


GROUPS = _paging.Resource(action=ACTION, noun="groups", shape=ROWS.shape, key=ROWS.key, order=by_group_id)


def list_groups(client: Client, queries: Iterable[Query], max_concurrency: int = 16,
                fail_fast: bool = True) -> _paging.Results:
    """Every group of every query (see ``_paging.list_all``), by group id: ``(results, errors)``."""
    return _paging.list_all(client, GROUPS, queries, max_concurrency=max_concurrency, fail_fast=fail_fast)


def get_group(client: Client, region: str, project_id: Optional[str], group_id: str,
              zone: Optional[str] = None) -> Optional[Facts]:
    """The facts of one group, or None when the region (and project) has no such group."""
    query = Query(region, project_id, group_id=group_id, zone=zone)
    results, _errors = list_groups(client, [query], max_concurrency=1)
    return results[query][0] if results[query] else None  # the paginator let no other group through


def require_group(client: Client, region: str, project_id: Optional[str], group_id: str,
                  zone: Optional[str] = None) -> Facts:
    """``get_group``, or a SigcalcloudError that says the group is not there."""
    group = get_group(client, region, project_id, group_id, zone)
    if group is None:
        where = "region %s" % region + (", project %s" % project_id if project_id else "") + (
            ", zone %s" % zone if zone else "")
        raise SigcalcloudError("there is no Redis group %s in %s" % (group_id, where), action=ACTION)
    return group


# --- the automatic backup policy ---------------------------------------------------------

def policy_of(group: Facts) -> Dict[str, Any]:
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


def _policy_params(group: Facts, policy: Mapping[str, Any], zone: Optional[str],
                   slave_zone: Optional[str]) -> Dict[str, Any]:
    return {"GroupId": group["group_id"],
            "AutoBackup": "enable" if policy["auto_backup"] else "disable",
            "BackupTime": str(policy["backup_time"]),  # the API takes the hour as a string
            "Zone": zone, "SlaveZone": slave_zone}


def update_policy(client: Client, group: Facts, policy: Mapping[str, Any], zone: Optional[str] = None,
                  slave_zone: Optional[str] = None) -> None:
    """Set a group's automatic backup policy, always sending both values.

    The server takes an omitted AutoBackup as enable and an omitted BackupTime as hour 0,
    so an update that sent only what changed could switch backups on or move them to midnight.
    Setting a value is idempotent, so the call is retried as a read is (but a product refusal is not).
    """
    client.call(UPDATE_POLICY_ACTION, _policy_params(group, policy, zone, slave_zone), region=group["region"],
                retry_product_codes=False)


# --- cross-region copies -----------------------------------------------------------------------

CROSS_REGION_STATES = ("present", "absent")


def check_cross_region(options: Mapping[str, Any], group_region: str) -> Dict[str, Any]:
    """The ``cross_region`` option, checked: ``{"state", "region", "keep_days"}`` (the last two None
    for absent), or an OptionError that says what is wrong. ``group_region`` is the group's own."""
    state = options.get("state") or "present"
    region, keep_days = options.get("region"), options.get("keep_days")
    if state not in CROSS_REGION_STATES:
        raise _options.OptionError("cross_region.state=%s is not one of present, absent" % _options.shown_value(state))
    if state == "absent":
        if region is not None or keep_days is not None:
            # close stops every copy of the group: a region here would suggest it stops only those.
            raise _options.OptionError("cross_region.region and cross_region.keep_days go with state=present only: "
                                       "state=absent stops the group's copies to any region")
        return {"state": "absent", "region": None, "keep_days": None}
    if region is None or not str(region).strip():
        raise _options.OptionError("cross_region.region is required with cross_region.state=present: the region "
                                   "the group's backups are copied to")
    if keep_days is None:
        raise _options.OptionError("cross_region.keep_days is required with cross_region.state=present: how many days "
                                   "each copy is kept")
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 1:
        raise _options.OptionError("cross_region.keep_days=%s is out of range: copies are kept 1 day or more"
                                   % _options.shown_value(keep_days))
    if region != region.strip() or any(character.isspace() for character in region):
        raise _options.OptionError("cross_region.region=%s holds white space: a region name has none"
                                   % _options.shown_value(region))
    if region.lower() == (group_region or "").lower():
        raise _options.OptionError("cross_region.region=%s is the group's own region: copies go to another region"
                                   % _options.shown_value(region))
    return {"state": "present", "region": region, "keep_days": keep_days}


def update_cross_region(client: Client, group: Facts, policy: Mapping[str, Any], copies: Mapping[str, Any],
                        zone: Optional[str] = None, slave_zone: Optional[str] = None) -> None:
    """Switch a group's cross-region copies on (``copies`` state present: OperationType=modify with
    DstRegion and SaveDays) or off (absent: close), sending ``policy`` (the automatic backup policy
    the group has) with it.

    What the server does with AutoBackup and BackupTime left out of these calls is not documented: it
    may read them as it does for the automatic policy (enable, hour 0), so they are always sent.
    Like the policy, the call sets a state and is retried as a read is (but a product refusal is not).
    """
    params = _policy_params(group, policy, zone, slave_zone)
    if copies["state"] == "present":
        params.update(OperationType="modify", DstRegion=copies["region"], SaveDays=copies["keep_days"])
    else:
        params["OperationType"] = "close"
    client.call(UPDATE_POLICY_ACTION, params, region=group["region"], retry_product_codes=False)
