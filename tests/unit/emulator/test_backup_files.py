# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The files behind the emulator's download links: real RDB files (API.md, "The backup file") of
exactly the listed BackupSize, the CRC-64 they end with, corruption and expired links on demand,
the download counts, and (when it is installed) redis-check-rdb's word on them.

The files are parsed here by a reader of a few lines written from API.md, not by the emulator's code.
"""

from __future__ import annotations

import gzip
import hashlib
from http.client import HTTPConnection, IncompleteRead
import os
import random
import shutil
import subprocess
import threading
import time
import tracemalloc
import urllib.parse

import pytest

from emulator.server import (CORRUPTION_KINDS, RDB_BLOCK, RDB_MIN_SIZE, RdbFile, crc64, crc64_combine, gzip_stream,
                             rdb_file, rdb_release)
from emulator_helpers import DEMO_PUBLIC, control, http, peek, send, signed

CTIME = 1700000000
REDIS_CHECK_RDB = shutil.which("redis-check-rdb")
needs_redis_check_rdb = pytest.mark.skipif(REDIS_CHECK_RDB is None, reason="redis-check-rdb (Redis's own RDB checker, "
                                           "Debian package redis-tools) is not on PATH")


# --- an RDB reader, from API.md ---------------------------------------------------------------------

def parse_rdb(data):
    """{"version", "aux", "keys" ({key: value}), "expires" ({key: ms}), "resize" ((keys, expires)), "trailer"};
    asserts the file is well formed to its last byte."""
    assert data[:5] == b"REDIS", data[:9]
    found = {"version": int(data[5:9]), "aux": {}, "keys": {}, "expires": {}, "resize": None}
    pos = 9

    def length():
        nonlocal pos
        first = data[pos]
        if first >> 6 == 0:
            pos += 1
            return first & 0x3F
        if first >> 6 == 1:
            pos += 2
            return (first & 0x3F) << 8 | data[pos - 1]
        width = {0x80: 4, 0x81: 8}[first]  # a KeyError: an encoding these files do not use
        pos += 1 + width
        return int.from_bytes(data[pos - width:pos], "big")

    def string():
        nonlocal pos
        size = length()
        pos += size
        assert pos <= len(data) - 9
        return data[pos - size:pos]

    expiry = None
    while True:
        opcode = data[pos]
        pos += 1
        if opcode == 0xFF:
            break
        if opcode == 0xFA:
            key = string()
            found["aux"][key.decode()] = string().decode()
        elif opcode == 0xFE:
            assert length() == 0
        elif opcode == 0xFB:
            found["resize"] = (length(), length())
        elif opcode == 0xFC:
            expiry, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        else:
            assert opcode == 0, "type %d at %d" % (opcode, pos - 1)
            key = string()
            assert key not in found["keys"]
            found["keys"][key] = string()
            if expiry is not None:
                found["expires"][key], expiry = expiry, None
    assert pos + 8 == len(data), (pos, len(data))
    found["trailer"] = int.from_bytes(data[pos:], "little")
    return found


def whole(made):
    return b"".join(bytes(piece) for piece in made.chunks())


def check_file(data, size, version=9, checksum=True):
    found = parse_rdb(data)
    assert len(data) == size and found["version"] == version
    assert found["trailer"] == (crc64(data[:-8]) if checksum else 0)
    if found["keys"]:
        assert found["resize"] == (len(found["keys"]), len(found["expires"]))
    return found


# --- CRC-64 ------------------------------------------------------------------------------------------

def test_crc64_check_values():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"") == 0
    assert crc64(b"56789", crc64(b"1234")) == 0xE9C6D914C4B8D9CA
    data = b"REDIS0009" + bytes(range(256))
    assert crc64(data + crc64(data).to_bytes(8, "little")) == 0  # a whole file's CRC, trailer included


def test_crc64_combine_is_the_crc_of_the_concatenation():
    rng = random.Random(7)
    for _round in range(300):
        a = rng.randbytes(rng.choice((0, 1, 7, 8, 64, rng.randrange(2000))))
        b = rng.randbytes(rng.choice((0, 1, 7, 8, 64, rng.randrange(2000))))
        assert crc64_combine(crc64(a), crc64(b), len(b)) == crc64(a + b)
    block = rng.randbytes(4096)
    crc, size = 0, 0
    for _i in range(5):
        crc, size = crc64_combine(crc, crc64(block), len(block)), size + len(block)
    assert crc == crc64(block * 5)


# --- layout and size ------------------------------------------------------------------------------------

def test_every_size_is_made_exactly():
    sizes = list(range(3000)) + list(range(16300, 16800))
    for k in (1, 2, 3):  # around whole value blocks, where a single last record has no length that fits
        sizes += list(range(k * RDB_BLOCK - 200, k * RDB_BLOCK + 400))
    for size in sizes:
        made = RdbFile("dense", size, "7.0", CTIME, checksum=False)
        if size < 42 and size != RDB_MIN_SIZE:  # below the smallest layout: the smallest file
            assert made.size == RDB_MIN_SIZE, size
        else:
            assert made.size == size, size
        assert made.size == len(made.prefix) + sum(len(key) + value for key, value in made.fillers) + 9
        small_keys = made.keys - len(made.fillers)
        assert small_keys in (0, 4) and (size < 1024 or small_keys == 4)


def test_a_boundary_is_crossed_with_two_records():
    # No single last record makes these sizes (a value of 16384 needs a 5-byte length): two do.
    split = [size for size in range(16600, 16800)
             if sum(1 for _key, value in RdbFile("s", size, None, CTIME, checksum=False).fillers if value < RDB_BLOCK) == 2]
    assert split
    made = RdbFile("s", split[0], None, CTIME)
    check_file(whole(made), split[0])


@pytest.mark.parametrize("size", [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 17, 5 * 2 ** 30 + 12345, 8 << 30])
def test_huge_sizes_are_exact_without_streaming(size):
    made = RdbFile("huge", size, "6.0", CTIME, checksum=False)
    assert made.size == size and made.keys == len(made.fillers) + 4 and made.expires == 2
    assert sum(len(bytes(key)) + value for key, value in made.fillers) + len(made.prefix) + 9 == size


@pytest.mark.parametrize("size", [RDB_MIN_SIZE, 42, 43, 300, 1024, 4096, 65536, 3 * RDB_BLOCK + 77])
@pytest.mark.parametrize("redis_version, version", [("4.0", 8), ("5.0", 9), ("6.0", 9), ("6.2", 9), ("7.0", 10),
                                                    ("7.2", 11), ("7.4", 12), (None, 9), ("3.2", 9)])
def test_streamed_files_are_well_formed(size, redis_version, version):
    made = RdbFile("stream", size, redis_version, CTIME)
    data = whole(made)
    found = check_file(data, size, version)
    assert found["trailer"] == made.crc and all(len(piece) <= RDB_BLOCK for piece in made.chunks())
    if size >= 1024:
        aux = found["aux"]
        assert aux["redis-ver"] == rdb_release(redis_version)[0] and aux["redis-bits"] == "64"
        assert aux["ctime"] == str(CTIME) and int(aux["used-mem"]) > 0
        assert ("aof-base" in aux) == (version >= 10)
        assert len(found["expires"]) == 2 and all(ms > CTIME * 1000 for ms in found["expires"].values())


def test_the_same_row_gives_the_same_bytes_and_a_copy_its_sources():
    row = {"BackupId": "b-1", "BackupSize": 5000, "RedisVersion": "7.0", "BackupTime": CTIME}
    first = whole(rdb_file(row))
    assert whole(RdbFile("b-1", 5000, "7.0", CTIME)) == first
    assert whole(rdb_file(dict(row, BackupId="b-2", SourceBackupId="b-1"))) == first  # a cross-region copy
    assert whole(rdb_file(dict(row, BackupId="b-2"))) != first


def test_a_big_file_streams_in_bounded_memory_with_the_right_checksum():
    size = (1 << 30) + 4321
    tracemalloc.start()  # around the making and streaming only: it slows the byte-at-a-time crc64 twentyfold
    try:
        made = RdbFile("big", size, "7.0", CTIME)
        pieces, distinct = [], {}
        for piece in made.chunks():
            digest = hashlib.sha1(piece).digest()
            pieces.append((digest, len(piece)))
            if digest not in distinct:  # the filler keys, the value block and its last, shorter use
                distinct[digest] = bytes(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(length for _digest, length in pieces) == size and peak < 8 << 20, peak
    trailer = distinct[pieces[-1][0]][-8:]
    crcs = dict((digest, crc64(data)) for digest, data in distinct.items() if data[-8:] != trailer)
    crc = 0
    for digest, length in pieces[:-1]:  # the crc64 of each distinct piece, combined in the file's order
        crc = crc64_combine(crc, crcs[digest], length)
    crc = crc64(distinct[pieces[-1][0]][:-8], crc)
    assert int.from_bytes(trailer, "little") == crc == made.crc


# --- the download ----------------------------------------------------------------------------------

@pytest.fixture
def emu(make_emulator):
    return make_emulator(hang_seconds=1.0)


def backup(emu, size=5000, redis_version="6.0"):
    """A Success backup of cn-bj2 set to ``size`` bytes and ``redis_version``; its row."""
    row = next(r for r in emu.data["backups"] if (r["Region"], r["ProjectId"], r["State"]) == ("cn-bj2", "org-demo", "Success"))
    row = dict(row, BackupSize=size, RedisVersion=redis_version)
    emu.change(upsert=[row])
    return row


def link(emu, backup_id):
    params = {"Action": "DescribeURedisBackupURL", "Region": "cn-bj2", "ProjectId": "org-demo",
              "PublicKey": DEMO_PUBLIC, "BackupId": backup_id}
    document = send(emu, signed(params)).json()
    assert document["RetCode"] == 0, document
    return document["BackupURL"]


def download(emu, backup_id):
    reply = http(link(emu, backup_id), timeout=30)
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/octet-stream"
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    return reply.body


def test_a_download_is_the_rows_file_and_is_counted(emu):
    row = backup(emu, 123457, "7.0")
    emu.reset_stats()
    body = download(emu, row["BackupId"])
    check_file(body, 123457, 10)
    assert body == whole(rdb_file(row))
    assert emu.stats()["downloads"] == 1 and emu.stats()["download_bytes"] == 123457
    assert http(link(emu, row["BackupId"]).replace("Signature=", "Signature=0")).status == 403
    stats = emu.stats()
    assert (stats["downloads"], stats["download_bytes"]) == (1, 123457)  # a refused link sends no file


def test_a_partial_download_counts_too(emu):
    row = backup(emu, 8 << 20)
    emu.reset_stats()
    assert peek(link(emu, row["BackupId"]), 100).body.startswith(b"REDIS0009")
    deadline = time.time() + 5
    while emu.stats()["download_bytes"] == 0 and time.time() < deadline:
        time.sleep(0.01)
    stats = emu.stats()
    assert stats["downloads"] == 1 and 0 < stats["download_bytes"] <= 8 << 20


def corrupted(emu, kind, size=40000):
    row = backup(emu, size)
    clean = whole(rdb_file(row))
    emu.corrupt_backup(row["BackupId"], kind)
    return row, clean


def test_flip_byte(emu):
    row, clean = corrupted(emu, "flip_byte")
    body = download(emu, row["BackupId"])
    assert len(body) == len(clean) and body[-8:] == clean[-8:]
    assert [i for i in range(len(body)) if body[i] != clean[i]] == [len(body) // 2]
    assert body[len(body) // 2] == clean[len(body) // 2] ^ 0xFF
    assert crc64(body[:-8]) != int.from_bytes(body[-8:], "little")


def test_truncate(emu):
    row, clean = corrupted(emu, "truncate")
    assert download(emu, row["BackupId"]) == clean[:20000]


def test_wrong_size(emu):
    row, clean = corrupted(emu, "wrong_size")
    body = download(emu, row["BackupId"])
    check_file(body, 40000 + 4096)


def test_not_rdb(emu):
    row, _clean = corrupted(emu, "not_rdb")
    body = download(emu, row["BackupId"])
    assert len(body) == 40000 and body[:2] == b"\x1f\x8b" and gzip.decompress(body).startswith(b"this is not an RDB")


@pytest.mark.parametrize("size", [0, 1, 2, 22, 23, 24, 65558, 65559, 3 * 65540 + 18, 1 << 20])
def test_not_rdb_is_a_gzip_stream_of_the_size(size):
    length, pieces = gzip_stream(size)
    body = b"".join(pieces)
    assert length == len(body) == size and body[:2] == b"\x1f\x8b"[:size]
    if size >= 23:
        gzip.decompress(body)


def test_no_checksum(emu):
    row, clean = corrupted(emu, "no_checksum")
    body = download(emu, row["BackupId"])
    check_file(body, 40000, checksum=False)
    assert body[:-8] == clean[:-8] and body[-8:] == bytes(8)


def read_stalled(url):
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.netloc, timeout=10)
    connection.request("GET", parts.path + "?" + parts.query)
    response = connection.getresponse()
    started, length = time.time(), int(response.headers["Content-Length"])
    with pytest.raises(IncompleteRead) as cut:
        response.read()
    connection.close()
    return length, cut.value.partial, time.time() - started


def test_stall_holds_half_the_file_then_closes(emu):
    row, clean = corrupted(emu, "stall")
    length, partial, waited = read_stalled(link(emu, row["BackupId"]))
    assert length == 40000 and partial == clean[:20000] and 0.8 <= waited < 5


def test_stall_ends_when_the_emulator_stops(make_emulator):
    emu = make_emulator(hang_seconds=60)
    row, _clean = corrupted(emu, "stall")
    url = link(emu, row["BackupId"])
    stopper = threading.Timer(0.5, emu.stop)
    stopper.start()
    assert read_stalled(url)[2] < 5
    stopper.join(10)  # stop() is done before the fixture's own stop() runs


def test_corruption_control(emu):
    row = backup(emu)
    assert control(emu, "corrupt").json() == {}
    reply = control(emu, "corrupt", {"BackupId": row["BackupId"], "kind": "truncate"})
    assert reply.status == 200 and reply.json() == {"ok": True, "corrupt": {row["BackupId"]: "truncate"}}
    for bad in ({"BackupId": row["BackupId"], "kind": "melt"}, {"BackupId": "no-such-backup", "kind": "truncate"},
                {"BackupId": row["BackupId"]}, {"kind": None}, [1]):
        reply = control(emu, "corrupt", bad)
        assert reply.status == 400 and reply.body.startswith(b"bad change: "), (bad, reply)
    assert emu.corruptions() == {row["BackupId"]: "truncate"}  # a refused order changed nothing
    assert len(download(emu, row["BackupId"])) == 2500
    assert control(emu, "corrupt", {"BackupId": row["BackupId"], "kind": None}).json()["corrupt"] == {}
    assert len(download(emu, row["BackupId"])) == 5000
    emu.corrupt_backup(row["BackupId"], "stall")
    emu.corrupt_backup(row["BackupId"], "none")
    assert emu.corruptions() == {}
    with pytest.raises(ValueError):
        emu.corrupt_backup(row["BackupId"], "melt")
    assert set(CORRUPTION_KINDS) == {"flip_byte", "truncate", "wrong_size", "not_rdb", "no_checksum", "stall", "cut"}


def test_expired_links_on_demand(emu):
    row = backup(emu)
    assert control(emu, "expired_links").json() == {"count": 0}
    assert control(emu, "expired_links", {"count": 2}).json() == {"ok": True, "count": 2}
    for _expired in range(2):
        url = link(emu, row["BackupId"])
        assert int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["Expires"][0]) < time.time()
        assert http(url).status == 403
    assert emu.expired_links_left() == 0
    assert len(download(emu, row["BackupId"])) == 5000  # the next link is fresh
    emu.expire_links(1)
    assert http(link(emu, row["BackupId"])).status == 403
    for bad in ({"count": -1}, {"count": "2"}, {}, {"count": 1, "kind": "x"}):
        assert control(emu, "expired_links", bad).status == 400
    with pytest.raises(ValueError):
        emu.expire_links(True)


# --- redis-check-rdb ----------------------------------------------------------------------------------

def redis_check_rdb(tmp_path, body):
    path = tmp_path / ("%s.rdb" % hashlib.sha1(body).hexdigest())
    path.write_bytes(body)
    done = subprocess.run([REDIS_CHECK_RDB, str(path)], capture_output=True, text=True, timeout=60, check=False)
    os.unlink(str(path))
    return done.returncode == 0 and "RDB looks OK" in done.stdout, done.stdout + done.stderr


@needs_redis_check_rdb
@pytest.mark.parametrize("redis_version", ["4.0", "5.0", "6.0", "7.0"])
def test_redis_check_rdb_takes_every_file(emu, tmp_path, redis_version):
    boundary = next(size for size in range(16600, 16800) if sum(
        1 for _key, value in RdbFile("s", size, None, CTIME, checksum=False).fillers if value < RDB_BLOCK) == 2)
    for size in (RDB_MIN_SIZE, 42, 1000, 3 << 20, boundary, 16384 + 300):
        row = backup(emu, size, redis_version)
        body = download(emu, row["BackupId"])
        assert len(body) == size
        good, said = redis_check_rdb(tmp_path, body)
        assert good, (redis_version, size, said)
    emu.corrupt_backup(row["BackupId"], "no_checksum")
    good, said = redis_check_rdb(tmp_path, download(emu, row["BackupId"]))
    assert good and "checksum disabled" in said, said


@needs_redis_check_rdb
@pytest.mark.parametrize("kind", ["flip_byte", "truncate"])
@pytest.mark.parametrize("size", [1000, 3 << 20])
def test_redis_check_rdb_refuses_a_damaged_file(emu, tmp_path, kind, size):
    row = backup(emu, size, "7.0")
    emu.corrupt_backup(row["BackupId"], kind)
    good, said = redis_check_rdb(tmp_path, download(emu, row["BackupId"]))
    assert not good, said


def test_a_newer_format_than_redis_7_0_reads_has_its_header(emu):
    for redis_version, header in (("7.2", b"REDIS0011"), ("7.4", b"REDIS0012")):
        row = backup(emu, 2000, redis_version)
        body = download(emu, row["BackupId"])
        assert body.startswith(header)
        check_file(body, 2000, int(header[5:]))
