# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Making and removing Redis groups: CreateURedisGroup (empty, or restoring a backup), DeleteURedisGroup,
waiting for either, and a Redis version's default configuration (DescribeURedisConfig).

Two rules from the design hold here:
- Creating at most once (``_create.create_once``): a create whose answer was lost is looked up by
  its name in its zone, never sent again.
- Deleting is irreversible: the only GroupId ever sent to DeleteURedisGroup is the caller's, and what
  a listing says (it goes through the paginator, which refuses rows of another group) only decides
  whether that one delete is sent again or taken as done, never which group is deleted.
"""

from __future__ import annotations

import base64
import collections
import random
import re
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _create
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _paging
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rows
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, Clock, Rand, SigcalcloudError, Sleep
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import TRANSIENT_RET_CODES, may_have_happened
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import OptionError, shown_value
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._rows import Facts

CREATE_ACTION = "CreateURedisGroup"
DELETE_ACTION = "DeleteURedisGroup"
CONFIG_ACTION = "DescribeURedisConfig"
# What DeleteURedisGroup answers for a group it does not find (or one already Deleting, or still Creating).
DELETE_FAILED_RET_CODE = 20201
# What the API takes as a group Name: 6 to 63 letters, digits, "-" and "_".
NAME_RE = re.compile(r"[A-Za-z0-9_-]{6,63}")
SIZES = (1, 2, 4, 8, 16, 32)
CHARGE_TYPES = ("Dynamic", "Month", "Year")
# While waiting, a group that a listing does not hold this many times in a row is gone.
MISSING_POLLS = 3


# --- the default configuration of a version --------------------------------------------------

CONFIG_ROWS = _rows.Table(CONFIG_ACTION, "configuration", _rows.CONFIG_FIELDS, key="config_id",
                          required=("region", "config_id"))


class ConfigQuery(collections.namedtuple("ConfigQuery", "region project_id zone version")):
    """One DescribeURedisConfig listing: the single-zone configurations of a zone and a version."""

    __slots__ = ()

    def params(self, offset: int, limit: int) -> Dict[str, Any]:
        return {"ProjectId": self.project_id, "Zone": self.zone, "RegionFlag": False, "Version": self.version,
                "Offset": offset, "Limit": limit}

    def mismatch(self, facts: Facts) -> Optional[str]:
        if (facts["zone"] and facts["zone"] != self.zone) or (facts["version"] and facts["version"] != self.version):
            return "configuration %s of zone %s, version %s" % (
                shown_value(facts["config_id"]), shown_value(facts["zone"]), shown_value(facts["version"]))
        return None

    def describe(self) -> str:
        return "the Redis %s configurations of zone %s, region %s" % (self.version, self.zone, self.region)


CONFIGS = _paging.Resource(action=CONFIG_ACTION, noun="configurations", shape=CONFIG_ROWS.shape, key="config_id",
                           order=lambda rows: sorted(rows, key=lambda r: r["config_id"] or ""))


def default_config(configs: Iterable[Facts], zone: str, version: str) -> str:
    """The ConfigId of the default configuration of ``version`` (the Unmodifiable, Usable one, as the
    Terraform provider picks it), or a SigcalcloudError that names the zone and version."""
    found = [c["config_id"] for c in configs if c["is_modify"] == "Unmodifiable" and c["state"] == "Usable"]
    if len(found) == 1:
        return found[0]
    if not found:
        raise SigcalcloudError("zone %s has no default configuration of Redis version %s (no Unmodifiable, Usable "
                               "row): set config_id" % (zone, version), action=CONFIG_ACTION)
    raise SigcalcloudError("zone %s has %d default configurations of Redis version %s (%s): set config_id to the "
                           "one to use" % (zone, len(found), version, ", ".join(map(shown_value, found))),
                           action=CONFIG_ACTION)


def find_default_config(client: Client, region: str, project_id: Optional[str], zone: str, version: str) -> str:
    query = ConfigQuery(region, project_id, zone, version)
    results, _errors = _paging.list_all(client, CONFIGS, [query], max_concurrency=1)
    return default_config(results[query], zone, version)


# --- options ---------------------------------------------------------------------------------

def check_name(name: Optional[str]) -> Optional[str]:
    """Why ``name`` cannot be a group's Name, or None."""
    if NAME_RE.fullmatch(name or ""):
        return None
    return "name=%s is not accepted: use 6 to 63 characters, letters, digits, - and _" % shown_value(name)


