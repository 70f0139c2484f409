# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The paginator against servers that lie about their counts.

An in-memory backend answers exactly as told (a claimed TotalCount, empty pages past
the real rows, pages that contradict themselves), so the bounds are exact: how many
requests went out, how many were in flight, what the error says. The same cases run
through real ansible processes against the emulator's hostile modes in tests/e2e.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _paging
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import DEFAULT_MAX_ROWS, SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import Query, list_backups, read_page


def row(n):
    return {"BackupId": "b-%06d" % n, "BackupName": "n%d" % n, "BackupTime": 1700000000 + n, "State": "Success"}


class LyingBackend:
    """Serves ``rows`` by Offset/Limit (pages of at most ``cap``) with TotalCount ``claimed``.

    ``dataset`` may be "missing" (no DataSet key) or "empty" (always []).
    """

    max_rows = DEFAULT_MAX_ROWS  # as a Client has

    def __init__(self, rows, claimed=None, cap=100, dataset=None, latency=0.0):
        self.rows, self.claimed, self.cap, self.dataset, self.latency = list(rows), claimed, cap, dataset, latency
        self.calls = []
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0

    def call(self, action, params, region=None):
        with self.lock:
            self.calls.append(params["Offset"])
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            offset, limit = params["Offset"], min(params["Limit"], self.cap)
            answer = {"RetCode": 0, "TotalCount": len(self.rows) if self.claimed is None else self.claimed}
            if self.dataset != "missing":
                answer["DataSet"] = [] if self.dataset == "empty" else self.rows[offset:offset + limit]
            return answer
        finally:
            with self.lock:
                self.in_flight -= 1


Q = Query("cn-bj2")


def test_a_claimed_total_over_max_rows_is_refused_after_one_request_naming_the_option():
    backend = LyingBackend([row(1)], claimed=DEFAULT_MAX_ROWS + 1, cap=100)
    with pytest.raises(SigcalcloudError) as caught:
        list_backups(backend, [Q])
    assert backend.calls == [0]
    assert "the server claims TotalCount=%d for region cn-bj2, more than the %d backups one listing may hold " \
        "(max_rows, SIGCALCLOUD_MAX_ROWS)" % (DEFAULT_MAX_ROWS + 1, DEFAULT_MAX_ROWS) in str(caught.value)


def test_pages_that_hold_more_rows_than_max_rows_are_refused_as_they_come():
    # A count within max_rows, a first page of one row (so 49 more pages are planned), then full pages.
    class ShortFirstPage(LyingBackend):
        def call(self, action, params, region=None):
            answer = LyingBackend.call(self, action, params, region)
            if params["Offset"] == 0:
                answer["DataSet"] = answer["DataSet"][:1]
            return answer

    backend = ShortFirstPage([row(n) for n in range(5000)], claimed=50, cap=100)
    backend.max_rows = 50
    with pytest.raises(SigcalcloudError) as caught:
        list_backups(backend, [Q], max_concurrency=1)
    assert "its pages held 101 backups for region cn-bj2, more than the 50 backups one listing may hold" in str(caught.value)
    assert len(backend.calls) == 2


def test_a_page_larger_than_its_limit_is_refused_before_its_rows_are_read():
    class IgnoresLimit(LyingBackend):
        def call(self, action, params, region=None):
            return LyingBackend.call(self, action, dict(params, Limit=self.cap), region)

    backend = IgnoresLimit([row(n) for n in range(300)], cap=300)
    with pytest.raises(SigcalcloudError) as caught:
        list_backups(backend, [Q], page_size=100)
    assert "its page at offset 0 holds 300 backups, more than the Limit of 100 asked for" in str(caught.value)
    assert backend.calls == [0]


def test_a_huge_claimed_total_is_refused_after_one_request_without_memory_growth():
    backend = LyingBackend([row(1)], claimed=10 ** 12, cap=1)
    backend.max_rows = 10 ** 13  # past max_rows, the page bound still holds
    tracemalloc.start()
    try:
        with pytest.raises(SigcalcloudError) as caught:
            list_backups(backend, [Q])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert backend.calls == [0]
    assert peak < 5 << 20
    message = str(caught.value)
    assert "the server claims TotalCount=1000000000000 for region cn-bj2 with 1 backups a page" in message
    assert "more than the %d one listing may take (it served 1 backups)" % _paging.MAX_PAGES in message


def test_empty_pages_past_the_real_rows_end_the_listing_and_bound_the_requests():
    # 5 real rows, a claim of 20,000, empty pages after them: this sent 12,000 requests once.
    backend = LyingBackend([row(n) for n in range(5)], claimed=20000, cap=5)
    with pytest.raises(SigcalcloudError) as caught:
        list_backups(backend, [Q], max_concurrency=4)
    message = str(caught.value)
    assert "kept changing" not in message
    assert ("the server's answers for region cn-bj2 do not add up: it served 5 backups, but its page at offset 5 "
            "is empty, but TotalCount is 20000; tried 3 times") in message
    # Each of the 3 attempts: the first page, then at most the window (4) of further pages.
    assert len(backend.calls) <= _paging.LISTING_ATTEMPTS * (1 + 4)
    assert backend.peak <= 4


@pytest.mark.parametrize("dataset, words", [("empty", "is empty"), ("missing", "has no DataSet")])
def test_a_first_page_that_contradicts_its_count_is_read_again_then_refused(dataset, words):
    backend = LyingBackend([row(n) for n in range(3)], dataset=dataset)
    with pytest.raises(SigcalcloudError) as caught:
        list_backups(backend, [Q])
    assert "its page at offset 0 %s, but TotalCount is 3; tried 3 times" % words in str(caught.value)
    assert backend.calls == [0, 0, 0]


