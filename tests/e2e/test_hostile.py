# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A hostile server, through real ``ansible``, ``ansible-inventory`` and the event source.

Each case is one of the emulator's hostile modes (docs/docsite/rst/emulator.rst) and one promise of
docs/docsite/rst/reliability.rst: every call ends by its deadline, no answer is read past its size
cap, a count the server claims is checked against what it served, and the server's
text reaches a terminal only escaped. Each was broken before the fix it tests.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import time

import pytest

from emulator.server import CONTROL_TEXT, generate_dataset
from helpers import adhoc, credentials_env, expected_backups, hostvars, inventory_file, inventory_list


STRICT = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}
SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "extensions", "eda", "plugins", "event_source", "uredis_backup_events.py")


def no_raw_control(text):
    """Nothing the server sent as a control sequence reaches the terminal as one."""
    return "\x1b" not in text and "\x07" not in text and "\u202e" not in text and "\x9b" not in text


def flat(text):
    return " ".join(text.split())


# --- deadlines -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["drip", "drip_headers"])
def test_a_dripping_server_cannot_hold_a_call_past_its_deadline(run_ansible, start_emulator, tmp_path, kind):
    # One byte every 2 s: each read is within timeout=3, so only a deadline per attempt ends it.
    emu = start_emulator(fail_regions={"cn-bj2": kind}, drip_interval=2.0)
    # (max_retries + 1) x timeout is 6 s, plus one backoff wait and the process start-up, which on a
    # loaded 2-core machine takes seconds; before the fix this call ran for hours.
    bound = 30
    started = time.monotonic()
    result, task = adhoc(run_ansible, emu, "timeout=3 max_retries=1")
    elapsed = time.monotonic() - started
    assert result.rc != 0
    assert "no answer from %s/ within the 3s timeout" % emu.base_url in task["msg"]
    assert "gave up after 2 attempts" in task["msg"]
    assert elapsed < bound, elapsed

    path = inventory_file(tmp_path, "regions: [cn-bj2]\ntimeout: 3\nmax_retries: 1\n")
    started = time.monotonic()
    result = inventory_list(run_ansible, emu, path, STRICT)
    elapsed = time.monotonic() - started
    assert result.rc != 0 and "within the 3s timeout" in flat(result.stderr)
    assert elapsed < bound, elapsed


def test_the_event_sources_poll_ends_by_its_deadline(start_emulator, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SIGCALCLOUD_"):
            monkeypatch.delenv(name)
    emu = start_emulator(fail_regions={"cn-bj2": "drip"}, drip_interval=2.0)
    source = runpy.run_path(SOURCE)
    account = emu.data["accounts"][0]
    args = {"base_url": emu.base_url, "public_key": account["public_key"], "private_key": account["private_key"],
            "regions": ["cn-bj2"], "timeout": 2, "max_retries": 0, "interval": 60}

    async def first_event():
        queue = asyncio.Queue()
        task = asyncio.ensure_future(source["main"](queue, args))
        try:
            return await asyncio.wait_for(queue.get(), 15)
        finally:
            task.cancel()

    started = time.monotonic()
    event = asyncio.run(first_event())
    assert time.monotonic() - started < 8
    assert event["type"] == "api_error" and "within the 2s timeout" in event["message"]


# --- size caps -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, words", [
    ("oversized", "the answer is %d bytes, more than the 8 MiB an answer may be" % (300 << 20)),
    ("oversized_chunked", "the answer is more than the 8 MiB an answer may be"),
    ("gzip_bomb", "the answer is more than the 8 MiB an answer may be once inflated"),
])
def test_an_answer_over_the_size_cap_is_refused_unread_and_not_retried(run_ansible, start_emulator, tmp_path,
                                                                       kind, words):
    emu = start_emulator(fail_regions={"cn-bj2": kind}, oversize_bytes=300 << 20)
    started = time.monotonic()
    result, task = adhoc(run_ansible, emu, "max_retries=3")
    assert result.rc != 0
    assert words in task["msg"] and "region cn-bj2" in task["msg"]
    assert emu.stats()["api_requests"] == 1  # not retried: the same server would send the same
    assert time.monotonic() - started < 30  # 300 MB were not read

    path = inventory_file(tmp_path, "regions: [cn-bj2]\n")
    result = inventory_list(run_ansible, emu, path, STRICT)
    assert result.rc != 0 and words in flat(result.stderr)
    assert "Traceback" not in result.output


