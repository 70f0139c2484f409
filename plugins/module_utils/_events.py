# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What changed between two polls of URedis backups and Redis groups: the events of the
``uredis_backup_events`` Event-Driven Ansible source, as pure functions.

``poll_events(state, backups, now, ..., groups=...)`` takes what was remembered, the
backups one poll listed (facts exactly as ``_backups.shape_row`` makes them) and, when
groups are watched, the Redis groups it listed (facts exactly as ``_groups.shape_group``
makes them), and returns the events to send and the state to remember. No I/O and no
clock: the source reads the API and the state file, and passes ``now``. The state is
plain JSON-able data.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import check_facts, newest_first
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._rows import Facts

# Version 2 added "policies": each listed group's AutoBackup, to announce its changes.
# A version 1 state (written before groups were listed) is migrated, not refused: its
# policies are "not known yet" (null), and the next poll that lists the groups learns them.
# Version 3 added "missing": the backups, and the groups, that one complete listing missed
# and that are gone only if the next complete listing misses them too. A version 1 or 2
# state is migrated with nothing pending.
STATE_VERSION = 3
STATE_KEYS = ("version", "scope", "primed", "backups", "stale_groups", "policies", "missing")
STATE_KEYS_BY_VERSION = {
    1: ("version", "scope", "primed", "backups", "stale_groups"),
    2: ("version", "scope", "primed", "backups", "stale_groups", "policies"),
    3: STATE_KEYS,
}
MISSING_KEYS = ("backups", "groups")
BACKUP_EVENTS = ("backup_new", "backup_state_changed", "backup_removed")
GROUP_EVENTS = ("group_stale", "group_recovered", "group_auto_backup_disabled", "group_auto_backup_enabled")
# What the state's policies remember of a group's AutoBackup: the API's two values. A group that
# reports anything else (or nothing) has automatic backups on, as the server's default.
AUTO_BACKUP_VALUES = ("enable", "disable")

# The remembered state (plain JSON-able data, STATE_KEYS), and an event to send.
State = Dict[str, Any]
Event = Dict[str, Any]
# A group's key, (region, group_id), and what group_status knows of it: (newest backup,
# newest Success backup, the group's facts), each None when there is none.
GroupKey = Tuple[str, str]
GroupStatus = Tuple[Optional[Facts], Optional[Facts], Optional[Facts]]


class OtherScope(ValueError):
    """A sound state, but remembered for other settings: not used, yet not damaged either."""


def new_state(scope: Dict[str, Any]) -> State:
    """The state before any poll. ``scope`` says what is watched (it is kept as is)."""
    return {"version": STATE_VERSION, "scope": scope, "primed": False, "backups": {}, "stale_groups": [],
            "policies": None, "missing": nothing_missing()}


def nothing_missing() -> Dict[str, List[Any]]:
    """The state's ``missing`` when no removal is pending."""
    return {"backups": [], "groups": []}


def restore_state(data: Any, scope: Dict[str, Any]) -> State:
    """A state read back from JSON, checked through and through, as a state of this version.

    A state of version 1 is migrated: it has all a version 2 state has but ``policies``,
    which becomes null (the groups' AutoBackup is not known yet). A state of version 1 or 2
    has no ``missing``: nothing is pending removal.

    Raises ``OtherScope`` for a sound state remembered for another scope (other regions,
    project, endpoint or account: its backups are not the ones watched now), and
    ValueError saying what is wrong for anything else that is not a state this module
    wrote: a poll must never trip over a wrong type in a file.
    """
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    version = data.get("version")
    if not _is_int(version) or version not in STATE_KEYS_BY_VERSION:
        versions = [str(v) for v in sorted(STATE_KEYS_BY_VERSION)]
        raise ValueError("it is not a version %s or %s state" % (", ".join(versions[:-1]), versions[-1]))
    expected = STATE_KEYS_BY_VERSION[version]
    if set(data) != set(expected):
        raise ValueError("it has the keys %s, expected %s (version %d)" % (
            ", ".join(sorted(map(str, data))), ", ".join(expected), version))
    _check_scope(data["scope"], scope)
    if not isinstance(data["primed"], bool):
        raise ValueError("its primed is %r, expected true or false" % (data["primed"],))
    _check_backups(data["backups"])
    _check_stale_groups(data["stale_groups"])
    policies = data.get("policies")  # version 1: not known yet
    _check_policies(policies)
    missing = data.get("missing", nothing_missing())  # versions 1 and 2: nothing pending
    _check_missing(missing, data["backups"], policies)
    if data["scope"] != scope:
        raise OtherScope("it was written for other settings (%r, now %r)" % (data["scope"], scope))
    return {"version": STATE_VERSION, "scope": scope, "primed": data["primed"],
            "backups": data["backups"], "stale_groups": data["stale_groups"], "policies": policies,
            "missing": missing}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scope(found, scope):
    if not isinstance(found, dict) or set(found) != set(scope):
        raise ValueError("its scope is not a mapping of %s" % ", ".join(sorted(scope)))
    for key, value in sorted(found.items()):
        if not (value is None or isinstance(value, str)
                or (isinstance(value, list) and all(isinstance(item, str) for item in value))):
            raise ValueError("its scope has %s=%r, expected a string, a list of strings or null" % (key, value))


