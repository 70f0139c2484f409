# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The RDB reader and the CRC-64, against a file Redis 7.0 wrote (tests/unit/fixtures/redis-7.0.rdb:
every value type but modules, two databases, keys with an expiry; redis-check-rdb reads 16 keys and
3 expires in it) and against the catalogue's check value."""

from __future__ import annotations

import os
import random

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _rdb

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "redis-7.0.rdb")


@pytest.fixture(scope="module")
def redis_file():
    with open(FIXTURE, "rb") as handle:
        return handle.read()


def scan(data, walk_keys=True, chunk=None):
    scanner = _rdb.RdbScanner(walk_keys=walk_keys)
    chunk = chunk or len(data) or 1
    for start in range(0, len(data), chunk):
        scanner.feed(data[start:start + chunk])
    return scanner


def test_the_python_crc_gives_the_catalogue_check_value():
    assert _rdb.crc64_python(b"123456789") == 0xE9C6D914C4B8D9CA
    assert _rdb.crc64_python(b"") == 0


def test_the_fast_crc_agrees_with_the_python_one_and_continues_across_chunks():
    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) for _byte in range(100003))
    whole = _rdb.crc64_python(data)
    assert _rdb.crc64(data) == whole
    crc = _rdb.Crc64()
    for start in range(0, len(data), 4099):  # odd chunk sizes: the slicing-by-8 tail and the fast path both carry on
        crc.update(data[start:start + 4099])
    assert crc.value == whole
    assert _rdb.crc64_python(data[5:], _rdb.crc64_python(data[:5])) == whole


def test_the_test_venv_has_the_fast_path():
    # The test requirements install anycrc: if this fails, every speed figure would be the slow path's.
    assert _rdb.CRC_IMPLEMENTATION in ("anycrc", "crcmod")


def test_a_whole_redis_file_crcs_to_zero_with_its_trailer(redis_file):
    assert _rdb.crc64(redis_file) == 0
    assert _rdb.crc64(redis_file[:-8]) == int.from_bytes(redis_file[-8:], "little")


def test_the_walk_reads_what_redis_check_rdb_reads(redis_file):
    scanner = scan(redis_file)
    assert scanner.error is None and scanner.stopped is None and scanner.ended and not scanner.extra
    facts = scanner.facts()
    assert facts["rdb_version"] == 10 and facts["redis_version"] == "7.0.15"
    assert facts["databases"] == [{"db": 0, "key_count": 14, "expires_count": 2}, {"db": 5, "key_count": 2, "expires_count": 1}]
    assert (facts["key_count"], facts["expires_count"], facts["databases_complete"]) == (16, 3, True)
    assert facts["created"] > 1700000000  # ctime, an integer-encoded string in the file
    assert scanner.trailer == redis_file[-8:]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000])
def test_the_walk_gives_the_same_facts_whatever_the_chunks(redis_file, chunk):
    assert scan(redis_file, chunk=chunk).facts() == scan(redis_file).facts()


def test_without_the_walk_only_the_records_before_the_first_key_are_read(redis_file):
    scanner = scan(redis_file, walk_keys=False)
    facts = scanner.facts()
    assert facts["databases"] == [{"db": 0, "key_count": 14, "expires_count": 2}]
    assert facts["databases_complete"] is False and scanner.error is None


def test_bytes_after_the_checksum_are_counted(redis_file):
    scanner = scan(redis_file + b"junk")
    assert scanner.ended and scanner.extra == 4


def test_a_newer_format_stops_the_walk_with_a_reason():
    scanner = scan(b"REDIS0013" + b"\xff" + b"\0" * 8)
    assert scanner.stopped and "13" in scanner.stopped and scanner.version == 13


@pytest.mark.parametrize("data, message", [
    (b"REDIS0010\xfb\x01\x00", "resize-db record before any select-db"),
    (b"REDIS0010\xfe\x00\xfb\x01\x00\x00\xc9", "unknown string encoding"),
    (b"REDIS0010\xfe\x00\xfb\xbf", "unknown length encoding"),
    (b"NOTREDIS!", "no RDB header"),
])
def test_a_malformed_file_is_an_error_naming_the_problem_and_where(data, message):
    scanner = scan(data)
    assert message in scanner.error and "at byte" in scanner.error


def test_a_value_type_it_does_not_know_stops_the_walk_and_says_so():
    scanner = scan(b"REDIS0012\xfe\x00\xfb\x02\x00\x00\x01a\x01b\x63\x01c")
    assert scanner.stopped == "a value of type 99, which this reader does not know"
    assert scanner.facts()["databases"] == [{"db": 0, "key_count": 2, "expires_count": 0}]


