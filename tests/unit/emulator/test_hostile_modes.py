# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's hostile modes, checked on the wire with standard-library clients.

Each hostile fault kind is asked for through a FaultPlan (or --fail-region) and read with
http.client or a raw socket, so what is checked is what any client gets: the bytes, their
timing and their size. "The right answer" is the emulator's own answer to the same request
without faults (test_server.py checks that one against the API's rules).
"""

from __future__ import annotations

import gzip
import json
import math
import re
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import types
import urllib.parse
import zlib
from http.client import HTTPConnection

import pytest

from emulator import server as server_module
from emulator.server import (CONTROL_TEXT, DEEP_JSON_DEPTH, FAULT_KINDS, HOSTILE_FAULTS, HUGE_INT_DIGITS, LISTING_FAULTS,
                             LONE_SURROGATE, MISMATCH_FAULTS, REQUEST_ID_HEADER, Emulator, FaultPlan, _parser,
                             emulator_from_args, generate_dataset, sign)
from emulator_helpers import DEMO_PRIVATE, DEMO_PUBLIC, EPOCH, ROOT

SERVER = ROOT / "tests" / "emulator" / "server.py"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MIB = 1 << 20


def params(private_key=DEMO_PRIVATE, **overrides):
    """DescribeURedisBackup of cn-bj2 for the demo key, signed (unsigned with private_key=None)."""
    found = {"Action": "DescribeURedisBackup", "PublicKey": DEMO_PUBLIC, "Region": "cn-bj2", "RegionType": "normal"}
    found.update((key, str(value)) for key, value in overrides.items())
    if private_key is not None:
        found["Signature"] = sign(found, private_key)
    return found


def post(emu, request_params, timeout=10.0):
    """(connection, response): a POST of ``request_params``, its status line and headers read."""
    connection = HTTPConnection("127.0.0.1", emu.port, timeout=timeout)
    connection.request("POST", "/", urllib.parse.urlencode(request_params), FORM)
    return connection, connection.getresponse()


def exchange(emu, request_params, timeout=10.0):
    """(response, body): one whole exchange."""
    connection, response = post(emu, request_params, timeout)
    try:
        return response, response.read()
    finally:
        connection.close()


def raw_socket(emu, request_params, timeout=10.0):
    """A socket that has sent the POST of ``request_params`` and read nothing yet."""
    body = urllib.parse.urlencode(request_params).encode("ascii")
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=timeout)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    return sock


def read_head(sock):
    """The status line and headers (bytes, up to and with the blank line) from ``sock``, a byte at a time."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, "the connection ended inside the headers: %r" % head
        head += byte
    return head


def new_threads(before):
    """The threads started since ``before`` (a set of threads) that are still running."""
    return [thread for thread in threading.enumerate() if thread not in before]


def all_end(threads, seconds=3.0):
    """True when every one of ``threads`` has ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def ends(sock):
    """True when the connection ends (EOF or reset) within the socket's timeout, whatever was still in flight."""
    try:
        while sock.recv(1 << 16):
            pass
    except socket.timeout:
        return False
    except OSError:  # reset
        return True
    return True


def right(emu, **overrides):
    """The answer the request would get without faults."""
    return emu.answer(params(**overrides))


@pytest.fixture
def make_emulator(make_emulator):
    """make_emulator(kind or None, **Emulator kwargs): conftest.py's, of two regions, every API request getting ``kind``."""
    def make(kind=None, **kwargs):
        kwargs.setdefault("data", generate_dataset(["cn-bj2", "cn-sh2"], 30, seed=1, epoch=EPOCH))
        if kind is not None:
            kwargs.setdefault("faults", FaultPlan(rate=1.0, kinds=(kind,)))
        return make_emulator(**kwargs)

    return make


# --- the kinds are fault kinds like the others ------------------------------------------------

EXPECTED_HOSTILE = {"drip", "drip_headers", "oversized", "oversized_chunked", "gzip_bomb", "total_claimed", "endless",
                    "empty_dataset", "no_dataset", "control_message", "control_rows", "deep_json", "retcode_infinity",
                    "retcode_huge", "retcode_fraction", "huge_int", "lone_surrogate",
                    "wrong_action", "other_group", "ignore_filter", "over_limit", "empty_listing", "short_listing"}


def test_every_hostile_kind_is_a_fault_kind():
    assert set(HOSTILE_FAULTS) == EXPECTED_HOSTILE and len(HOSTILE_FAULTS) == len(EXPECTED_HOSTILE)
    assert set(HOSTILE_FAULTS) <= set(FAULT_KINDS) and len(set(FAULT_KINDS)) == len(FAULT_KINDS)
    for kind in HOSTILE_FAULTS:  # accepted everywhere a kind is
        FaultPlan(rate=0.5, kinds=(kind,), schedule={1: kind}, fail_regions={"hk": kind})


def test_the_control_text_holds_terminal_control_sequences():
    for sequence in ("\x1b[2J", "\x1b[H", "\r\nok: [localhost]", "\x1b]0;pwned\x07", "\u202e", "\x9b"):
        assert sequence in CONTROL_TEXT
    assert LONE_SURROGATE == "\ud800" and DEEP_JSON_DEPTH == 100000 and HUGE_INT_DIGITS == 5000


# --- drip and drip_headers --------------------------------------------------------------------

def test_drip_sends_the_headers_at_once_then_a_byte_per_interval(make_emulator):
    emu = make_emulator("drip", drip_interval=0.4)
    expected = json.dumps(right(emu, Offset=1000), ensure_ascii=False).encode("utf-8")
    start = time.monotonic()
    connection, response = post(emu, params(Offset=1000))
    try:
        assert time.monotonic() - start < 0.3  # status line and headers: at once
        assert response.status == 200 and response.getheader("Content-Type") == "application/json"
        assert int(response.getheader("Content-Length")) == len(expected)
        assert response.getheader(REQUEST_ID_HEADER)
        assert response.read(1) == expected[:1]
        assert time.monotonic() - start < 0.3  # the first body byte too
        assert response.read(1) == expected[1:2]
        assert time.monotonic() - start >= 0.35  # the next one an interval later
    finally:
        connection.close()


def test_drip_takes_length_times_interval_whatever_the_socket_timeout(make_emulator):
    interval = 0.01
    emu = make_emulator("drip", drip_interval=interval)
    expected = json.dumps(right(emu, Offset=1000), ensure_ascii=False).encode("utf-8")
    start = time.monotonic()
    response, body = exchange(emu, params(Offset=1000), timeout=0.3)  # a per-read timeout never fires
    elapsed = time.monotonic() - start
    assert response.status == 200 and body == expected
    assert (len(expected) - 1) * interval <= elapsed < len(expected) * interval * 3 + 1
    assert elapsed > 0.3 * 2
    assert emu.stats()["faults_injected"] == 1


def test_drip_headers_sends_the_status_line_a_byte_at_a_time(make_emulator):
    emu = make_emulator("drip_headers", drip_interval=0.4)
    sock = raw_socket(emu, params())
    try:
        start = time.monotonic()
        assert sock.recv(100) == b"H"  # the first byte at once
        assert time.monotonic() - start < 0.3
        assert sock.recv(100) == b"T"  # the next an interval later
        assert time.monotonic() - start >= 0.35
    finally:
        sock.close()


def test_drip_headers_drips_the_status_line_and_headers_too(make_emulator):
    interval = 0.004
    emu = make_emulator("drip_headers", drip_interval=interval)
    expected = json.dumps(right(emu, Offset=1000), ensure_ascii=False).encode("utf-8")
    sock = raw_socket(emu, params(Offset=1000))
    try:
        start = time.monotonic()
        head = read_head(sock)
        elapsed = time.monotonic() - start
        assert elapsed >= (len(head) - 1) * interval
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0] == "HTTP/1.1 200 OK" and lines[-2:] == ["", ""]
        headers = dict(line.split(": ", 1) for line in lines[1:-2])
        assert headers["Content-Type"] == "application/json" and int(headers["Content-Length"]) == len(expected)
        assert headers[REQUEST_ID_HEADER] and headers["Server"].startswith("sigcalcloud-emulator")
        body = b""
        while len(body) < len(expected):
            body += sock.recv(100)
        assert body == expected
    finally:
        sock.close()


