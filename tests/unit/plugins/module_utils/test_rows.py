# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rows as facts, for every resource: the converters, the one shape and the one check.

The backups' and groups' own tables are exercised in test_backups.py and test_groups.py;
here a made-up resource shows that a table is all a new resource needs, and the two
message styles are pinned down.
"""

from __future__ import annotations

import collections

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups, _groups, _rows
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError


class Query(collections.namedtuple("Query", "region project_id")):
    def describe(self):
        return "the widgets of region %s" % self.region


Q = Query("cn-bj2", "org-1")
WIDGETS = _rows.Table("DescribeWidget", "widget", (
    ("WidgetId", "widget_id", _rows.TEXT),
    ("Count", "count", _rows.INT),
    ("On", "on", _rows.BOOL),
    ("MadeAt", "made_at", _rows.TIMESTAMP),
    ("GoneAt", "gone_at", _rows.TIMESTAMP_OR_NEVER),
), key="widget_id")


def test_a_table_is_all_a_new_resource_needs():
    facts = WIDGETS.shape({"WidgetId": 7, "Count": "3", "On": "true", "MadeAt": 0, "GoneAt": 0, "Extra": 1}, Q)
    assert facts == {"widget_id": "7", "count": 3, "on": True, "made_at": 0, "gone_at": 0, "region": "cn-bj2",
                     "project_id": "org-1", "made_at_iso": "1970-01-01T00:00:00Z", "gone_at_iso": None}
    assert list(facts) == list(WIDGETS.fact_names)
    assert WIDGETS.fact_types == {"widget_id": str, "count": int, "on": bool, "made_at": int, "gone_at": int,
                                  "region": str, "project_id": str, "made_at_iso": str, "gone_at_iso": str}
    assert WIDGETS.id_field == "WidgetId"
    WIDGETS.check(facts)
    absent = dict.fromkeys(WIDGETS.fact_names)
    absent.update(region="cn-bj2", project_id="org-1")
    assert WIDGETS.shape({}, Q) == absent


@pytest.mark.parametrize("row, message", [
    ([], "DescribeWidget: unexpected answer for the widgets of region cn-bj2: a DataSet entry is list, not an object "
         "(region cn-bj2)"),
    ({"WidgetId": "w", "Count": "many"}, "widget 'w' has Count='many', expected an integer"),
    ({"Count": True}, "widget '(no WidgetId)' has Count=True, expected an integer"),
    ({"WidgetId": "w", "On": 2}, "widget 'w' has On=2, expected a boolean"),
    ({"WidgetId": "w" * 50, "MadeAt": 10 ** 15},
     "widget 'wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww...' (50 characters) has made_at=1000000000000000, out of range for a date"),
])
def test_a_new_table_shows_ids_and_values_cut_short(row, message):
    with pytest.raises(SigcalcloudError) as caught:
        WIDGETS.shape(row, Q)
    assert message in str(caught.value)
    assert caught.value.action == "DescribeWidget" and caught.value.region == "cn-bj2"


def test_backups_keep_their_messages_as_sent():
    query = _backups.Query("cn-bj2")
    with pytest.raises(SigcalcloudError, match=r"backup b1 has BackupTime='x', expected an integer"):
        _backups.shape_row({"BackupId": "b1", "BackupTime": "x"}, query)
    with pytest.raises(SigcalcloudError, match=r"backup b1 has BackupTime=99999999999999, out of range for a date"):
        _backups.shape_row({"BackupId": "b1", "BackupTime": 99999999999999}, query)
    facts = _backups.shape_row({"BackupId": "b1"}, query)
    with pytest.raises(ValueError, match=r"^backup 'b1' has no region$"):
        _backups.check_facts(dict(facts, region=None))
    assert _backups.shape_row({"BackupTime": 0}, query)["backup_time_iso"] == "1970-01-01T00:00:00Z"


def test_a_group_without_region_or_id_is_refused_as_one_message():
    facts = _groups.shape_group({"GroupId": "g"}, _groups.Query("cn-bj2"))
    for bad in (dict(facts, region=None), dict(facts, group_id=None)):
        with pytest.raises(ValueError, match=r"^a group has no region or no group_id$"):
            _groups.check_facts(bad)


@pytest.mark.parametrize("change, message", [
    (lambda facts: None, "a widget is NoneType, not a mapping"),
    (lambda facts: {"widget_id": "w"}, "a widget has the facts widget_id, expected count, gone_at, gone_at_iso, made_at"),
    (lambda facts: dict(facts, on=1), "widget 'w' has on=1, expected a boolean or null"),
    (lambda facts: dict(facts, count=True), "widget 'w' has count=True, expected an integer or null"),
    (lambda facts: dict(facts, made_at_iso=5), "widget 'w' has made_at_iso=5, expected a string or null"),
    (lambda facts: dict(facts, region=None), "a widget has no region"),
])
def test_check_refuses_what_shape_would_not_make(change, message):
    facts = WIDGETS.shape({"WidgetId": "w", "On": True}, Q)
    with pytest.raises(ValueError) as caught:
        WIDGETS.check(change(facts))
    assert message in str(caught.value)


def test_check_list_names_the_entry():
    good = WIDGETS.shape({"WidgetId": "w"}, Q)
    WIDGETS.check_list([good, good], "widgets")
    with pytest.raises(ValueError, match=r"^its widgets are dict, not a list$"):
        WIDGETS.check_list({}, "widgets")
    with pytest.raises(ValueError, match=r"^widgets\[1\]: a widget is str, not a mapping$"):
        WIDGETS.check_list([good, "x"], "widgets")


@pytest.mark.parametrize("kind, value, expected", [
    (_rows.INT, "42", 42), (_rows.INT, " -7 ", -7), (_rows.INT, 3.0, 3),
    (_rows.TEXT, 12, "12"), (_rows.TEXT, 1.5, "1.5"), (_rows.TEXT, u"a\ud800b", u"a\ufffdb"), (_rows.TEXT, u"é", u"é"),
    (_rows.BOOL, "False", False), (_rows.BOOL, " TRUE ", True), (_rows.BOOL, 1, True), (_rows.BOOL, 0, False),
])
def test_converters_take_what_the_api_may_send(kind, value, expected):
    assert kind.convert(value) == expected and type(kind.convert(value)) is type(expected)


@pytest.mark.parametrize("kind, value", [
    (_rows.INT, True), (_rows.INT, 1.5), (_rows.INT, "1e3"), (_rows.INT, None), (_rows.INT, [1]),
    (_rows.TEXT, False), (_rows.TEXT, {}), (_rows.TEXT, None),
    (_rows.BOOL, 2), (_rows.BOOL, "yes"), (_rows.BOOL, 1.0), (_rows.BOOL, None),
])
def test_converters_refuse_the_rest(kind, value):
    with pytest.raises(ValueError):
        kind.convert(value)


@pytest.mark.parametrize("value", [0, 1, -3, True, False, "", "ascii", u"é", u"\ud800", 2.0, "7"])
def test_the_fast_path_gives_what_the_converter_gives(value):
    """A value shape takes as it is (exactly of the fact's type, ASCII if text) is what its converter
    would have made of it, so the fast path changes nothing but the time it takes."""
    for kind in (_rows.INT, _rows.TEXT, _rows.BOOL):
        table = _rows.Table("DescribeX", "x", (("Id", "id", _rows.TEXT), ("V", "v", kind)), key="id")
        try:
            expected = kind.convert(value)
        except ValueError:
            with pytest.raises(SigcalcloudError):
                table.shape({"V": value}, Q)
            continue
        shaped = table.shape({"V": value}, Q)["v"]
        assert shaped == expected and type(shaped) is type(expected)


@pytest.mark.parametrize("zone, region, inside", [
    ("cn-bj2-02", "cn-bj2", True), ("cn-bj2", "cn-bj2", True), (None, "cn-bj2", True), ("", "hk", True),
    ("cn-bj22-01", "cn-bj2", False), ("hk-01", "cn-bj2", False),
])
def test_in_region(zone, region, inside):
    assert _rows.in_region(zone, region) is inside


def test_iso_utc():
    assert _rows.iso_utc(1529912363) == "2018-06-25T07:39:23Z"
    with pytest.raises((ValueError, OverflowError, OSError)):
        _rows.iso_utc(10 ** 15)