def encoded_password(password: str) -> str:
    """The Password as the API takes it (and the SDKs send it): base64 of its UTF-8 bytes."""
    return base64.b64encode(password.encode("utf-8")).decode("ascii")


def version_key(version: Optional[str]) -> Tuple[int, ...]:
    """``"7.0"`` -> (7, 0), for comparing versions; () for a version that is not numbers and dots."""
    if not isinstance(version, str) or not re.match(r"^[0-9]+(\.[0-9]+)*$", version):
        return ()
    return tuple(int(part) for part in version.split("."))


def restore_version(backup: Facts, version: Optional[str]) -> str:
    """The Redis version to restore ``backup`` into: ``version`` when given, else the backup's own.

    The API's default, 4.0, cannot load a newer backup (the group would end in CreateFail), and
    neither can any version older than the backup's: refused here, before anything is created.
    """
    own = backup["redis_version"]
    if version is None:
        if not own:
            raise OptionError("backup %s does not say its Redis version: set version" % backup["backup_id"])
        return own
    if version_key(own) and version_key(version) and version_key(version) < version_key(own):
        raise OptionError("version=%s cannot load backup %s, taken of Redis %s: a Redis loads only files of its own "
                          "version or older; leave version out to use the backup's" % (
                              version, backup["backup_id"], own))
    return version


def group_name_of(group: Facts) -> Optional[str]:
    return group["name"] if group["name"] is not None else group["group_name"]


def same_named(groups: Iterable[Facts], name: str, zone: str) -> List[Facts]:
    """The groups called ``name`` in ``zone`` that are not being deleted (those are leaving)."""
    return [g for g in groups if group_name_of(g) == name and g["zone"] == zone and g["state"] != "Deleting"]


def zone_groups(client: Client, region: str, project_id: Optional[str], zone: str) -> List[Facts]:
    query = _groups.Query(region, project_id, zone=zone)
    results, _errors = _groups.list_groups(client, [query], max_concurrency=1)
    return results[query]


# --- creating --------------------------------------------------------------------------------

def create_group(client: Client, region: str, project_id: Optional[str], params: Dict[str, Any],
                 known_ids: Iterable[str], deadline: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 rand: Rand = random.random) -> Tuple[str, int]:
    """Send CreateURedisGroup with ``params`` (its API parameters, Name and Zone included) and return
    ``(group_id, sends)``; never two groups for one call.

    A lost answer is looked up as a group of that Name in that Zone that is not one of ``known_ids``
    (the groups listed before the send), on ``_create``'s schedule up to ``deadline``.
    """
    known = set(known_ids)
    name, zone = params["Name"], params["Zone"]

    def answered_id(answer):
        group_id = answer.get("GroupId")
        return _rows.as_text(group_id) if isinstance(group_id, str) and group_id.strip() else None

    def find():
        made = [g["group_id"] for g in same_named(zone_groups(client, region, project_id, zone), name, zone)
                if g["group_id"] not in known]
        if len(made) > 1:  # never pick one: the task made at most one of them
            raise SigcalcloudError("%d new groups called %s in zone %s are listed (%s)" % (
                len(made), name, zone, ", ".join(made)), action=CREATE_ACTION, region=region)
        return made[0] if made else None

    return _create.create_once(client, CREATE_ACTION, params, region, answered_id, find,
                               "Redis group %s in zone %s" % (name, zone), deadline, clock=clock, sleep=sleep, rand=rand)


class GroupFailed(SigcalcloudError):
    """A group ended in CreateFail, vanished, or was not done in time; ``group`` is its facts as last listed."""

    def __init__(self, message: str, group: Optional[Facts] = None, **kwargs: Any) -> None:
        super(GroupFailed, self).__init__(message, **kwargs)
        self.group = group


def described(group: Facts) -> str:
    return "Redis group %s (%s)" % (group["group_id"], shown_value(group_name_of(group)))


