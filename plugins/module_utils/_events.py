# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What changed between two polls of URedis backups: the events of the
``uredis_backup_events`` Event-Driven Ansible source, as pure functions.

``poll_events(state, backups, now, ...)`` takes what was remembered and the backups
one poll listed (facts exactly as ``_backups.shape_row`` makes them) and returns the
events to send and the state to remember. No I/O and no clock: the source reads the
API and the state file, and passes ``now``. The state is plain JSON-able data.
"""

from __future__ import annotations

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import check_facts, newest_first

STATE_VERSION = 1
STATE_KEYS = ("version", "scope", "primed", "backups", "stale_groups")
BACKUP_EVENTS = ("backup_new", "backup_state_changed", "backup_removed")
GROUP_EVENTS = ("group_stale", "group_recovered")


class OtherScope(ValueError):
    """A sound state, but remembered for other settings: not used, yet not damaged either."""


def new_state(scope):
    """The state before any poll. ``scope`` says what is watched (it is kept as is)."""
    return {"version": STATE_VERSION, "scope": scope, "primed": False, "backups": {}, "stale_groups": []}


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
    if not _is_int(version) or version != STATE_VERSION:
        raise ValueError("it is not a version %d state" % STATE_VERSION)
    if set(data) != set(STATE_KEYS):
        raise ValueError("it has the keys %s, expected %s" % (", ".join(sorted(data)), ", ".join(STATE_KEYS)))
    _check_scope(data["scope"], scope)
    if not isinstance(data["primed"], bool):
        raise ValueError("its primed is %r, expected true or false" % (data["primed"],))
    _check_backups(data["backups"])
    _check_stale_groups(data["stale_groups"])
    if data["scope"] != scope:
        raise OtherScope("it was written for other settings (%r, now %r)" % (data["scope"], scope))
    return {"version": STATE_VERSION, "scope": scope, "primed": data["primed"],
            "backups": data["backups"], "stale_groups": data["stale_groups"]}


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


def chronological(backups):
    """Oldest BackupTime first (backups without a time last), then by backup id."""
    return sorted(backups, key=lambda b: (b["backup_time"] is None, b["backup_time"] or 0, b["backup_id"] or ""))


def backup_event(kind, backup, **extra):
    event = {"type": kind}
    event.update(backup)
    event.update(extra)
    return event


def group_status(backups):
    """(region, group_id) -> (newest backup, newest Success backup or None), for each group listed."""
    status = {}
    for backup in newest_first(backups):  # the first seen of a group is its newest
        if backup["group_id"] is None:
            continue
        key = (backup["region"], backup["group_id"])
        newest, last_success = status.get(key, (backup, None))
        if last_success is None and backup["state"] == "Success" and backup["backup_time"] is not None:
            last_success = backup
        status[key] = (newest, last_success)
    return status


def success_age(last_success, now):
    """Seconds since the newest Success backup, or None when there is none."""
    return None if last_success is None else max(0, int(now - last_success["backup_time"]))


def is_stale(last_success, now, stale_after):
    """A group is stale when its newest Success backup is older than ``stale_after`` seconds, or absent."""
    age = success_age(last_success, now)
    return age is None or age > stale_after


def group_event(kind, newest, last_success, now, stale_after):
    return {
        "type": kind,
        "region": newest["region"],
        "project_id": newest["project_id"],
        "group_id": newest["group_id"],
        "group_name": newest["group_name"],
        "stale_after": stale_after,
        "last_success": last_success,
        "last_success_age": success_age(last_success, now),
    }


def poll_events(state, backups, now, complete=True, stale_after=None, announce_existing=False):
    """``(events, new_state)`` for one poll that listed ``backups``.

    ``complete`` is false when a listing of the poll failed: the poll then announces what
    it saw (new backups, changed states) but no removal and no change of staleness, since
    what it did not see may still be there; and it forgets nothing.

    The first poll that lists anything (``primed``) announces nothing unless
    ``announce_existing``: what exists at the start is remembered, not news. A poll that
    lists something primes even when another listing failed: a region that always fails
    must not keep the others silent for good (its backups are then news once it answers).

    The events, in order: ``backup_new`` and ``backup_state_changed`` oldest backup first,
    ``backup_removed`` oldest first, then ``group_stale`` and ``group_recovered`` by region
    and group id (only with ``stale_after``, in seconds).
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

    remembered = dict(current)
    gone = [backup for backup_id, backup in previous.items() if backup_id not in current]
    if complete:
        events.extend(backup_event("backup_removed", backup) for backup in chronological(gone))
    else:
        remembered.update((backup["backup_id"], backup) for backup in gone)

    stale = set(tuple(key) for key in state["stale_groups"])
    if stale_after is None:
        stale = set()
    elif complete:
        now_stale = set()
        for key, (newest, last_success) in sorted(group_status(current.values()).items()):
            if is_stale(last_success, now, stale_after):
                now_stale.add(key)
                if key not in stale:
                    events.append(group_event("group_stale", newest, last_success, now, stale_after))
            elif key in stale:
                events.append(group_event("group_recovered", newest, last_success, now, stale_after))
        stale = now_stale  # a group no longer listed at all is forgotten

    after = {
        "version": STATE_VERSION,
        "scope": state["scope"],
        "primed": state["primed"] or complete or bool(current),
        "backups": remembered,
        "stale_groups": sorted(list(key) for key in stale),
    }
    if not state["primed"] and not announce_existing:
        events = []
    return events, after
