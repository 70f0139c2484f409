# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The checks a downloaded file must pass, and the rule that a file is written whole or not at all.

The download itself (HTTP, links, stalls) is driven end to end against the emulator in
tests/e2e/test_backup_download.py; here the checks meet a real Redis file and its corruptions, and
``download_to`` meets failures, a full disk and signals.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
import time

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _download
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "redis-7.0.rdb")


@pytest.fixture(scope="module")
def good():
    with open(FIXTURE, "rb") as handle:
        return handle.read()


def checked(data, expected=None, chunk=1000, **kwargs):
    check = _download.FileCheck(len(data) if expected is None else expected, **kwargs)
    for start in range(0, len(data), chunk):
        check.feed(data[start:start + chunk])
    return check.result()


def failed_check(data, expected=None, **kwargs):
    with pytest.raises(_download.FileProblem) as failed:
        checked(data, expected, **kwargs)
    return failed.value


def test_a_whole_file_passes_with_its_facts(good):
    facts = checked(good)
    assert facts["checksum"] == "ok" and facts["size"] == len(good) and len(facts["sha256"]) == 64
    assert facts["databases"] == [{"db": 0, "key_count": 14, "expires_count": 2}] and facts["databases_complete"] is False
    assert facts["created_at"].endswith("Z") and facts["redis_version"] == "7.0.15"
    assert checked(good, walk_keys=True)["key_count"] == 16