def test_a_page_holding_more_rows_than_the_count_is_refused():
    backend = LyingBackend([row(n) for n in range(5)], claimed=2)
    with pytest.raises(SigcalcloudError, match="holds 5 rows, more than TotalCount 2 leaves"):
        list_backups(backend, [Q])


def test_one_page_mode_refuses_a_page_that_contradicts_its_count():
    backend = LyingBackend([row(n) for n in range(3)], dataset="empty")
    with pytest.raises(SigcalcloudError, match="its page at offset 0 is empty, but TotalCount is 3; tried 3 times"):
        read_page(backend, Q, 0, 10)
    assert len(backend.calls) == 3
    # Past the end, an empty page is the truth.
    assert read_page(LyingBackend([row(1)]), Q, 5, 10).rows == []


def test_an_empty_listing_is_empty():
    results, errors = list_backups(LyingBackend([]), [Q])
    assert results == {Q: []} and errors == {}


def test_pages_go_out_in_a_bounded_window_and_all_rows_come_back():
    rows = [row(n) for n in range(2000)]
    backend = LyingBackend(rows, cap=10, latency=0.002)
    results, _errors = list_backups(backend, [Q], max_concurrency=8)
    assert len(results[Q]) == 2000
    assert sorted(backend.calls) == list(range(0, 2000, 10))  # each page once, none past the end
    assert backend.peak <= 8


def test_a_missing_total_count_is_refused_not_taken_as_one_page():
    class NoCount(LyingBackend):
        def call(self, action, params, region=None):
            answer = super(NoCount, self).call(action, params, region)
            del answer["TotalCount"]
            return answer

    with pytest.raises(SigcalcloudError, match="unexpected answer for region cn-bj2: it has no TotalCount"):
        list_backups(NoCount([row(n) for n in range(300)]), [Q])


@pytest.mark.parametrize("total", [-1, "1" * 40, True, 2.5, "many", [3]])
def test_a_total_count_that_is_not_a_count_is_refused(total):
    backend = LyingBackend([row(1)], claimed=total)
    with pytest.raises(SigcalcloudError, match="TotalCount=.*, expected an integer of 0 or more"):
        list_backups(backend, [Q])


# --- every row is checked against the request that asked for it --------------------------

@pytest.mark.parametrize("query, extra, words", [
    (Query("cn-bj2", group_id="g-1"), {"GroupId": "g-2"}, "it holds backup 'b-000001' of group 'g-2', which that request"),
    (Query("cn-bj2", group_id="g-1"), {}, "backup 'b-000001' of group None"),
    (Query("cn-bj2", group_id="g-1", backup_id="b-9"), {"GroupId": "g-1"}, "it holds backup 'b-000001', which"),
    (Query("cn-bj2"), {"Zone": "hk-01"}, "backup 'b-000001' in zone 'hk-01'"),
    (Query("cn-bj2"), {"SrcRegionName": "cn-bj2", "DstRegionName": "hk"}, "not a normal backup of region cn-bj2"),
    (Query("cn-bj2", region_type="target"), {"SrcRegionName": "cn-bj2", "DstRegionName": "hk"},
     "with source region 'cn-bj2' and target region 'hk', not a target backup of region cn-bj2"),
    (Query("cn-bj2", group_id="g-1"), {"GroupId": "g-1", "SrcRegionName": "hk", "DstRegionName": "cn-sh2"},
     "a copy from region 'hk' to 'cn-sh2'"),
])
def test_a_row_the_request_did_not_ask_for_fails_the_listing(query, extra, words):
    with pytest.raises(SigcalcloudError) as caught:
        list_backups(LyingBackend([dict(row(1), **extra)]), [query])
    assert "unexpected answer for %s: it holds " % query.describe() in str(caught.value)
    assert words in str(caught.value) and "none of it is used" in str(caught.value)


@pytest.mark.parametrize("query, extra", [
    (Query("cn-bj2", group_id="g-1"), {"GroupId": "g-1", "Zone": "cn-bj2-03"}),
    (Query("cn-bj2", group_id="g-1"), {"GroupId": "g-1", "SrcRegionName": "cn-bj2", "DstRegionName": "hk"}),
    (Query("cn-bj2", region_type="source"), {"SrcRegionName": "cn-bj2", "DstRegionName": "hk", "Zone": "cn-bj2-01"}),
    (Query("hk", region_type="target"), {"SrcRegionName": "cn-bj2", "DstRegionName": "hk", "Zone": "cn-bj2-01"}),
    (Query("cn-bj2"), {"Zone": None}),
    (Query("cn-bj2"), {"Zone": "cn-bj2-02", "SrcRegionName": "cn-bj2", "DstRegionName": ""}),
])
def test_rows_that_answer_the_request_are_kept(query, extra):
    assert len(list_backups(LyingBackend([dict(row(1), **extra)]), [query])[0][query]) == 1


def test_a_group_listing_holding_another_group_or_zone_fails():
    from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups

    class Groups(LyingBackend):
        pass

    for query, group, words in [
            (_groups.Query("cn-bj2", group_id="g-1"), {"GroupId": "g-2", "Zone": "cn-bj2-01"}, "it holds group 'g-2'"),
            (_groups.Query("cn-bj2", zone="cn-bj2-01"), {"GroupId": "g-2", "Zone": "cn-bj2-02"},
             "it holds group 'g-2' in zone 'cn-bj2-02'"),
            (_groups.Query("cn-bj2"), {"GroupId": "g-2", "Zone": "hk-01"}, "it holds group 'g-2' in zone 'hk-01'")]:
        with pytest.raises(SigcalcloudError) as caught:
            _groups.list_groups(Groups([group]), [query])
        assert words in str(caught.value) and "which that request did not ask for" in str(caught.value)
