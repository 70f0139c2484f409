# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The restore check's arithmetic (the range each database may hold, the verdict and its words), its
distrust of the server's INFO answer, and the probe's deadline against a listener that never answers."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rdb
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _restore_check
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "redis-7.0.rdb")
# The fixture's expiries (ms): db 0's biglist, db 5's other, db 0's soon (see test_rdb.py).
FIRST, SECOND, THIRD = 1796625161708, 1796665161708, 1796675161699


def expected_of_fixture(restored_at, checked_at):
    scanner = _rdb.RdbScanner(walk_keys=True, expiry_cuts=(restored_at, checked_at))
    with open(FIXTURE, "rb") as handle:
        scanner.feed(handle.read())
    return _restore_check.expected(scanner.key_tallies())


def test_before_any_expiry_every_key_is_expected():
    assert expected_of_fixture(FIRST - 10, FIRST - 1) == {
        0: {"keys": 14, "expired_out": 0, "expected": 14, "expected_min": 14},
        5: {"keys": 2, "expired_out": 0, "expected": 2, "expected_min": 2}}


def test_keys_expired_by_the_restore_are_out_and_those_expiring_before_the_check_may_be_either():
    # Restored after the first expiry, checked after the second and third.
    assert expected_of_fixture(FIRST, THIRD) == {
        0: {"keys": 14, "expired_out": 1, "expected": 13, "expected_min": 12},
        5: {"keys": 2, "expired_out": 0, "expected": 2, "expected_min": 1}}


def test_a_match_passes_and_the_totals_add_up():
    keys, failures = _restore_check.verdict(expected_of_fixture(FIRST, THIRD), {0: 12, 5: 2})
    assert failures == []
    assert keys == {"expected": 15, "expected_min": 13, "found": 14, "expired_out": 1, "databases": [
        {"db": 0, "expected": 13, "expected_min": 12, "found": 12}, {"db": 5, "expected": 2, "expected_min": 1, "found": 2}]}


@pytest.mark.parametrize("found, words", [
    ({0: 11, 5: 2}, ["db 0 holds 11 keys, the backup 14 of which 1 expired before the restore (expected 12 to 13)"]),
    ({0: 14, 5: 2}, ["db 0 holds 14 keys, the backup 14 of which 1 expired before the restore (expected 12 to 13)"]),
    ({0: 12}, ["db 5 holds 0 keys, the backup 2 of which 0 expired before the restore (expected 1 to 2)"]),
    ({0: 12, 5: 1, 9: 4}, ["db 9 holds 4 keys, the backup none"]),
])
def test_too_few_too_many_a_missing_or_a_stray_database_fails_naming_it(found, words):
    _keys, failures = _restore_check.verdict(expected_of_fixture(FIRST, THIRD), found)
    assert failures == words


def test_one_expected_count_is_said_as_one_number():
    _keys, failures = _restore_check.verdict(expected_of_fixture(0, 0), {0: 13, 5: 2})
    assert failures == ["db 0 holds 13 keys, the backup 14 of which 0 expired before the restore (expected 14)"]


@pytest.mark.parametrize("info", [
    ["db0"], {"db0": {"keys": -1}}, {"db0": {"keys": "12"}}, {"db0": {"keys": True}}, {"dbx": {"keys": 1}},
    {"db0": 5}, {"\x1b[31mdb0": {"keys": 1}},
])
def test_an_info_answer_that_is_not_key_counts_is_refused(info):
    with pytest.raises(SigcalcloudError, match="answered INFO keyspace with something that is not a key count"):
        _restore_check._keyspace(info, "127.0.0.1:1")


def test_info_keyspace_is_read_per_database():
    assert _restore_check._keyspace({"db0": {"keys": 3, "expires": 1}, "db15": {"keys": 0}}, "h:1") == {0: 3, 15: 0}


def test_the_discard_sink_counts_and_starts_again_like_a_file():
    sink = _restore_check.Discard()
    assert sink.write(b"abc") == 3 and sink.tell() == 3
    sink.seek(0)
    sink.truncate()
    assert sink.tell() == 0


@pytest.mark.skipif(not _restore_check.HAS_REDIS, reason="redis-py is not installed")
def test_a_redis_that_accepts_but_never_answers_fails_at_the_timeout_naming_host_and_port():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(SigcalcloudError) as caught:
            _restore_check.probe("127.0.0.1", port, "pw-never-shown", 0.5)
    finally:
        listener.close()
    assert time.monotonic() - started < 5  # one call, no retries
    assert str(caught.value) == "could not check the Redis at 127.0.0.1:%d: no answer within the redis_timeout of 0.5s" % port
    assert "pw-never-shown" not in str(caught.value)
