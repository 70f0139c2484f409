# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure helpers of the uredis_backup inventory plugin: how backups become hosts (one per
backup, or one per Redis group), and how names are checked. They take and return plain
data, so unit tests need no inventory. Which listings to run is ``module_utils/_listings``
(the event source plans the same ones).
"""

from __future__ import annotations

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import printable
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import newest_first

HOSTS_FROM = ("backup", "redis_group")
# Names Ansible gives its implicit localhost, the controller: a backup never takes them.
LOCALHOST_NAMES = ("localhost", "127.0.0.1", "::1")
ALL_GROUP = {"backup": "uredis_backups", "redis_group": "uredis_groups"}
# Facts of a Redis group taken from its newest backup, when the group's own listing has none.
GROUP_FACTS = ("group_id", "group_name", "region", "project_id", "zone", "memory_size", "redis_version")
# Group facts whose names Ansible reserves (a play keyword each): as host variables they would
# draw a warning on every run. The name is group_name's (which takes it when the API sends no
# GroupName); the port goes by another name.
RESERVED_GROUP_FACTS = {"name": None, "port": "redis_port"}
# Every fact of a Redis group host: the group's own (null for a group known only by its
# backups), those from its newest backup, its backups, and whether the group was listed.
GROUP_HOST_FACTS = tuple(RESERVED_GROUP_FACTS.get(n, n) for n in _groups.FACT_NAMES if RESERVED_GROUP_FACTS.get(n, n)) + tuple(
    n for n in GROUP_FACTS if n not in _groups.FACT_NAMES) + (
    "uredis_group_listed", "uredis_backups", "uredis_latest_backup", "uredis_latest_successful_backup")


def redis_groups(backups, groups=()):
    """One entry per Redis group: its facts, its backups newest first, the latest good one.

    ``groups`` are the listed groups (``_groups`` facts): each is an entry, also one with no
    backup at all. A group that only its backups name (not listed, or not asked for) is an
    entry too, with the group's own facts null but those its newest backup gives.
    """
    by_group = {}
    for backup in backups:  # already newest first within each listing
        key = (backup["region"], backup["project_id"], backup["group_id"])
        by_group.setdefault(key, []).append(backup)
    listed = dict(((g["region"], g["project_id"], g["group_id"]), g) for g in groups)
    keys = list(listed) + [key for key in by_group if key not in listed]
    entries = []
    for key in keys:
        members = newest_first(by_group.get(key, []))
        newest = members[0] if members else None
        facts = dict.fromkeys(GROUP_HOST_FACTS)
        if newest is not None:
            facts.update((name, newest[name]) for name in GROUP_FACTS)
        group = listed.get(key)
        if group is not None:
            for name, value in group.items():
                name = RESERVED_GROUP_FACTS.get(name, name)
                if name is not None and (value is not None or name not in GROUP_FACTS):
                    facts[name] = value
            if facts["group_name"] is None:
                facts["group_name"] = group["name"]
        facts["uredis_group_listed"] = group is not None
        facts["uredis_backups"] = members
        facts["uredis_latest_backup"] = newest
        facts["uredis_latest_successful_backup"] = next((b for b in members if b["state"] == "Success"), None)
        entries.append(facts)
    return entries


def describe_host(facts):
    """How a warning names a backup or Redis group: the server's text, made safe to print."""
    if "uredis_backups" in facts:
        text = "Redis group %s in region %s" % (facts["group_id"], facts["region"])
    else:
        text = "backup %s (%r) of group %s in region %s" % (
            facts["backup_id"], facts["backup_name"], facts["group_id"], facts["region"])
    return printable(text)


def usable_name(value):
    """A host name from a hostnames entry's value, or None when it gives none.

    A name with control or bidi characters is no name: it would reach terminals, logs
    and other tools (``--limit``, AWX) raw, and look like another host's name.
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or printable(text) != text:
        return None
    return text


def taken_by(name, existing):
    """Why ``name`` may not be added, or None: a host another source added, or the controller.

    ``existing`` is the inventory's host names before this source was parsed.
    """
    if name in existing:
        return "a host another inventory source already added"
    if name in LOCALHOST_NAMES:
        return "the name of the controller's implicit localhost"
    return None