def test_drip_headers_reads_with_http_client(make_emulator):
    emu = make_emulator("drip_headers", drip_interval=0.001)
    response, body = exchange(emu, params(Offset=1000, Limit=1))
    assert response.status == 200 and json.loads(body) == right(emu, Offset=1000, Limit=1)


@pytest.mark.parametrize("kind", ["drip", "drip_headers"])
def test_a_drip_blocks_no_other_request(make_emulator, kind):
    emu = make_emulator(faults=FaultPlan(schedule={1: kind}), drip_interval=0.5)
    sock = raw_socket(emu, params())
    try:
        assert sock.recv(1)  # the drip has begun
        start = time.monotonic()
        response, body = exchange(emu, params())
        assert time.monotonic() - start < 0.4
        assert response.status == 200 and json.loads(body) == right(emu)
    finally:
        sock.close()


@pytest.mark.parametrize("kind", ["drip", "drip_headers"])
def test_a_drip_ends_when_the_client_goes_away(make_emulator, kind):
    emu = make_emulator(kind, drip_interval=0.05)  # the whole answer would take minutes
    before = set(threading.enumerate())
    sock = raw_socket(emu, params())
    assert sock.recv(1)
    dripping = new_threads(before)
    assert len(dripping) == 1  # the request's own thread
    sock.close()
    assert all_end(dripping), "the dripping thread goes on"
    emu.faults = FaultPlan()
    response, body = exchange(emu, params())
    assert response.status == 200 and json.loads(body) == right(emu)


@pytest.mark.parametrize("kind, kwargs", [
    ("drip", dict(drip_interval=30)),
    ("drip_headers", dict(drip_interval=30)),
    ("oversized", dict(oversize_bytes=256 * MIB)),  # a client that reads nothing: the server is stuck in a write
    ("oversized_chunked", dict(oversize_bytes=256 * MIB)),
    ("hang", dict(hang_seconds=30)),
])
def test_stop_does_not_wait_for_a_hostile_answer(make_emulator, kind, kwargs):
    before = set(threading.enumerate())
    emu = make_emulator(kind, **kwargs)
    sock = raw_socket(emu, params())
    try:
        if kind != "hang":
            assert sock.recv(1)
        time.sleep(0.2)  # a client that reads no more: an oversized answer fills the socket buffers
        threads = new_threads(before)
        assert len(threads) == 2  # serve_forever and the request's thread
        start = time.monotonic()
        emu.stop()
        assert time.monotonic() - start < 2
        sock.settimeout(5)
        assert ends(sock)  # the connection is shut: the rest never comes
        assert all_end(threads), "a thread outlives stop()"
    finally:
        sock.close()


# --- oversized, oversized_chunked, gzip_bomb ----------------------------------------------------

def check_padded(text, emu, size, **overrides):
    """``text`` is ``size`` bytes of JSON: a Padding of "x" first, then the right answer."""
    assert len(text) == size
    document = json.loads(text)
    assert list(document)[0] == "Padding" and set(document["Padding"]) == {"x"}
    assert len(document["Padding"]) > size - 40000
    del document["Padding"]
    assert document == right(emu, **overrides)


def test_oversized_is_content_length_bytes_of_valid_json(make_emulator):
    emu = make_emulator("oversized", oversize_bytes=2 * MIB)
    response, body = exchange(emu, params())
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    assert int(response.getheader("Content-Length")) == 2 * MIB
    assert response.getheader("Transfer-Encoding") is None and response.getheader("Content-Encoding") is None
    check_padded(body, emu, 2 * MIB)


