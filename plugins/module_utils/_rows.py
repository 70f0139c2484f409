# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rows: what the API lists, as facts, for every resource.

A field table says, for each field of a resource's DataSet rows, the fact it becomes and
its kind (the fact's type and the converter of a value not exactly of that type). A
``Table`` binds a field table to its action and the fact that names a row; its ``shape``
makes a row's facts (the fields as snake_case facts, ``region``, ``project_id``, and an
``<fact>_iso`` twin for every time) and its ``check`` refuses facts read back from a
cache or a state file that ``shape`` would not have made. A new resource is a field table
here, a ``Table`` and a ``_paging.Resource`` (its ``shape`` is the table's).

The server is not trusted: a value of the wrong type is an error naming the row and the
field, and text is handed on as text only (a lone UTF-16 surrogate becomes U+FFFD).
"""

from __future__ import annotations

import collections
import datetime
import re
from typing import Any, Dict, Optional, Sequence, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import shown_value

# One row's facts, as Table.shape makes them: fact name -> None, str, int or bool.
Facts = Dict[str, Any]

# --- value converters: a value the API sent, or ValueError --------------------------------

# A lone UTF-16 surrogate ("\ud800") is valid JSON but no text: Ansible cannot encode it.
_SURROGATE_RE = re.compile(u"[\ud800-\udfff]")


def as_int(value: Any) -> int:
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


def as_text(value: Any) -> str:
    """A text field; an id the API sent as a number is still an id."""
    if isinstance(value, str):
        if value.isascii():  # O(1) in CPython: the common case costs nothing
            return value
        # Replaced here, once, so the module, inventory and event source show the same string.
        return _SURROGATE_RE.sub(u"\ufffd", value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError


def as_bool(value: Any) -> bool:
    """A boolean field, also when the API sends ``"true"``/``"false"`` or 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError


def iso_utc(timestamp: float) -> str:
    """A UNIX time as ISO 8601 in UTC (``2018-06-25T07:39:23Z``); ValueError, OverflowError or
    OSError past what a date can hold."""
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_region(zone: Optional[str], region: str) -> bool:
    """Whether a Zone (``cn-bj2-02``) lies in ``region`` (``cn-bj2``); a row without one says nothing."""
    return not zone or zone == region or zone.startswith(region + "-")


# --- kinds: a fact's type, its converter, and whether it is a time -------------------------

Kind = collections.namedtuple("Kind", "type convert what time never")
Kind.__doc__ = """What a field's fact is.

``type`` is the fact's Python type (a value of exactly that type, ASCII if text, is taken as
it is), ``convert`` takes any other value or raises ValueError, ``what`` names the type in
messages. A ``time`` (a UNIX time) also gets an ISO 8601 twin, ``<fact>_iso``; with ``never``,
0 is how the API says "never" and its twin is null.
"""

TEXT = Kind(str, as_text, "a string", False, False)
INT = Kind(int, as_int, "an integer", False, False)
BOOL = Kind(bool, as_bool, "a boolean", False, False)
# A UNIX time; 0 is 1970-01-01T00:00:00Z.
TIMESTAMP = Kind(int, as_int, "an integer", True, False)
# A UNIX time where 0 means never (ExpireTime of a pay-as-you-go group): no date for it.
TIMESTAMP_OR_NEVER = Kind(int, as_int, "an integer", True, True)

# --- field tables: (API field, fact name, kind) ----------------------------------------------

# Every field of URedisBackupSet (DescribeURedisBackup).
BACKUP_FIELDS = (
    ("BackupId", "backup_id", TEXT),
    ("BackupName", "backup_name", TEXT),
    ("BackupTime", "backup_time", TIMESTAMP),
    ("BackupSize", "backup_size", INT),
    ("BackupType", "backup_type", TEXT),
    ("State", "state", TEXT),
    ("GroupId", "group_id", TEXT),
    ("GroupName", "group_name", TEXT),
    ("Zone", "zone", TEXT),
    ("SrcRegionName", "src_region_name", TEXT),
    ("DstRegionName", "dst_region_name", TEXT),
    ("MemorySize", "memory_size", INT),
    ("RedisVersion", "redis_version", TEXT),
)

# Every field of the official SDK's URedisGroupSet (DescribeURedisGroup).
GROUP_FIELDS = (
    ("GroupId", "group_id", TEXT),
    ("Name", "name", TEXT),
    ("GroupName", "group_name", TEXT),
    ("Zone", "zone", TEXT),
    ("SlaveZone", "slave_zone", TEXT),
    ("State", "state", TEXT),
    ("Version", "version", TEXT),
    ("Size", "size", INT),
    ("UsedSize", "used_size", INT),
    ("MemorySize", "memory_size", INT),
    ("AutoBackup", "auto_backup", TEXT),
    ("BackupTime", "backup_time", INT),  # the hour of the automatic backup, not a time
    ("RewriteTime", "rewrite_time", INT),
    ("ConfigId", "config_id", TEXT),
    ("Protocol", "protocol", TEXT),
    ("Role", "role", TEXT),
    ("Type", "type", TEXT),
    ("HighAvailability", "high_availability", TEXT),
    ("IsHighPerformance", "is_high_performance", BOOL),
    ("ChargeType", "charge_type", TEXT),
    ("VirtualIP", "virtual_ip", TEXT),
    ("Port", "port", INT),
    ("VPCId", "vpc_id", TEXT),
    ("SubnetId", "subnet_id", TEXT),
    ("Tag", "tag", TEXT),
    ("SecPolicy", "sec_policy", INT),
    ("SSLEnable", "ssl_enable", BOOL),
    ("SSLVersion", "ssl_version", TEXT),
    ("SSLCertExpireTime", "ssl_cert_expire_time", INT),
    ("CreateTime", "create_time", TIMESTAMP_OR_NEVER),
    ("ModifyTime", "modify_time", TIMESTAMP_OR_NEVER),
    ("ExpireTime", "expire_time", TIMESTAMP_OR_NEVER),
)

# Every field of URedisConfigSet (DescribeURedisConfig): a Redis configuration of a zone.
CONFIG_FIELDS = (
    ("ConfigId", "config_id", TEXT),
    ("Name", "name", TEXT),
    ("Description", "description", TEXT),
    ("Version", "version", TEXT),
    ("Zone", "zone", TEXT),
    ("RegionFlag", "region_flag", BOOL),
    ("State", "state", TEXT),
    ("IsModify", "is_modify", TEXT),
    ("CreateTime", "create_time", TIMESTAMP_OR_NEVER),
    ("ModifyTime", "modify_time", TIMESTAMP_OR_NEVER),
)

# What every row's facts hold besides its fields: where it was listed.
WHERE_FACTS = ("region", "project_id")


class Table:
    """One resource's rows: a field table bound to its action and the fact that names a row.

    ``noun`` names one row in messages ("backup"); ``required`` are the facts ``check`` refuses
    as null. ``as_sent`` keeps the way backups' messages have always read, as users, the guides
    and tests quote them: the id as sent, values by repr, a bad time by its API field, "backup X
    has no region". Without it (the way for a new resource) ids and values are shown cut short
    (``shown_value``), a bad time by its fact, and a missing fact as "a group has no region or
    no group_id".
    """

    __slots__ = ("action", "noun", "fields", "key", "id_field", "required", "as_sent", "fact_types",
                 "fact_names", "_names", "_fields", "_times", "_checks")

    def __init__(self, action: str, noun: str, fields: Sequence[Tuple[str, str, Kind]], key: str,
                 required: Sequence[str] = ("region",), as_sent: bool = False) -> None:
        self.action = action
        self.noun = noun
        self.fields = tuple(fields)
        self.key = key
        self.id_field = [field for field, fact, _kind in self.fields if fact == key][0]
        self.required = tuple(required)
        self.as_sent = as_sent
        # What shape runs for every field of every row: no attribute lookup in the loop.
        self._fields = tuple((field, fact, kind.type, kind.convert, kind.what) for field, fact, kind in self.fields)
        self._times = tuple((field, fact, "%s_iso" % fact, kind.never) for field, fact, kind in self.fields if kind.time)
        checks = [(fact, kind.type, kind.what) for _field, fact, kind in self.fields]
        checks += [(fact, str, TEXT.what) for fact in WHERE_FACTS]
        checks += [(twin, str, TEXT.what) for _field, _fact, twin, _never in self._times]
        self._checks = tuple(checks)
        # The type of every fact, for checking facts read back from a cache or a state file.
        self.fact_types = dict((fact, kind) for fact, kind, _what in checks)
        self.fact_names = tuple(self.fact_types)
        self._names = frozenset(self.fact_names)

    def _show_id(self, value: Any) -> str:
        return str(value) if self.as_sent else shown_value(value)

    def _show_value(self, value: Any) -> str:
        return repr(value) if self.as_sent else shown_value(value)

    def _error(self, query: Any, message: str) -> SigcalcloudError:
        return SigcalcloudError("unexpected answer for %s: %s" % (query.describe(), message),
                                action=self.action, region=query.region)

    def shape(self, row: Any, query: Any) -> Facts:
        """One DataSet row as snake_case facts; absent fields are None.

        ``query`` (the listing's) gives ``region`` and ``project_id``. Raises SigcalcloudError
        naming the row and the field when a value has the wrong type or a time is no date.
        """
        if not isinstance(row, dict):
            raise self._error(query, "a DataSet entry is %s, not an object" % type(row).__name__)
        facts = {}
        get = row.get
        for field, fact, exact, convert, what in self._fields:
            value = get(field)
            # This runs for every field of every row (100,000 backups are 1.3 million fields): the
            # values a well-behaved server sends (None, an int, a bool, ASCII text) are taken as
            # they are here, without a call; anything else is converted or refused.
            # The exact type on purpose: a bool is an int, and a str subclass is not plain text.
            if value is not None and not (type(value) is exact  # pylint: disable=unidiomatic-typecheck
                                          and (exact is not str or value.isascii())):
                try:
                    value = convert(value)
                except ValueError:
                    raise self._error(query, "%s %s has %s=%s, expected %s" % (
                        self.noun, self._show_id(get(self.id_field, "(no %s)" % self.id_field)), field,
                        self._show_value(value), what))
            facts[fact] = value
        facts["region"] = query.region
        facts["project_id"] = query.project_id
        for field, fact, twin, never in self._times:
            value = facts[fact]
            if value is None or (never and not value):
                facts[twin] = None
                continue
            try:
                facts[twin] = iso_utc(value)
            except (ValueError, OverflowError, OSError):
                raise self._error(query, "%s %s has %s=%s, out of range for a date" % (
                    self.noun, self._show_id(facts[self.key]), field if self.as_sent else fact,
                    self._show_value(value)))
        return facts

    def check(self, facts: Any) -> None:
        """Raise ValueError saying what is wrong unless ``facts`` is one row's facts as ``shape``
        makes them: every fact name, each None or of its type, nothing else, ``required`` set.

        Facts read back from an inventory cache or an event source's state file go through
        this, so a file of the right shape with wrong types inside is refused, not trusted.
        """
        if not isinstance(facts, dict):
            raise ValueError("a %s is %s, not a mapping" % (self.noun, type(facts).__name__))
        if set(facts) != self._names:
            raise ValueError("a %s has the facts %s, expected %s" % (
                self.noun, ", ".join(sorted(map(str, facts))), ", ".join(sorted(self.fact_names))))
        for name, kind, what in self._checks:
            value = facts[name]
            # A bool is an int to isinstance: only a boolean fact takes one.
            if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
                raise ValueError("%s %r has %s=%r, expected %s or null" % (
                    self.noun, facts.get(self.key), name, value, what))
        missing = [name for name in self.required if facts[name] is None]
        if missing and self.as_sent:
            raise ValueError("%s %r has no %s" % (self.noun, facts.get(self.key), missing[0]))
        if missing:
            raise ValueError("a %s has no %s" % (self.noun, " or no ".join(self.required)))

    def check_list(self, rows: Any, name: str) -> None:
        """Raise ValueError unless ``rows`` is a list of facts that ``check`` takes, naming the
        first that is not (``backups[3]: ...``); ``name`` is what holds them (``backups``)."""
        if not isinstance(rows, list):
            raise ValueError("its %s are %s, not a list" % (name, type(rows).__name__))
        for index, facts in enumerate(rows):
            try:
                self.check(facts)
            except ValueError as exc:
                raise ValueError("%s[%d]: %s" % (name, index, exc))
