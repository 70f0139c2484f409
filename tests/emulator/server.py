# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A local emulator of the sigcalcloud API's DescribeURedisBackup call.

It answers as the real service does (signature check, RetCodes, filters, paging with a
server-side page cap) so that a client that works against it works against the cloud,
and it can misbehave on purpose (latency, HTTP errors, resets, hangs, garbled bodies)
so that clients can prove they survive. Python standard library only.

    python tests/emulator/server.py --port 0 [flags]

prints one JSON line when ready: {"base_url", "port", "public_key", "private_key",
"regions", "backups"} and serves until SIGTERM or SIGINT. Flags:

  --host H --port P            where to listen (port 0 picks a free one)
  --data FILE                  a data set in JSON (see docs/emulator.md); default: generated
  --regions a,b,c              regions of the generated data set (default cn-bj2,cn-sh2,hk)
  --backups-per-region N       normal backups of the demo project per region (default 30)
  --seed N --epoch T           generator seed, and the UNIX time "now" of the data (default: now)
  --dump-data FILE             write the data set to FILE and go on serving
  --max-page-size N            the most rows a page holds, whatever Limit asks (default 100)
  --latency-ms MS              added to every API answer
  --fault-rate R --fault-kinds K,K --fault-seed N
                               fail a fraction R of API requests with a random kind of K
  --fault-schedule 1=503,2=reset
                               fail API requests by their number (1-based)
  --fail-region REGION[=KIND]  every request for REGION fails (default kind 500); repeatable
  --hang-seconds S             how long a "hang" fault holds its answer (default 30)
  --mutate-between-pages N     the first N page requests with Offset > 0 first add one backup
                               and delete another in the listed region, shifting the pages
  --tls-cert FILE --tls-key FILE   serve HTTPS
  --verbose                    log each request to stderr

Fault kinds: 429 (with Retry-After: 1), 500, 502, 503, 504, reset (connection reset, no
answer), hang, truncated (half a JSON body), html, empty (200 with no body), retcode150,
no_retcode, dataset_not_list, bad_row_types.

Paths under /_emulator/ are the emulator's own and need no signature: GET stats, POST
reset_stats, GET backups (the data set), POST backups ({"upsert": [rows], "delete": [ids]}).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

ACTION = "DescribeURedisBackup"
DEMO_PUBLIC_KEY = "sigcalcloud-demo-public-key"
DEMO_PRIVATE_KEY = "sigcalcloud-demo-private-key"
OTHER_PUBLIC_KEY = "sigcalcloud-other-public-key"
OTHER_PRIVATE_KEY = "sigcalcloud-other-private-key"
DEFAULT_REGIONS = ("cn-bj2", "cn-sh2", "hk")
REGION_TYPES = ("normal", "source", "target")
STATES = ("Success", "Error", "Expired", "Backuping")
# Stored with each row but never returned: they decide which listing a row is in.
HIDDEN_FIELDS = ("Region", "ProjectId", "SlaveZone")
REQUEST_ID_HEADER = "X-SIGCALCLOUD-REQUEST-UUID"
FAULT_KINDS = ("429", "500", "502", "503", "504", "reset", "hang", "truncated", "html", "empty",
               "retcode150", "no_retcode", "dataset_not_list", "bad_row_types")
# What --fault-rate picks from by default: the failures a client must ride out.
TRANSIENT_FAULTS = ("429", "500", "502", "503", "504", "reset", "truncated", "retcode150")
JINJA_NAME = "{{ lookup('pipe', 'touch /tmp/sigcalcloud-templated') }}"
AWKWARD_GROUP_NAMES = ("orders cache", "a&b=c+d", 'say "cheese"', "path/to/redis", u"缓存 ünïcode", "plain")


class ApiError(Exception):
    """A refusal the API answers with a non-zero RetCode."""

    def __init__(self, ret_code, message):
        super(ApiError, self).__init__(message)
        self.ret_code = ret_code
        self.message = message


def sign(params, private_key):
    payload = "".join(key + params[key] for key in sorted(params))
    return hashlib.sha1((payload + private_key).encode("utf-8")).hexdigest()


# --- data sets -------------------------------------------------------------------