def test_oversized_chunked_has_no_content_length(make_emulator):
    emu = make_emulator("oversized_chunked", oversize_bytes=2 * MIB)
    sock = raw_socket(emu, params())
    try:
        head = read_head(sock).decode("latin-1").lower()
    finally:
        sock.close()
    assert head.startswith("http/1.1 200 ok\r\n") and "\r\ntransfer-encoding: chunked\r\n" in head
    assert "content-length" not in head
    response, body = exchange(emu, params())
    assert response.status == 200 and response.getheader("Content-Length") is None and response.chunked
    check_padded(body, emu, 2 * MIB)


def test_oversized_chunked_keeps_the_connection_usable(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "oversized_chunked"}), oversize_bytes=MIB)
    connection, response = post(emu, params())
    try:
        assert len(response.read()) == MIB
        connection.request("POST", "/", urllib.parse.urlencode(params()), FORM)  # the same connection
        assert json.loads(connection.getresponse().read()) == right(emu)
    finally:
        connection.close()


def test_oversized_answers_are_padded_to_the_size_or_just_over_the_answer(make_emulator):
    emu = make_emulator("oversized", oversize_bytes=10)
    response, body = exchange(emu, params())
    plain = json.dumps(right(emu), ensure_ascii=False).encode("utf-8")
    assert response.status == 200 and len(body) == len(plain) + len(b'"Padding": "", ')
    assert json.loads(body) == dict(right(emu), Padding="")


def test_gzip_bomb_is_small_and_inflates_to_oversize_bytes_of_json(make_emulator):
    emu = make_emulator("gzip_bomb", oversize_bytes=2 * MIB)
    response, body = exchange(emu, params())
    assert response.status == 200 and response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Content-Type") == "application/json"
    assert int(response.getheader("Content-Length")) == len(body) < 2 * MIB // 500
    check_padded(gzip.decompress(body), emu, 2 * MIB)
    assert exchange(emu, params())[1] == body  # the same answer compresses the same way


def inflated_size(body, keep=1 << 16):
    """(inflated length, its last ``keep`` bytes) of a gzip body, inflated a MiB at a time."""
    inflater, size, tail = zlib.decompressobj(16 + zlib.MAX_WBITS), 0, b""
    while body:
        piece = inflater.decompress(body, MIB)
        size, tail, body = size + len(piece), (tail + piece)[-keep:], inflater.unconsumed_tail
    assert inflater.eof and not inflater.unused_data
    return size, tail


def test_gzip_bomb_default_size_is_64_mib_from_about_64_kb(make_emulator):
    emu = make_emulator("gzip_bomb")
    assert emu.oversize_bytes == 64 * MIB
    response, body = exchange(emu, params(Limit=1))
    assert response.status == 200 and len(body) < 200 << 10
    size, tail = inflated_size(body)
    assert size == 64 * MIB
    assert tail.endswith(b'x", ' + json.dumps(right(emu, Limit=1), ensure_ascii=False).encode("utf-8")[1:])


@pytest.mark.parametrize("limit", [1, 10, 100])
def test_gzip_bomb_pads_each_answer_to_the_size(make_emulator, limit):
    emu = make_emulator("gzip_bomb", oversize_bytes=3 * MIB + 7)  # answers of any length inflate to that size
    check_padded(gzip.decompress(exchange(emu, params(Limit=limit))[1]), emu, 3 * MIB + 7, Limit=limit)


@pytest.mark.parametrize("kind", ["oversized", "oversized_chunked", "gzip_bomb"])
def test_oversized_answers_are_never_held_whole(make_emulator, kind):
    size = 48 * MIB + 3  # a size of its own: the gzip cache is built inside the measure
    emu = make_emulator(kind, oversize_bytes=size)
    tracemalloc.start()
    try:
        connection, response = post(emu, params())
        received = 0
        while True:
            piece = response.read(1 << 16)
            if not piece:
                break
            received += len(piece)
        connection.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert received == size if kind != "gzip_bomb" else received < size // 500
    assert peak < 6 * MIB, "%s held %d bytes at once" % (kind, peak)


@pytest.mark.parametrize("kind", ["oversized", "oversized_chunked"])
def test_an_oversized_answer_ends_when_the_client_goes_away(make_emulator, kind):
    emu = make_emulator(kind, oversize_bytes=1 << 40)  # 1 TiB: sent whole, it would take hours
    before = set(threading.enumerate())
    connection, response = post(emu, params())
    assert len(response.read(1 << 16)) == 1 << 16
    writing = new_threads(before)
    assert len(writing) == 1
    connection.close()
    assert all_end(writing), "the writing thread goes on"
    assert emu.stats()["faults_injected"] == 1


# --- lies about the listing ---------------------------------------------------------------------

def test_total_claimed_claims_a_total_and_pages_past_the_rows_are_empty(make_emulator):
    emu = make_emulator("total_claimed")
    first = json.loads(exchange(emu, params(Limit=30))[1])
    assert first == dict(right(emu, Limit=30), TotalCount=10 ** 12) and len(first["DataSet"]) == 30
    second = json.loads(exchange(emu, params(Offset=30, Limit=30))[1])
    assert second == {"RetCode": 0, "Action": "DescribeURedisBackupResponse", "TotalCount": 10 ** 12, "DataSet": []}
    assert emu.stats()["faults_injected"] == 2


def test_total_claimed_with_a_claimed_total(make_emulator):
    emu = make_emulator("total_claimed", claimed_total=20000)
    document = json.loads(exchange(emu, params(Offset=5))[1])
    assert document == dict(right(emu, Offset=5), TotalCount=20000)


