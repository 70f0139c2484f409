# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What changed between two polls of URedis backups: the events of the
``uredis_backup_events`` Event-Driven Ansible source, as pure functions.

``poll_events(state, backups, now, ...)`` takes what was remembered, the backups one
poll listed (facts exactly as ``_backups.shape_row`` makes them) and, when groups are
watched, the Redis groups it listed (``_groups.shape_group``'s facts), and returns the
events to send and the state to remember. No I/O and no clock: the source reads the
API and the state file, and passes ``now``. The state is plain JSON-able data.
"""

from __future__ import annotations

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import check_facts, newest_first

# 2: "policies", each watched group's AutoBackup. A version 1 state is read as one whose
# policies are not known yet (the next poll learns them without announcing them).
STATE_VERSION = 2
STATE_KEYS = ("version", "scope", "primed", "backups", "stale_groups", "policies")
STATE_KEYS_V1 = ("version", "scope", "primed", "backups", "stale_groups")
BACKUP_EVENTS = ("backup_new", "backup_state_changed", "backup_removed")
GROUP_EVENTS = ("group_stale", "group_recovered", "group_auto_backup_disabled", "group_auto_backup_enabled")


class OtherScope(ValueError):
    """A sound state, but remembered for other settings: not used, yet not damaged either."""


def new_state(scope):
    """The state before any poll. ``scope`` says what is watched (it is kept as is)."""
    return {"version": STATE_VERSION, "scope": scope, "primed": False, "backups": {}, "stale_groups": [],
            "policies": []}


def restore_state(data, scope):
    """A state read back from JSON, checked through and through.

    Raises ``OtherScope`` for a sound state remembered for another scope (other regions,
    project, endpoint or account: its backups are not the ones watched now), and
    ValueError saying what is wrong for anything else that is not a state this module
    wrote: a poll must never trip over a wrong type in a file.
    """
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    version = data.get("version")
    if not _is_int(version) or version not in (1, STATE_VERSION):
        raise ValueError("it is not a version 1 or %d state" % STATE_VERSION)
    if version == 1 and set(data) == set(STATE_KEYS_V1):
        data = dict(data, policies=None)  # written before groups were watched: their policies are not known
    if set(data) != set(STATE_KEYS):
        raise ValueError("it has the keys %s, expected %s" % (", ".join(sorted(data)), ", ".join(STATE_KEYS)))
    _check_scope(data["scope"], scope)
    if not isinstance(data["primed"], bool):
        raise ValueError("its primed is %r, expected true or false" % (data["primed"],))
    _check_backups(data["backups"])
    _check_stale_groups(data["stale_groups"])
    _check_policies(data["policies"])
    if data["scope"] != scope:
        raise OtherScope("it was written for other settings (%r, now %r)" % (data["scope"], scope))
    return {"version": STATE_VERSION, "scope": scope, "primed": data["primed"],
            "backups": data["backups"], "stale_groups": data["stale_groups"], "policies": data["policies"]}


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


def _check_policies(policies):
    if policies is None:
        return
    shape = "a list of [region, group_id, auto_backup] (auto_backup enable, disable or null)"
    if not isinstance(policies, list):
        raise ValueError("its policies are not %s" % shape)
    for index, entry in enumerate(policies):
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(item, str) for item in entry[:2])
                and entry[2] in ("enable", "disable", None)):
            raise ValueError("its policies are not %s (entry %d is %r)" % (shape, index, entry))


def chronological(backups):
    """Oldest BackupTime first (backups without a time last), then by backup id."""
    return sorted(backups, key=lambda b: (b["backup_time"] is None, b["backup_time"] or 0, b["backup_id"] or ""))


def backup_event(kind, backup, **extra):
    event = {"type": kind}
    event.update(backup)
    event.update(extra)
    return event


def group_status(backups, groups=()):
    """(region, group_id) -> (newest backup or None, newest Success backup or None, group facts or None),
    for each group that a backup names or the group listing holds."""
    status = {}
    for backup in newest_first(backups):  # the first seen of a group is its newest
        if backup["group_id"] is None:
            continue
        key = (backup["region"], backup["group_id"])
        newest, last_success, _group = status.get(key, (backup, None, None))
        if last_success is None and backup["state"] == "Success" and backup["backup_time"] is not None:
            last_success = backup
        status[key] = (newest, last_success, None)
    for group in groups:
        key = (group["region"], group["group_id"])
        newest, last_success, _group = status.get(key, (None, None, None))
        status[key] = (newest, last_success, group)
    return status


def success_age(last_success, now):
    """Seconds since the newest Success backup, or None when there is none."""
    return None if last_success is None else max(0, int(now - last_success["backup_time"]))


def is_stale(last_success, now, stale_after, group=None):
    """A group is stale when its newest Success backup is older than ``stale_after`` seconds, or
    absent; a group without one that was created within ``stale_after`` is not stale yet."""
    age = success_age(last_success, now)
    if age is None:
        created = group["create_time"] if group is not None else None
        return created is None or now - created > stale_after
    return age > stale_after


def group_event(kind, newest, last_success, now, stale_after, group=None):
    """A group event; ``newest`` (its newest backup) or ``group`` (its facts) may be None, not both."""
    known = group if group is not None else newest
    name = None
    if group is not None:
        name = group["group_name"] or group["name"]
    if name is None and newest is not None:
        name = newest["group_name"]
    return {
        "type": kind,
        "region": known["region"],
        "project_id": known["project_id"],
        "group_id": known["group_id"],
        "group_name": name,
        "stale_after": stale_after,
        "last_success": last_success,
        "last_success_age": success_age(last_success, now),
        "group": group,
    }


def _policy_events(state, groups, now, stale_after, status):
    """The policy events of one poll, and the policies to remember ([region, group_id, auto_backup])."""
    known = state["policies"]
    before = dict(((region, group_id), auto) for region, group_id, auto in (known or []))
    events = []
    for group in sorted(groups, key=lambda g: (g["region"], g["group_id"])):
        key = (group["region"], group["group_id"])
        auto = group["auto_backup"]
        if known is None:  # a state from before groups were watched: learn, announce nothing
            continue
        if key in before:
            was = before[key]
            if auto == "disable" and was != "disable":
                kind = "group_auto_backup_disabled"
            elif was == "disable" and auto != "disable":
                kind = "group_auto_backup_enabled"
            else:
                continue
        elif auto == "disable":  # a group first seen with its backups off (at the first poll, only
            kind = "group_auto_backup_disabled"  # announced with announce_existing)
        else:
            continue
        newest, last_success, _group = status.get(key, (None, None, group))
        events.append(group_event(kind, newest, last_success, now, stale_after, group))
    for group in groups:
        before[(group["region"], group["group_id"])] = group["auto_backup"]
    return events, sorted([region, group_id, auto] for (region, group_id), auto in before.items())


def poll_events(state, backups, now, complete=True, stale_after=None, announce_existing=False, groups=None):
    """``(events, new_state)`` for one poll that listed ``backups`` (and ``groups``, when watched).

    ``complete`` is false when a listing of the poll failed: the poll then announces what
    it saw (new backups, changed states, changed policies) but no removal and no change of
    staleness, since what it did not see may still be there; and it forgets nothing.

    The first poll that lists anything (``primed``) announces nothing unless
    ``announce_existing``: what exists at the start is remembered, not news. A poll that
    lists something primes even when another listing failed: a region that always fails
    must not keep the others silent for good (its backups are then news once it answers).

    ``groups`` (None when groups are not watched) are the listed Redis groups: a group
    without any backup is watched for staleness too (stale once it is older than
    ``stale_after`` with no Success backup), and a group whose AutoBackup turns to
    ``disable`` (or back) is announced.

    The events, in order: ``backup_new`` and ``backup_state_changed`` oldest backup first,
    ``backup_removed`` oldest first, then ``group_stale`` and ``group_recovered`` by region
    and group id (only with ``stale_after``, in seconds), then ``group_auto_backup_disabled``
    and ``group_auto_backup_enabled`` by region and group id.
    """
    groups = list(groups or [])
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

    remembered = dict(current)
    gone = [backup for backup_id, backup in previous.items() if backup_id not in current]
    if complete:
        events.extend(backup_event("backup_removed", backup) for backup in chronological(gone))
    else:
        remembered.update((backup["backup_id"], backup) for backup in gone)

    status = group_status(current.values(), groups)
    stale = set(tuple(key) for key in state["stale_groups"])
    if stale_after is None:
        stale = set()
    elif complete:
        now_stale = set()
        for key, (newest, last_success, group) in sorted(status.items()):
            if is_stale(last_success, now, stale_after, group):
                now_stale.add(key)
                if key not in stale:
                    events.append(group_event("group_stale", newest, last_success, now, stale_after, group))
            elif key in stale:
                events.append(group_event("group_recovered", newest, last_success, now, stale_after, group))
        stale = now_stale  # a group no longer listed at all is forgotten

    policies = state["policies"]
    if groups or (policies is None and complete):
        policy_events, policies = _policy_events(state, groups, now, stale_after, status)
        events.extend(policy_events)

    after = {
        "version": STATE_VERSION,
        "scope": state["scope"],
        "primed": state["primed"] or complete or bool(current) or bool(groups),
        "backups": remembered,
        "stale_groups": sorted(list(key) for key in stale),
        "policies": policies,
    }
    if not state["primed"] and not announce_existing:
        events = []
    return events, after