def _check_backups(backups):
    if not isinstance(backups, dict):
        raise ValueError("its backups are not a mapping of backup id to facts")
    for backup_id, facts in backups.items():
        try:
            check_facts(facts)
        except ValueError as exc:
            raise ValueError("its backups[%r]: %s" % (backup_id, exc))
        if facts["backup_id"] != backup_id:
            raise ValueError("its backups[%r] holds the facts of backup %r" % (backup_id, facts["backup_id"]))


def _check_stale_groups(stale):
    if not isinstance(stale, list):
        raise ValueError("its stale_groups are not a list of [region, group_id] pairs")
    for index, pair in enumerate(stale):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(item, str) for item in pair)):
            raise ValueError("its stale_groups are not a list of [region, group_id] pairs (entry %d is %r)"
                             % (index, pair))


def _check_policies(entries):
    if entries is None:  # not known yet
        return
    shape = "null or a list of [region, group_id, enable or disable]"
    if not isinstance(entries, list):
        raise ValueError("its policies are not %s" % shape)
    seen = set()
    for index, entry in enumerate(entries):
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(item, str) for item in entry[:2])
                and entry[2] in AUTO_BACKUP_VALUES):
            raise ValueError("its policies are not %s (entry %d is %r)" % (shape, index, entry))
        if tuple(entry[:2]) in seen:
            raise ValueError("its policies name group %r of region %r twice (entry %d)" % (entry[1], entry[0], index))
        seen.add(tuple(entry[:2]))


def _check_missing(missing, backups, policies):
    """``missing`` names backups that ``backups`` remembers, and groups that ``policies`` does, each once."""
    if not isinstance(missing, dict) or set(missing) != set(MISSING_KEYS):
        raise ValueError("its missing is not a mapping of backups (a list of backup ids) and groups "
                         "(a list of [region, group_id] pairs)")
    ids = missing["backups"]
    if not isinstance(ids, list):
        raise ValueError("its missing backups are not a list of backup ids")
    seen = set()
    for index, backup_id in enumerate(ids):
        if not isinstance(backup_id, str):
            raise ValueError("its missing backups are not a list of backup ids (entry %d is %r)" % (index, backup_id))
        if backup_id not in backups:
            raise ValueError("its missing backups name %r, which is not one of its backups" % backup_id)
        if backup_id in seen:
            raise ValueError("its missing backups name %r twice" % backup_id)
        seen.add(backup_id)
    pairs = missing["groups"]
    shape = "a list of [region, group_id] pairs"
    if not isinstance(pairs, list):
        raise ValueError("its missing groups are not %s" % shape)
    known = set(tuple(entry[:2]) for entry in policies or [])
    seen = set()
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(item, str) for item in pair)):
            raise ValueError("its missing groups are not %s (entry %d is %r)" % (shape, index, pair))
        if tuple(pair) not in known:
            raise ValueError("its missing groups name group %r of region %r, which is not one of its policies"
                             % (pair[1], pair[0]))
        if tuple(pair) in seen:
            raise ValueError("its missing groups name group %r of region %r twice" % (pair[1], pair[0]))
        seen.add(tuple(pair))


def chronological(backups: Iterable[Facts]) -> List[Facts]:
    """Oldest BackupTime first (backups without a time last), then by backup id."""
    return sorted(backups, key=lambda b: (b["backup_time"] is None, b["backup_time"] or 0, b["backup_id"] or ""))