@pytest.mark.parametrize("offset, limit, rows", [(0, 10, 10), (0, 1000, 100), (1000, 5, 5), (10 ** 12, 100, 100), (10 ** 15, 3, 3)])
def test_endless_pages_are_always_full_of_unique_made_up_rows(make_emulator, offset, limit, rows):
    emu = make_emulator("endless")
    document = json.loads(exchange(emu, params(Offset=offset, Limit=limit))[1])
    assert document["RetCode"] == 0 and document["TotalCount"] == 10 ** 12
    page = document["DataSet"]
    assert [row["BackupId"] for row in page] == ["endless-%d" % (offset + i) for i in range(rows)]
    newest = max(row["BackupTime"] for row in emu.data["backups"])
    for row in page:
        assert row["BackupName"] == row["BackupId"] and row["State"] == "Success" and row["BackupType"] == "Auto"
        assert row["GroupId"] == "uredis-endless" and row["Zone"] == "cn-bj2-01"
        assert all(isinstance(row[key], int) and row[key] >= 0 for key in ("BackupTime", "BackupSize", "MemorySize"))
        assert row["BackupTime"] == max(0, newest - int(row["BackupId"].split("-")[1]))
    assert [row["BackupTime"] for row in page] == sorted((row["BackupTime"] for row in page), reverse=True)


def test_endless_keeps_a_group_filter_and_its_claimed_total(make_emulator):
    emu = make_emulator("endless", claimed_total=7, max_page_size=4)
    document = json.loads(exchange(emu, params(GroupId="uredis-cnbj2-01", Offset=50))[1])
    assert document["TotalCount"] == 7
    assert [(row["BackupId"], row["GroupId"]) for row in document["DataSet"]] == [
        ("endless-%d" % n, "uredis-cnbj2-01") for n in range(50, 54)]


def test_empty_dataset_contradicts_its_own_count(make_emulator):
    emu = make_emulator("empty_dataset")
    assert json.loads(exchange(emu, params())[1]) == {
        "RetCode": 0, "Action": "DescribeURedisBackupResponse", "TotalCount": 30, "DataSet": []}


def test_no_dataset_has_a_count_and_no_rows_at_all(make_emulator):
    emu = make_emulator("no_dataset")
    assert json.loads(exchange(emu, params())[1]) == {
        "RetCode": 0, "Action": "DescribeURedisBackupResponse", "TotalCount": 30}


@pytest.mark.parametrize("kind", sorted(LISTING_FAULTS))
def test_listing_faults_leave_a_refusal_as_it_is(make_emulator, kind):
    emu = make_emulator(kind)
    for request_params, ret_code in ((params(private_key=None), 170), (params(private_key="wrong"), 171),
                                     (params(Region="nowhere"), 230)):
        assert json.loads(exchange(emu, request_params)[1]) == emu.answer(request_params)
        assert emu.answer(request_params)["RetCode"] == ret_code
    assert emu.stats()["faults_injected"] == 0  # nothing was lied about


# --- terminal control text ----------------------------------------------------------------------

def test_control_message_is_a_request_error_holding_control_text(make_emulator):
    emu = make_emulator("control_message")
    response, body = exchange(emu, params())
    assert response.status == 200
    assert json.loads(body) == {"RetCode": 230, "Action": "DescribeURedisBackupResponse", "Message": CONTROL_TEXT}
    assert b"\\u001b[2J" in body  # JSON escapes C0 controls; decoded, they are raw again


def test_control_rows_put_control_text_in_names(make_emulator):
    emu = make_emulator("control_rows")
    document = json.loads(exchange(emu, params())[1])
    expected = right(emu)
    assert document["TotalCount"] == expected["TotalCount"] and len(document["DataSet"]) == 10
    for row, good in zip(document["DataSet"], expected["DataSet"]):
        assert row == dict(good, BackupName=good["BackupName"] + CONTROL_TEXT, GroupName=good["GroupName"] + CONTROL_TEXT)


# --- JSON that breaks decoders ------------------------------------------------------------------

def test_deep_json_is_valid_json_too_deep_for_a_recursive_decoder(make_emulator):
    emu = make_emulator("deep_json")
    response, body = exchange(emu, params())
    assert response.status == 200
    head = b'{"RetCode": 0, "Action": "DescribeURedisBackupResponse", "TotalCount": 1, "DataSet": '
    assert body == head + b"[" * DEEP_JSON_DEPTH + b"]" * DEEP_JSON_DEPTH + b"}"
    with pytest.raises(RecursionError):
        json.loads(body)
    shallow = body.replace(b"[" * DEEP_JSON_DEPTH, b"[" * 3).replace(b"]" * DEEP_JSON_DEPTH, b"]" * 3)
    assert json.loads(shallow)["DataSet"] == [[[]]]  # the same shape, valid JSON


def test_retcode_infinity(make_emulator):
    emu = make_emulator("retcode_infinity")
    body = exchange(emu, params())[1]
    assert body.startswith(b'{"RetCode": Infinity, "Action": ')
    document = json.loads(body)
    assert math.isinf(document["RetCode"]) and document["DataSet"] == right(emu)["DataSet"]
    with pytest.raises(ValueError, match="Infinity"):  # not JSON for a strict decoder
        json.loads(body, parse_constant=refuse)


def refuse(name):
    raise ValueError("not JSON: %s" % name)


def test_retcode_huge(make_emulator):
    emu = make_emulator("retcode_huge")
    body = exchange(emu, params())[1]
    assert body.startswith(b'{"RetCode": 1e400, "Action": ')
    document = json.loads(body)
    assert document["RetCode"] == float("inf") and dict(document, RetCode=0) == right(emu)
    with pytest.raises(OverflowError):
        int(document["RetCode"])


def test_retcode_fraction_has_the_right_rows(make_emulator):
    emu = make_emulator("retcode_fraction")
    document = json.loads(exchange(emu, params())[1])
    assert document == dict(right(emu), RetCode=0.9) and list(document)[0] == "RetCode"
    assert int(document["RetCode"]) == 0  # what a careless int() makes of it


def test_huge_int_total_count(make_emulator):
    emu = make_emulator("huge_int")
    body = exchange(emu, params())[1]
    match = re.search(rb'"TotalCount": ([0-9]+), "DataSet": ', body)
    assert match and match.group(1) == b"1" + b"0" * (HUGE_INT_DIGITS - 1)
    document = json.loads(body, parse_int=str)
    assert document["TotalCount"] == "1" + "0" * 4999
    assert json.loads(re.sub(rb'"TotalCount": [0-9]+', b'"TotalCount": 30', body)) == right(emu)
    if hasattr(sys, "get_int_max_str_digits") and sys.get_int_max_str_digits():
        with pytest.raises(ValueError, match="digits"):
            json.loads(body)


