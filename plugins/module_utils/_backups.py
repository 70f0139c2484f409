# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DescribeURedisBackup: the query, and API rows shaped as facts (paging: ``_paging``).

Pure helpers (``shape_row``, ``parse_since``, ``filter_backups``...) take and return
plain data so the module, the inventory plugin and the event source share them and
unit tests can exercise them without a server.
"""

from __future__ import annotations

import collections
import datetime
import re
import time

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _paging
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError

ACTION = "DescribeURedisBackup"
REGION_TYPES = ("normal", "source", "target")
STATES = ("Backuping", "Success", "Error", "Expired")
BACKUP_TYPES = ("Manual", "Auto")

PAGE_SIZE = _paging.PAGE_SIZE

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
# The type of every fact, for checking facts read back from a cache or a state file.
FACT_TYPES = dict([(fact, kind) for _field, fact, kind in FIELDS]
                  + [("region", str), ("project_id", str), ("backup_time_iso", str)])


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


def check_facts(facts):
    """Raise ValueError saying what is wrong unless ``facts`` is one backup's facts as
    ``shape_row`` makes them: every fact name, each None or of its type, nothing else.

    Facts read back from an inventory cache or an event source's state file go through
    this, so a file of the right shape with wrong types inside is refused, not trusted.
    """
    if not isinstance(facts, dict):
        raise ValueError("a backup is %s, not a mapping" % type(facts).__name__)
    if set(facts) != set(FACT_NAMES):
        raise ValueError("a backup has the facts %s, expected %s" % (
            ", ".join(sorted(map(str, facts))), ", ".join(sorted(FACT_NAMES))))
    for name, kind in FACT_TYPES.items():
        value = facts[name]
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise ValueError("backup %r has %s=%r, expected %s or null" % (
                facts.get("backup_id"), name, value, "an integer" if kind is int else "a string"))
    if facts["region"] is None:
        raise ValueError("backup %r has no region" % (facts.get("backup_id"),))


# A lone UTF-16 surrogate ("\ud800") is valid JSON but no text: Ansible cannot encode it.
_SURROGATE_RE = re.compile(u"[\ud800-\udfff]")


def _as_text(value):
    if isinstance(value, str):
        if value.isascii():  # O(1) in CPython: the common case costs nothing
            return value
        # Replaced here, once, so the module, inventory and event source show the same string.
        return _SURROGATE_RE.sub(u"\ufffd", value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # an id the API sent as a number is still an id
    raise ValueError


def newest_first(backups):
    """Newest BackupTime first; ties, and rows without a time, in a stable order."""
    return sorted(backups, key=lambda b: (b["backup_time"] is None, -(b["backup_time"] or 0), b["backup_id"] or ""))


BACKUPS = _paging.Resource(action=ACTION, noun="backups", shape=shape_row, key="backup_id", order=newest_first)


def parse_page(data, query, offset):
    """Check a successful answer's shape and turn it into a Page of facts."""
    return _paging.parse_page(BACKUPS, data, query, offset)


def fetch_page(client, query, offset=0, limit=PAGE_SIZE):
    """One page as the API returns it, checked against its own count."""
    return _paging.read_page(client, BACKUPS, query, offset, limit)


def list_backups(client, queries, max_concurrency=16, page_size=PAGE_SIZE, fail_fast=True):
    """Every backup of every query (see ``_paging.list_all``), newest first: ``(results, errors)``."""
    return _paging.list_all(client, BACKUPS, queries, max_concurrency=max_concurrency, page_size=page_size,
                            fail_fast=fail_fast)


# --- client-side filters -------------------------------------------------------

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE_RE = re.compile(r"\s*(?:[0-9]+\s*[smhdw]\s*)+")
_AGE_PART_RE = re.compile(r"([0-9]+)\s*([smhdw])")
# The longest age accepted, 100 years: backups live for days or weeks, so a longer age is a
# typo, and one long enough would overflow the float of the timestamp it gives.
AGE_MAX_DAYS = 36525
AGE_MAX_SECONDS = AGE_MAX_DAYS * 86400
# Significant digits of one number in an age. Ten digits of seconds already exceed
# AGE_MAX_SECONDS, so a longer number is refused unconverted (int() of thousands of digits
# is slow, and refused by Python itself past 4300).
AGE_MAX_DIGITS = 10
# UNIX timestamps accepted by since: 0 to the last second of year 9999, as far as datetime goes.
TIMESTAMP_MAX = 253402300799
TIMESTAMP_MAX_ISO = "9999-12-31T23:59:59Z"
# No age, timestamp or ISO 8601 date is this long; a longer since is refused unparsed.
SINCE_MAX_LENGTH = 64
_TIMESTAMP_RE = re.compile(r"([0-9]+)(?:\.[0-9]+)?")
# Numbers in a form a timestamp does not take: a sign, an exponent, a bare dot, inf, nan.
_NUMBER_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|inf(?:inity)?|nan)",
                        re.IGNORECASE)


