# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Faults survived, bad answers refused, secrets kept, TLS verified: through real
ansible / ansible-playbook / ansible-inventory runs against the emulator's faults.
docs/docsite/rst/reliability.rst lists these cases and what a user sees in each."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import textwrap
import time

import pytest

from emulator.server import FaultPlan, generate_dataset
from helpers import adhoc, credentials_env, expected_backups, hostvars, inventory_file, inventory_list


TRANSIENT = ["429", "500", "502", "503", "504", "reset", "truncated", "retcode150"]
REGIONS = ["cn-bj2", "cn-sh2", "hk"]


def all_expected(data, regions):
    return dict((b["backup_id"], b) for region in regions for b in expected_backups(data, region))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_transient_faults_still_give_exact_data(run_ansible, start_emulator, tmp_path, seed):
    data = generate_dataset(REGIONS, 300, seed=seed)
    emu = start_emulator(data=data, max_page_size=20,
                         faults=FaultPlan(rate=0.1, kinds=TRANSIENT, seed=seed))
    result, task = adhoc(run_ansible, emu, "region=cn-sh2")
    assert result.rc == 0, result
    assert task["backups"] == expected_backups(data, "cn-sh2")

    path = inventory_file(tmp_path, "regions: [cn-bj2, cn-sh2, hk]\n")
    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert result.rc == 0, result
    facts = hostvars(result.json())
    expected = all_expected(data, REGIONS)
    assert sorted(facts) == sorted(expected)
    assert all(expected[k] == facts[k] for k in expected)
    stats = emu.stats()
    assert stats["faults_injected"] >= 2, stats  # the faults really happened, and were ridden out


def test_hung_server_fails_after_timeout_times_attempts(run_ansible, start_emulator):
    emu = start_emulator(fail_regions={"cn-bj2": "hang"}, hang_seconds=8)
    started = time.monotonic()
    result, task = adhoc(run_ansible, emu, "timeout=1 max_retries=1")
    elapsed = time.monotonic() - started
    assert result.rc != 0
    assert "no answer from %s/ within the 1s timeout" % emu.base_url in task["msg"]
    assert "gave up after 2 attempts" in task["msg"]
    assert elapsed < 8  # it gave up; it did not wait for the server


def test_a_region_that_always_fails_is_named(run_ansible, start_emulator):
    emu = start_emulator(fail_regions={"hk": "503"})
    result, task = adhoc(run_ansible, emu, "region=hk max_retries=1")
    assert result.rc != 0
    assert "the server answered HTTP 503" in task["msg"] and "region hk" in task["msg"]
    assert task["http_status"] == 503 and "backups" not in task


@pytest.mark.parametrize("mutations", [1, 2])
def test_rows_changing_between_pages_give_what_the_server_holds(run_ansible, start_emulator, tmp_path, mutations):
    emu = start_emulator(data=generate_dataset(["cn-bj2"], 95, seed=5), max_page_size=10,
                         mutate_between_pages=mutations)
    result, task = adhoc(run_ansible, emu, "max_concurrency=1")
    assert result.rc == 0, result
    ids = [b["backup_id"] for b in task["backups"]]
    assert len(ids) == len(set(ids))
    assert task["backups"] == expected_backups(emu.data, "cn-bj2")  # the data as it ended up
    assert any(i.startswith("mutated-") for i in ids)

    emu = start_emulator(data=generate_dataset(["cn-bj2"], 95, seed=6), max_page_size=10,
                         mutate_between_pages=mutations)
    path = inventory_file(tmp_path, "regions: [cn-bj2]\nmax_concurrency: 1\n")
    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert result.rc == 0, result
    assert sorted(hostvars(result.json())) == sorted(b["backup_id"] for b in expected_backups(emu.data, "cn-bj2"))


@pytest.mark.parametrize("kind, message", [
    ("html", "the answer was not JSON (it began with '<!DOCTYPE html><html><body>Maintenance</body></html>')"),
    ("empty", "the answer was not JSON (it began with an empty body)"),
    ("no_retcode", "the answer has no RetCode field"),
    ("dataset_not_list", "unexpected answer for region cn-bj2: DataSet is str, expected a list"),
    ("bad_row_types", "has BackupTime='yesterday', expected an integer"),
])
def test_malformed_answers_fail_clearly(run_ansible, start_emulator, tmp_path, kind, message):
    emu = start_emulator(fail_regions={"cn-bj2": kind})
    result, task = adhoc(run_ansible, emu, "max_retries=1")
    assert result.rc != 0
    assert message in task["msg"]
    assert "backups" not in task and "Traceback" not in result.output

    path = inventory_file(tmp_path, "regions: [cn-bj2]\nmax_retries: 1\n")
    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert result.rc != 0 and message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