def wait_for_group(client: Client, group: Facts, done: Callable[[Optional[Facts]], bool], what: str, deadline: float,
                   poll_interval: float, since: float, action: str, clock: Clock = time.monotonic,
                   sleep: Sleep = time.sleep, rand: Rand = random.random) -> Optional[Facts]:
    """Poll one group every ``poll_interval`` seconds (+-10% jitter) until ``done(facts or None)``; return
    the last facts (None: gone).

    ``what`` is the state waited for ("Running"); ``since`` the ``clock()`` time the waiting is counted
    from in messages. A group in CreateFail fails at once, one that leaves the listing (while not waiting
    for it to go) fails after MISSING_POLLS polls, and one not done by ``deadline`` fails naming its state.
    """
    current, last, missing = group, group, 0
    while True:
        if done(current):
            return current
        # Only a create's wait fails on CreateFail: a delete's starts from the facts it was sent for,
        # and a CreateFail group is deleted like any other.
        if action == CREATE_ACTION and current is not None and current["state"] == "CreateFail":
            raise GroupFailed("%s ended in state CreateFail after %.1fs" % (described(current), clock() - since),
                              group=current, action=action, region=group["region"])
        if missing >= MISSING_POLLS:
            raise GroupFailed("%s is no longer listed (%d polls in a row), after %.1fs" % (
                described(last), missing, clock() - since), group=last, action=action, region=group["region"])
        now = clock()
        if now >= deadline:
            raise GroupFailed("%s was still %s after waiting %.1fs for it to be %s (wait_timeout)" % (
                described(last), last["state"] if current is not None else "not listed", now - since, what),
                group=last, action=action, region=group["region"])
        sleep(max(0.0, min(poll_interval * (0.9 + 0.2 * rand()), deadline - now)))
        current = _groups.get_group(client, group["region"], group["project_id"], group["group_id"])
        missing = missing + 1 if current is None else 0
        last = current or last


def running(group: Optional[Facts]) -> bool:
    return group is not None and group["state"] == "Running"


def gone(group: Optional[Facts]) -> bool:
    return group is None


def settled(group: Optional[Facts]) -> bool:
    """Out of Creating: a group the API accepts a delete for (or one already gone)."""
    return group is None or group["state"] != "Creating"


# --- deleting --------------------------------------------------------------------------------

def delete_group(client: Client, group: Facts, zone: Optional[str] = None, sleep: Sleep = time.sleep) -> bool:
    """Send DeleteURedisGroup for ``group`` (its facts as just listed: its own GroupId) and return whether
    this call deleted it (False: it was already gone or being deleted when the call found out).

    The SDKs retry a delete; here a failure whose outcome is open (a lost answer) or the API's 20201
    ("does not exist") is first checked by listing that one group: gone or Deleting means done, still
    there means the delete was not performed, and it is sent again (open outcome) or the 20201 is
    raised (the API says gone, its listing says not). A "try again" refusal is sent again after the
    client's backoff. Every send names the same GroupId.
    """
    backoff = client.backoff
    group_id, region = group["group_id"], group["region"]
    params = {"GroupId": group_id, "Zone": zone}
    sends, slept, maybe_done = 0, 0.0, False
    while True:
        sends += 1
        try:
            client.call_once(DELETE_ACTION, params, region=region)
            return True
        except SigcalcloudError as error:
            open_outcome = may_have_happened(error)
            if open_outcome or error.ret_code == DELETE_FAILED_RET_CODE:
                maybe_done = maybe_done or open_outcome
                now = _groups.get_group(client, region, group["project_id"], group_id)
                if now is None or now["state"] == "Deleting":
                    return maybe_done
                if not open_outcome:
                    error.message += " (yet group %s is listed, %s)" % (group_id, now["state"])
                    raise
            elif not (error.unsent or error.ret_code in TRANSIENT_RET_CODES or error.http_status == 429):
                raise
            if sends > backoff.max_retries:
                error.message += " (sent %d times)" % sends
                raise
            wait = backoff.delay(sends - 1, getattr(error, "retry_after", None))
            if slept + wait > backoff.budget:
                error.message += " (sent %d times; retry time budget of %ss spent)" % (sends, backoff.budget)
                raise
            sleep(wait)
            slept += wait