# --- counts checked against what was served ----------------------------------------------------

@pytest.mark.parametrize("kind", ["total_claimed", "endless"])
def test_a_total_count_no_listing_could_need_is_refused_after_one_request(run_ansible, start_emulator, kind):
    emu = start_emulator(fail_regions={"cn-bj2": kind}, claimed_total=10 ** 12)
    result, task = adhoc(run_ansible, emu)
    assert result.rc != 0
    assert "the server claims TotalCount=1000000000000 for region cn-bj2, more than the 100000 backups one " \
        "listing may hold (max_rows" in task["msg"]
    assert emu.stats()["api_requests"] == 1
    # Within max_rows, the pages a count needs are bounded too: 500,000 rows at 10 a page.
    emu = start_emulator(fail_regions={"cn-bj2": kind}, claimed_total=500000, max_page_size=10)
    result, task = adhoc(run_ansible, emu, "max_rows=1000000")
    assert result.rc != 0
    assert "the server claims TotalCount=500000 for region cn-bj2 with 10 backups a page" in task["msg"]
    assert "more than the 10000 one listing may take" in task["msg"]
    assert emu.stats()["api_requests"] == 1


def test_empty_pages_past_the_served_rows_end_the_listing(run_ansible, start_emulator):
    # 5 real rows, pages of 5, TotalCount 20000: once 12,000 requests and a "kept changing".
    emu = start_emulator(data=generate_dataset(["cn-bj2"], 5, seed=4), max_page_size=5,
                         fail_regions={"cn-bj2": "total_claimed"}, claimed_total=20000)
    result, task = adhoc(run_ansible, emu, "max_concurrency=4")
    assert result.rc != 0
    assert ("do not add up: it served 5 backups, but its page at offset 5 is empty, but TotalCount is 20000; "
            "tried 3 times") in task["msg"]
    assert "kept changing" not in task["msg"]
    assert emu.stats()["api_requests"] <= 3 * (1 + 4)


@pytest.mark.parametrize("kind, words", [("empty_dataset", "is empty"), ("no_dataset", "has no DataSet")])
def test_an_answer_that_contradicts_its_count_is_never_no_backups(run_ansible, start_emulator, tmp_path, kind, words):
    emu = start_emulator(fail_regions={"cn-bj2": kind})
    total = len(expected_backups(emu.data, "cn-bj2"))
    result, task = adhoc(run_ansible, emu)
    assert result.rc != 0 and "backups" not in task
    assert "its page at offset 0 %s, but TotalCount is %d; tried 3 times" % (words, total) in task["msg"]

    # The inventory neither shows nor caches an empty result.
    cache = tmp_path / "cache"
    path = inventory_file(tmp_path, "regions: [cn-bj2]\ncache: true\ncache_plugin: ansible.builtin.jsonfile\n"
                                    "cache_connection: %s\n" % cache)
    result = inventory_list(run_ansible, emu, path, STRICT)
    assert result.rc != 0 and "TotalCount is %d" % total in flat(result.stderr)
    assert not cache.exists() or not any(cache.iterdir())


# --- hostile JSON ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, words", [
    ("deep_json", "the answer is nested too deeply to be an API answer"),
    ("retcode_infinity", "the answer holds Infinity, which is not a number an API sends"),
    ("retcode_huge", "the answer holds 1e400, which is not a number an API sends"),
    ("retcode_fraction", "the answer's RetCode is not an integer from 0 to 2147483647: 0.9"),
    ("huge_int", "the answer could not be read: Exceeds the limit"),
])
def test_hostile_json_is_one_clear_error_naming_the_call(run_ansible, start_emulator, tmp_path, kind, words):
    emu = start_emulator(fail_regions={"cn-bj2": kind})
    result, task = adhoc(run_ansible, emu)
    assert result.rc != 0 and "backups" not in task
    assert words in task["msg"]
    assert task["msg"].startswith("DescribeURedisBackup: ") and "region cn-bj2" in task["msg"]
    assert task["http_status"] == 200
    assert "Traceback" not in result.output
    assert emu.stats()["api_requests"] == 1

    path = inventory_file(tmp_path, "regions: [cn-bj2]\n")
    result = inventory_list(run_ansible, emu, path, STRICT)
    assert result.rc != 0 and words in flat(result.stderr)
    assert "Traceback" not in result.output