def test_lone_surrogate_in_the_first_backup_name(make_emulator):
    emu = make_emulator("lone_surrogate")
    body = exchange(emu, params())[1]
    assert body.decode("ascii") and body.count(b"\\ud800") == 1
    document = json.loads(body)
    expected = right(emu)
    first = expected["DataSet"][0]
    assert document == dict(expected, DataSet=[dict(first, BackupName=first["BackupName"] + "\ud800")] + expected["DataSet"][1:])
    with pytest.raises(UnicodeEncodeError):
        document["DataSet"][0]["BackupName"].encode("utf-8")


def test_lone_surrogate_leaves_an_empty_page_empty(make_emulator):
    emu = make_emulator("lone_surrogate")
    assert json.loads(exchange(emu, params(Offset=1000))[1]) == right(emu, Offset=1000)


# --- answers to another request: a client must check each answer against its request ---------------

GROUP_ONE = "uredis-cnbj2-01"  # cn-bj2's groups -00 to -05 hold the demo backups; -90 and -91 none


def answer_of(emu, request_params):
    """The decoded answer to a POST of ``request_params``."""
    return json.loads(exchange(emu, request_params)[1])


def groups_params(**overrides):
    return params(Action="DescribeURedisGroup", **overrides)


def control(emu, name, body=None):
    """(status, body) of GET (no body) or POST (``body``: bytes or JSON) /_emulator/<name>."""
    connection = HTTPConnection("127.0.0.1", emu.port, timeout=10)
    try:
        if body is None:
            connection.request("GET", "/_emulator/" + name)
        else:
            connection.request("POST", "/_emulator/" + name, body if isinstance(body, bytes) else json.dumps(body))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_mismatch_kinds_are_hostile_kinds_that_leave_refusals_alone():
    assert set(MISMATCH_FAULTS) == {"wrong_action", "other_group", "ignore_filter", "over_limit", "empty_listing",
                                    "short_listing"}
    assert set(MISMATCH_FAULTS) <= set(HOSTILE_FAULTS)
    assert set(MISMATCH_FAULTS) - {"wrong_action"} <= set(LISTING_FAULTS) and "wrong_action" not in LISTING_FAULTS


def test_wrong_action_answers_a_backup_listing_with_the_group_listing(make_emulator):
    emu = make_emulator("wrong_action")
    document = answer_of(emu, params(Offset=1, Limit=3))
    assert document["RetCode"] == 0 and document["Action"] == "DescribeURedisGroupResponse"
    assert document == emu.answer(groups_params(Offset=1, Limit=3))  # Offset and Limit as sent
    assert len(document["DataSet"]) == 3 and document["TotalCount"] == 8
    assert all("BackupId" not in row and row["GroupId"].startswith("uredis-cnbj2-") and "Name" in row for row in document["DataSet"])
    assert emu.stats()["faults_injected"] == 1


def test_wrong_action_answers_the_other_actions_with_the_backup_listing(make_emulator):
    emu = make_emulator("wrong_action")
    success = next(row for row in emu.data["backups"]
                   if (row["Region"], row["ProjectId"], row["State"]) == ("cn-bj2", "org-demo", "Success") and "SrcRegionName" not in row)
    policies = emu.groups()
    listing = right(emu)  # RegionType normal, Offset 0, Limit 10
    for request_params, expected in ((groups_params(Offset=2, Limit=4), right(emu, Offset=2, Limit=4)),
                                     (params(Action="DescribeURedisBackupURL", BackupId=success["BackupId"]), listing),
                                     (params(Action="UpdateURedisBackupStrategy", GroupId=GROUP_ONE, AutoBackup="disable"), listing),
                                     (params(Action="CreateURedisBackup", GroupId=GROUP_ONE, BackupName="wrong-action-1"), listing)):
        document = answer_of(emu, request_params)
        assert document == expected and document["Action"] == "DescribeURedisBackupResponse", request_params["Action"]
        assert all("BackupId" in row for row in document["DataSet"]) and document["DataSet"]
    assert emu.stats()["faults_injected"] == 4
    assert emu.groups() == policies  # the policy update was not performed


def test_a_create_struck_by_wrong_action_creates_nothing(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "wrong_action"}))
    before = emu.data["backups"]
    create_params = params(Action="CreateURedisBackup", GroupId=GROUP_ONE, BackupName="never-made")
    document = answer_of(emu, create_params)
    assert document["Action"] == "DescribeURedisBackupResponse" and "BackupId" not in document
    assert emu.data["backups"] == before and emu.stats()["creates"] == 0
    assert emu.stats()["faults_injected"] == 1
    made = answer_of(emu, create_params)  # request 2: no fault, performed
    assert made["Action"] == "CreateURedisBackupResponse" and emu.stats()["creates"] == 1


def test_wrong_action_leaves_a_refusal_as_it_is(make_emulator):
    emu = make_emulator("wrong_action")
    for request_params, ret_code in ((params(private_key="wrong"), 171), (params(Region="nowhere"), 230),
                                     (params(RegionType=""), 210),
                                     (params(Action="CreateURedisBackup", Region="nowhere", GroupId=GROUP_ONE, BackupName="refused-1"), 230)):
        document = answer_of(emu, request_params)
        assert document["RetCode"] == ret_code and document["Action"] == request_params["Action"] + "Response", request_params
    assert emu.stats()["faults_injected"] == 0 and emu.stats()["creates"] == 0
    # A create's own checks are the backend's, which a faulted create never reaches: the listing comes back.
    document = answer_of(emu, params(Action="CreateURedisBackup", GroupId=GROUP_ONE, BackupName="bad"))
    assert document == right(emu) and emu.stats()["faults_injected"] == 1


