# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DescribeURedisBackup: the query, concurrent paging, and API rows shaped as facts.

Pure helpers (``shape_row``, ``parse_since``, ``filter_backups``...) take and return
plain data so the module, the inventory plugin and the event source share them and
unit tests can exercise them without a server.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import re
import time

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError

ACTION = "DescribeURedisBackup"
REGION_TYPES = ("normal", "source", "target")
STATES = ("Backuping", "Success", "Error", "Expired")
BACKUP_TYPES = ("Manual", "Auto")

# The API's default page is 10 rows; we ask for 100 and advance by what actually
# came back, since the server may cap a page below what was asked.
PAGE_SIZE = 100
# A listing whose pages disagree (rows added or removed while it was read) is
# read again from the start, at most this many times in all.
LISTING_ATTEMPTS = 3

# (API field, fact name, type) for every field of URedisBackupSet.
FIELDS = (
    ("BackupId", "backup_id", str),
    ("BackupName", "backup_name", str),
    ("BackupTime", "backup_time", int),
    ("BackupSize", "backup_size", int),
    ("BackupType", "backup_type", str),
    ("State", "state", str),
    ("GroupId", "group_id", str),
    ("GroupName", "group_name", str),
    ("Zone", "zone", str),
    ("SrcRegionName", "src_region_name", str),
    ("DstRegionName", "dst_region_name", str),
    ("MemorySize", "memory_size", int),
    ("RedisVersion", "redis_version", str),
)
FACT_NAMES = tuple(fact for _field, fact, _type in FIELDS) + ("region", "project_id", "backup_time_iso")


class Query(collections.namedtuple("Query", "region project_id region_type group_id backup_id slave_zone")):
    """One DescribeURedisBackup listing: a region (and project) and its filters."""

    __slots__ = ()

    def __new__(cls, region, project_id=None, region_type=None, group_id=None, backup_id=None, slave_zone=None):
        # "If RegionType is not provided, GroupId is required": with neither, ask
        # for the documented default, normal backups.
        if not region_type and not group_id:
            region_type = "normal"
        return super(Query, cls).__new__(cls, region, project_id, region_type, group_id, backup_id, slave_zone)

    def params(self, offset, limit):
        return {
            "ProjectId": self.project_id,
            "RegionType": self.region_type,
            "GroupId": self.group_id,
            "BackupId": self.backup_id,
            "SlaveZone": self.slave_zone,
            "Offset": offset,
            "Limit": limit,
        }

    def describe(self):
        parts = ["region %s" % self.region]
        if self.project_id:
            parts.append("project %s" % self.project_id)
        if self.region_type and self.region_type != "normal":
            parts.append("region type %s" % self.region_type)
        if self.group_id:
            parts.append("group %s" % self.group_id)
        return ", ".join(parts)


Page = collections.namedtuple("Page", "offset total rows")


def _field_error(query, message):
    return SigcalcloudError("unexpected answer for %s: %s" % (query.describe(), message),
                            action=ACTION, region=query.region)


def _as_int(value):
    """An integer field, also when the API sends it as a string of digits."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^-?[0-9]+$", value.strip()):
        return int(value)
    raise ValueError


def iso_utc(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shape_row(row, query):
    """One URedisBackupSet row as snake_case facts; absent fields are None.

    Raises SigcalcloudError naming the field when a value has the wrong type.
    """
    if not isinstance(row, dict):
        raise _field_error(query, "a DataSet entry is %s, not an object" % type(row).__name__)
    facts = {}
    for field, fact, kind in FIELDS:
        value = row.get(field)
        if value is not None:
            try:
                value = _as_int(value) if kind is int else _as_text(value)
            except ValueError:
                raise _field_error(query, "backup %s has %s=%r, expected %s" % (
                    row.get("BackupId", "(no BackupId)"), field, value, "an integer" if kind is int else "a string"))
        facts[fact] = value
    facts["region"] = query.region
    facts["project_id"] = query.project_id
    try:
        facts["backup_time_iso"] = iso_utc(facts["backup_time"]) if facts["backup_time"] is not None else None
    except (ValueError, OverflowError, OSError):
        raise _field_error(query, "backup %s has BackupTime=%r, out of range for a date" % (
            facts["backup_id"], facts["backup_time"]))
    return facts


def _as_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # an id the API sent as a number is still an id
    raise ValueError


def parse_page(data, query, offset):
    """Check a successful answer's shape and turn it into a Page of facts."""
    dataset = data.get("DataSet", [])
    if dataset is None:
        dataset = []
    if not isinstance(dataset, list):
        raise _field_error(query, "DataSet is %s, expected a list" % type(dataset).__name__)
    total = data.get("TotalCount")
    if total is None:
        total = offset + len(dataset)
    else:
        try:
            total = _as_int(total)
        except ValueError:
            raise _field_error(query, "TotalCount=%r, expected an integer" % (total,))
    return Page(offset, total, [shape_row(row, query) for row in dataset])