def test_a_flipped_byte_fails_the_checksum(good):
    data = bytearray(good)
    data[len(data) // 2] ^= 0xFF
    problem = failed_check(bytes(data))
    assert problem.check == "checksum" and "corrupt" in str(problem)


def test_a_short_file_fails_the_size_check(good):
    problem = failed_check(good[:-100], expected=len(good))
    assert problem.check == "size" and "cut short" in str(problem) and str(len(good)) in str(problem)


def test_more_bytes_than_the_backup_size_stop_the_reading_at_once(good):
    check = _download.FileCheck(len(good) - 1)
    with pytest.raises(_download.FileProblem) as failed:
        check.feed(good)
    assert failed.value.check == "size" and check.size == 0


def test_a_zero_checksum_is_reported_as_checksums_off(good):
    assert checked(good[:-8] + b"\0" * 8)["checksum"] == "off"


@pytest.mark.parametrize("body, name", [(b"\x1f\x8b\x08\x00" + b"\0" * 100, "gzip data"),
                                        (b"<html><body>Forbidden</body></html>", "an HTML page")])
def test_something_else_fails_the_header_check_at_its_first_bytes(body, name):
    check = _download.FileCheck(10 ** 9)
    with pytest.raises(_download.FileProblem) as failed:
        check.feed(body)
    assert failed.value.check == "header" and name in str(failed.value)


def test_bytes_after_the_end_fail_the_structure_check(good):
    data = good[:-8] + b"\xff" + good[-8:]  # an extra byte before the trailer: the walk ends early
    problem = failed_check(data, walk_keys=True)
    assert problem.check in ("checksum", "structure")


def test_without_verify_only_the_size_counts(good):
    data = bytearray(good)
    data[100] ^= 1
    assert checked(bytes(data), verify=False)["checksum"] == "not checked"


def test_a_local_copy_is_checked_without_reading_a_file_of_another_size(tmp_path, good):
    path = tmp_path / "b1.rdb"
    path.write_bytes(good)
    assert _download.check_local_file(str(path), len(good), "b1")["checksum"] == "ok"
    assert _download.check_local_file(str(path), len(good) + 1, "b1") is None
    assert _download.check_local_file(str(tmp_path / "missing.rdb"), len(good), "b1") is None
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert _download.check_local_file(str(path), len(good), "b1") is None


def xattrs_work(path):
    try:
        os.setxattr(str(path), "user.test", b"1")
    except (OSError, AttributeError):
        return False
    return True


def test_a_whole_copy_of_another_backup_is_not_taken_for_this_one(tmp_path, good):
    path = tmp_path / "latest.rdb"  # a name that says nothing of the backup
    path.write_bytes(good)
    assert _download.check_local_file(str(path), len(good), "b1") is None  # unmarked, and not named b1.rdb
    if not xattrs_work(path):
        pytest.skip("no user extended attributes on %s" % tmp_path)
    _download.mark(str(path), "b1")
    assert _download.check_local_file(str(path), len(good), "b1")["checksum"] == "ok"
    assert _download.check_local_file(str(path), len(good), "b2") is None  # same size, valid, but b1's
    named = tmp_path / "b2.rdb"
    named.write_bytes(good)
    _download.mark(str(named), "b1")  # the mark wins over the name
    assert _download.check_local_file(str(named), len(good), "b2") is None


def test_a_copy_torn_by_a_crash_is_not_kept(tmp_path, good):
    path = tmp_path / "b1.rdb"
    path.write_bytes(good[:-4096] + b"\0" * 4096)  # the size committed, the tail zeros, as a crash leaves it
    assert _download.check_local_file(str(path), len(good), "b1") is None
    problem = failed_check(good[:-4096] + b"\0" * 4096)
    assert problem.check == "structure" and "end marker" in str(problem)


def test_a_copy_whose_checksum_is_off_is_downloaded_again(tmp_path, good):
    path = tmp_path / "b1.rdb"
    path.write_bytes(good[:-8] + b"\0" * 8)
    assert checked(good[:-8] + b"\0" * 8)["checksum"] == "off"  # fine to download, not proof enough to keep
    assert _download.check_local_file(str(path), len(good), "b1") is None


def test_format_version_0_is_not_an_rdb_file():
    problem = failed_check(b"REDIS0000" + b"x" * 100)
    assert problem.check == "header" and "0000" in str(problem)


def test_a_digest_that_fails_is_raised_in_the_reader_and_never_hangs_it():
    class Broken(_download.FileCheck):
        def digest(self, data):
            raise ValueError("the hash broke")

    digester = _download.Digester(Broken(10 ** 9))
    with pytest.raises(ValueError, match="the hash broke"):
        for _number in range(4 * _download.Digester.BUFFERS):  # more buffers than the pool holds
            digester.hand(digester.buffer(), 10)
    with pytest.raises(ValueError):
        digester.close()


def leftovers(directory):
    return sorted(name for name in os.listdir(str(directory)) if name.endswith(".part"))


def test_a_file_is_moved_into_place_only_once_checked(tmp_path, good):
    dest = tmp_path / "backup.rdb"
    seen = []

    def write(handle):
        handle.write(good)
        seen.append(leftovers(tmp_path))
        return {"size": len(good)}

    prepared = []
    assert _download.download_to(str(dest), write, prepared.append) == {"size": len(good)}
    assert dest.read_bytes() == good and leftovers(tmp_path) == []
    assert len(seen[0]) == 1 and seen[0][0].startswith(".backup.rdb.")  # beside dest, hidden, until checked
    assert prepared[0].endswith(".part")  # attributes are set before the file takes its name


@pytest.mark.parametrize("failure", [_download.FileProblem("checksum", "bad"), SigcalcloudError("gone"), KeyboardInterrupt()])
def test_a_failure_leaves_dest_as_it_was_and_nothing_behind(tmp_path, failure):
    dest = tmp_path / "backup.rdb"
    dest.write_bytes(b"the old copy")

    def write(handle):
        handle.write(b"half a file")
        raise failure

    with pytest.raises(type(failure)):
        _download.download_to(str(dest), write, lambda path: None)
    assert dest.read_bytes() == b"the old copy" and leftovers(tmp_path) == []


def test_a_short_write_is_written_again_until_every_byte_is_out():
    class Trickle:  # an unbuffered file may take part of a write, as a disk filling up does
        def __init__(self):
            self.data = b""

        def write(self, data):
            self.data += bytes(data[:3])
            return min(3, len(data))

    sink = Trickle()
    _download.write_all(sink, b"0123456789")
    assert sink.data == b"0123456789"


def test_what_is_moved_into_place_is_what_was_checked(tmp_path):
    dest = tmp_path / "backup.rdb"

    def write(handle):
        handle.write(b"12345")
        return {"size": 6}  # the check saw a byte the file does not hold

    with pytest.raises(SigcalcloudError) as failed:
        _download.download_to(str(dest), write, lambda path: None)
    assert "5 bytes, not the 6 downloaded" in str(failed.value) and not dest.exists() and leftovers(tmp_path) == []


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path):
    class FullDisk:
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    dest = tmp_path / "backup.rdb"

    def write(handle):
        _download.write_all(FullDisk(), b"data")

    with pytest.raises(SigcalcloudError) as failed:
        _download.download_to(str(dest), write, lambda path: None)
    assert "no room to write the file" in str(failed.value) and "No space left" in str(failed.value)
    assert not dest.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_mid_download_leaves_nothing(tmp_path, number):
    dest = tmp_path / "backup.rdb"
    before = signal.getsignal(number)

    def write(handle):
        handle.write(b"part of it")
        os.kill(os.getpid(), number)
        raise AssertionError("the signal should have ended the download")

    with pytest.raises(KeyboardInterrupt):
        _download.download_to(str(dest), write, lambda path: None)
    assert not dest.exists() and leftovers(tmp_path) == []
    assert signal.getsignal(number) == before  # the handler is the caller's again


