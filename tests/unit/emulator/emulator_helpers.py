# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the emulator's unit tests share besides fixtures (those are conftest.py's): the
demo accounts, the default data set, and signing and sending requests.

Requests are signed here by a helper of a few lines, written from API.md (not by the
collection's client nor by the emulator's own code, so the check is independent), and sent
with urllib to 127.0.0.1. Tests import from here, never from conftest or from one another.
The name is unique on purpose: pytest puts the folder of every test file on sys.path, and
tests/e2e has its own helpers.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from emulator.server import generate_dataset

ROOT = Path(__file__).resolve().parents[3]
SERVER = os.path.join("tests", "emulator", "server.py")  # relative to ROOT
DEMO_PUBLIC = "sigcalcloud-demo-public-key"
DEMO_PRIVATE = "sigcalcloud-demo-private-key"
OTHER_PUBLIC = "sigcalcloud-other-public-key"
OTHER_PRIVATE = "sigcalcloud-other-private-key"
REGIONS = ["cn-bj2", "cn-sh2", "hk"]
EPOCH = 1700000000


def fresh_data():
    return generate_dataset(REGIONS, 30, seed=1, epoch=EPOCH)


def run_cli(*args):
    return subprocess.run([sys.executable, SERVER, "--port", "0"] + list(args), cwd=str(ROOT), capture_output=True,
                          text=True, encoding="utf-8", timeout=30, check=False)


# --- signing and sending, written from API.md ---------------------------------------------

def signature(params, private_key):
    text = "".join(key + params[key] for key in sorted(params)) + private_key
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def signed(params, private_key=DEMO_PRIVATE):
    return dict(params, Signature=signature(params, private_key))


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Reply(%d, %r)" % (self.status, self.body[:300])


def http(url, data=None, method=None, timeout=5.0, context=None):
    """One HTTP exchange; HTTP errors are answers too. Network failures raise."""
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def peek(url, size=64, timeout=5.0):
    """http() that reads only the first ``size`` bytes of a 200's body (backup files are GiB): the
    connection is then closed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read(size))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def send(target, params, method="POST", **kwargs):
    base = getattr(target, "base_url", target)
    encoded = urllib.parse.urlencode(params)
    if method == "POST":
        return http(base + "/", data=encoded.encode("ascii"), **kwargs)
    return http(base + "/?" + encoded, **kwargs)


def attempt(target, params, **kwargs):
    """send(), or the exception a client sees when the exchange fails."""
    try:
        return send(target, params, **kwargs)
    except OSError as error:  # URLError, ConnectionError, TimeoutError
        return error


def api(target, params, private_key=DEMO_PRIVATE, method="POST"):
    reply = send(target, signed(params, private_key), method)
    assert reply.status == 200, reply
    return reply.json()


def control(target, name, body=None):
    """GET /_emulator/<name>, or POST it when there is a body (JSON unless bytes)."""
    base = getattr(target, "base_url", target)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode("utf-8"))
    return http("%s/_emulator/%s" % (base, name), data=data, method="GET" if data is None else "POST")


def is_connection_error(result):
    reason = getattr(result, "reason", result)
    return isinstance(result, ConnectionError) or isinstance(reason, ConnectionError)


def is_timeout(result):
    reason = getattr(result, "reason", result)
    return isinstance(result, TimeoutError) or isinstance(reason, TimeoutError)


def not_json(body):
    try:
        json.loads(body.decode("utf-8"))
    except ValueError:
        return True
    return False


# --- Redis groups (CreateURedisGroup, DeleteURedisGroup, DescribeURedisConfig) in one zone ----------

REGION = "cn-bj2"
ZONE = "cn-bj2-01"


def configs(emu, **params):
    return api(emu, dict({"Action": "DescribeURedisConfig", "Region": REGION, "Zone": ZONE, "RegionFlag": "false",
                          "PublicKey": "sigcalcloud-demo-public-key"}, **params))


def create(emu, **params):
    return api(emu, dict({"Action": "CreateURedisGroup", "Region": REGION, "Zone": ZONE, "Name": "restored-1",
                          "HighAvailability": "enable", "PublicKey": "sigcalcloud-demo-public-key"}, **params))


def delete(emu, group_id, **params):
    return api(emu, dict({"Action": "DeleteURedisGroup", "Region": REGION, "GroupId": group_id,
                          "PublicKey": "sigcalcloud-demo-public-key"}, **params))


def listed(emu, group_id):
    answer = api(emu, {"Action": "DescribeURedisGroup", "Region": REGION, "GroupId": group_id,
                       "PublicKey": "sigcalcloud-demo-public-key"})
    assert answer["RetCode"] == 0, answer
    return answer["DataSet"]


def wait_state(emu, group_id, state, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = listed(emu, group_id)
        if (rows[0]["State"] if rows else None) == state:
            return rows
        time.sleep(0.05)
    raise AssertionError("group %s never became %s: %r" % (group_id, state, listed(emu, group_id)))


def backup(emu, version):
    """A Success backup of the demo project in REGION whose RedisVersion is ``version``."""
    return next(row for row in emu.data["backups"] if row["Region"] == REGION and row["ProjectId"] == "org-demo"
                and row.get("State") == "Success" and row.get("RedisVersion") == version and "SrcRegionName" not in row)