def backup_event(kind: str, backup: Facts, **extra: Any) -> Event:
    event = {"type": kind}
    event.update(backup)
    event.update(extra)
    return event


def listed_groups(groups: Optional[Iterable[Facts]]) -> Dict[GroupKey, Facts]:
    """(region, group_id) -> a listed group's facts; groups without an id are left out, a repeated one counts once."""
    found = {}
    for group in groups or ():
        if group["group_id"] is not None and group["region"] is not None:
            found.setdefault((group["region"], group["group_id"]), group)
    return found


def group_status(backups: Iterable[Facts], groups: Optional[Iterable[Facts]] = ()) -> Dict[GroupKey, GroupStatus]:
    """(region, group_id) -> (newest backup, newest Success backup, group facts), for each group
    that a backup names or the group listing holds. The newest backup or the newest Success
    backup is None when there is none; the facts are None for a group known only by its backups."""
    status = {}
    for backup in newest_first(backups):  # the first seen of a group is its newest
        if backup["group_id"] is None:
            continue
        key = (backup["region"], backup["group_id"])
        newest, last_success, _group = status.get(key, (backup, None, None))
        if last_success is None and backup["state"] == "Success" and backup["backup_time"] is not None:
            last_success = backup
        status[key] = (newest, last_success, None)
    for key, group in listed_groups(groups).items():
        newest, last_success, _group = status.get(key, (None, None, None))
        status[key] = (newest, last_success, group)
    return status


def success_age(last_success: Optional[Facts], now: float) -> Optional[int]:
    """Seconds since the newest Success backup, or None when there is none."""
    return None if last_success is None else max(0, int(now - last_success["backup_time"]))


def is_stale(last_success: Optional[Facts], now: float, stale_after: float, group: Optional[Facts] = None) -> bool:
    """A group is stale when its newest Success backup is older than ``stale_after`` seconds, or
    when it has none; but a listed group (``group``, its facts) with none that was created
    within ``stale_after`` is not stale yet. A group without a create_time is old enough."""
    age = success_age(last_success, now)
    if age is not None:
        return age > stale_after
    created = None if group is None else group["create_time"]
    return created is None or now - created > stale_after


def group_name(newest: Optional[Facts], group: Optional[Facts]) -> Optional[str]:
    """The group's name: its own (Name, else GroupName), else the one its newest backup gives."""
    if group is not None:
        for name in (group["name"], group["group_name"]):
            if name:
                return name
    return None if newest is None else newest["group_name"]


def group_event(kind: str, newest: Optional[Facts], last_success: Optional[Facts], now: float,
                stale_after: Optional[float], group: Optional[Facts] = None) -> Event:
    """A group event. ``newest`` (the group's newest backup) or ``group`` (its listed facts)
    may be None, not both: a group is known by one or the other."""
    known = group if group is not None else newest
    return {
        "type": kind,
        "region": known["region"],
        "project_id": known["project_id"],
        "group_id": known["group_id"],
        "group_name": group_name(newest, group),
        "stale_after": stale_after,
        "last_success": last_success,
        "last_success_age": success_age(last_success, now),
        "group": group,
    }


def auto_backup_of(group: Facts) -> str:
    """``disable`` when the group says so, else ``enable`` (also for no value, the server's default)."""
    return "disable" if group["auto_backup"] == "disable" else "enable"


def _policy_events(known, listed, status, now, stale_after):
    """The ``group_auto_backup_*`` events of a complete group listing, by region and group id.

    ``known`` maps (region, group_id) to the AutoBackup last seen. A group seen before whose
    AutoBackup turned to disable (or back) is announced, and so is a group not seen before
    that has it off already.
    """
    events = []
    for key, group in sorted(listed.items()):
        was, now_is = known.get(key), auto_backup_of(group)
        if now_is == was or (was is None and now_is == "enable"):
            continue
        kind = "group_auto_backup_disabled" if now_is == "disable" else "group_auto_backup_enabled"
        newest, last_success, _group = status[key]
        events.append(group_event(kind, newest, last_success, now, stale_after, group))
    return events


