# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one paginator: any Describe* action that pages with Offset, Limit, TotalCount
and DataSet, read concurrently and checked against what the server claims.

A resource (backups, groups) describes itself with a ``Resource``: its action, how a
row becomes facts, which fact identifies a row, and the order of a result. The server
is not trusted: an answer must answer the request that asked for it (its Action, the
client checks; each row against the query's filters, ``query.mismatch``), a page may
hold no more rows than its Limit asked for, a listing no more than the client's
``max_rows``; its TotalCount decides how many pages are asked for only up to those
bounds, pages go out in a bounded window, an empty page ends a listing, and a listing
whose pages do not add up to the count is read again, then refused.
"""

from __future__ import annotations

import collections
import concurrent.futures
from typing import Any, Dict, Iterable, List, Mapping, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _text
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, SigcalcloudError

# The API's default page is 10 rows; we ask for 100 and advance by what actually
# came back, since the server may cap a page below what was asked.
PAGE_SIZE = 100
# A listing whose pages disagree (rows added or removed while it was read, or pages
# that contradict their count) is read again from the start, at most this many times in all.
LISTING_ATTEMPTS = 3
# The most pages one listing may take: 10,000 pages of 100 rows is a million rows, far
# past any account, and a claimed TotalCount that needs more is refused before any of them.
MAX_PAGES = 10000

Resource = collections.namedtuple("Resource", "action noun shape key order")
Resource.__doc__ = """What the paginator needs to know of one Describe* action.

``shape(row, query)`` makes a row's facts (raising SigcalcloudError for a bad row), and
the query's ``mismatch(facts)`` says what shows a row is not one it asked for (or None);
``key`` is the fact that identifies a row (rows with None there are all kept), ``order``
sorts a listing's facts, ``noun`` names the rows in messages ("backups"). A resource's
``shape`` and ``key`` are its ``_rows.Table``'s: the paginator needs no more of rows.
"""

Page = collections.namedtuple("Page", "offset total rows has_dataset")

# What list_all returns: each query's rows (facts), and each failed query's error.
Results = Tuple[Dict[Any, List[Dict[str, Any]]], Dict[Any, SigcalcloudError]]


def _field_error(resource, query, message):
    return SigcalcloudError("unexpected answer for %s: %s" % (query.describe(), message),
                            action=resource.action, region=query.region)


def _count(value):
    """A non-negative count, also when the API sends it as a string of digits."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise ValueError
    return value


def parse_page(resource: Resource, data: Mapping[str, Any], query: Any, offset: int, limit: int) -> Page:
    """Check a successful answer's shape, size and rows and turn it into a Page of facts."""
    dataset = data.get("DataSet")
    has_dataset = dataset is not None
    if dataset is None:
        dataset = []
    if not isinstance(dataset, list):
        raise _field_error(resource, query, "DataSet is %s, expected a list" % type(dataset).__name__)
    # Before any row is shaped: the Limit is what bounds the rows of a page, not the server.
    if len(dataset) > limit:
        raise _field_error(resource, query, "its page at offset %d holds %d %s, more than the Limit of %d asked for" % (
            offset, len(dataset), resource.noun, limit))
    rows = [resource.shape(row, query) for row in dataset]
    for facts in rows:
        problem = query.mismatch(facts)
        if problem is not None:
            raise _field_error(resource, query, "it holds %s, which that request did not ask for; none of it is "
                                                "used" % problem)
    # Without a count nothing could tell a partial listing from a whole one.
    if "TotalCount" not in data:
        raise _field_error(resource, query, "it has no TotalCount")
    try:
        total = _count(data["TotalCount"])
    except ValueError:
        raise _field_error(resource, query, "TotalCount=%s, expected an integer of 0 or more" % (
            _text.printable(repr(data["TotalCount"]))[:60],))
    return Page(offset, total, rows, has_dataset)


def fetch_page(client: Client, resource: Resource, query: Any, offset: int = 0, limit: int = PAGE_SIZE) -> Page:
    data = client.call(resource.action, query.params(offset, limit), region=query.region)
    return parse_page(resource, data, query, offset, limit)


def _page_problem(page):
    """Why a page contradicts its own count, or None."""
    if page.offset < page.total and not page.rows:
        what = "has no DataSet" if not page.has_dataset else "is empty"
        return "its page at offset %d %s, but TotalCount is %d" % (page.offset, what, page.total)
    if len(page.rows) > page.total - min(page.offset, page.total):
        return "its page at offset %d holds %d rows, more than TotalCount %d leaves" % (
            page.offset, len(page.rows), page.total)
    return None


def read_page(client: Client, resource: Resource, query: Any, offset: int, limit: int) -> Page:
    """One page as the API returns it (the module's offset/limit mode), checked against its count.

    A page that contradicts its own count is read again, then refused. (``max_rows`` bounds
    listings: one page is bounded by its ``limit``.)
    """
    for _attempt in range(LISTING_ATTEMPTS):
        page = fetch_page(client, resource, query, offset, limit)
        problem = _page_problem(page)
        if problem is None:
            return page
    raise SigcalcloudError("the server's answers for %s do not add up: %s; tried %d times" % (
        query.describe(), problem, LISTING_ATTEMPTS), action=resource.action, region=query.region)


class _Listing:
    """One query's pages, read in a bounded window, and whether they add up."""

    def __init__(self, resource, query, window, max_rows):
        self.resource = resource
        self.query = query
        self.window = window
        self.max_rows = max_rows
        self.attempt = 1
        self.reset()

    def reset(self):
        self.pages = []
        self.rows = 0  # rows held so far, duplicates included: what memory holds
        self.outstanding = 0
        self.step = None  # the server's page size, from the first page
        self.next_offset = None
        self.end = None  # no page at or past this offset is asked for

    def first_page(self, page):
        """Plan the rest from the first page; a SigcalcloudError when the claim is absurd."""
        self.step = len(page.rows)
        self.end = page.total if self.step else 0
        self.next_offset = self.step
        if page.total > self.max_rows:
            raise self.too_many("the server claims TotalCount=%d" % page.total)
        if self.step:
            pages = -(-(page.total - self.step) // self.step) + 1
            if pages > MAX_PAGES:
                raise SigcalcloudError(
                    "the server claims TotalCount=%d for %s with %d %s a page: that is %d pages, more than "
                    "the %d one listing may take (it served %d %s)" % (
                        page.total, self.query.describe(), self.step, self.resource.noun, pages, MAX_PAGES,
                        self.step, self.resource.noun),
                    action=self.resource.action, region=self.query.region)

    def too_many(self, what):
        return SigcalcloudError(
            "%s for %s, more than the %d %s one listing may hold (max_rows, SIGCALCLOUD_MAX_ROWS); nothing is "
            "returned. Narrow the listing (group_id, region), or raise max_rows if the account really holds that many" % (
                what, self.query.describe(), self.max_rows, self.resource.noun),
            action=self.resource.action, region=self.query.region)

    def add(self, page):
        self.rows += len(page.rows)
        if self.rows > self.max_rows:  # pages that hold more than their count said, say
            raise self.too_many("its pages held %d %s" % (self.rows, self.resource.noun))
        self.pages.append(page)
        if page.offset and not page.rows:
            self.end = min(self.end, page.offset)  # an empty page ends the listing, whatever the count says

    def offsets(self):
        """The next offsets to ask for, keeping at most ``window`` pages of this listing in flight."""
        while self.next_offset is not None and self.next_offset < self.end and self.outstanding < self.window:
            offset = self.next_offset
            self.next_offset += self.step
            yield offset

    def unique(self):
        seen = {}
        anonymous = []
        key = self.resource.key
        for page in sorted(self.pages, key=lambda p: p.offset):
            for row in page.rows:
                if row[key] is None:
                    anonymous.append(row)
                else:
                    seen.setdefault(row[key], row)
        return list(seen.values()) + anonymous

    def problem(self):
        """Why the pages read do not add up (None when they do), and whether the count moved."""
        pages = sorted(self.pages, key=lambda p: p.offset)
        totals = _dedupe_runs([page.total for page in pages])
        served = len(self.unique())
        if len(totals) > 1:
            return "TotalCount went %s while %d distinct %s were read" % (
                " -> ".join(str(t) for t in totals), served, self.resource.noun), True
        for page in pages:
            problem = _page_problem(page)
            if problem:
                return "it served %d %s, but %s" % (served, self.resource.noun, problem), False
        if served != totals[0]:
            return "TotalCount is %d, but its pages held %d distinct %s" % (
                totals[0], served, self.resource.noun), False
        return None, False

    def give_up(self, problem, changing):
        if changing:
            message = "the %s of %s kept changing while they were read (%s); tried %d times, try again" % (
                self.resource.noun, self.query.describe(), problem, self.attempt)
        else:
            message = "the server's answers for %s do not add up: %s; tried %d times" % (
                self.query.describe(), problem, self.attempt)
        return SigcalcloudError(message, action=self.resource.action, region=self.query.region)


def _dedupe_runs(values):
    out = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


def list_all(client: Client, resource: Resource, queries: Iterable[Any], max_concurrency: int = 16,
             page_size: int = PAGE_SIZE, fail_fast: bool = True) -> Results:
    """Every row of every query, reading pages concurrently.

    The first page of each query tells how many rows there are and how many the server
    puts on a page; the rest are fetched by a pool of at most ``max_concurrency``
    threads, shared by all queries, with at most ``max_concurrency`` pages of one query
    in flight. Returns ``(results, errors)``: ``results`` maps each query to its rows
    (de-duplicated by ``resource.key``, in ``resource.order``); ``errors`` maps each
    failed query to its SigcalcloudError. With ``fail_fast`` the first error is raised.
    """
    window = max(1, max_concurrency)
    listings = dict((query, _Listing(resource, query, window, client.max_rows)) for query in queries)
    results = {}
    errors = {}

    def failed(listing, error):
        if fail_fast:
            raise error
        errors[listing.query] = error

    with concurrent.futures.ThreadPoolExecutor(max_workers=window) as pool:
        pending = {}

        def submit(listing, offset):
            listing.outstanding += 1
            pending[pool.submit(fetch_page, client, resource, listing.query, offset, page_size)] = listing

        try:
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
                        if page.offset == 0:
                            listing.first_page(page)
                        listing.add(page)
                    except SigcalcloudError as error:
                        failed(listing, error)
                        continue
                    for offset in listing.offsets():
                        submit(listing, offset)
                    if listing.outstanding:
                        continue
                    problem, changing = listing.problem()
                    if problem is None:
                        results[listing.query] = resource.order(listing.unique())
                    elif listing.attempt < LISTING_ATTEMPTS:
                        listing.attempt += 1
                        listing.reset()
                        submit(listing, 0)
                    else:
                        failed(listing, listing.give_up(problem, changing))
        finally:
            for future in pending:
                future.cancel()
    return results, errors