def fetch_page(client, query, offset=0, limit=PAGE_SIZE):
    data = client.call(ACTION, query.params(offset, limit), region=query.region)
    return parse_page(data, query, offset)


def newest_first(backups):
    """Newest BackupTime first; ties, and rows without a time, in a stable order."""
    return sorted(backups, key=lambda b: (b["backup_time"] is None, -(b["backup_time"] or 0), b["backup_id"] or ""))


class _Listing:
    """The pages of one query read so far, and whether they add up."""

    def __init__(self, query):
        self.query = query
        self.attempt = 1
        self.reset()

    def reset(self):
        self.pages = []
        self.outstanding = 0

    def consistent(self):
        """All pages saw the same TotalCount and together hold that many distinct backups."""
        totals = set(page.total for page in self.pages)
        return len(totals) == 1 and len(self.unique()) == totals.pop()

    def unique(self):
        seen = {}
        anonymous = []
        for page in sorted(self.pages, key=lambda p: p.offset):
            for row in page.rows:
                if row["backup_id"] is None:
                    anonymous.append(row)
                else:
                    seen.setdefault(row["backup_id"], row)
        return list(seen.values()) + anonymous

    def describe_change(self):
        totals = [page.total for page in sorted(self.pages, key=lambda p: p.offset)]
        return "TotalCount went %s while %d distinct backups were read" % (
            " -> ".join(str(t) for t in _dedupe_runs(totals)), len(self.unique()))


def _dedupe_runs(values):
    out = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


def list_backups(client, queries, max_concurrency=16, page_size=PAGE_SIZE, fail_fast=True):
    """Every backup of every query, reading pages concurrently.

    The first page of each query tells how many rows there are and how many the
    server puts on a page; the remaining pages are then fetched by a pool of at most
    ``max_concurrency`` threads, shared by all queries. Returns ``(results, errors)``:
    ``results`` maps each query to its backups (de-duplicated by backup id, newest
    first); ``errors`` maps each failed query to its SigcalcloudError. With
    ``fail_fast`` the first error is raised instead.
    """
    listings = dict((query, _Listing(query)) for query in queries)
    results = {}
    errors = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
        pending = {}

        def submit(listing, offset):
            listing.outstanding += 1
            future = pool.submit(fetch_page, client, listing.query, offset, page_size)
            pending[future] = listing

        for listing in listings.values():
            submit(listing, 0)
        while pending:
            done, _not_done = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                listing = pending.pop(future)
                listing.outstanding -= 1
                if listing.query in errors:
                    continue
                try:
                    page = future.result()
                except SigcalcloudError as error:
                    if fail_fast:
                        _cancel(pending)
                        raise
                    errors[listing.query] = error
                    continue
                listing.pages.append(page)
                if page.offset == 0 and page.rows:
                    # Advance by what came back: the server's page size, whatever we asked.
                    for offset in range(len(page.rows), page.total, len(page.rows)):
                        submit(listing, offset)
                if listing.outstanding:
                    continue
                if listing.consistent() or (page.offset == 0 and not page.rows):
                    results[listing.query] = newest_first(listing.unique())
                elif listing.attempt < LISTING_ATTEMPTS:
                    listing.attempt += 1
                    listing.reset()
                    submit(listing, 0)
                else:
                    error = SigcalcloudError(
                        "the backups of %s kept changing while they were read (%s); tried %d times, "
                        "try again" % (listing.query.describe(), listing.describe_change(), listing.attempt),
                        action=ACTION, region=listing.query.region)
                    if fail_fast:
                        _cancel(pending)
                        raise error
                    errors[listing.query] = error
    return results, errors


def _cancel(pending):
    for future in pending:
        future.cancel()


# --- client-side filters -------------------------------------------------------

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE_RE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")


def parse_age(text):
    """Seconds in an age such as ``90m``, ``26h``, ``7d`` or ``1d12h``; None if it is not one."""
    if not isinstance(text, str) or not _AGE_RE.match(text):
        return None
    return sum(int(n) * _AGE_UNITS[unit] for n, unit in re.findall(r"(\d+)\s*([smhdw])", text))


def parse_since(value, now=None):
    """A UNIX timestamp from an age (``24h``, ``7d``), a timestamp, or an ISO 8601 date.

    Raises ValueError with a message for anything else.
    """
    now = time.time() if now is None else now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    age = parse_age(text)
    if age is not None:
        return now - age
    if re.match(r"^[0-9]+(\.[0-9]+)?$", text):
        return float(text)
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("since=%r is not an age such as 24h or 7d, a UNIX timestamp, "
                         "or an ISO 8601 date such as 2026-01-31T12:00:00Z" % (value,))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def filter_backups(backups, states=None, backup_types=None, since=None):
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