def poll_events(state: State, backups: Iterable[Facts], now: float, complete: bool = True,
                stale_after: Optional[float] = None, announce_existing: bool = False,
                groups: Optional[Iterable[Facts]] = None, groups_complete: bool = True) -> Tuple[List[Event], State]:
    """``(events, new_state)`` for one poll that listed ``backups``, and ``groups`` when groups are watched.

    ``complete`` is false when a backup listing of the poll failed: the poll then announces
    what it saw (new backups, changed states) but no removal and no change of staleness,
    since what it did not see may still be there; and it forgets nothing.

    A removal is confirmed before it is announced. A backup that a complete poll does not
    list is kept (with its last facts) and pending removal (``missing["backups"]`` of the
    new state); the next complete poll that does not list it either announces it
    ``backup_removed`` and forgets it. A pending backup listed again is no news: no event
    at all (unless its state changed meanwhile). A poll with a failed listing neither
    confirms nor cancels a pending removal, unless it lists the backup. So one listing that
    misses backups (empty, or short) announces nothing, and a real removal is announced
    one poll late. Staleness is computed over the backups believed to exist: those listed
    and those pending removal.

    ``groups`` is None when groups are not watched, else the Redis groups the poll listed;
    ``groups_complete`` is false when a group listing failed. A listed group is watched for
    staleness also when it has no backup at all (stale once it is older than ``stale_after``
    with no Success backup), and a change of its AutoBackup is announced. A failed group
    listing changes no staleness either, and announces and learns no AutoBackup. A group
    that one complete group listing misses is pending too (``missing["groups"]``): its
    AutoBackup and its staleness are kept as they were, and it is forgotten only when the
    next complete group listing misses it too.

    The first poll that lists anything (``primed``) announces nothing unless
    ``announce_existing``: what exists at the start is remembered, not news. A poll that
    lists something primes even when another listing failed: a region that always fails
    must not keep the others silent for good (its backups are then news once it answers).
    Likewise the first complete group listing (of a new state, of a state of version 1, or
    after the groups were not watched) only learns the groups unless ``announce_existing``:
    it announces no AutoBackup that is off, and no group_stale for a group without backups.

    The events, in order: ``backup_new`` and ``backup_state_changed`` oldest backup first,
    ``backup_removed`` oldest first, then ``group_stale`` and ``group_recovered`` by region
    and group id (only with ``stale_after``, in seconds), then ``group_auto_backup_disabled``
    and ``group_auto_backup_enabled`` by region and group id.
    """
    previous = state["backups"]
    current = {}
    for backup in backups:
        if backup["backup_id"] is not None:
            current.setdefault(backup["backup_id"], backup)

    events = []
    for backup in chronological(current.values()):
        before = previous.get(backup["backup_id"])
        if before is None:
            events.append(backup_event("backup_new", backup))
        elif before["state"] != backup["state"]:
            events.append(backup_event("backup_state_changed", backup, previous_state=before["state"]))

    # What is not listed: gone when it was pending already (a complete poll confirms it),
    # else kept, pending (a complete poll), or as it was (a poll that failed: no news of it).
    pending = set(state["missing"]["backups"])
    remembered = dict(current)
    unlisted = [backup for backup_id, backup in previous.items() if backup_id not in current]
    if complete:
        events.extend(backup_event("backup_removed", backup)
                      for backup in chronological(b for b in unlisted if b["backup_id"] in pending))
        unlisted = [backup for backup in unlisted if backup["backup_id"] not in pending]
        pending = set(backup["backup_id"] for backup in unlisted)
    else:
        pending &= set(backup["backup_id"] for backup in unlisted)  # a pending backup listed again is there
    remembered.update((backup["backup_id"], backup) for backup in unlisted)

    watched = groups is not None
    listed = listed_groups(groups)
    settled = complete and (groups_complete or not watched)  # every listing answered
    groups_known = state["policies"] is not None
    # The first settled poll that lists the groups learns them: it announces their news
    # (what only the group listing shows) only with announce_existing.
    learning = watched and settled and not groups_known and not announce_existing
    # A poll that learns or renews the groups' policies: every group listing answered.
    renewing = watched and groups_complete and (groups_known or settled)
    known = dict(((region, group_id), value) for region, group_id, value in state["policies"] or [])
    pending_groups = set(tuple(key) for key in state["missing"]["groups"]) if watched else set()
    if renewing:
        unlisted_groups = set(known) - set(listed)
        pending_groups = unlisted_groups - pending_groups  # those missing twice are forgotten

    status = group_status(remembered.values(), listed.values())
    stale = set(tuple(key) for key in state["stale_groups"])
    if stale_after is None:
        stale = set()
    elif settled:
        now_stale = stale & pending_groups  # a group pending removal keeps its staleness
        for key, (newest, last_success, group) in sorted(status.items()):
            if key in pending_groups:
                continue
            if is_stale(last_success, now, stale_after, group):
                now_stale.add(key)
                if key not in stale and not (learning and newest is None):
                    events.append(group_event("group_stale", newest, last_success, now, stale_after, group))
            elif key in stale:
                events.append(group_event("group_recovered", newest, last_success, now, stale_after, group))
        stale = now_stale  # a group no longer listed at all is forgotten

    policies = state["policies"]
    if not watched:
        policies = None  # not known when the groups are watched again
    elif renewing:  # learnt together with the groups' staleness
        if not learning:
            events.extend(_policy_events(known, listed, status, now, stale_after))
        # the groups listed, and those pending removal: a group missing twice is forgotten
        policies = sorted([[region, group_id, auto_backup_of(group)] for (region, group_id), group in listed.items()]
                          + [[region, group_id, known[(region, group_id)]] for region, group_id in pending_groups])

    after = {
        "version": STATE_VERSION,
        "scope": state["scope"],
        "primed": state["primed"] or complete or bool(current) or bool(listed),
        "backups": remembered,
        "stale_groups": sorted(list(key) for key in stale),
        "policies": policies,
        "missing": {"backups": sorted(pending), "groups": sorted(list(key) for key in pending_groups)},
    }
    if not state["primed"] and not announce_existing:
        events = []
    return events, after


