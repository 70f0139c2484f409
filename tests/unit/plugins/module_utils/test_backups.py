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


def test_filter_backups():
    backups = newest_first([shape_row(r, Q) for r in (
        row(1, State="Error"), row(2, BackupType="Manual"), row(3), row(4, BackupTime=None))])
    assert ids(filter_backups(backups, states=["Error"])) == ["b-0001"]
    assert ids(filter_backups(backups, backup_types=["Manual"])) == ["b-0002"]
    assert ids(filter_backups(backups, since=1700000002)) == ["b-0003", "b-0002"]
    assert ids(filter_backups(backups)) == ["b-0003", "b-0002", "b-0001", "b-0004"]


# --- absurd since values: a clear range, never Python's own errors (issue 12, item 13) ---