@pytest.mark.parametrize("scenario", ["good", "rejected", "fault", "hang", "bad_answer", "bad_option"])
def test_private_key_never_leaks_on_any_path(run_ansible, start_emulator, tmp_path, scenario):
    kwargs = {"fault": {"fail_regions": {"cn-bj2": "500"}}, "hang": {"fail_regions": {"cn-bj2": "hang"},
                                                                     "hang_seconds": 3},
              "bad_answer": {"fail_regions": {"cn-bj2": "bad_row_types"}}}.get(scenario, {})
    emu = start_emulator(**kwargs)
    secret = emu.data["accounts"][0]["private_key"]
    env = {"SIGCALCLOUD_PRIVATE_KEY": secret + "-x"} if scenario == "rejected" else {}
    args = "timeout=1 max_retries=1" + (" since=never" if scenario == "bad_option" else "")
    outputs = []
    result, _task = adhoc(run_ansible, emu, args, env=env, verbosity="-vvvv")
    outputs.append(result.output)
    cache = tmp_path / "cache"
    path = inventory_file(tmp_path, textwrap.dedent("""
        regions: [cn-bj2]
        timeout: 1
        max_retries: 1
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache}
    """).format(cache=cache))
    result = inventory_list(run_ansible, emu, path, env, "-vvvv")
    outputs.append(result.output)
    outputs.extend(p.read_text() for p in cache.glob("*")) if cache.exists() else None
    assert all(secret not in text for text in outputs)


def test_module_output_is_never_templated(run_ansible, start_emulator, tmp_path):
    marker = tmp_path / "templated"
    data = generate_dataset(["cn-bj2"], 5, seed=8)
    data["backups"][0]["BackupName"] = "{{ lookup('pipe', 'touch %s') }}" % marker
    emu = start_emulator(data=data)
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""
        - hosts: localhost
          gather_facts: false
          tasks:
            - sigcalcloud.cloud.uredis_backup_info:
              register: result
            - ansible.builtin.debug:
                msg: "{{ result.backups | map(attribute='backup_name') | join(',') }}"
            - ansible.builtin.set_fact:
                names: "{{ result.backups | map(attribute='backup_name') | list }}"
            - ansible.builtin.debug:
                msg: "{{ names }}"
    """))
    result = run_ansible("ansible-playbook", play, env=credentials_env(emu))
    assert result.rc == 0, result
    assert "lookup('pipe', 'touch" in result.stdout
    assert not marker.exists()


# --- TLS -----------------------------------------------------------------------------------

@pytest.fixture
def self_signed(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_is_verified_unless_turned_off(run_ansible, start_emulator, tmp_path, self_signed):
    emu = start_emulator(tls=self_signed)
    assert emu.base_url.startswith("https://")
    result, task = adhoc(run_ansible, emu)
    assert result.rc != 0
    assert "TLS certificate verification failed for %s/" % emu.base_url in task["msg"]
    assert "Set ca_path" in task["msg"]

    result, task = adhoc(run_ansible, emu, "validate_certs=false")
    assert result.rc == 0, result
    assert task["backups"] == expected_backups(emu.data, "cn-bj2")

    result, task = adhoc(run_ansible, emu, "ca_path=%s" % self_signed[0])
    assert result.rc == 0, result

    path = inventory_file(tmp_path, "regions: [cn-bj2]\nca_path: %s\n" % self_signed[0])
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0 and sorted(hostvars(result.json())) == sorted(
        b["backup_id"] for b in expected_backups(emu.data, "cn-bj2"))
    path = inventory_file(tmp_path, "regions: [cn-bj2]\n", name="strict.uredis_backup.yml")
    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert result.rc != 0 and "TLS certificate verification failed" in result.stderr


def test_a_redirecting_endpoint_is_named_not_followed(run_ansible, emulator):
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(301)
            self.send_header("Location", emulator.base_url + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result, task = adhoc(run_ansible, emulator, env={"SIGCALCLOUD_BASE_URL": "http://127.0.0.1:%d" % server.server_port})
    finally:
        server.shutdown()
        server.server_close()
    assert result.rc != 0
    assert "the server answered HTTP 301 with a redirect to %s/: set base_url to the API endpoint itself" % (
        emulator.base_url) in task["msg"]
    assert emulator.stats()["api_requests"] == 0  # not followed


def test_a_backup_time_beyond_any_date_is_a_clear_error(run_ansible, start_emulator):
    data = generate_dataset(["cn-bj2"], 3, seed=9)
    data["backups"][0]["BackupTime"] = 99999999999999
    emu = start_emulator(data=data)
    result, task = adhoc(run_ansible, emu)
    assert result.rc != 0
    assert "has BackupTime=99999999999999, out of range for a date" in task["msg"]
    assert "Traceback" not in result.output