def test_other_group_answers_with_the_rows_of_another_group(make_emulator):
    emu = make_emulator("other_group")
    one_id = next(row["BackupId"] for row in emu.data["backups"] if row["GroupId"] == GROUP_ONE and row["Region"] == "cn-bj2")
    for request_params in (params(GroupId=GROUP_ONE), params(GroupId=GROUP_ONE, BackupId=one_id)):  # BackupId dropped
        document = answer_of(emu, request_params)
        assert document == right(emu, GroupId="uredis-cnbj2-00")  # the first other group (sorted) with rows
        assert document["DataSet"] and {row["GroupId"] for row in document["DataSet"]} == {"uredis-cnbj2-00"}
    document = answer_of(emu, params(GroupId="uredis-cnbj2-00", Limit=100))
    assert {row["GroupId"] for row in document["DataSet"]} == {GROUP_ONE} and document["TotalCount"] == right(emu, GroupId=GROUP_ONE)["TotalCount"]
    groups = answer_of(emu, groups_params(GroupId=GROUP_ONE))
    assert groups["Action"] == "DescribeURedisGroupResponse" and [row["GroupId"] for row in groups["DataSet"]] == ["uredis-cnbj2-00"]
    assert emu.stats()["faults_injected"] == 4


def test_other_group_passes_through_without_a_group_filter_or_another_group(make_emulator):
    emu = make_emulator("other_group")
    assert answer_of(emu, params()) == right(emu)
    assert answer_of(emu, groups_params()) == emu.answer(groups_params())
    # the cross-region backups from cn-bj2 are all in its last group: no other group has rows there
    alone = params(GroupId="uredis-cnbj2-05", RegionType="source")
    assert answer_of(emu, alone) == emu.answer(alone) and emu.answer(alone)["TotalCount"] == 2
    assert emu.stats()["faults_injected"] == 0


def test_ignore_filter_answers_with_the_unfiltered_listing(make_emulator):
    emu = make_emulator("ignore_filter")
    document = answer_of(emu, params(GroupId=GROUP_ONE, Limit=100))
    assert document == right(emu, Limit=100) and document["TotalCount"] == 30
    assert len({row["GroupId"] for row in document["DataSet"]}) > 1  # rows of several groups for one group's listing
    one_id = right(emu, GroupId=GROUP_ONE)["DataSet"][0]["BackupId"]
    by_id = answer_of(emu, params(BackupId=one_id, RegionType="", GroupId=GROUP_ONE))  # RegionType: normal
    assert by_id == right(emu) and len(by_id["DataSet"]) == 10 and by_id["TotalCount"] == 30
    cross = answer_of(emu, params(GroupId="uredis-cnbj2-05", RegionType="target"))  # RegionType as sent
    assert cross == right(emu, RegionType="target")
    groups = answer_of(emu, groups_params(GroupId=GROUP_ONE, Zone="cn-bj2-01"))
    assert groups == emu.answer(groups_params()) and groups["TotalCount"] == 8
    assert emu.stats()["faults_injected"] == 4


def test_ignore_filter_passes_through_an_unfiltered_listing_and_other_actions(make_emulator):
    emu = make_emulator("ignore_filter")
    assert answer_of(emu, params(SlaveZone="cn-bj2-02")) == right(emu, SlaveZone="cn-bj2-02")
    assert answer_of(emu, groups_params()) == emu.answer(groups_params())
    created = answer_of(emu, params(Action="CreateURedisBackup", GroupId=GROUP_ONE, BackupName="still-made"))
    assert created["RetCode"] == 0 and emu.stats()["creates"] == 1
    assert emu.stats()["faults_injected"] == 0


def test_over_limit_pages_hold_more_rows_than_the_limit(make_emulator):
    emu = make_emulator("over_limit")
    document = answer_of(emu, params(Limit=100))
    assert document["RetCode"] == 0 and document["TotalCount"] == 10 ** 12
    assert [row["BackupId"] for row in document["DataSet"]] == ["endless-%d" % n for n in range(1000)]
    assert all(row["State"] == "Success" and row["GroupId"] == "uredis-endless" for row in document["DataSet"])
    groups = answer_of(emu, groups_params(Limit=5, Offset=7))
    assert [row["GroupId"] for row in groups["DataSet"]] == ["endless-%d" % n for n in range(7, 1007)]
    assert all("BackupId" not in row for row in groups["DataSet"])


def test_over_limit_rows_and_claimed_total(make_emulator):
    emu = make_emulator("over_limit", over_limit_rows=7, claimed_total=12, max_page_size=3)
    document = answer_of(emu, params(GroupId=GROUP_ONE, Offset=5, Limit=2))
    assert document["TotalCount"] == 12
    assert [(row["BackupId"], row["GroupId"]) for row in document["DataSet"]] == [("endless-%d" % n, GROUP_ONE) for n in range(5, 12)]


def test_empty_listing_is_a_consistent_empty_listing(make_emulator):
    emu = make_emulator("empty_listing")
    assert answer_of(emu, params()) == {"RetCode": 0, "Action": "DescribeURedisBackupResponse", "TotalCount": 0, "DataSet": []}
    assert answer_of(emu, groups_params()) == {"RetCode": 0, "Action": "DescribeURedisGroupResponse", "TotalCount": 0, "DataSet": []}
    assert emu.stats()["faults_injected"] == 2


def test_short_listing_is_one_row_that_claims_to_be_all(make_emulator):
    emu = make_emulator("short_listing")
    expected = right(emu)
    assert expected["TotalCount"] == 30
    assert answer_of(emu, params()) == dict(expected, TotalCount=1, DataSet=expected["DataSet"][:1])
    assert answer_of(emu, params(Offset=3)) == dict(expected, TotalCount=1, DataSet=[])
    groups = answer_of(emu, groups_params())
    assert groups["TotalCount"] == 1 and groups["DataSet"] == emu.answer(groups_params())["DataSet"][:1]
    assert emu.stats()["faults_injected"] == 3
    assert answer_of(emu, params(GroupId="uredis-nowhere")) == right(emu, GroupId="uredis-nowhere")  # already empty
    assert emu.stats()["faults_injected"] == 3


# --- a listing that lags behind creates -----------------------------------------------------------

