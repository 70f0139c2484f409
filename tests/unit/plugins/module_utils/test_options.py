# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The faces' own options (plugins/module_utils/_options.py): ages, timestamps, dates, booleans, text."""

from __future__ import annotations

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import (
    OptionError,
    as_bool,
    parse_age,
    parse_since,
    require_text,
)


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
    with pytest.raises(OptionError, match=r"since='last tuesday' is not an age such as 24h or 7d"):
        parse_since("last tuesday", now=now)


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
    with pytest.raises(OptionError) as caught:
        parse_since(value, now=SINCE_NOW)
    assert str(caught.value) == message
    assert len(str(caught.value)) < 250  # a huge value is cut short, not echoed


def test_parse_age_bounds_each_number_and_the_total():
    assert parse_age("36525d") == 36525 * 86400
    assert parse_age("1d" * 1000) == 1000 * 86400
    with pytest.raises(OptionError, match=r"^the age '36526d' is out of range: an age is at most 36525d \(100 years\)$"):
        parse_age("36526d")
    with pytest.raises(OptionError, match=r"^interval='9999999999999999999999999999999.*' \(5001 characters\) is out"):
        parse_age("9" * 5000 + "s", name="interval")  # refused by its digits, never converted
    assert parse_age("\u0661d") is None  # ASCII digits only


@pytest.mark.parametrize("text, value", [("yes", True), ("on", True), ("1", True), ("y", True), (True, True),
                                         ("no", False), ("off", False), ("0", False), ("n", False), (" False ", False)])
def test_booleans_read_the_same_in_every_face(text, value):
    assert as_bool("watch_groups", text) is value


def test_a_bad_boolean_or_empty_text_is_an_option_error_naming_the_option():
    with pytest.raises(OptionError, match=r"^watch_groups='maybe' is not a boolean: use true or false$"):
        as_bool("watch_groups", "maybe")
    for value in ("", "   ", None):
        with pytest.raises(OptionError, match=r"^group_id must not be empty$"):
            require_text({"group_id": value}, "group_id")
    assert require_text({"group_id": " g-1 "}, "group_id") == "g-1"
