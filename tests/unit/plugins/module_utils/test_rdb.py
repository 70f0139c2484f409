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