def create_backup(emu, name, group_id=GROUP_ONE):
    document = answer_of(emu, params(Action="CreateURedisBackup", GroupId=group_id, BackupName=name))
    assert document["RetCode"] == 0, document
    return document["BackupId"]


def listed(emu, backup_id, **overrides):
    """(whether ``backup_id`` is in the listing, its TotalCount, the number of rows)."""
    document = answer_of(emu, params(Limit=100, **overrides))
    ids = [row["BackupId"] for row in document["DataSet"]]
    return backup_id in ids, document["TotalCount"], len(ids)


def test_a_created_backup_shows_up_on_the_fourth_listing_with_a_lag_of_3(make_emulator):
    emu = make_emulator(listing_lag=3, backup_seconds=0)
    backup_id = create_backup(emu, "lagging-1")
    assert backup_id in [row["BackupId"] for row in emu.data["backups"]]  # the backend has it
    url = answer_of(emu, params(Action="DescribeURedisBackupURL", BackupId=backup_id))
    assert url["RetCode"] == 0 and url["BackupURL"]  # only the listing lags
    assert [listed(emu, backup_id) for _call in range(3)] == [(False, 30, 30)] * 3
    assert listed(emu, backup_id) == (True, 31, 31)
    assert listed(emu, backup_id) == (True, 31, 31)


def test_pages_of_a_lagging_listing_agree_with_their_count(make_emulator):
    emu = make_emulator(listing_lag=3)
    backup_id = create_backup(emu, "lagging-2")
    pages = [answer_of(emu, params(Offset=offset, Limit=10)) for offset in (0, 10, 20)]  # listing calls 1 to 3
    ids = [row["BackupId"] for page in pages for row in page["DataSet"]]
    assert [page["TotalCount"] for page in pages] == [30] * 3 and len(set(ids)) == 30 and backup_id not in ids
    first = answer_of(emu, params(Limit=10))  # the 4th: newest first
    assert first["TotalCount"] == 31 and first["DataSet"][0]["BackupId"] == backup_id


def test_only_listings_that_would_list_it_count(make_emulator):
    emu = make_emulator(listing_lag=2)
    backup_id = create_backup(emu, "lagging-3")
    for _call in range(3):  # another group, another region, the group listing: none counts
        assert listed(emu, backup_id, GroupId="uredis-cnbj2-00")[0] is False
        assert listed(emu, backup_id, Region="cn-sh2")[0] is False
        assert answer_of(emu, groups_params())["RetCode"] == 0
    assert listed(emu, backup_id, GroupId=GROUP_ONE)[0] is False  # 1
    assert listed(emu, backup_id)[0] is False  # 2
    assert listed(emu, backup_id, GroupId=GROUP_ONE)[0] is True


def test_the_lag_is_counted_per_backup(make_emulator):
    emu = make_emulator(listing_lag=2)
    first = create_backup(emu, "lagging-4")
    assert listed(emu, first)[:2] == (False, 30)
    emu.listing_lag = 0
    second = create_backup(emu, "lagging-5")
    document = answer_of(emu, params(Limit=100))  # first: its 2nd listing call; second: listed at once
    ids = [row["BackupId"] for row in document["DataSet"]]
    assert second in ids and first not in ids and document["TotalCount"] == len(ids) == 31
    assert listed(emu, first) == (True, 32, 32)


def test_the_quota_sees_a_lagging_backup(make_emulator):
    emu = make_emulator(listing_lag=5)
    manual = [row for row in emu.data["backups"] if (row["Region"], row["ProjectId"], row["GroupId"], row["BackupType"])
              == ("cn-bj2", "org-demo", GROUP_ONE, "Manual") and row["State"] not in ("Expired", "Error")]
    emu.manual_backup_limit = len(manual) + 1
    backup_id = create_backup(emu, "lagging-6")
    refused = answer_of(emu, params(Action="CreateURedisBackup", GroupId=GROUP_ONE, BackupName="lagging-7"))
    assert refused["RetCode"] == 20208
    assert listed(emu, backup_id)[0] is False


def test_the_listing_lag_control_path(make_emulator):
    emu = make_emulator()
    assert control(emu, "listing_lag") == (200, b'{"calls": 0}')
    status, body = control(emu, "listing_lag", {"calls": 3})
    assert status == 200 and json.loads(body) == {"ok": True, "calls": 3}
    assert json.loads(control(emu, "listing_lag")[1]) == {"calls": 3} and emu.listing_lag == 3
    backup_id = create_backup(emu, "lagging-8")
    assert [listed(emu, backup_id)[0] for _call in range(4)] == [False, False, False, True]
    for bad in (b"nope", [3], {}, {"calls": -1}, {"calls": "2"}, {"calls": True}, {"calls": 1.5}, {"calls": 1, "more": 2}):
        status, body = control(emu, "listing_lag", bad)
        assert status == 400 and body.startswith(b"bad change"), bad
    assert emu.listing_lag == 3


@pytest.mark.parametrize("kwargs", [dict(listing_lag=-1), dict(listing_lag="3"), dict(listing_lag=True),
                                    dict(over_limit_rows=0), dict(over_limit_rows=2.5)])
def test_bad_lag_and_over_limit_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Emulator(data=generate_dataset(["cn-bj2"], 1), **kwargs)


def test_lag_and_over_limit_flags():
    emu = emulator_from_args(_parser().parse_args([]))
    assert (emu.listing_lag, emu.over_limit_rows) == (0, 1000)
    emu = emulator_from_args(_parser().parse_args(["--listing-lag", "3", "--over-limit-rows", "250",
                                                   "--fault-schedule", "1=wrong_action,2=other_group,3=ignore_filter",
                                                   "--fail-region", "hk=over_limit", "--fault-kinds", "empty_listing,short_listing"]))
    assert (emu.listing_lag, emu.over_limit_rows) == (3, 250)
    assert emu.faults.schedule == {1: "wrong_action", 2: "other_group", 3: "ignore_filter"} and emu.faults.fail_regions == {"hk": "over_limit"}
    for flag, value in (("--listing-lag", "-1"), ("--over-limit-rows", "0"), ("--listing-lag", "x")):
        with pytest.raises(SystemExit):
            _parser().parse_args([flag, value])