def test_a_lone_surrogate_is_replaced_the_same_way_in_every_face(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(fail_regions={"cn-bj2": "lone_surrogate"})
    result, task = adhoc(run_ansible, emu)
    assert result.rc == 0, result
    names = [b["backup_name"] for b in task["backups"]]
    replaced = [name for name in names if "\ufffd" in name]
    assert len(replaced) == 1

    path = inventory_file(tmp_path, "regions: [cn-bj2]\n")
    result = inventory_list(run_ansible, emu, path, STRICT)
    assert result.rc == 0, result
    assert sorted(f["backup_name"] for f in hostvars(result.json()).values()) == sorted(names)


# --- the server's text on a terminal ------------------------------------------------------------

def test_control_sequences_in_a_message_are_escaped(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(fail_regions={"cn-bj2": "control_message"})
    result, task = adhoc(run_ansible, emu)
    assert result.rc != 0
    assert "\\x1b[2J" in task["msg"] and no_raw_control(task["msg"])
    assert no_raw_control(result.output)

    # fail_on_errors: false makes it a warning, printed as such: still escaped.
    path = inventory_file(tmp_path, "regions: [cn-bj2]\nfail_on_errors: false\n")
    result = inventory_list(run_ansible, emu, path)
    assert "skipped region cn-bj2" in flat(result.stderr) and "\\x1b[2J" in result.stderr
    assert no_raw_control(result.output)


def test_control_sequences_in_names_never_reach_the_terminal(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(fail_regions={"cn-bj2": "control_rows"})
    result, task = adhoc(run_ansible, emu)
    assert result.rc == 0, result
    assert all(CONTROL_TEXT in b["backup_name"] for b in task["backups"])  # the data, as data

    path = inventory_file(tmp_path, "regions: [cn-bj2]\nhostnames: [backup_name, backup_id]\n")
    result = run_ansible("ansible-inventory", "-i", path, "--graph", env=credentials_env(emu))
    assert result.rc == 0, result
    assert no_raw_control(result.output)
    ids = [b["backup_id"] for b in expected_backups(emu.data, "cn-bj2")]
    assert all(backup_id in result.stdout for backup_id in ids)  # named by the next hostnames entry


# --- a password in base_url ---------------------------------------------------------------------

def test_a_password_in_base_url_is_never_shown(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(fail_regions={"cn-bj2": "503"})
    url = emu.base_url.replace("http://", "http://alice:s3cret-pw@")
    env = {"SIGCALCLOUD_BASE_URL": url}
    result, task = adhoc(run_ansible, emu, "max_retries=0", env=env, verbosity="-vvv")
    assert result.rc != 0
    assert "http://<redacted>@127.0.0.1" in task["msg"] or "HTTP 503" in task["msg"]
    assert "s3cret-pw" not in result.output

    emu_down = start_emulator()
    port = emu_down.port
    emu_down.stop()
    env = {"SIGCALCLOUD_BASE_URL": "http://alice:s3cret-pw@127.0.0.1:%d" % port}
    result, task = adhoc(run_ansible, emu, "max_retries=0", env=env, verbosity="-vvv")
    assert result.rc != 0 and "could not reach http://<redacted>@127.0.0.1:%d/" % port in task["msg"]
    assert "s3cret-pw" not in result.output

    path = inventory_file(tmp_path, "regions: [cn-bj2]\nmax_retries: 0\n")
    result = inventory_list(run_ansible, emu, path, dict(STRICT, **env), "-vvv")
    assert result.rc != 0 and "<redacted>@127.0.0.1" in result.stderr
    assert "s3cret-pw" not in result.output

    result, task = adhoc(run_ansible, emu, env={"SIGCALCLOUD_BASE_URL": "ftp://alice:s3cret-pw@host/"})
    assert result.rc != 0 and "must start with https://" in task["msg"]
    assert "s3cret-pw" not in result.output
