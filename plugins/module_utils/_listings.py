# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which listings a run makes, and how their results merge: the inventory plugin and the
event source plan the same ones (every region x project x region type x group), so
they see the same backups and groups.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._rows import Facts


def plain(value: Any) -> Any:
    """``value`` as a plain str when it is a str of any kind, else as it is.

    Options read from an inventory file are str subclasses: on ansible-core 2.19 and later
    they carry tags (where in the file they came from, and trust as a template). The
    queries' region and project become facts of every host and rows of the cache; as tagged
    strings they would be trusted templates there, and the cache would hold and decode their
    tags for every backup (on a cache hit of 50,000 backups, most of its time).
    """
    return str.__str__(value) if isinstance(value, str) else value


def build_queries(regions: Iterable[str], project_ids: Optional[Sequence[str]], region_types: Iterable[Optional[str]],
                  group_ids: Optional[Sequence[str]]) -> List[_backups.Query]:
    """One listing per region x project x region type x group (or all groups)."""
    return [
        _backups.Query(plain(region), project_id=plain(project_id), region_type=plain(region_type), group_id=plain(group_id))
        for region, project_id, region_type, group_id in itertools.product(
            regions, project_ids or [None], region_types, group_ids or [None])
    ]


def merge_listings(queries: Iterable[_backups.Query], results: Mapping[_backups.Query, List[Facts]]) -> List[Facts]:
    """All backups of all listings in query order, each backup id once.

    A cross-region backup is listed from its source and from its target region; it
    is still one backup, the first listing that names it wins.
    """
    seen = set()
    merged = []
    for query in queries:
        for backup in results.get(query, ()):
            key = (backup["backup_id"], backup["project_id"])
            if backup["backup_id"] is not None and key in seen:
                continue
            seen.add(key)
            merged.append(backup)
    return merged


def group_queries(regions: Iterable[str], project_ids: Optional[Sequence[str]],
                  group_ids: Optional[Sequence[str]]) -> List[_groups.Query]:
    """The DescribeURedisGroup listings that go with ``build_queries``' backup listings."""
    return [
        _groups.Query(plain(region), project_id=plain(project_id), group_id=plain(group_id))
        for region, project_id, group_id in itertools.product(regions, project_ids or [None], group_ids or [None])
    ]


def merge_groups(queries: Iterable[_groups.Query], results: Mapping[_groups.Query, List[Facts]]) -> List[Facts]:
    """All groups of all listings in query order, each (region, project, group id) once."""
    seen = set()
    merged = []
    for query in queries:
        for group in results.get(query, ()):
            key = (group["region"], group["project_id"], group["group_id"])
            if key not in seen:
                seen.add(key)
                merged.append(group)
    return merged