# --- composition: schedule, regions, rate; stats ---------------------------------------------------

def read_any(emu, request_params):
    """Status and body length of any hostile answer (bodies are read, not kept)."""
    connection, response = post(emu, request_params)
    try:
        size = 0
        while True:
            piece = response.read(1 << 16)
            if not piece:
                return response.status, size
            size += len(piece)
    finally:
        connection.close()


@pytest.mark.parametrize("kind", HOSTILE_FAULTS)
def test_every_hostile_kind_by_region_and_by_schedule(make_emulator, kind):
    emu = make_emulator(faults=FaultPlan(schedule={2: kind}), fail_regions={"cn-sh2": kind},
                        drip_interval=0.0, oversize_bytes=MIB)
    # A group's listing: other_group and ignore_filter need a GroupId filter to have something to lie about.
    plain = len(json.dumps(right(emu, GroupId="uredis-cnbj2-01"), ensure_ascii=False).encode("utf-8"))
    statuses = [read_any(emu, params(GroupId="uredis-cnbj2-01")), read_any(emu, params(GroupId="uredis-cnbj2-01")),
                read_any(emu, params(Region="cn-sh2", GroupId="uredis-cnsh2-01")), read_any(emu, params(GroupId="uredis-cnbj2-01"))]
    assert [status for status, _size in statuses] == [200] * 4
    assert statuses[0][1] == statuses[3][1] == plain  # requests 1 and 4 are left alone
    assert emu.stats()["faults_injected"] == 2


def test_a_fault_rate_draws_hostile_kinds(make_emulator):
    kinds = ("total_claimed", "empty_dataset", "control_message")
    emu = make_emulator(faults=FaultPlan(rate=1.0, kinds=kinds, seed=3))
    seen = set()
    for _round in range(30):
        document = json.loads(exchange(emu, params())[1])
        seen.add("control_message" if document["RetCode"] == 230 else
                 "empty_dataset" if document["DataSet"] == [] else "total_claimed")
    assert seen == set(kinds) and emu.stats()["faults_injected"] == 30


# --- settings and the command line --------------------------------------------------------------

def test_hostile_settings_defaults():
    emu = Emulator(data=generate_dataset(["cn-bj2"], 1))
    assert (emu.drip_interval, emu.oversize_bytes, emu.claimed_total) == (1.0, 64 << 20, 10 ** 12)


@pytest.mark.parametrize("kwargs", [dict(drip_interval=-0.1), dict(oversize_bytes=-1), dict(claimed_total=-1)])
def test_bad_hostile_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="0 or more"):
        Emulator(data=generate_dataset(["cn-bj2"], 1), **kwargs)


def test_cli_flags_and_their_defaults():
    emu = emulator_from_args(_parser().parse_args([]))
    assert (emu.drip_interval, emu.oversize_bytes, emu.claimed_total) == (1.0, 64 << 20, 10 ** 12)
    emu = emulator_from_args(_parser().parse_args([
        "--drip-interval", "0.25", "--oversize-bytes", "2097152", "--claimed-total", "20000",
        "--fault-schedule", "1=drip,2=gzip_bomb", "--fail-region", "hk=endless",
        "--fault-rate", "0.5", "--fault-kinds", "deep_json,lone_surrogate"]))
    assert (emu.drip_interval, emu.oversize_bytes, emu.claimed_total) == (0.25, 2 * MIB, 20000)
    assert emu.faults.schedule == {1: "drip", 2: "gzip_bomb"} and emu.faults.fail_regions == {"hk": "endless"}
    assert emu.faults.kinds == ("deep_json", "lone_surrogate")


@pytest.mark.parametrize("flag, value", [("--drip-interval", "-1"), ("--oversize-bytes", "-1"), ("--claimed-total", "-5"),
                                         ("--oversize-bytes", "1.5"), ("--claimed-total", "many")])
def test_cli_bad_hostile_flags_exit_2(capsys, flag, value):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args([flag, value])
    assert exit_info.value.code == 2 and flag in capsys.readouterr().err


def test_cli_help_lists_the_hostile_kinds_and_flags():
    text = _parser().format_help()
    for word in HOSTILE_FAULTS + ("--drip-interval", "--oversize-bytes", "--claimed-total", "--over-limit-rows", "--listing-lag"):
        assert word in text


def test_cli_serves_a_hostile_mode():
    process = subprocess.Popen([sys.executable, str(SERVER), "--port", "0", "--fail-region", "cn-bj2=oversized_chunked",
                                "--oversize-bytes", "100000", "--fault-schedule", "1=control_message"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        target = types.SimpleNamespace(port=json.loads(process.stdout.readline())["port"])
        assert json.loads(exchange(target, params(Region="cn-sh2"))[1])["Message"] == CONTROL_TEXT  # request 1
        response, body = exchange(target, params())
        assert response.getheader("Content-Length") is None and len(body) == 100000
        assert json.loads(body)["TotalCount"] == 30
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_the_docs_and_the_docstring_name_every_hostile_kind_and_flag():
    docs = (ROOT / "docs" / "docsite" / "rst" / "emulator.rst").read_text(encoding="utf-8")
    for word in HOSTILE_FAULTS:
        assert re.search(r"^   \* - ``%s``$" % word, docs, re.M), word  # a row of the kinds table
        assert re.search(r"\b%s\b" % word, server_module.__doc__), word
    for flag in ("--drip-interval", "--oversize-bytes", "--claimed-total", "--over-limit-rows", "--listing-lag"):
        assert "``%s " % flag in docs and flag in server_module.__doc__
    for path in ("GET /_emulator/listing_lag", "POST /_emulator/listing_lag"):
        assert "``%s``" % path in docs
    for name in ("CONTROL_TEXT", "DEEP_JSON_DEPTH", "HUGE_INT_DIGITS", "LONE_SURROGATE", "HOSTILE_FAULTS"):
        assert name in docs