def shown_value(value):
    """``value`` for a message: its repr, cut short when it is long."""
    if isinstance(value, int) and value.bit_length() > 128:
        return "an integer of %d bits" % value.bit_length()  # repr() itself fails past 4300 digits
    text = repr(value)
    if len(text) <= 40:
        return text
    if isinstance(value, str):
        cut = repr(value[:32])
        return "%s...%s (%d characters)" % (cut[:-1], cut[-1], len(value))
    return text[:32] + "..."


def parse_age(text, name=None):
    """Seconds in an age such as ``90m``, ``26h``, ``7d`` or ``1d12h``; None if it is not one.

    An age of more than AGE_MAX_DAYS (100 years) is a ValueError that says the limit;
    ``name`` (``since``, ``interval``...) names the option in its message.
    """
    if not isinstance(text, str) or not _AGE_RE.fullmatch(text):
        return None
    seconds = 0
    for number, unit in _AGE_PART_RE.findall(text):
        digits = number.lstrip("0")
        if len(digits) > AGE_MAX_DIGITS:
            seconds = AGE_MAX_SECONDS + 1
            break
        seconds += int(digits or "0") * _AGE_UNITS[unit]
        if seconds > AGE_MAX_SECONDS:
            break
    if seconds > AGE_MAX_SECONDS:
        raise ValueError("%s is out of range: an age is at most %dd (100 years)" % (
            "%s=%s" % (name, shown_value(text)) if name else "the age %s" % shown_value(text), AGE_MAX_DAYS))
    return seconds


def parse_since(value, now=None):
    """A UNIX timestamp from an age (``24h``, ``7d``), a timestamp, or an ISO 8601 date.

    Ages go back at most AGE_MAX_DAYS (100 years), timestamps run from 0 to TIMESTAMP_MAX
    (the end of year 9999), dates are what ``datetime`` takes (years 1 to 9999, UTC when no
    zone is given). Raises ValueError with a message that says so for anything else.
    """
    now = time.time() if now is None else now
    out_of_range = "since=%s is out of range: a UNIX timestamp is from 0 to %d (%s)"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= TIMESTAMP_MAX:  # NaN fails this too
            raise ValueError(out_of_range % (shown_value(value), TIMESTAMP_MAX, TIMESTAMP_MAX_ISO))
        return float(value)
    text = str(value).strip()
    digits = _TIMESTAMP_RE.fullmatch(text)
    if digits:
        # Compared by its digits first: float() would turn thousands of 9s into inf.
        if len(digits.group(1).lstrip("0")) > len(str(TIMESTAMP_MAX)) or float(text) > TIMESTAMP_MAX:
            raise ValueError(out_of_range % (shown_value(value), TIMESTAMP_MAX, TIMESTAMP_MAX_ISO))
        return float(text)
    if len(text) > SINCE_MAX_LENGTH:
        raise ValueError("since=%s is too long: an age, a UNIX timestamp or an ISO 8601 date is at most %d "
                         "characters" % (shown_value(value), SINCE_MAX_LENGTH))
    age = parse_age(text, name="since")
    if age is not None:
        return now - age
    if _NUMBER_RE.fullmatch(text):
        raise ValueError("since=%s is not accepted: a UNIX timestamp is written in plain digits, from 0 to %d "
                         "(%s); an age back from now is written like 24h or 7d"
                         % (shown_value(value), TIMESTAMP_MAX, TIMESTAMP_MAX_ISO))
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when.timestamp()
    except (ValueError, OverflowError):
        raise ValueError("since=%r is not an age such as 24h or 7d, a UNIX timestamp, "
                         "or an ISO 8601 date such as 2026-01-31T12:00:00Z" % (value,)) from None


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