@pytest.mark.parametrize("head, name", [
    (b"\x1f\x8b\x08\x00", "gzip data"), (b"PK\x03\x04", "a ZIP archive"), (b"  <!DOCTYPE html><html>", "an HTML page"),
    (b'{"RetCode": 0}', "JSON"), (b"", "an empty file"), (b"*2\r\n$6\r\nSELECT", "Redis protocol (an AOF file?)"),
    (b"hello", "text"), (b"\xff\xfe\x00\x81", "binary data of an unknown kind"),
])
def test_what_a_file_that_is_not_an_rdb_looks_like(head, name):
    assert _rdb.what_it_is(head) == name


# --- expiry cut-offs: what a restore loads and what a check may find (uredis_restore_check) ---

# The fixture's three expiries (ms), as redis-server 7.0 loading the file answers PEXPIRETIME: db 0's
# biglist, db 5's other, db 0's soon.
FIXTURE_EXPIRIES = (1796625161708, 1796665161708, 1796675161699)


def tallies(data, cuts, chunk=None):
    scanner = _rdb.RdbScanner(walk_keys=True, expiry_cuts=cuts)
    chunk = chunk or len(data) or 1
    for start in range(0, len(data), chunk):
        scanner.feed(data[start:start + chunk])
    assert scanner.error is None and scanner.stopped is None, (scanner.error, scanner.stopped)
    return scanner.key_tallies()


def expired_per_db(data, cut):
    return dict((tally["db"], tally["expired"][0]) for tally in tallies(data, (cut,)))


def test_the_walk_counts_every_key_and_those_with_an_expiry_per_database(redis_file):
    assert [(t["db"], t["keys"], t["expiring"]) for t in tallies(redis_file, ())] == [(0, 14, 2), (5, 2, 1)]


def test_a_key_expiring_exactly_at_a_cut_is_counted_expired_and_a_ms_later_is_not(redis_file):
    first, second, third = FIXTURE_EXPIRIES
    assert expired_per_db(redis_file, first - 1) == {0: 0, 5: 0}
    assert expired_per_db(redis_file, first) == {0: 1, 5: 0}  # at or before the cut
    assert expired_per_db(redis_file, second) == {0: 1, 5: 1}
    assert expired_per_db(redis_file, third - 1) == {0: 1, 5: 1}
    assert expired_per_db(redis_file, third) == {0: 2, 5: 1}


@pytest.mark.parametrize("chunk", [1, 5, 333])
def test_several_cuts_are_tallied_at_once_whatever_the_chunks(redis_file, chunk):
    cuts = (0, FIXTURE_EXPIRIES[1], 2 ** 62)
    assert tallies(redis_file, cuts, chunk) == [
        {"db": 0, "keys": 14, "expiring": 2, "expired": [0, 1, 2]},
        {"db": 5, "keys": 2, "expiring": 1, "expired": [0, 1, 1]}]


def test_without_cuts_or_without_the_walk_nothing_is_tallied_beyond_what_was_read(redis_file):
    scanner = scan(redis_file, walk_keys=False)
    assert scanner.key_tallies() == [{"db": 0, "keys": 0, "expiring": 0, "expired": []}]


def _key(name, expiry=b"", extra=b""):
    return expiry + extra + b"\x00" + bytes([len(name)]) + name + b"\x01v"


def test_second_expiries_and_records_between_the_expiry_and_its_key_are_read():
    ms = b"\xfc" + (5000).to_bytes(8, "little")
    seconds = b"\xfd" + (7).to_bytes(4, "little")  # 7 s = 7000 ms: the old opcode of RDB versions before 3
    idle, freq = b"\xf8\x05", b"\xf9\x03"  # the LRU idle time and LFU counter Redis writes after the expiry
    data = (b"REDIS0010\xfe\x00\xfb\x04\x03" + _key(b"a", ms, idle) + _key(b"b", seconds, freq) + _key(b"c")
            + _key(b"d", b"\xfc" + (-1000).to_bytes(8, "little", signed=True)) + b"\xff" + b"\0" * 8)
    assert tallies(data, (4999, 5000, 7000)) == [{"db": 0, "keys": 4, "expiring": 3, "expired": [1, 2, 3]}]


def test_an_expiry_belongs_to_the_next_key_only():
    data = (b"REDIS0009\xfe\x00\xfb\x02\x01" + _key(b"a", b"\xfc" + (10).to_bytes(8, "little")) + _key(b"b")
            + b"\xfe\x01\xfb\x01\x00" + _key(b"c") + b"\xff" + b"\0" * 8)
    assert tallies(data, (2 ** 62,)) == [{"db": 0, "keys": 2, "expiring": 1, "expired": [1]},
                                         {"db": 1, "keys": 1, "expiring": 0, "expired": [0]}]


def test_keys_before_any_select_db_are_tallied_in_db_0_as_redis_loads_them():
    data = b"REDIS0006" + _key(b"a") + _key(b"b") + b"\xff" + b"\0" * 8
    assert tallies(data, ()) == [{"db": 0, "keys": 2, "expiring": 0, "expired": []}]
