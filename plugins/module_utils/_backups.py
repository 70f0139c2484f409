# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""URedis backups: DescribeURedisBackup listings (rows: ``_rows``, paging: ``_paging``),
taking a backup (CreateURedisBackup) and waiting for it, and its download link
(DescribeURedisBackupURL).

Pure helpers (``shape_row``, ``filter_backups``, ``newest_first``...) take and return
plain data so the module, the inventory plugin and the event source share them and
unit tests can exercise them without a server.
"""

from __future__ import annotations

import collections
import datetime
import random
import re
import time
from typing import Any, Collection, Dict, Iterable, List, Optional, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _create
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _paging
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rows
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, Clock, Rand, SigcalcloudError, Sleep
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import TIMESTAMP_MAX, shown_value
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._rows import Facts

ACTION = "DescribeURedisBackup"
REGION_TYPES = ("normal", "source", "target")
STATES = ("Backuping", "Success", "Error", "Expired")
BACKUP_TYPES = ("Manual", "Auto")

PAGE_SIZE = _paging.PAGE_SIZE

# A backup's facts: _rows.BACKUP_FIELDS, with the messages backups have always written.
ROWS = _rows.Table(ACTION, "backup", _rows.BACKUP_FIELDS, key="backup_id", as_sent=True)
shape_row, check_facts = ROWS.shape, ROWS.check
FACT_NAMES, FACT_TYPES = ROWS.fact_names, ROWS.fact_types


class Query(collections.namedtuple("Query", "region project_id region_type group_id backup_id slave_zone")):
    """One DescribeURedisBackup listing: a region (and project) and its filters."""

    __slots__ = ()

    def __new__(cls, region: str, project_id: Optional[str] = None, region_type: Optional[str] = None,
                group_id: Optional[str] = None, backup_id: Optional[str] = None, slave_zone: Optional[str] = None) -> Query:
        # "If RegionType is not provided, GroupId is required": with neither, ask
        # for the documented default, normal backups.
        if not region_type and not group_id:
            region_type = "normal"
        return super(Query, cls).__new__(cls, region, project_id, region_type, group_id, backup_id, slave_zone)

    def params(self, offset: int, limit: int) -> Dict[str, Any]:
        return {
            "ProjectId": self.project_id,
            "RegionType": self.region_type,
            "GroupId": self.group_id,
            "BackupId": self.backup_id,
            "SlaveZone": self.slave_zone,
            "Offset": offset,
            "Limit": limit,
        }

    def mismatch(self, facts: Facts) -> Optional[str]:
        """What in a listed backup's facts shows it is not one this listing asked for, or None.

        Each filter the request sent that a row can show is checked: the group, the backup,
        the region type (a cross-region copy names its source and target regions, an ordinary
        backup no target, and no source but its own region) and the region (a copy's source or
        target, else its Zone's region).
        """
        if self.group_id is not None and facts["group_id"] != self.group_id:
            return "backup %s of group %s" % (shown_value(facts["backup_id"]), shown_value(facts["group_id"]))
        if self.backup_id is not None and facts["backup_id"] != self.backup_id:
            return "backup %s" % shown_value(facts["backup_id"])
        source, target = facts["src_region_name"], facts["dst_region_name"]
        # An ordinary backup has no target region (a source, if it names one, is its own region).
        listed = {"normal": not target and source in (None, "", self.region), "source": source == self.region,
                  "target": target == self.region}
        if self.region_type is not None and not listed[self.region_type]:
            return "backup %s with source region %s and target region %s, not a %s backup of region %s" % (
                shown_value(facts["backup_id"]), shown_value(source), shown_value(target), self.region_type,
                self.region)
        if target and self.region not in (source, target):
            return "backup %s, a copy from region %s to %s" % (
                shown_value(facts["backup_id"]), shown_value(source), shown_value(target))
        if not target and not _rows.in_region(facts["zone"], self.region):
            return "backup %s in zone %s" % (shown_value(facts["backup_id"]), shown_value(facts["zone"]))
        return None

    def describe(self) -> str:
        parts = ["region %s" % self.region]
        if self.project_id:
            parts.append("project %s" % self.project_id)
        if self.region_type and self.region_type != "normal":
            parts.append("region type %s" % self.region_type)
        if self.group_id:
            parts.append("group %s" % self.group_id)
        return ", ".join(parts)


def newest_first(backups: Iterable[Facts]) -> List[Facts]:
    """Newest BackupTime first; ties, and rows without a time, in a stable order."""
    return sorted(backups, key=lambda b: (b["backup_time"] is None, -(b["backup_time"] or 0), b["backup_id"] or ""))


BACKUPS = _paging.Resource(action=ACTION, noun="backups", shape=ROWS.shape, key=ROWS.key, order=newest_first)


def read_page(client: Client, query: Query, offset: int = 0, limit: int = PAGE_SIZE) -> _paging.Page:
    """One page as the API returns it, checked against its own count."""
    return _paging.read_page(client, BACKUPS, query, offset, limit)


def list_backups(client: Client, queries: Iterable[Query], max_concurrency: int = 16, page_size: int = PAGE_SIZE,
                 fail_fast: bool = True) -> _paging.Results:
    """Every backup of every query (see ``_paging.list_all``), newest first: ``(results, errors)``."""
    return _paging.list_all(client, BACKUPS, queries, max_concurrency=max_concurrency, page_size=page_size,
                            fail_fast=fail_fast)


# --- client-side filters -------------------------------------------------------

def filter_backups(backups: Iterable[Facts], states: Optional[Collection[str]] = None,
                   backup_types: Optional[Collection[str]] = None, since: Optional[float] = None) -> List[Facts]:
    """Keep the backups in one of ``states``, of one of ``backup_types``, newer than ``since``."""
    kept = []
    for backup in backups:
        if states and backup["state"] not in states:
            continue
        if backup_types and backup["backup_type"] not in backup_types:
            continue
        if since is not None and (backup["backup_time"] is None or backup["backup_time"] < since):
            continue
        kept.append(backup)
    return kept


# --- taking a backup, and waiting for it ---------------------------------------------

CREATE_ACTION = "CreateURedisBackup"
URL_ACTION = "DescribeURedisBackupURL"
URL_RET_CODE = 20202
# What the API takes as a BackupName: 6 to 63 letters, digits, "-" and "_".
BACKUP_NAME_RE = re.compile(r"[A-Za-z0-9_-]{6,63}")
QUOTA_RET_CODE = 20208
# States a backup stays in once it has left Backuping.
FAILED_STATES = ("Error", "Expired")
# While waiting, a backup that a listing does not hold this many times in a row is gone.
MISSING_POLLS = 3
# Polls slow down by this factor up to POLL_CAP seconds (or poll_interval, if longer).
POLL_GROWTH = 1.5
POLL_CAP = 60.0


def check_backup_name(name: Optional[str]) -> Optional[str]:
    """Why ``name`` cannot be a BackupName, or None."""
    if BACKUP_NAME_RE.fullmatch(name or ""):
        return None
    return "backup_name=%s is not accepted: use 6 to 63 characters, letters, digits, - and _" % shown_value(name)


def generated_backup_name(now: Optional[float] = None) -> str:
    """``ansible-YYYYMMDD-HHMMSS`` (UTC): a name that sorts by time and says who took it."""
    now = time.time() if now is None else now
    return datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc).strftime("ansible-%Y%m%d-%H%M%S")


def group_backups(client: Client, region: str, project_id: Optional[str], group_id: str, backup_id: Optional[str] = None,
                  max_concurrency: int = 16) -> List[Facts]:
    """Every backup of one group (or the one ``backup_id``), newest first."""
    query = Query(region, project_id, group_id=group_id, backup_id=backup_id)
    results, _errors = list_backups(client, [query], max_concurrency=max_concurrency)
    return results[query]


def get_backup(client: Client, region: str, project_id: Optional[str], group_id: str, backup_id: str) -> Optional[Facts]:
    """One backup's facts, or None when the group's listing does not hold it."""
    backups = group_backups(client, region, project_id, group_id, backup_id=backup_id, max_concurrency=1)
    return backups[0] if backups else None  # the paginator let no other backup through


def fresh_backup(backups: Iterable[Facts], since: float) -> Optional[Facts]:
    """The newest backup that is Success, or still Backuping, and taken at or after ``since``."""
    for backup in newest_first(backups):
        if backup["state"] in ("Success", "Backuping") and backup["backup_time"] is not None \
                and backup["backup_time"] >= since:
            return backup
    return None


def named_backup(backups: Iterable[Facts], name: str) -> Optional[Facts]:
    """The newest backup called ``name`` that is Success or still Backuping (a failed one does not count)."""
    for backup in newest_first(backups):
        if backup["backup_name"] == name and backup["state"] in ("Success", "Backuping"):
            return backup
    return None


class BackupFailed(SigcalcloudError):
    """A backup ended in Error or Expired, disappeared, or did not finish in time.

    ``backup`` holds its facts as last listed, for the task's result.
    """

    def __init__(self, message: str, backup: Optional[Facts] = None, **kwargs: Any) -> None:
        super(BackupFailed, self).__init__(message, **kwargs)
        self.backup = backup


def create_backup(client: Client, region: str, project_id: Optional[str], group_id: str, name: str,
                  zone: Optional[str] = None, slave_zone: Optional[str] = None, known_ids: Iterable[str] = (),
                  wait_timeout: float = _create.LOOKUP_WINDOW, sleep: Sleep = time.sleep, clock: Clock = time.monotonic,
                  rand: Rand = random.random) -> Tuple[str, int]:
    """Send CreateURedisBackup and return ``(backup_id, sends)``; never two backups for one call.

    The rule is ``_create.create_once``'s: a create whose answer may have been lost is never sent
    again; it is looked up (a backup of the group called ``name`` that is not one of ``known_ids``,
    the group's backups before the send) on a schedule, for up to a minute or ``wait_timeout``.
    A refusal (a request error, RetCode 20208, backup quota reached) is raised at once; the
    gateway's "try again" is sent again.
    """
    known_ids = set(known_ids)
    params = {"GroupId": group_id, "BackupName": name, "Zone": zone, "SlaveZone": slave_zone}

    def answered_id(answer):
        backup_id = answer.get("BackupId")
        return _rows.as_text(backup_id) if isinstance(backup_id, str) and backup_id.strip() else None

    def find():
        for backup in group_backups(client, region, project_id, group_id):
            if backup["backup_name"] == name and backup["backup_id"] not in known_ids:
                return backup["backup_id"]
        return None

    try:
        return _create.create_once(client, CREATE_ACTION, params, region, answered_id, find,
                                   "backup %s of group %s" % (name, group_id), clock() + wait_timeout,
                                   clock=clock, sleep=sleep, rand=rand)
    except SigcalcloudError as error:
        if error.ret_code == QUOTA_RET_CODE:
            error.message = ("group %s has as many manual backups as it may keep (backup count over the "
                             "limit): %s" % (group_id, error.message))
        raise


def listed_backup(client: Client, region: str, project_id: Optional[str], group_id: str, backup_id: str,
                  wait_timeout: float, sleep: Sleep = time.sleep, clock: Clock = time.monotonic) -> Optional[Facts]:
    """A new backup's facts once the group's listing holds it, looked up on ``_create``'s schedule
    for up to ``wait_timeout`` seconds (a listing may show a new backup only some calls later); None
    when it never did."""
    found, _lookups, _seconds = _create.look_up(
        lambda: get_backup(client, region, project_id, group_id, backup_id), wait_timeout, clock=clock, sleep=sleep)
    return found


def wait_for_backup(client: Client, backup: Facts, timeout: float, poll_interval: float, clock: Clock = time.monotonic,
                    sleep: Sleep = time.sleep, rand: Rand = random.random, started: Optional[float] = None) -> Facts:
    """Poll one backup (its facts, as listed) until it is Success; return its facts then.

    Polls start ``poll_interval`` apart and slow down by POLL_GROWTH up to POLL_CAP seconds,
    each with +-10% jitter, never sleeping past the deadline. Raises BackupFailed when the
    backup ends in Error or Expired, disappears, or is not done within ``timeout`` seconds of
    ``started`` (a ``clock()`` time: the task's start; default now).
    """
    start = clock() if started is None else started
    delay = float(poll_interval)
    cap = max(POLL_CAP, delay)
    missing = 0
    last = backup
    region, project_id, group_id, backup_id = (backup["region"], backup["project_id"], backup["group_id"],
                                               backup["backup_id"])
    described = "backup %s (%s) of group %s" % (backup_id, backup["backup_name"], group_id)
    while True:
        if backup is not None:
            if backup["state"] == "Success":
                return backup
            if backup["state"] in FAILED_STATES:
                raise BackupFailed("%s ended in state %s" % (described, backup["state"]), backup=backup,
                                   action=CREATE_ACTION, region=region)
        elapsed = clock() - start
        if elapsed >= timeout:
            raise BackupFailed("%s was still %s after waiting %ds (wait_timeout=%s)" % (
                described, backup["state"] if backup is not None else "not listed", elapsed, timeout),
                backup=last, action=CREATE_ACTION, region=region)
        sleep(max(0.0, min(delay * (0.9 + 0.2 * rand()), timeout - elapsed)))
        delay = min(delay * POLL_GROWTH, cap)
        backup = get_backup(client, region, project_id, group_id, backup_id)
        missing = missing + 1 if backup is None else 0
        last = backup or last
        if missing >= MISSING_POLLS:
            raise BackupFailed("%s is no longer listed (%d polls in a row)" % (described, missing), backup=last,
                               action=CREATE_ACTION, region=region)


# --- the download link -------------------------------------------------------------------

_LINK_RE = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*")
_EXPIRES_RE = re.compile(r"(?i)[?&]expires=([0-9]{1,12})(?:&|#|$)")


def withhold_links(text: str) -> str:
    """``text`` with every URL in it replaced: a download link gives anyone the data."""
    return _LINK_RE.sub("<link withheld>", text)


def backup_url(client: Client, region: str, backup_id: str, group_id: Optional[str] = None, zone: Optional[str] = None,
               slave_zone: Optional[str] = None, region_flag: Optional[bool] = None,
               cross_region: Optional[bool] = None) -> Dict[str, Any]:
    """``{"backup_path", "expires", "expires_at"}`` for a backup's signed download link.

    ``BackupPath`` is the link; the deprecated ``BackupURL`` is used when it is missing.
    Errors never hold the link, nor any other URL of the answer.
    """
    params = {"BackupId": backup_id, "GroupId": group_id, "Zone": zone, "SlaveZone": slave_zone,
              "RegionFlag": region_flag, "IsCrossRegion": cross_region}
    try:
        # 20202 is how the API says the backup has no link (it is not Success): an answer, not a
        # hiccup, and a backup's state does not change within a retry's seconds.
        data = client.call(URL_ACTION, params, region=region, final_ret_codes=(URL_RET_CODE,))
    except SigcalcloudError as error:
        error.message = withhold_links(error.message)
        raise
    link = data.get("BackupPath") or data.get("BackupURL")
    if not isinstance(link, str) or not re.match(r"(?i)https?://[^\s]+\Z", link) or _UNSAFE_LINK_RE.search(link):
        what = "no BackupPath or BackupURL" if not link else "a BackupPath that is not an http(s) URL"
        raise SigcalcloudError("unexpected answer for backup %s: it has %s" % (backup_id, what),
                               action=URL_ACTION, region=region)
    expires = _EXPIRES_RE.search(link)
    expires = int(expires.group(1)) if expires else None
    if expires is not None and expires > TIMESTAMP_MAX:
        expires = None
    return {"backup_path": link, "expires": expires, "expires_at": _rows.iso_utc(expires) if expires is not None else None}


# Control and format characters have no place in a link that is handed to a download tool.
_UNSAFE_LINK_RE = re.compile(u"[\x00-\x20\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