def test_a_signal_once_the_file_is_in_place_does_not_turn_success_into_failure():
    done = {"moved": False}
    with _download.interruptible(done):
        done["moved"] = True
        os.kill(os.getpid(), signal.SIGTERM)  # after the move: the work is done
        time.sleep(0.01)
    with pytest.raises(KeyboardInterrupt):
        with _download.interruptible({"moved": False}):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)


def test_messages_never_hold_a_link():
    exc = OSError("HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: "
                  "/_emulator/download/abc?Expires=1&Signature=s3cr3t (Caused by reset)")
    text = _download.safe_reason(exc)
    assert "s3cr3t" not in text and "Expires" not in text and "Caused by reset" in text
    assert "s3cr3t" not in _download.safe_reason(ValueError("see https://x.example/a?Signature=s3cr3t"))


@pytest.fixture
def dripping_server():
    """A server that answers 200 with a Content-Length of 10 and then sends one byte every 0.3 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve():
        connection, _address = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: application/octet-stream\r\n\r\n")
            for byte in b"REDIS0010\xff":
                if stop.wait(0.3):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/file" % listener.getsockname()[1]
    stop.set()
    listener.close()


def test_a_server_dripping_the_file_meets_the_whole_download_deadline(dripping_server, tmp_path, monkeypatch):
    from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport

    monkeypatch.setattr(_download, "MIN_RATE", 10)  # deadline: timeout (1 s) + 10 bytes at 10 B/s = 2 s
    downloader = _download.Downloader(_transport.new_session(1), True, timeout=1)
    check = _download.FileCheck(10)
    with open(str(tmp_path / "out"), "wb", buffering=0) as handle:
        with pytest.raises(SigcalcloudError) as failed:
            downloader.fetch(dripping_server, handle, check)
    # each byte came within the 1 s read timeout: only the deadline ends it, well before the 3 s the drip takes
    assert "did not end within its deadline of 2s" in str(failed.value) and not failed.value.retryable
    assert 0 < check.size < 10


def test_a_download_is_retried_on_the_clients_own_schedule():
    from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Backoff

    slept, calls = [], []

    def attempt():
        calls.append(1)
        raise SigcalcloudError("the download broke off", retryable=True)

    with pytest.raises(SigcalcloudError) as failed:
        _download.retrying(attempt, Backoff(max_retries=2, rand=lambda: 0.0, sleep=slept.append))
    assert len(calls) == 3 and slept == [0.1, 0.4] and "(gave up after 3 attempts)" in str(failed.value)
    calls.clear()
    with pytest.raises(SigcalcloudError) as failed:  # the waits of one download stay within the budget too
        _download.retrying(attempt, Backoff(max_retries=5, budget=0.3, rand=lambda: 0.0, sleep=slept.append))
    assert len(calls) == 2 and "retry time budget of 0.3s spent" in str(failed.value)