def generate_dataset(regions=DEFAULT_REGIONS, backups_per_region=30, seed=1, epoch=None):
    """A deterministic data set (for a given seed and epoch).

    Per region: exactly ``backups_per_region`` normal backups of the demo account's
    default project ``org-demo`` (every state and type, some rows without optional
    fields, awkward names), plus 3 in ``org-second`` and 2 cross-region backups whose
    source is the region (when there are several regions). The first region also holds
    2 backups of ``org-other``, a project of another account. The first backup of the
    first region is named with Jinja2 text that must never be templated.
    """
    rng = random.Random(seed)
    now = int(time.time()) // 3600 * 3600 if epoch is None else int(epoch)
    regions = list(regions)

    def backup_id():
        return "%08x-%04x-4%03x-%04x-%012x" % tuple(rng.getrandbits(bits) for bits in (32, 16, 12, 16, 48))

    def make_row(region, project, group, index, **extra):
        row = {
            "Region": region, "ProjectId": project, "BackupId": backup_id(),
            "BackupName": "%s-%s-%04d" % ("auto" if index % 4 else "manual", group["GroupId"][-2:], index),
            "BackupTime": now - rng.randint(60, 30 * 86400), "BackupSize": rng.randint(1024, 8 << 30),
            "BackupType": "Manual" if index % 4 == 0 else "Auto",
            "State": STATES[index] if index < len(STATES) else rng.choice(STATES[:1] * 6 + STATES),
            "GroupId": group["GroupId"], "GroupName": group["GroupName"],
            "Zone": "%s-0%d" % (region, 1 + index % 3), "MemorySize": rng.choice((1, 2, 4, 8, 16)),
            "RedisVersion": rng.choice(("4.0", "5.0", "6.0", "7.0")),
        }
        if group.get("SlaveZone"):
            row["SlaveZone"] = group["SlaveZone"]
        if index % 7 == 5:  # absent is not zero: some rows lack the optional fields
            del row["MemorySize"], row["RedisVersion"]
        if index % 11 == 9:
            del row["Zone"]
        row.update(extra)
        return row

    backups = []
    for number, region in enumerate(regions):
        count = max(1, min(10, -(-backups_per_region // 5)))
        groups = [{"GroupId": "uredis-%s-%02d" % (region.replace("-", ""), k),
                   "GroupName": AWKWARD_GROUP_NAMES[k % len(AWKWARD_GROUP_NAMES)],
                   "SlaveZone": "%s-0%d" % (region, 2 + k % 2) if k % 3 == 1 else None}
                  for k in range(count)]
        for index in range(backups_per_region):
            row = make_row(region, "org-demo", groups[index % count], index)
            if index == 1:
                row["BackupName"] = u"备份 ünïcode & more=1 \"quoted\" /slash"
            backups.append(row)
        if number == 0 and backups_per_region:
            backups[-backups_per_region]["BackupName"] = JINJA_NAME
        for index in range(3):
            backups.append(make_row(region, "org-second", groups[0], 900 + index))
        if len(regions) > 1:
            target = regions[(number + 1) % len(regions)]
            for index in range(2):
                backups.append(make_row(region, "org-demo", groups[-1], 950 + index,
                                        SrcRegionName=region, DstRegionName=target))
        if number == 0:
            for index in range(2):
                backups.append(make_row(region, "org-other", groups[0], 980 + index))
    return {
        "accounts": [
            {"public_key": DEMO_PUBLIC_KEY, "private_key": DEMO_PRIVATE_KEY,
             "default_project": "org-demo", "projects": ["org-demo", "org-second"]},
            {"public_key": OTHER_PUBLIC_KEY, "private_key": OTHER_PRIVATE_KEY,
             "default_project": "org-other", "projects": ["org-other"]},
        ],
        "regions": regions,
        "backups": backups,
    }


def check_dataset(data):
    """Raise ValueError naming the first thing wrong with a data set."""
    if not isinstance(data, dict):
        raise ValueError("the data set must be a JSON object with accounts, regions and backups")
    for key, kind in (("accounts", list), ("regions", list), ("backups", list)):
        if not isinstance(data.get(key), kind):
            raise ValueError("the data set's %r must be a list" % key)
    for index, account in enumerate(data["accounts"]):
        for key in ("public_key", "private_key", "default_project"):
            if not isinstance(account, dict) or not isinstance(account.get(key), str):
                raise ValueError("accounts[%d] needs a string %r" % (index, key))
        if not isinstance(account.get("projects", []), list):
            raise ValueError("accounts[%d].projects must be a list" % index)
    if not data["accounts"]:
        raise ValueError("the data set needs at least one account")
    for index, region in enumerate(data["regions"]):
        if not isinstance(region, str):
            raise ValueError("regions[%d] must be a string" % index)
    for index, row in enumerate(data["backups"]):
        if not isinstance(row, dict):
            raise ValueError("backups[%d] must be an object" % index)
        for key in ("Region", "ProjectId"):
            if not isinstance(row.get(key), str):
                raise ValueError("backups[%d] needs a string %r" % (index, key))
    return data


def load_dataset(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return check_dataset(json.load(handle))
    except OSError as exc:
        raise ValueError("cannot read data file %s: %s" % (path, exc.strerror))
    except ValueError as exc:
        raise ValueError("bad data file %s: %s" % (path, exc))


def newest_first(rows):
    return sorted(rows, key=lambda r: (r.get("BackupTime") is None, -(r.get("BackupTime") or 0),
                                       str(r.get("BackupId", ""))))


# --- faults ----------------------------------------------------------------------------

class FaultPlan:
    """Which API request fails, and how: by number, by region, or at a seeded rate."""

    def __init__(self, rate=0.0, kinds=TRANSIENT_FAULTS, seed=0, schedule=None, fail_regions=None):
        for kind in list(kinds) + list((schedule or {}).values()) + list((fail_regions or {}).values()):
            if kind not in FAULT_KINDS:
                raise ValueError("unknown fault kind %r; known: %s" % (kind, ", ".join(FAULT_KINDS)))
        self.rate = rate
        self.kinds = tuple(kinds)
        self.schedule = dict(schedule or {})
        self.fail_regions = dict(fail_regions or {})
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, number, region):
        if region in self.fail_regions:
            return self.fail_regions[region]
        if number in self.schedule:
            return self.schedule[number]
        if self.rate:
            with self._lock:
                if self._rng.random() < self.rate:
                    return self._rng.choice(self.kinds)
        return None


def parse_schedule(text):
    schedule = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        number, _sep, kind = item.partition("=")
        schedule[int(number)] = kind
    return schedule


# --- the server -----------------------------------------------------------------------------

class Emulator:
    """The API on 127.0.0.1 in a background thread. Also a context manager."""

    def __init__(self, data=None, host="127.0.0.1", port=0, max_page_size=100, latency=0.0,
                 faults=None, fail_regions=None, hang_seconds=30.0, mutate_between_pages=0,
                 tls=None, verbose=False):
        self._data = check_dataset(data if data is not None else generate_dataset())
        self.host, self.port = host, port
        self.max_page_size = max_page_size
        self.latency = latency
        self.faults = faults or FaultPlan(fail_regions=fail_regions)
        if fail_regions and faults:
            self.faults.fail_regions.update(fail_regions)
        self.hang_seconds = hang_seconds
        self.mutations_left = mutate_between_pages
        self.tls = tls
        self.verbose = verbose
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.reset_stats()

    # lifecycle
    def start(self):
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = _Server((self.host, self.port), handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            # Handshakes happen in the request threads, so a failing client cannot stall accept().
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    # data and statistics
    @property
    def data(self):
        with self._lock:
            return json.loads(json.dumps(self._data))

    def change(self, upsert=(), delete=()):
        """Add or replace rows (by BackupId) and delete rows, while serving."""
        with self._lock:
            gone = set(delete) | set(row.get("BackupId") for row in upsert)
            rows = [row for row in self._data["backups"] if row.get("BackupId") not in gone]
            self._data["backups"] = rows + [dict(row) for row in upsert]
            check_dataset(self._data)

    def reset_stats(self):
        with getattr(self, "_lock", threading.Lock()):
            self._stats = {"requests": 0, "api_requests": 0, "in_flight": 0, "peak_concurrency": 0,
                           "faults_injected": 0, "by_region": {}}

    def stats(self):
        with self._lock:
            stats = json.loads(json.dumps(self._stats))
        del stats["in_flight"]
        return stats

    # the API
    def answer(self, params):
        """The JSON answer to one API request's parameters (no faults)."""
        action = params.get("Action") or ""
        try:
            rows, total = self._describe(params)
        except ApiError as error:
            return {"RetCode": error.ret_code, "Action": "%sResponse" % action, "Message": error.message}
        return {"RetCode": 0, "Action": "%sResponse" % ACTION, "TotalCount": total, "DataSet": rows}

    def _describe(self, params):
        with self._lock:
            data = self._data
            accounts = dict((a["public_key"], a) for a in data["accounts"])
            action = params.get("Action")
            if not action:
                raise ApiError(160, "Missing Action")
            if action != ACTION:
                raise ApiError(161, "Action [%s] not exist" % action)
            if not params.get("Signature"):
                raise ApiError(170, "Missing signature")
            account = accounts.get(params.get("PublicKey"))
            if account is None:
                raise ApiError(172, "User Not Exists")
            unsigned = dict((k, v) for k, v in params.items() if k != "Signature")
            if not hmac.compare_digest(sign(unsigned, account["private_key"]), params["Signature"]):
                raise ApiError(171, "Signature VerifyAC Error")
            region = params.get("Region")
            if not region:
                raise ApiError(210, "Missing params [Region]")
            if region not in data["regions"]:
                raise ApiError(230, "Params [Region] not available")
            project = params.get("ProjectId") or account["default_project"]
            known = set(p for a in data["accounts"] for p in a.get("projects", []) + [a["default_project"]])
            if project not in known | set(row["ProjectId"] for row in data["backups"]):
                raise ApiError(292, "Project not exist")
            if project not in set(account.get("projects", [])) | {account["default_project"]}:
                raise ApiError(299, "IAM permission denied")
            if not params.get("GroupId") and not params.get("RegionType"):
                raise ApiError(210, "Missing params [GroupId]")
            region_type = params.get("RegionType") or "normal"
            if region_type not in REGION_TYPES:
                raise ApiError(230, "Params [RegionType] not available")
            offset = _int_param(params, "Offset", 0, minimum=0)
            limit = _int_param(params, "Limit", 10, minimum=1)
            if offset > 0 and self.mutations_left > 0:
                self.mutations_left -= 1
                self._shift_rows(region, project)
            rows = [row for row in data["backups"] if _matches(row, region, project, region_type, params)]
        rows = newest_first(rows)
        page = rows[offset:offset + min(limit, self.max_page_size)]
        return [dict((k, v) for k, v in row.items() if k not in HIDDEN_FIELDS) for row in page], len(rows)

    def _shift_rows(self, region, project):
        """Add a newest backup and delete the oldest, as a busy account does mid-listing."""
        rows = newest_first([r for r in self._data["backups"]
                             if _matches(r, region, project, "normal", {})])
        if rows:
            self._data["backups"].remove(rows[-1])
            template = rows[0]
            added = dict(template, BackupId="mutated-%s" % uuid.UUID(int=random.Random(len(rows)).getrandbits(128)),
                         BackupTime=(template.get("BackupTime") or 0) + 1, BackupName="created mid-listing")
            self._data["backups"].append(added)

    def count_request(self, region):
        """Count an API request as started; returns its number (1-based)."""
        with self._lock:
            stats = self._stats
            stats["api_requests"] += 1
            number = stats["api_requests"]
            stats["by_region"][region] = stats["by_region"].get(region, 0) + 1
            stats["in_flight"] += 1
            stats["peak_concurrency"] = max(stats["peak_concurrency"], stats["in_flight"])
        return number


def _int_param(params, name, default, minimum):
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(230, "Params [%s] not available" % name)
    if value < minimum:
        raise ApiError(230, "Params [%s] not available" % name)
    return value


def _matches(row, region, project, region_type, params):
    if row.get("ProjectId") != project:
        return False
    cross = row.get("SrcRegionName") or row.get("DstRegionName")
    if region_type == "normal" and (cross or row.get("Region") != region):
        return False
    if region_type == "source" and (not cross or row.get("SrcRegionName") != region):
        return False
    if region_type == "target" and (not cross or row.get("DstRegionName") != region):
        return False
    for name in ("GroupId", "BackupId", "SlaveZone"):
        if params.get(name) and row.get(name) != params[name]:
            return False
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # resets and failed TLS handshakes are expected here; the client reports them


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API gateway
    server_version = "sigcalcloud-emulator"
    emulator = None  # set on the subclass made by Emulator.start

    def log_message(self, fmt, *args):
        if self.emulator.verbose:
            sys.stderr.write("emulator: %s\n" % (fmt % args))

    def do_GET(self):
        self._dispatch(urlsplit(self.path).query)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self._dispatch(body)

    def _dispatch(self, form):
        emu = self.emulator
        with emu._lock:
            emu._stats["requests"] += 1
        path = urlsplit(self.path).path
        if path.startswith("/_emulator/"):
            return self._control(path[len("/_emulator/"):], form)
        if path != "/":
            return self._send(404, b"not found", "text/plain")
        params = dict(parse_qsl(form, keep_blank_values=True))
        region = params.get("Region", "")
        number = emu.count_request(region)
        try:
            fault = emu.faults.pick(number, region)
            if emu.latency:
                time.sleep(emu.latency)
            if fault:
                with emu._lock:
                    emu._stats["faults_injected"] += 1
                if self._fault(fault, params):
                    return None
            return self._send_json(emu.answer(params))
        finally:
            with emu._lock:
                emu._stats["in_flight"] -= 1

    def _fault(self, kind, params):
        """Misbehave as ``kind`` says. True when the answer is sent (or never will be)."""
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        if kind == "hang":
            time.sleep(self.emulator.hang_seconds)
            return False
        if kind in ("429", "500", "502", "503", "504"):
            headers = {"Retry-After": "1"} if kind == "429" else {}
            page = "<html><body><h1>%s</h1>gateway says no</body></html>" % kind
            self._send(int(kind), page.encode(), "text/html", headers)
            return True
        if kind == "html":
            self._send(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html")
            return True
        if kind == "empty":
            self._send(200, b"", "application/json")
            return True
        answer = self.emulator.answer(params)
        if kind == "truncated":
            body = json.dumps(answer).encode("utf-8")
            self._send(200, body[:len(body) // 2], "application/json")
        elif kind == "retcode150":
            self._send_json({"RetCode": 150, "Action": "%sResponse" % ACTION, "Message": "Service unavailable"})
        elif kind == "no_retcode":
            answer.pop("RetCode", None)
            self._send_json(answer)
        elif kind == "dataset_not_list":
            answer["DataSet"] = "not a list"
            self._send_json(answer)
        elif kind == "bad_row_types":
            answer["DataSet"] = [dict(row, BackupTime="yesterday", BackupSize=[1]) for row in answer.get("DataSet", [])] \
                or [{"BackupId": "bad", "BackupTime": "yesterday", "BackupSize": [1]}]
            self._send_json(answer)
        return True

    def _control(self, name, form):
        emu = self.emulator
        if name == "stats" and self.command == "GET":
            return self._send_json(emu.stats())
        if name == "reset_stats" and self.command == "POST":
            emu.reset_stats()
            return self._send_json({"ok": True})
        if name == "backups" and self.command == "GET":
            return self._send_json(emu.data)
        if name == "backups" and self.command == "POST":
            try:
                change = json.loads(form or "{}")
                emu.change(change.get("upsert", []), change.get("delete", []))
            except (ValueError, AttributeError, TypeError) as exc:
                return self._send(400, ("bad change: %s" % exc).encode(), "text/plain")
            return self._send_json({"ok": True, "backups": len(emu.data["backups"])})
        return self._send(404, b"unknown emulator path", "text/plain")

    def _send_json(self, document):
        self._send(200, json.dumps(document, ensure_ascii=False).encode("utf-8"), "application/json")

    def _send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type + "; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header(REQUEST_ID_HEADER, str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


# --- command line --------------------------------------------------------------------------------

def _parser():
    parser = argparse.ArgumentParser(description="Local emulator of the sigcalcloud DescribeURedisBackup API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data")
    parser.add_argument("--regions", default=",".join(DEFAULT_REGIONS))
    parser.add_argument("--backups-per-region", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epoch", type=int)
    parser.add_argument("--dump-data")
    parser.add_argument("--max-page-size", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default=",".join(TRANSIENT_FAULTS))
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--fault-schedule", default="")
    parser.add_argument("--fail-region", action="append", default=[])
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--mutate-between-pages", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.data:
            data = load_dataset(args.data)
        else:
            regions = [r.strip() for r in args.regions.split(",") if r.strip()]
            data = generate_dataset(regions, args.backups_per_region, args.seed, args.epoch)
        fail_regions = dict((item.partition("=")[0], item.partition("=")[2] or "500") for item in args.fail_region)
        faults = FaultPlan(rate=args.fault_rate, kinds=[k for k in args.fault_kinds.split(",") if k],
                           seed=args.fault_seed, schedule=parse_schedule(args.fault_schedule),
                           fail_regions=fail_regions)
        if bool(args.tls_cert) != bool(args.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        emulator = Emulator(data=data, host=args.host, port=args.port, max_page_size=args.max_page_size,
                            latency=args.latency_ms / 1000.0, faults=faults, hang_seconds=args.hang_seconds,
                            mutate_between_pages=args.mutate_between_pages,
                            tls=(args.tls_cert, args.tls_key) if args.tls_cert else None, verbose=args.verbose)
        if args.dump_data:
            with open(args.dump_data, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1)
        emulator.start()
    except (ValueError, OSError, ssl.SSLError) as exc:
        parser.exit(2, "emulator: %s\n" % exc)

    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stopped.set())
    account = data["accounts"][0]
    print(json.dumps({"base_url": emulator.base_url, "port": emulator.port, "public_key": account["public_key"],
                      "private_key": account["private_key"], "regions": data["regions"],
                      "backups": len(data["backups"])}), flush=True)
    while not stopped.wait(0.5):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