def _counted(count, one, many):
    return "%d %s" % (count, one if count == 1 else many)


def _named(names, limit=10):
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else "%s and %d more" % (shown, len(names) - limit)


def missing_report(before: State, after: State) -> List[str]:
    """Warnings, for the source's log, of the poll that turned the state ``before`` into ``after``:
    the backups (and groups) it found missing, now pending removal, and those it listed again
    after the previous listing had missed them. A list of strings; none for an ordinary poll."""
    warnings = []
    was = set(before["missing"]["backups"])
    now = set(after["missing"]["backups"])
    newly = sorted(now - was)
    if newly:
        regions = sorted(set(after["backups"][backup_id]["region"] for backup_id in newly))
        warnings.append(
            "%s of the %d remembered %s missing from this poll's listing (%s); %s announced as backup_removed only "
            "if still missing at the next poll: %s" % (
                _counted(len(newly), "backup", "backups"), len(before["backups"]),
                "is" if len(newly) == 1 else "are", ", ".join(regions),
                "it is" if len(newly) == 1 else "they are", _named(newly)))
    back = sorted(backup_id for backup_id in was - now if backup_id in after["backups"])
    if back:
        regions = sorted(set(after["backups"][backup_id]["region"] for backup_id in back))
        warnings.append(
            "%s missing from the previous poll's listing %s listed again (%s): that listing had missed %s, "
            "and no backup_removed is sent: %s" % (
                _counted(len(back), "backup", "backups"), "is" if len(back) == 1 else "are", ", ".join(regions),
                "it" if len(back) == 1 else "them", _named(back)))
    was = set(tuple(key) for key in before["missing"]["groups"])
    now = set(tuple(key) for key in after["missing"]["groups"])
    newly = sorted(now - was)
    if newly:
        warnings.append(
            "%s of the %d remembered %s missing from this poll's group listing (%s); %s forgotten only if still "
            "missing at the next poll: %s" % (
                _counted(len(newly), "Redis group", "Redis groups"), len(before["policies"] or []),
                "is" if len(newly) == 1 else "are", ", ".join(sorted(set(region for region, _id in newly))),
                "it is" if len(newly) == 1 else "they are", _named(group_id for _region, group_id in newly)))
    listed = set(tuple(entry[:2]) for entry in after["policies"] or [])
    back = sorted(key for key in was - now if key in listed)
    if back:
        warnings.append(
            "%s missing from the previous poll's group listing %s listed again (%s): that listing had missed %s: %s" % (
                _counted(len(back), "Redis group", "Redis groups"), "is" if len(back) == 1 else "are",
                ", ".join(sorted(set(region for region, _id in back))), "it" if len(back) == 1 else "them",
                _named(group_id for _region, group_id in back)))
    return warnings
