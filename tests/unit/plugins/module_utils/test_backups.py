# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Paging, row shaping and filters of DescribeURedisBackup.

An in-memory backend stands in for the API's paging so the edge cases (short pages,
rows shifting between pages, a changing TotalCount) are exact; the real HTTP path is
covered against the emulator in tests/e2e.
"""

from __future__ import annotations

import threading

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import DEFAULT_MAX_ROWS, SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._paging import parse_page as _parse_page
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import (
    BACKUPS,
    FACT_NAMES,
    PAGE_SIZE,
    Query,
    filter_backups,
    list_backups,
    newest_first,
    parse_age,
    parse_since,
    shape_row,
)


def parse_page(data, query, offset):
    return _parse_page(BACKUPS, data, query, offset, PAGE_SIZE)


def row(n, **extra):
    base = {"BackupId": "b-%04d" % n, "BackupName": "n%d" % n, "BackupTime": 1700000000 + n,
            "BackupSize": n, "BackupType": "Auto", "State": "Success", "GroupId": "g-%d" % (n % 3)}
    base.update(extra)
    return base


class PagedBackend:
    """Serves rows by Offset/Limit, capping pages like a real server may."""

    max_rows = DEFAULT_MAX_ROWS  # as a Client has

    def __init__(self, rows, cap=100, mutate=None):
        self.rows = list(rows)
        self.cap = cap
        self.mutate = mutate  # called with (backend, offset) before serving a page
        self.calls = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def call(self, action, params, region=None):
        with self.lock:
            self.calls.append(dict(params, Region=region))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.mutate:
                self.mutate(self, params["Offset"])
            rows = list(self.rows)
        try:
            offset, limit = params["Offset"], min(params["Limit"], self.cap)
            return {"RetCode": 0, "TotalCount": len(rows), "DataSet": rows[offset:offset + limit]}
        finally:
            with self.lock:
                self.in_flight -= 1


Q = Query("cn-bj2")


def ids(backups):
    return [b["backup_id"] for b in backups]


def test_query_defaults_to_normal_region_type_only_without_group():
    assert Query("r").region_type == "normal"
    assert Query("r", group_id="g").region_type is None
    assert Query("r", region_type="source").params(0, 10)["RegionType"] == "source"


@pytest.mark.parametrize("count, cap", [(0, 100), (1, 100), (100, 100), (101, 100), (250, 7), (1000, 100)])
def test_all_rows_are_read_whatever_the_server_page_cap(count, cap):
    backend = PagedBackend([row(n) for n in range(count)], cap=cap)
    results, errors = list_backups(backend, [Q], max_concurrency=4)
    assert errors == {}
    assert sorted(ids(results[Q])) == sorted("b-%04d" % n for n in range(count))
    expected_pages = max(1, -(-count // cap))
    assert len(backend.calls) == expected_pages  # no request more than the pages needed
    assert backend.peak <= 4


def test_result_is_newest_first_and_stable():
    rows = [row(1), row(3), row(2), row(5, BackupTime=None), row(4, BackupTime=1700000003)]
    results, dummy = list_backups(PagedBackend(rows, cap=2), [Q])
    assert ids(results[Q]) == ["b-0003", "b-0004", "b-0002", "b-0001", "b-0005"]


def test_rows_added_mid_listing_are_read_again_without_duplicates():
    def add_once(backend, offset):
        if offset > 0 and not getattr(backend, "done", False):
            backend.done = True
            backend.rows.insert(0, row(9999))
    backend = PagedBackend([row(n) for n in range(30)], cap=10, mutate=add_once)
    results, dummy = list_backups(backend, [Q], max_concurrency=1)
    assert sorted(ids(results[Q])) == sorted(ids([shape_row(r, Q) for r in backend.rows]))
    assert len(ids(results[Q])) == len(set(ids(results[Q]))) == 31


def test_rows_removed_mid_listing_give_what_the_server_holds():
    def remove_once(backend, offset):
        if offset > 0 and not getattr(backend, "done", False):
            backend.done = True
            del backend.rows[0]
    backend = PagedBackend([row(n) for n in range(30)], cap=10, mutate=remove_once)
    results, dummy = list_backups(backend, [Q])
    assert sorted(ids(results[Q])) == sorted("b-%04d" % n for n in range(1, 30))


def test_a_listing_that_never_settles_fails_clearly():
    def churn(backend, offset):
        if offset > 0:
            backend.rows.insert(0, row(5000 + len(backend.calls)))
    backend = PagedBackend([row(n) for n in range(30)], cap=10, mutate=churn)
    with pytest.raises(SigcalcloudError, match=r"kept changing while they were read \(TotalCount went \d+ -> \d+.*tried 3 times"):
        list_backups(backend, [Q])


def test_many_queries_share_one_concurrency_bound():
    backend = PagedBackend([row(n) for n in range(95)], cap=10)
    queries = [Query("r%d" % i) for i in range(6)]
    results, dummy = list_backups(backend, queries, max_concurrency=3)
    assert set(results) == set(queries)
    assert all(len(results[q]) == 95 for q in queries)
    assert results[queries[2]][0]["region"] == "r2"
    assert backend.peak <= 3 and len(backend.calls) == 6 * 10


class FailingRegion(PagedBackend):
    def call(self, action, params, region=None):
        if region == "bad":
            raise SigcalcloudError("Params [Region] not available", ret_code=230, region=region)
        return super(FailingRegion, self).call(action, params, region)


def test_errors_per_query_without_fail_fast():
    backend = FailingRegion([row(n) for n in range(15)], cap=10)
    good, bad = Query("good"), Query("bad")
    results, errors = list_backups(backend, [good, bad], fail_fast=False)
    assert len(results[good]) == 15 and bad not in results
    assert errors[bad].ret_code == 230


def test_errors_raise_with_fail_fast():
    with pytest.raises(SigcalcloudError, match="not available"):
        list_backups(FailingRegion([row(1)]), [Query("good"), Query("bad")])


def test_shape_row_has_every_fact_with_none_for_absent_fields():
    facts = shape_row({"BackupId": "b1", "BackupTime": "1529912363", "MemorySize": 4}, Query("cn-bj2", "org-1"))
    assert set(facts) == set(FACT_NAMES)
    assert facts["backup_time"] == 1529912363 and facts["backup_time_iso"] == "2018-06-25T07:39:23Z"
    assert facts["region"] == "cn-bj2" and facts["project_id"] == "org-1"
    assert facts["redis_version"] is None and facts["zone"] is None


@pytest.mark.parametrize("data, words", [
    ({"DataSet": "nope"}, "DataSet is str, expected a list"),
    ({"DataSet": [1]}, "a DataSet entry is int, not an object"),
    ({"DataSet": [row(1, BackupTime="yesterday")]}, "backup b-0001 has BackupTime='yesterday', expected an integer"),
    ({"DataSet": [row(1, BackupSize=[1])]}, "BackupSize=[1], expected an integer"),
    ({"DataSet": [row(1, State={"a": 1})]}, "State={'a': 1}, expected a string"),
    ({"DataSet": [], "TotalCount": "many"}, "TotalCount='many', expected an integer of 0 or more"),
    ({"DataSet": [row(1, BackupTime=99999999999999)]}, "backup b-0001 has BackupTime=99999999999999, out of range"),
])
def test_parse_page_names_the_bad_field(data, words):
    with pytest.raises(SigcalcloudError) as caught:
        parse_page(data, Q, 0)
    assert words in str(caught.value) and "region cn-bj2" in str(caught.value)


def test_parse_page_accepts_missing_dataset_as_empty():
    assert parse_page({"RetCode": 0, "TotalCount": 0}, Q, 0).rows == []


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800),
                                           ("1d12h", 129600), ("2w", 1209600), (" 5 m ", 300)])
def test_parse_age(text, seconds):
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1y", "-3d", "abc", None])
def test_parse_age_rejects(text):
    assert parse_age(text) is None


def test_parse_since_forms():
    now = 1800000000.0
    assert parse_since("24h", now=now) == now - 86400
    assert parse_since("1700000000", now=now) == 1700000000.0
    assert parse_since(1700000000, now=now) == 1700000000.0
    assert parse_since("2018-06-25T07:39:23Z", now=now) == 1529912363.0
    assert parse_since("2018-06-25T07:39:23", now=now) == 1529912363.0
    assert parse_since("2018-06-25T09:39:23+02:00", now=now) == 1529912363.0
    with pytest.raises(ValueError, match=r"since='last tuesday' is not an age such as 24h or 7d"):
        parse_since("last tuesday", now=now)


def test_filter_backups():
    backups = newest_first([shape_row(r, Q) for r in (
        row(1, State="Error"), row(2, BackupType="Manual"), row(3), row(4, BackupTime=None))])
    assert ids(filter_backups(backups, states=["Error"])) == ["b-0001"]
    assert ids(filter_backups(backups, backup_types=["Manual"])) == ["b-0002"]
    assert ids(filter_backups(backups, since=1700000002)) == ["b-0003", "b-0002"]
    assert ids(filter_backups(backups)) == ["b-0003", "b-0002", "b-0001", "b-0004"]


# --- absurd since values: a clear range, never Python's own errors (issue 12, item 13) ---

SINCE_NOW = 1800000000.0
TS_RANGE = "is out of range: a UNIX timestamp is from 0 to 253402300799 (9999-12-31T23:59:59Z)"
AGE_RANGE = "is out of range: an age is at most 36525d (100 years)"
NUMBER_FORM = ("is not accepted: a UNIX timestamp is written in plain digits, from 0 to 253402300799 "
               "(9999-12-31T23:59:59Z); an age back from now is written like 24h or 7d")


@pytest.mark.parametrize("value, seconds_back", [
    ("0s", 0), ("36525d", 36525 * 86400), ("5217w", 5217 * 604800), ("36524d23h59m60s", 36525 * 86400),
    ("0000000000000000000000000000090s", 90),  # leading zeros are no digits that count
])
def test_parse_since_ages_up_to_100_years(value, seconds_back):
    assert parse_since(value, now=SINCE_NOW) == SINCE_NOW - seconds_back


@pytest.mark.parametrize("value, expected", [
    ("0", 0.0), ("253402300799", 253402300799.0), ("1700000000.25", 1700000000.25), (0, 0.0),
    (253402300799, 253402300799.0), (1.5, 1.5), ("0000000000000000000000000000000000000000000042", 42.0),
    ("0001-01-01T00:00:00Z", -62135596800.0), ("9999-12-31T23:59:59Z", 253402300799.0),
])
def test_parse_since_timestamps_and_dates_at_the_edges(value, expected):
    assert parse_since(value, now=SINCE_NOW) == expected


@pytest.mark.parametrize("value, message", [
    ("36526d", "since='36526d' " + AGE_RANGE),
    ("36525d1s", "since='36525d1s' " + AGE_RANGE),
    ("5218w", "since='5218w' " + AGE_RANGE),
    ("99999999999999999999d", "since='99999999999999999999d' " + AGE_RANGE),
    ("253402300800", "since='253402300800' " + TS_RANGE),
    ("99999999999999999999", "since='99999999999999999999' " + TS_RANGE),
    ("9" * 5000, "since='99999999999999999999999999999999...' (5000 characters) " + TS_RANGE),
    ("9" * 5000 + "d", "since='99999999999999999999999999999999...' (5001 characters) is too long: "
                       "an age, a UNIX timestamp or an ISO 8601 date is at most 64 characters"),
    ("-5", "since='-5' " + NUMBER_FORM),
    ("+5", "since='+5' " + NUMBER_FORM),
    ("1e400", "since='1e400' " + NUMBER_FORM),
    ("1e9", "since='1e9' " + NUMBER_FORM),
    ("inf", "since='inf' " + NUMBER_FORM),
    ("NaN", "since='NaN' " + NUMBER_FORM),
    (-1, "since=-1 " + TS_RANGE),
    (float("inf"), "since=inf " + TS_RANGE),
    (float("nan"), "since=nan " + TS_RANGE),
    pytest.param(10 ** 5000, "since=an integer of 16610 bits " + TS_RANGE, id="a-5001-digit-int"),
    ("\u0661\u0662d", "since='\u0661\u0662d' is not an age such as 24h or 7d, a UNIX timestamp, or an ISO 8601 "
                      "date such as 2026-01-31T12:00:00Z"),
    ("10000-01-01", "since='10000-01-01' is not an age such as 24h or 7d, a UNIX timestamp, or an ISO 8601 "
                    "date such as 2026-01-31T12:00:00Z"),
])
def test_parse_since_refuses_absurd_values_saying_what_is_accepted(value, message):
    with pytest.raises(ValueError) as caught:
        parse_since(value, now=SINCE_NOW)
    assert str(caught.value) == message
    assert len(str(caught.value)) < 250  # a huge value is cut short, not echoed


def test_parse_age_bounds_each_number_and_the_total():
    assert parse_age("36525d") == 36525 * 86400
    assert parse_age("1d" * 1000) == 1000 * 86400
    with pytest.raises(ValueError, match=r"^the age '36526d' is out of range: an age is at most 36525d \(100 years\)$"):
        parse_age("36526d")
    with pytest.raises(ValueError, match=r"^interval='9999999999999999999999999999999.*' \(5001 characters\) is out"):
        parse_age("9" * 5000 + "s", name="interval")  # refused by its digits, never converted
    assert parse_age("\u0661d") is None  # ASCII digits only
