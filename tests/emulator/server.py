# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A local emulator of the sigcalcloud API's URedis backup actions.

It answers as the real service does (signature check, RetCodes, filters, paging with a
server-side page cap), so a client that works against it works against the cloud, and it
misbehaves on demand (latency, HTTP errors, resets, hangs, garbled bodies, rows changing
between pages) and turns hostile on demand (answers dripped a byte at a time, oversized or
compressed bodies, an endless or lying TotalCount, pages that contradict their count, terminal
control text, JSON that breaks decoders, consistent answers to another request than the one sent,
a listing that lags behind creates), so a client can prove it survives, stays bounded and checks each
answer against its request.
Two files (this one and redis_plane.py beside it), Python 3.9+ standard library only: copy them into your own
CI. docs/docsite/rst/emulator.rst is the user guide.

    python server.py --port 0 [flags]

prints one JSON line when ready, {"base_url", "port", "public_key", "private_key",
"regions", "backups", "groups"} (those two are counts), and serves until SIGTERM or SIGINT (then exits 0). Flags:

  --host H --port P              where to listen (default 127.0.0.1, port 0 = a free one)
  --data FILE                    serve the data set in FILE (JSON); default: a generated one
  --regions a,b,c                regions of the generated data set (default cn-bj2,cn-sh2,hk)
  --backups-per-region N         normal backups of the demo project per region (default 30)
  --seed N                       generator seed (default 1); the same seed gives the same data
  --epoch T | --now-relative     the data's "now" (UNIX time): default fixed, derived from the
                                 seed; --now-relative uses the current hour
  --dump-data FILE               also write the data set to FILE
  --max-page-size N              the most rows a page holds, whatever Limit asks (default 100)
  --latency-ms MS                added to every API answer
  --fault-rate R --fault-kinds K,K --fault-seed N
                                 fail a fraction R of API requests, with kinds drawn from K
  --fault-schedule 1=503,2=reset fail API requests by number (1-based)
  --fail-region REGION[=KIND]    every request for REGION fails (default 500); repeatable
  --hang-seconds S               how long a "hang" holds its answer (default 30)
  --drip-interval S              seconds between the bytes of drip and drip_headers (default 1)
  --oversize-bytes N             size of oversized, oversized_chunked and (inflated) gzip_bomb
                                 bodies (default 67108864: 64 MiB)
  --claimed-total N              the TotalCount of total_claimed, endless and over_limit (default 10**12)
  --over-limit-rows N            the rows of every over_limit page (default 1000)
  --listing-lag N                a backup created while this is N is left out of DescribeURedisBackup
                                 answers (rows and TotalCount) until N of them that would have listed it
                                 have been answered; the (N+1)-th lists it (default 0: at once)
  --mutate-between-pages [N]     before a page with Offset > 0, add a newest backup and drop
                                 the oldest of the listing (the first N such pages; no N: all)
  --tls-cert FILE --tls-key FILE serve HTTPS
  --verbose                      log each request to stderr

Fault kinds: 429 (with Retry-After: 1), 500, 502, 503, 504 (HTML bodies), reset (connection
reset, no answer), hang (answers after --hang-seconds), truncated (half the JSON body),
html (200 with a web page), empty (200, no body), retcode150, no_retcode, dataset_not_list,
bad_row_types.

Hostile kinds (every one composes with --fault-schedule, --fail-region and --fault-kinds):
  drip               200, the right answer with its Content-Length; headers at once, then the
                     body one byte every --drip-interval
  drip_headers       the status line and headers dripped too, one byte every --drip-interval
  oversized          200, Content-Length, --oversize-bytes of valid JSON: the right answer with
                     a first field "Padding": "xxx...", streamed in 64 KiB writes
  oversized_chunked  the same with Transfer-Encoding: chunked and no Content-Length
  gzip_bomb          200, Content-Encoding: gzip (whatever Accept-Encoding says), a body about
                     1/1000 of --oversize-bytes that inflates to that padded answer
  total_claimed      the right rows, TotalCount = --claimed-total (pages past the rows are empty)
  endless            every page full: min(Limit, --max-page-size) made-up rows endless-<n>
                     (n = Offset + i; groups for DescribeURedisGroup, configs for DescribeURedisConfig), TotalCount = --claimed-total
  empty_dataset      RetCode 0, the right TotalCount, "DataSet": []
  no_dataset         RetCode 0, the right TotalCount, no DataSet
  control_message    RetCode 230 with Message = CONTROL_TEXT (terminal control sequences)
  control_rows       the right rows, CONTROL_TEXT appended to each BackupName (a group's or config's Name)
                     and GroupName
  deep_json          RetCode 0, TotalCount 1, DataSet arrays nested DEEP_JSON_DEPTH (100000) deep
  retcode_infinity   "RetCode": Infinity      retcode_huge      "RetCode": 1e400
  retcode_fraction   "RetCode": 0.9 with the right TotalCount and DataSet
  huge_int           TotalCount as a HUGE_INT_DIGITS (5000) digit integer literal
  lone_surrogate     the first row's BackupName (a group's Name) ends with the JSON escape \\ud800
Answers to another request (well formed and consistent: only a client that checks an answer against
its request sees the lie):
  wrong_action       RetCode 0 and another action's answer for the same Region and ProjectId: to
                     DescribeURedisBackup the DescribeURedisGroup answer (Offset and Limit as sent), to
                     every other action the DescribeURedisBackup answer with RegionType normal; a
                     faulted CreateURedisBackup or UpdateURedisBackupStrategy is not performed
  other_group        a GroupId-filtered DescribeURedisBackup or DescribeURedisGroup answered with the
                     rows of the first other GroupId (sorted) that has rows in that listing (backups:
                     same RegionType, BackupId dropped); none, or no GroupId sent: passes through
  ignore_filter      the listing as if GroupId and BackupId (a group listing: GroupId and Zone) were not
                     sent (backups: RegionType as sent, else normal); none sent: passes through
  over_limit         every page holds --over-limit-rows made-up rows as endless makes them, whatever
                     Limit and --max-page-size say; TotalCount = --claimed-total
  empty_listing      RetCode 0, "TotalCount": 0, "DataSet": []
  short_listing      RetCode 0, the first row of the right page and "TotalCount": 1 (at Offset > 0 no
                     rows, TotalCount 1); an empty listing passes through
The kinds that change a listing (total_claimed, endless, empty_dataset, no_dataset,
control_rows, huge_int, lone_surrogate and the answers to another request but wrong_action) leave a
refusal (RetCode other than 0) as it is; so does wrong_action. A kind that passes through counts no fault.
Dripping and oversized answers end quietly when the client goes away or the emulator stops.

Actions: DescribeURedisBackup, DescribeURedisGroup, CreateURedisBackup, DescribeURedisBackupURL,
UpdateURedisBackupStrategy, CreateURedisGroup, DeleteURedisGroup and DescribeURedisConfig (any other is RetCode
161), with the parameters, checks and answers of the official SDK's schemas, each through the same
signature, Region and ProjectId checks:
  - DescribeURedisGroup lists the data set's "groups" (derived from the backups' GroupIds for a data
    file without them), newest CreateTime first, paged as backups are (Limit default 20);
  - a created backup is Backuping, and Success (Error for a group with FailBackups) once
    --backup-seconds have passed; a group with --manual-backup-limit Manual backups (Expired and
    Error ones not counted) answers RetCode 20208 "backup count exceeds limit"; an unknown group,
    a bad BackupName (6-63 letters, digits, - and _) or a Zone not the group's answer 230;
  - DescribeURedisConfig (Zone and RegionFlag required) lists per zone of the region (<region>-01 and the
    zones the data names) and Redis version (4.0, 5.0, 6.0, 7.0, 7.2) a default Unmodifiable config
    (ConfigId config_id(zone, version, "default")) and a Modifiable custom one; RegionFlag=true lists none;
  - CreateURedisGroup (without the data plane a group is a row: no redis-server) answers a new GroupId; the group is Creating for
    --group-create-seconds, then Running (VirtualIP 127.0.0.1) or CreateFail. With BackupId (a Success
    backup of the region; ConfigId then required, a config of the Zone) the group takes the config's
    version, and a backup whose RedisVersion is newer ends in CreateFail (accepted, not RetCode 20207: the
    real restore learns it only once the server starts). The base64 Password is stored decoded and hidden
    (GET groups shows it, as SourceBackupId, the backup restored). Lost answers: --lose-create-answers,
    one count for both kinds of create; Emulator.fail_group_creates(N) fails the next N;
  - DeleteURedisGroup: a Running or CreateFail group is Deleting for --group-delete-seconds, then gone; an
    unknown, gone or Deleting group answers 20201 "delete failed: group does not exist", a Creating one 20201;
  - DescribeURedisBackupURL answers a link to /_emulator/download/<id>?Expires=..&Signature=..,
    valid for --url-ttl seconds, for Success backups only (others: RetCode 20202); the link serves
    the backup's file (below);
  - UpdateURedisBackupStrategy sets AutoBackup and BackupTime as the real server does: an omitted
    AutoBackup means enable, an omitted BackupTime hour 0. OperationType=modify (DstRegion: another region
    of the data set, SaveDays >= 1, else 210 or 230 naming the parameter) switches the group's cross-region
    copies on, stored as the group's hidden DstRegion and SaveDays (GET groups shows them); close switches
    them off. Both set AutoBackup and BackupTime too, with the same defaults (the real server's handling is
    not documented: this is the pessimistic reading). While a group's copies are on, each backup created for
    it gets, --copy-seconds after it turns Success, a copy: its own row (BackupId uuid5 of the source's, hidden
    SourceBackupId the source's, SrcRegionName the group's region, DstRegionName the destination, the other
    fields the source's, State Success), listed as RegionType=source in the group's region and target in the
    destination; a copy is no longer listed (deleted) once BackupTime + SaveDays days have passed. The link of
    a cross-region backup is asked with IsCrossRegion=true, of a normal one without (else 230 BackupId).

  --backup-seconds S             how long a created backup is Backuping (default 2)
  --copy-seconds S               how long after its source turns Success a cross-region copy is listed (default 0)
  --manual-backup-limit N        Manual backups a group may hold (default 10)
  --url-ttl S                    how long a download link works (default 3600)
  --lose-create-answers N[=KIND] the next N creates that succeed are performed, then their answer
                                 is lost: KIND is reset (default), 504, html, truncated or hang
                                 (held for --hang-seconds, then reset); each counts as a fault
  --group-create-seconds S       how long a created group is Creating (default 2)
  --group-delete-seconds S       how long a deleted group is Deleting before it is gone (default 1)
  --lose-delete-answers N[=KIND] the next N group deletes that succeed are performed, their answer lost
  --redis auto|on|off            the data plane (below): auto (default) when redis-server is on PATH

The data plane (Emulator(redis=False|True|"auto"), class default False; the CLI says on stderr when it is off):
every Running group is a real redis-server (redis_plane.py) on 127.0.0.1, a free port (20000-32767) that
DescribeURedisGroup answers as VirtualIP/Port, requirepass its Password, save "" and appendonly no, in its own
folder under one temporary folder removed at stop; GET groups shows each server's hidden Pid. The data set's
groups (and Running groups upserted later) start together at start() with the known data (known_data_commands:
KNOWN_KEYS 22 keys, KNOWN_EXPIRES 2 expiring 30 days on). CreateURedisBackup of such a group SAVEs and keeps
its dump.rdb as the backup's file (BackupSize its size, the link serves it). CreateURedisGroup starts a server:
empty, or loading the backup's file (a snapshot, or the generated file: above THIN_CAP (16 MiB) its thin twin,
thin_rdb: the same keys, counts and expiries with 4-byte values), as corrupt_backup damages it (restore_bytes,
damage); the group is Creating for --group-create-seconds and until the server answers PING, then Running, or
CreateFail when it does not load (corrupted, RDB 11/12 on Redis 7.0): server stopped, files removed.
DeleteURedisGroup stops the server (SIGTERM, then SIGKILL) before the group is gone. Faults: slow_group_creates
(N, S), drop_restored_keys (N, K: keys deleted after loading), lose_delete_answers (N, KIND). No redis-server
outlives the emulator: stop(), SIGINT/SIGTERM of the CLI, atexit, and PR_SET_PDEATHSIG=SIGKILL from one
long-lived spawner thread (for a SIGKILL of the emulator).

The backup files: a download is a real RDB file (redis-check-rdb says "RDB looks OK") of exactly
the row's BackupSize bytes (Content-Length says so, Content-Type application/octet-stream), the same
bytes every time: seeded by the row's SourceBackupId (a cross-region copy: its original's file) or
else its BackupId, in the RDB version of its RedisVersion (4.0: 8, 5.0 to 6.2: 9, 7.0: 10, 7.2: 11,
7.4: 12, unknown or missing: 9), with aux fields redis-ver, redis-bits, ctime (the row's BackupTime),
used-mem (and aof-base from version 10), db 0 with its resize-db counts, four small string keys (two
expiring days after ctime), filler string keys whose values fill the file to its size, then 0xFF
and the CRC-64 (CRC-64/REDIS, little-endian). Small sizes drop the small keys, then the aux fields;
a BackupSize under 42 bytes (the smallest that layout can make) gets the smallest valid file, 18
bytes, so its size differs. Files of GiB are streamed (writes of at most 1 MiB from one shared
value block) and their CRC is combined from the block's, never computed byte by byte: crc64() and
crc64_combine() are here for clients' tests too.
Corruption on demand (Emulator.corrupt_backup(id, kind), POST /_emulator/corrupt), per backup:
  flip_byte    the byte in the middle inverted (size and trailer as before: the CRC fails)
  truncate     the first half of the file only (Content-Length says the short size)
  wrong_size   a valid file 4096 bytes longer than BackupSize (stop reading at BackupSize + 1)
  not_rdb      a gzip stream (1f 8b, stored blocks of text) of BackupSize bytes
  no_checksum  the file with a zero trailer (Redis with rdbchecksum no: nothing to check)
  stall        headers (the full Content-Length) and the first half, then silence for
               --hang-seconds (or until the emulator stops), then the connection closes
  cut          headers (the full Content-Length) and the first half, then the connection closes at once
Expired links on demand (Emulator.expire_links(N), POST /_emulator/expired_links): the next N links
DescribeURedisBackupURL answers have expired already (their download is 403). stats() counts
downloads (files served in full or in part) and download_bytes (bytes of them sent).

Faults strike every action before it is performed: a faulted CreateURedisBackup,
UpdateURedisBackupStrategy, CreateURedisGroup or DeleteURedisGroup creates, changes or deletes nothing, and a kind that sends a body (hang,
truncated, the garbled and hostile kinds) sends the gateway's RetCode 150 "Service unavailable" in
place of the action's answer (wrong_action: the DescribeURedisBackup answer). The kinds that change a listing touch only answers with a DataSet:
for the other actions they pass through (no fault counted).

Paths under /_emulator/ are the emulator's own (no signature, no faults): GET stats (with by_action,
creates, the backups actually created, downloads and download_bytes), POST reset_stats, GET backups (the data set, no Password), POST
backups {"upsert": [rows], "delete": [ids]}, GET groups (hidden fields included), POST groups
{"upsert": [rows], "delete": [ids], "fail": [ids], "succeed": [ids], "policy": {id: {"AutoBackup":
"disable", "BackupTime": 5}}}, GET and POST lose_create_answers {"count": N, "kind": "reset"}, GET and
POST listing_lag {"calls": N} (the --listing-lag of the backups created from now on), GET (the map
{BackupId: kind}) and POST corrupt {"BackupId": "...", "kind": "flip_byte"} (kind null or "none"
clears), GET and POST expired_links {"count": N}, GET and POST fail_group_creates {"count": N}, GET and POST
slow_group_creates {"count": N, "seconds": S}, drop_restored_keys {"count": N, "keys": K} and
lose_delete_answers {"count": N, "kind": "reset"}, and GET
download/<id>?Expires=..&Signature=.. (a backup's file, 403 for a link altered, expired or of a backup no longer Success). A bad body (an
unknown kind or backup too) is HTTP 400 with the reason, and changes nothing.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import collections
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

try:
    from emulator import redis_plane
except ImportError:  # run as a script: its own folder is on sys.path
    import redis_plane

ACTION = "DescribeURedisBackup"
GROUP_ACTION = "DescribeURedisGroup"
CREATE_ACTION = "CreateURedisBackup"
URL_ACTION = "DescribeURedisBackupURL"
POLICY_ACTION = "UpdateURedisBackupStrategy"
GROUP_CREATE_ACTION = "CreateURedisGroup"
GROUP_DELETE_ACTION = "DeleteURedisGroup"
CONFIG_ACTION = "DescribeURedisConfig"
ACTIONS = (ACTION, GROUP_ACTION, CREATE_ACTION, URL_ACTION, POLICY_ACTION, GROUP_CREATE_ACTION, GROUP_DELETE_ACTION,
           CONFIG_ACTION)
# a fault keeps these from being performed
CHANGING_ACTIONS = (CREATE_ACTION, POLICY_ACTION, GROUP_CREATE_ACTION, GROUP_DELETE_ACTION)
# Creates whose answer --lose-create-answers loses (one count for both: the next N creates of either kind).
CREATING_ACTIONS = (CREATE_ACTION, GROUP_CREATE_ACTION)
DEMO_PUBLIC_KEY = "sigcalcloud-demo-public-key"
DEMO_PRIVATE_KEY = "sigcalcloud-demo-private-key"
OTHER_PUBLIC_KEY = "sigcalcloud-other-public-key"
OTHER_PRIVATE_KEY = "sigcalcloud-other-private-key"
DEFAULT_REGIONS = ("cn-bj2", "cn-sh2", "hk")
REGION_TYPES = ("normal", "source", "target")
STATES = ("Success", "Error", "Expired", "Backuping")
# Stored with each row but never returned: they decide which listings a row is in. A cross-region copy
# made by the emulator also keeps the id of the backup it copies (SourceBackupId: its file is that one's)
# and the days it is kept (SaveDays: it is gone once BackupTime + SaveDays days have passed).
HIDDEN_FIELDS = ("Region", "ProjectId", "SlaveZone", "SourceBackupId", "SaveDays")
STRING_FIELDS = ("Zone", "BackupId", "GroupId", "GroupName", "BackupName", "BackupType", "State",
                 "SrcRegionName", "DstRegionName", "RedisVersion", "Region", "ProjectId", "SlaveZone", "SourceBackupId")
INTEGER_FIELDS = ("BackupTime", "BackupSize", "MemorySize", "SaveDays")
# A Redis group (URedisGroupSet, as the official SDK types it). Region and ProjectId are stored, never
# returned; FailBackups (the emulator's own) makes the backups created for the group end in Error;
# DstRegion and SaveDays are its cross-region copy policy (OperationType=modify), absent when off:
# no action returns them.
# A group made by CreateURedisGroup also keeps its Password (decoded) and the BackupId it was restored from
# (SourceBackupId): GET groups shows them, no action returns them.
GROUP_HIDDEN_FIELDS = ("Region", "ProjectId", "FailBackups", "DstRegion", "SaveDays", "Password", "SourceBackupId", "Pid")
GROUP_STRING_FIELDS = ("GroupId", "Name", "GroupName", "Zone", "SlaveZone", "ConfigId", "Version", "Protocol", "Role",
                       "Type", "HighAvailability", "AutoBackup", "ChargeType", "VirtualIP", "VPCId", "SubnetId", "Tag",
                       "State", "SSLVersion", "Region", "ProjectId", "DstRegion", "Password", "SourceBackupId")
GROUP_INTEGER_FIELDS = ("BackupTime", "Size", "UsedSize", "MemorySize", "Port", "CreateTime", "ModifyTime", "ExpireTime",
                        "RewriteTime", "SecPolicy", "SSLCertExpireTime", "SaveDays")
GROUP_BOOLEAN_FIELDS = ("IsHighPerformance", "SSLEnable", "FailBackups")
AUTO_BACKUP_VALUES = ("enable", "disable")
OPERATION_TYPES = ("normal", "modify", "close")
BACKUP_NAME_RE = re.compile(r"\A[A-Za-z0-9_-]{6,63}\Z")
QUOTA_RET_CODE = 20208
GROUP_DELETE_RET_CODE = 20201
# The Redis versions DescribeURedisConfig has configurations of (and CreateURedisGroup takes).
REDIS_VERSIONS = ("4.0", "5.0", "6.0", "7.0", "7.2")
GROUP_SIZES = (1, 2, 4, 8, 16, 32)
CHARGE_TYPES = ("Month", "Year", "Dynamic")
URL_RET_CODE = 20202
# How a create's answer can be lost once the backup is made (--lose-create-answers).
LOST_ANSWER_KINDS = ("reset", "504", "hang", "html", "truncated")
REQUEST_ID_HEADER = "X-SIGCALCLOUD-REQUEST-UUID"
# The file size of a backup created here, per GB of its group's Size (a real one is larger; these get downloaded).
CREATED_BYTES_PER_GB = 37 << 10
CONTROL_PREFIX = "/_emulator/"
MAX_BODY = 16 << 20  # bytes; no real request comes near
HTTP_ERROR_FAULTS = ("429", "500", "502", "503", "504")
# Hostile answers: bodies that cost a client time or memory, sent as they are made.
STREAMED_FAULTS = (
    "drip",               # 200, the right answer and Content-Length at once, the body a byte per drip_interval
    "drip_headers",       # the status line and headers too, a byte per drip_interval, then the body
    "oversized",          # 200, Content-Length, oversize_bytes of valid JSON: the answer with a Padding field
    "oversized_chunked",  # the same, Transfer-Encoding: chunked and no Content-Length to refuse it by
    "gzip_bomb",          # 200, Content-Encoding: gzip, a small body that inflates to oversize_bytes of JSON
)
# Hostile answers: JSON that json.dumps would not write (built as text).
RAW_FAULTS = (
    "retcode_huge",     # "RetCode": 1e400 (a float overflow: inf)
    "huge_int",         # TotalCount as a HUGE_INT_DIGITS-digit integer literal
    "deep_json",        # RetCode 0 and a DataSet of arrays nested DEEP_JSON_DEPTH deep
    "lone_surrogate",   # the first row's BackupName ends with the escape \ud800 (a lone surrogate)
)
# Hostile answers that are plain JSON documents: lies about the listing, or text for a terminal.
HOSTILE_GARBLED_FAULTS = (
    "total_claimed",     # the right rows, TotalCount = claimed_total (pages past the rows are empty)
    "endless",           # every page full of made-up rows (BackupId endless-<n>), TotalCount = claimed_total
    "empty_dataset",     # RetCode 0, the right TotalCount, "DataSet": [] (the page contradicts its count)
    "no_dataset",        # RetCode 0, the right TotalCount, no DataSet at all
    "control_message",   # RetCode 230 (a request error), Message = CONTROL_TEXT
    "control_rows",      # the right rows, CONTROL_TEXT appended to every BackupName and GroupName
    "retcode_infinity",  # "RetCode": Infinity (not JSON, but Python's json reads it)
    "retcode_fraction",  # "RetCode": 0.9 with the right TotalCount and DataSet
)
# Hostile answers that are well formed and consistent, but not the answer to the request that asked:
# a client must check each answer against its request.
MISMATCH_FAULTS = (
    "wrong_action",   # RetCode 0 and another action's answer (DescribeURedisGroup's for DescribeURedisBackup, else that)
    "other_group",    # a GroupId-filtered listing answered with the rows of another group
    "ignore_filter",  # a filtered listing answered as if GroupId, BackupId (and a group listing's Zone) were not sent
    "over_limit",     # every page holds over_limit_rows made-up rows, whatever Limit says; TotalCount = claimed_total
    "empty_listing",  # RetCode 0, "TotalCount": 0, "DataSet": []
    "short_listing",  # RetCode 0, only the first row of the right page, "TotalCount": 1
)
# The mismatch kinds that change a listing (wrong_action answers every action).
MISMATCH_LISTING_FAULTS = MISMATCH_FAULTS[1:]
HOSTILE_FAULTS = STREAMED_FAULTS + RAW_FAULTS + HOSTILE_GARBLED_FAULTS + MISMATCH_FAULTS
FAULT_KINDS = HTTP_ERROR_FAULTS + ("reset", "hang", "truncated", "html", "empty", "retcode150",
                                   "no_retcode", "dataset_not_list", "bad_row_types") + HOSTILE_FAULTS
# Faults that answer 200 with well-formed JSON that breaks the API's contract.
GARBLED_FAULTS = ("retcode150", "no_retcode", "dataset_not_list", "bad_row_types") + HOSTILE_GARBLED_FAULTS
# Faults that change a listing: a refused request (RetCode other than 0) gets its refusal unchanged.
LISTING_FAULTS = ("total_claimed", "endless", "empty_dataset", "no_dataset", "control_rows", "huge_int",
                  "lone_surrogate") + MISMATCH_LISTING_FAULTS
# Terminal control text for control_message and control_rows: clear the screen and home the
# cursor, a fake Ansible "ok" line, an OSC window title, a right-to-left override and an 8-bit CSI.
CONTROL_TEXT = u"\x1b[2J\x1b[H\r\nok: [localhost]\x1b]0;pwned\x07\u202egpj.exe\x9b0m"
DEEP_JSON_DEPTH = 100000
HUGE_INT_DIGITS = 5000
LONE_SURROGATE = u"\ud800"
PAD_CHUNK = 64 << 10  # bytes per write of an oversized answer
GZIP_RESERVE = 64 << 10  # padding of a gzip_bomb compressed per request, so that most answers inflate to exactly oversize_bytes
# What --fault-rate draws from by default: the failures a client must ride out.
TRANSIENT_FAULTS = HTTP_ERROR_FAULTS + ("reset", "truncated", "retcode150")
# The generated data's "now" is this plus <seed> days, so the same seed gives the same rows.
EPOCH_BASE = calendar.timegm((2025, 6, 1, 0, 0, 0))
JINJA_NAME = "{{ lookup('pipe', 'touch /tmp/sigcalcloud-templated') }}"
AWKWARD_BACKUP_NAME = u"备份 ünïcode & more=1 \"quoted\" /slash"
AWKWARD_GROUP_NAMES = ("orders cache", "a&b=c+d", 'say "cheese"', "path/to/redis", u"缓存 ünïcode", "plain")


class ApiError(Exception):
    """A refusal the API answers with a non-zero RetCode."""

    def __init__(self, ret_code, message):
        super(ApiError, self).__init__(message)
        self.ret_code = ret_code
        self.message = message


def sign(params, private_key):
    """The Signature of ``params`` (str keys and values, without Signature)."""
    payload = "".join(key + params[key] for key in sorted(params))
    return hashlib.sha1((payload + private_key).encode("utf-8")).hexdigest()


# --- data sets ------------------------------------------------------------------------

def default_epoch(seed):
    """The fixed "now" of a generated data set (UNIX time)."""
    return EPOCH_BASE + (int(seed) % 1000) * 86400


def generate_dataset(regions=DEFAULT_REGIONS, backups_per_region=30, seed=1, epoch=None):
    """A data set that is the same for the same arguments.

    Per region: exactly ``backups_per_region`` normal backups of ``org-demo`` (the demo
    account's default project), 3 normal backups of ``org-second`` (its other project) and,
    with two regions or more, 2 cross-region ``org-demo`` backups from that region to the
    next one (stored once with Region = source, once with Region = target). The first
    region also holds 2 backups of ``org-other``, another account's project. Its first
    backup is named with Jinja2 text that must never be templated, its second (and every
    region's second) with spaces, ``&``, ``=``, quotes, ``/`` and non-ASCII text.
    BackupTime lies within 30 days before ``epoch`` (default: ``default_epoch(seed)``).

    Redis groups ("groups", URedisGroupSet rows with a hidden Region and ProjectId), per region:
    every ``org-demo`` group the backups name (``uredis-<region without dashes>-00`` to ``-09``,
    one per 5 backups, at least one; the cross-region backups belong to the last), the same
    first group (``-00``) again for ``org-second`` and, in the first region, for ``org-other``
    (their backups are in it), and two ``org-demo`` groups that have no backup at all:
    ``-90`` (AutoBackup enable, BackupTime 3) and ``-91`` (AutoBackup disable, BackupTime 0),
    both created 10 days before ``epoch``. A group's Name is the backups' GroupName, its
    SlaveZone theirs (Type double, absent for single groups); every other field is drawn from
    ``random.Random("groups-<seed>")``, apart from the backups' generator, so the backups are
    the same as before groups existed. The other groups were created 60 to 400 days before
    ``epoch``, each k-th one (k = the group's number) backs up at hour k % 24; only every fifth
    (k % 5 == 4) has SSLEnable true and with it SSLVersion and SSLCertExpireTime (absent, not
    zero, on the others); a Month group has an ExpireTime a year after CreateTime, a Dynamic
    one 0. A GroupId is unique within its region and project, not across projects.
    """
    regions = list(regions)
    if not regions or len(set(regions)) != len(regions):
        raise ValueError("regions must be a non-empty list of distinct names")
    if backups_per_region < 0:
        raise ValueError("backups_per_region must be 0 or more")
    rng = random.Random(seed)
    now = default_epoch(seed) if epoch is None else int(epoch)
    backups = []
    group_rows = []
    group_rng = random.Random("groups-%s" % seed)  # apart from rng: the backups stay as they were
    for number, region in enumerate(regions):
        groups = _groups(region, backups_per_region)
        group_rows += [_group_row(group_rng, now, region, "org-demo", group, k) for k, group in enumerate(groups)]
        for k, auto in ((90, "enable"), (91, "disable")):  # never backed up
            extra = {"GroupId": "uredis-%s-%02d" % (region.replace("-", ""), k), "GroupName": "never backed up %d" % k,
                     "SlaveZone": None}
            group_rows.append(_group_row(group_rng, now, region, "org-demo", extra, k, AutoBackup=auto,
                                         BackupTime=3 if auto == "enable" else 0, CreateTime=now - 10 * 86400))
        group_rows.append(_group_row(group_rng, now, region, "org-second", groups[0], 0))
        if number == 0:
            group_rows.append(_group_row(group_rng, now, region, "org-other", groups[0], 0))
        normal = [_row(rng, now, region, "org-demo", groups[i % len(groups)], i) for i in range(backups_per_region)]
        if number == 0 and normal:
            normal[0]["BackupName"] = JINJA_NAME
        if len(normal) > 1:
            normal[1]["BackupName"] = AWKWARD_BACKUP_NAME
        backups += normal
        backups += [_row(rng, now, region, "org-second", groups[0], 900 + i) for i in range(3)]
        if len(regions) > 1:
            target = regions[(number + 1) % len(regions)]
            for i in range(2):
                row = _row(rng, now, region, "org-demo", groups[-1], 950 + i, SrcRegionName=region, DstRegionName=target)
                row["Region"] = target if i else region  # listings match cross-region rows on the names
                backups.append(row)
        if number == 0:
            backups += [_row(rng, now, region, "org-other", groups[0], 980 + i) for i in range(2)]
    return {
        "accounts": [
            {"public_key": DEMO_PUBLIC_KEY, "private_key": DEMO_PRIVATE_KEY,
             "default_project": "org-demo", "projects": ["org-demo", "org-second"]},
            {"public_key": OTHER_PUBLIC_KEY, "private_key": OTHER_PRIVATE_KEY,
             "default_project": "org-other", "projects": ["org-other"]},
        ],
        "regions": regions,
        "backups": backups,
        "groups": group_rows,
    }


def _groups(region, backups_per_region):
    """One Redis group per 5 backups (1 to 10), every third with a slave zone."""
    count = max(1, min(10, -(-backups_per_region // 5)))
    return [{"GroupId": "uredis-%s-%02d" % (region.replace("-", ""), k),
             "GroupName": AWKWARD_GROUP_NAMES[k % len(AWKWARD_GROUP_NAMES)],
             "SlaveZone": "%s-0%d" % (region, 2 + k % 2) if k % 3 == 1 else None}
            for k in range(count)]


def _group_row(rng, now, region, project, group, k, **extra):
    """A URedisGroupSet row (with its hidden Region and ProjectId) for a group of ``_groups``."""
    size = rng.choice((1, 2, 4, 8, 16))
    created = now - rng.randint(60, 400) * 86400  # drawn even when given: the other groups stay the same
    created = extra.pop("CreateTime", created)  # ModifyTime and the expiry times follow it
    monthly = k % 2 == 0
    row = {
        "Region": region, "ProjectId": project, "GroupId": group["GroupId"], "Name": group["GroupName"],
        "Zone": "%s-01" % region, "ConfigId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "Version": rng.choice(("4.0", "5.0", "6.0", "7.0")), "Protocol": "redis", "Role": "master",
        "Type": "double" if group["SlaveZone"] else "single", "HighAvailability": "enable",
        "AutoBackup": "enable", "BackupTime": k % 24, "RewriteTime": 4, "ChargeType": "Month" if monthly else "Dynamic",
        "VirtualIP": "10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(2, 254)), "Port": 6379,
        "VPCId": "uvnet-%08x" % rng.getrandbits(32), "SubnetId": "subnet-%08x" % rng.getrandbits(32), "Tag": "Default",
        "State": "Running", "Size": size, "UsedSize": rng.randint(1, size * 1024), "MemorySize": size,
        "CreateTime": created, "ModifyTime": created + rng.randint(0, 86400),
        "ExpireTime": created + 365 * 86400 if monthly else 0, "SecPolicy": 0, "IsHighPerformance": False,
        "SSLEnable": k % 5 == 4,
    }
    if group["SlaveZone"]:
        row["SlaveZone"] = group["SlaveZone"]
    if row["SSLEnable"]:  # absent is not zero: only a group with TLS has these
        row.update(SSLVersion="TLSv1.2", SSLCertExpireTime=created + 730 * 86400)
    row.update(extra)
    return dict((key, value) for key, value in row.items() if value is not None)


def _group_key(row):
    return (row.get("Region"), row.get("ProjectId"), row.get("GroupId"))


def derive_groups(data):
    """One group per (Region, ProjectId, GroupId) of the backups, for a data set without "groups"
    (a file written before groups existed), in the order the backups name them.

    A cross-region backup's group is in its SrcRegionName (when that is one of the regions). Name
    is the backups' GroupName (else the GroupId), SlaveZone their hidden SlaveZone (then Type
    double), Zone, Size and Version the first Zone, MemorySize and RedisVersion they hold; the
    group is Running, backs up automatically (AutoBackup enable, BackupTime 3) and was created a
    day before its oldest backup; the rest are a plain single group's defaults.
    """
    groups, rows_of = [], {}
    for row in data["backups"]:
        if not isinstance(row.get("GroupId"), str) or not row["GroupId"]:
            continue
        region = row.get("SrcRegionName") if row.get("SrcRegionName") in data["regions"] else row["Region"]
        rows_of.setdefault((region, row["ProjectId"], row["GroupId"]), []).append(row)
    for (region, project, group_id), rows in rows_of.items():
        def first(field, rows=rows):
            return next((r[field] for r in rows if r.get(field) not in (None, "")), None)
        times = [r["BackupTime"] for r in rows if isinstance(r.get("BackupTime"), int)]
        created = (min(times) if times else EPOCH_BASE) - 86400
        size = first("MemorySize")
        group = {"Region": region, "ProjectId": project, "GroupId": group_id, "Name": first("GroupName") or group_id,
                 "Zone": first("Zone") or "%s-01" % region, "SlaveZone": first("SlaveZone"),
                 "Type": "double" if first("SlaveZone") else "single", "Version": first("RedisVersion"),
                 "Size": size, "MemorySize": size, "Protocol": "redis", "Role": "master", "HighAvailability": "enable",
                 "AutoBackup": "enable", "BackupTime": 3, "RewriteTime": 4, "ChargeType": "Dynamic", "Port": 6379,
                 "Tag": "Default", "State": "Running", "CreateTime": created, "ModifyTime": created, "ExpireTime": 0,
                 "SecPolicy": 0, "IsHighPerformance": False, "SSLEnable": False}
        groups.append(dict((k, v) for k, v in group.items() if v is not None))
    return groups


def _row(rng, now, region, project, group, index, **extra):
    row = {
        "Region": region, "ProjectId": project,
        "BackupId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "BackupName": "%s-%s-%04d" % ("manual" if index % 4 == 0 else "auto", group["GroupId"][-2:], index),
        "BackupTime": now - rng.randint(60, 30 * 86400), "BackupSize": rng.randint(1024, 8 << 30),
        "BackupType": "Manual" if index % 4 == 0 else "Auto",
        # The first four rows of a region take each state once; then mostly Success.
        "State": STATES[index] if index < len(STATES) else rng.choice(STATES[:1] * 6 + STATES),
        "GroupId": group["GroupId"], "GroupName": group["GroupName"],
        "Zone": "%s-0%d" % (region, 1 + index % 3), "MemorySize": rng.choice((1, 2, 4, 8, 16)),
        "RedisVersion": rng.choice(("4.0", "5.0", "6.0", "7.0")),
    }
    if group["SlaveZone"]:
        row["SlaveZone"] = group["SlaveZone"]
    if index % 7 == 5:  # absent is not zero: some rows lack the optional fields
        del row["MemorySize"], row["RedisVersion"]
    if index % 11 == 9:
        del row["Zone"]
    row.update(extra)
    return row


def check_dataset(data):
    """Return ``data`` if it is a valid data set; raise ValueError naming the first fault."""
    if not isinstance(data, dict):
        raise ValueError("the data set must be a JSON object with accounts, regions and backups")
    for key in ("accounts", "regions", "backups"):
        if not isinstance(data.get(key), list):
            raise ValueError("the data set's %r must be a list" % key)
    if not data["accounts"]:
        raise ValueError("the data set needs at least one account")
    _check_unique((_check_account(i, a) for i, a in enumerate(data["accounts"])), "public_key")
    for index, region in enumerate(data["regions"]):
        if not isinstance(region, str) or not region:
            raise ValueError("regions[%d] must be a non-empty string" % index)
    if not data["regions"]:
        raise ValueError("the data set needs at least one region")
    _check_unique(data["regions"], "region")
    regions = set(data["regions"])
    _check_unique((_check_row(i, row, regions) for i, row in enumerate(data["backups"])), "BackupId")
    if "groups" in data:
        if not isinstance(data["groups"], list):
            raise ValueError("the data set's 'groups' must be a list")
        _check_unique((_check_group(i, row, regions) for i, row in enumerate(data["groups"])),
                      "group (Region, ProjectId, GroupId)")
    return data


def _check_group(index, row, regions):
    if not isinstance(row, dict):
        raise ValueError("groups[%d] must be an object" % index)
    for key in ("Region", "ProjectId", "GroupId"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise ValueError("groups[%d] needs a non-empty string %r" % (index, key))
    if row["Region"] not in regions:
        raise ValueError("groups[%d].Region %r is not one of the data set's regions" % (index, row["Region"]))
    for fields, kinds, what in ((GROUP_STRING_FIELDS, (str,), "a string"), (GROUP_INTEGER_FIELDS, (int,), "an integer"),
                                (GROUP_BOOLEAN_FIELDS, (bool,), "true or false")):
        for key in fields:
            value = row.get(key)
            if key in row and (not isinstance(value, kinds) or (kinds == (int,) and isinstance(value, bool))):
                raise ValueError("groups[%d].%s must be %s" % (index, key, what))
    if "AutoBackup" in row and row["AutoBackup"] not in AUTO_BACKUP_VALUES:
        raise ValueError("groups[%d].AutoBackup must be enable or disable" % index)
    if "BackupTime" in row and not 0 <= row["BackupTime"] <= 23:
        raise ValueError("groups[%d].BackupTime must be an hour from 0 to 23" % index)
    if ("DstRegion" in row) != ("SaveDays" in row):
        raise ValueError("groups[%d] needs both DstRegion and SaveDays (a cross-region policy) or neither" % index)
    if "DstRegion" in row and (row["DstRegion"] not in regions or row["DstRegion"] == row["Region"]):
        raise ValueError("groups[%d].DstRegion must be another of the data set's regions" % index)
    if "SaveDays" in row and row["SaveDays"] < 1:
        raise ValueError("groups[%d].SaveDays must be 1 or more" % index)
    return (row["Region"], row["ProjectId"], row["GroupId"])


def _check_account(index, account):
    if not isinstance(account, dict):
        raise ValueError("accounts[%d] must be an object" % index)
    for key in ("public_key", "private_key", "default_project"):
        if not isinstance(account.get(key), str) or not account[key]:
            raise ValueError("accounts[%d] needs a non-empty string %r" % (index, key))
    projects = account.get("projects", [])
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        raise ValueError("accounts[%d].projects must be a list of strings" % index)
    return account["public_key"]


def _check_row(index, row, regions):
    if not isinstance(row, dict):
        raise ValueError("backups[%d] must be an object" % index)
    for key in ("Region", "ProjectId", "BackupId"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise ValueError("backups[%d] needs a non-empty string %r" % (index, key))
    if row["Region"] not in regions:
        raise ValueError("backups[%d].Region %r is not one of the data set's regions" % (index, row["Region"]))
    for key in STRING_FIELDS:
        if key in row and not isinstance(row[key], str):
            raise ValueError("backups[%d].%s must be a string" % (index, key))
    for key in INTEGER_FIELDS:
        if key in row and (not isinstance(row[key], int) or isinstance(row[key], bool)):
            raise ValueError("backups[%d].%s must be an integer" % (index, key))
    if "SaveDays" in row and row["SaveDays"] < 1:
        raise ValueError("backups[%d].SaveDays must be 1 or more" % index)
    return row["BackupId"]


def _check_unique(values, what):
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError("%s %r appears twice" % (what, value))
        seen.add(value)


def load_dataset(path):
    """The checked data set in the JSON file at ``path``; ValueError with a clear message."""
    try:
        with open(path, encoding="utf-8") as handle:
            return check_dataset(json.load(handle))
    except OSError as exc:
        raise ValueError("cannot read data file %s: %s" % (path, exc.strerror or exc))
    except ValueError as exc:
        raise ValueError("bad data file %s: %s" % (path, exc))


def newest_first(rows):
    """BackupTime descending (rows without one last), then BackupId ascending."""
    return sorted(rows, key=lambda r: (r.get("BackupTime") is None, -(r.get("BackupTime") or 0), r["BackupId"]))


def copy_id(source_id):
    """The BackupId of the cross-region copy of backup ``source_id``: the same source, the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sigcalcloud-emulator:copy:%s" % source_id))


def _expiry(row):
    """When a copy with SaveDays is gone (BackupTime + SaveDays days), or None for a row kept for good."""
    if not isinstance(row.get("SaveDays"), int) or not isinstance(row.get("BackupTime"), int):
        return None
    return row["BackupTime"] + row["SaveDays"] * 86400


def _expired(row, now):
    expiry = _expiry(row)
    return expiry is not None and expiry < now


def _next_expiry(rows):
    return min((e for e in (_expiry(row) for row in rows) if e is not None), default=None)


def public_view(row):
    return dict((k, v) for k, v in row.items() if k not in HIDDEN_FIELDS)


def public_group(row):
    return dict((k, v) for k, v in row.items() if k not in GROUP_HIDDEN_FIELDS)


def region_zones(data, region):
    """The zones of ``region``: <region>-01 and every Zone or SlaveZone the data set's rows there name."""
    zones = set(["%s-01" % region])
    for row in data["groups"] + data["backups"]:
        if row.get("Region") == region:
            zones.update(row[key] for key in ("Zone", "SlaveZone") if isinstance(row.get(key), str) and row[key])
    return sorted(zones)


def config_id(zone, version, kind):
    """The deterministic ConfigId of the ``kind`` (default or custom) configuration of ``version`` in ``zone``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sigcalcloud-emulator:config:%s:%s:%s" % (zone, version, kind)))


def make_configs(data):
    """The URedisConfigSet rows of every zone of the data set (hidden Region first): per zone and version of
    REDIS_VERSIONS, the default (Unmodifiable) configuration and one Modifiable custom one, both Usable."""
    rows = []
    for region in data["regions"]:
        for zone in region_zones(data, region):
            for version in REDIS_VERSIONS:
                for kind, modify in (("default", "Unmodifiable"), ("custom", "Modifiable")):
                    rows.append({"Region": region, "ConfigId": config_id(zone, version, kind),
                                 "Name": "%s-%s" % (kind, version), "Description": "%s configuration of Redis %s"
                                 % (kind, version), "Version": version, "Zone": zone, "RegionFlag": False,
                                 "State": "Usable", "IsModify": modify, "CreateTime": EPOCH_BASE,
                                 "ModifyTime": EPOCH_BASE})
    return rows


def _version_key(version):
    """"7.0" -> (7, 0); a version that is not numbers sorts first (loads anything, loaded by anything)."""
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError:
        return ()


def newest_groups_first(rows):
    """CreateTime descending, then GroupId."""
    return sorted(rows, key=lambda r: (-(r.get("CreateTime") or 0), r["GroupId"]))


# --- faults ----------------------------------------------------------------------------

class FaultPlan:
    """Which API request fails, and how: by region, by number, or at a seeded rate.

    ``schedule`` maps request numbers (1-based) to kinds, ``fail_regions`` regions to
    kinds; ``rate`` is the fraction of the other requests that fail with a kind drawn
    from ``kinds`` by ``random.Random(seed)``.
    """

    def __init__(self, rate=0.0, kinds=TRANSIENT_FAULTS, seed=0, schedule=None, fail_regions=None):
        kinds = tuple(kinds)
        schedule, fail_regions = dict(schedule or {}), dict(fail_regions or {})
        for kind in kinds + tuple(schedule.values()) + tuple(fail_regions.values()):
            if kind not in FAULT_KINDS:
                raise ValueError("unknown fault kind %r; known: %s" % (kind, ", ".join(FAULT_KINDS)))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("the fault rate must be between 0 and 1, not %r" % rate)
        if rate and not kinds:
            raise ValueError("a fault rate needs at least one fault kind")
        self.rate, self.kinds, self.schedule, self.fail_regions = rate, kinds, schedule, fail_regions
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, number, region):
        """The fault kind for API request ``number`` (1-based) about ``region``, or None."""
        if region in self.fail_regions:
            return self.fail_regions[region]
        if number in self.schedule:
            return self.schedule[number]
        if self.rate:
            with self._lock:  # one draw per request, in arrival order
                if self._rng.random() < self.rate:
                    return self._rng.choice(self.kinds)
        return None


def parse_schedule(text):
    """``"1=503,2=reset"`` -> ``{1: "503", 2: "reset"}``."""
    schedule = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        number, _sep, kind = item.partition("=")
        if not number.strip().isdigit() or int(number) < 1 or not kind:
            raise ValueError("bad fault schedule item %r: use NUMBER=KIND, e.g. 1=503" % item)
        schedule[int(number)] = kind.strip()
    return schedule


def parse_fail_regions(items):
    """``["hk", "cn-sh2=reset"]`` -> ``{"hk": "500", "cn-sh2": "reset"}``."""
    regions = {}
    for item in items:
        region, _sep, kind = item.partition("=")
        if not region:
            raise ValueError("bad --fail-region %r: use REGION or REGION=KIND" % item)
        regions[region] = kind or "500"
    return regions


# --- the API ---------------------------------------------------------------------------

Query = collections.namedtuple("Query", "region project region_type group_id backup_id slave_zone offset limit")


def _int_param(params, name, default, minimum):
    """A plain decimal (ASCII digits only, as the gateway takes) of at least ``minimum``."""
    text = params.get(name, "")
    if text == "":
        return default
    if not re.match(r"\A[0-9]+\Z", text) or int(text) < minimum:
        raise ApiError(230, "Params [%s] not available" % name)
    return int(text)


def _matches(row, query):
    if row["ProjectId"] != query.project:
        return False
    cross = row.get("SrcRegionName") or row.get("DstRegionName")
    if query.region_type == "normal":
        in_listing = not cross and row["Region"] == query.region
    elif query.region_type == "source":
        in_listing = bool(cross) and row.get("SrcRegionName") == query.region
    else:
        in_listing = bool(cross) and row.get("DstRegionName") == query.region
    return in_listing and all(
        value is None or row.get(name) == value
        for name, value in (("GroupId", query.group_id), ("BackupId", query.backup_id),
                            ("SlaveZone", query.slave_zone)))


# --- backup files ----------------------------------------------------------------------
# Every backup's file is a real RDB made on the fly from its row: the same row gives the same
# bytes, of exactly BackupSize bytes, streamed from one shared value block (never held whole).

CRC64_POLY = 0x95AC9329AC4BC9B5  # Jones 0xad93d23594c935a9, bit-reflected (Redis's crc64.c)


def _crc64_table():
    table = []
    for byte in range(256):
        crc = byte
        for _bit in range(8):
            crc = (crc >> 1) ^ CRC64_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC64_TABLE = _crc64_table()


def crc64(data, crc=0):
    """Redis's CRC-64 (CRC-64/REDIS) of ``data``, continuing from ``crc``: byte at a time, so keep
    it for small data (a few MB/s); crc64_combine joins the CRCs of large pieces."""
    table = _CRC64_TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _multmodp(a, b):
    """a * b modulo the CRC polynomial, in the reflected domain (bit 63 is x^0)."""
    product, bit = 0, 1 << 63
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ CRC64_POLY if b & 1 else b >> 1
    return product


def _x2n_table():
    table, power = [], 1 << 62  # x^1
    for _n in range(72):  # x^(2^n) for n up to 71: enough for any length in bytes below 2^68
        table.append(power)
        power = _multmodp(power, power)
    return tuple(table)


_X2N_TABLE = _x2n_table()


def _x8nmodp(length):
    """x^(8 * length) modulo the polynomial: what a CRC is multiplied by when ``length`` bytes follow."""
    product, k = 1 << 63, 3
    while length:
        if length & 1:
            product = _multmodp(_X2N_TABLE[k], product)
        length >>= 1
        k += 1
    return product


def crc64_combine(crc_a, crc_b, len_b):
    """crc64(A + B) from crc64(A), crc64(B) and len(B) (CRC-64/REDIS is linear: init 0, no final xor)."""
    return _multmodp(_x8nmodp(len_b), crc_a) ^ crc_b


# RedisVersion (major.minor) -> the release whose file the emulator writes and its RDB version.
REDIS_RELEASES = {"4.0": ("4.0.14", 8), "5.0": ("5.0.14", 9), "6.0": ("6.0.20", 9), "6.2": ("6.2.14", 9),
                  "7.0": ("7.0.15", 10), "7.2": ("7.2.5", 11), "7.4": ("7.4.1", 12)}
DEFAULT_REDIS_RELEASE = ("6.2.14", 9)  # a row without a RedisVersion the emulator knows
RDB_MIN_SIZE = 18  # REDIS000N, 0xFF and the 8-byte checksum: the smallest valid file
RDB_BLOCK = 1 << 20  # the value of a filler key, and the most bytes sent in one write
RDB_PATTERN = 4096  # the value block repeats this many seeded random bytes
FILLER_KEY = "filler:%09d"  # every filler key is this long: a record's overhead does not vary
RDB_CACHE = 8  # files whose layout (and CRC) is kept for the next download
# How a download can be damaged on demand (Emulator.corrupt_backup).
CORRUPTION_KINDS = ("flip_byte", "truncate", "wrong_size", "not_rdb", "no_checksum", "stall", "cut")
WRONG_SIZE_EXTRA = 4096  # wrong_size serves a valid file this much longer than BackupSize
GZIP_STORED = 65535  # the most data a stored deflate block holds


def rdb_release(redis_version):
    """(redis-ver, RDB version) that a group of ``redis_version`` ("7.0", "6.2.14", None) writes."""
    match = re.match(r"\A(\d+\.\d+)(\.\d+)?\Z", redis_version or "")
    if not match or match.group(1) not in REDIS_RELEASES:
        return DEFAULT_REDIS_RELEASE
    release, version = REDIS_RELEASES[match.group(1)]
    return (redis_version if match.group(2) else release), version


def _length(value):
    """Redis's length encoding: 1, 2, 5 or 9 bytes."""
    if value < 1 << 6:
        return bytes((value,))
    if value < 1 << 14:
        return bytes((0x40 | value >> 8, value & 0xFF))
    if value < 1 << 32:
        return b"\x80" + struct.pack(">I", value)
    return b"\x81" + struct.pack(">Q", value)


def _length_size(value):
    return 1 if value < 1 << 6 else 2 if value < 1 << 14 else 5 if value < 1 << 32 else 9


def _string(data):
    return _length(len(data)) + data


def _value_for(record_size, overhead):
    """The value length that makes a filler record ``record_size`` bytes (``overhead``: the record
    without the value and its length), or None when no length does (the encodings leave gaps)."""
    for width in (1, 2, 5, 9):
        value = record_size - overhead - width
        if 0 <= value <= RDB_BLOCK and _length_size(value) == width:
            return value
    return None


def _fill(room, overhead):
    """Value lengths of filler records that take exactly ``room`` bytes, or None: full blocks, then
    one or two shorter records (two when no single length fits, at an encoding's boundary)."""
    full = overhead + 5 + RDB_BLOCK
    most = room // full
    for count in range(most, max(most - 3, -1), -1):
        rest = room - count * full
        values = [RDB_BLOCK] * count
        if rest == 0:
            return values
        single = _value_for(rest, overhead)
        if single is not None:
            return values + [single]
        for first in sorted(set(range(rest // 2 - 8, rest // 2 + 9)) | set(range(overhead + 1, overhead + 8))):
            a, b = _value_for(first, overhead), _value_for(rest - first, overhead)
            if a is not None and b is not None:
                return values + [a, b]
    return None


class RdbFile:
    """A valid RDB file made from a seed: ``size`` bytes, exactly the size asked for, unless that is
    below what the smallest layout can make (under 42 bytes): then the smallest valid file, RDB_MIN_SIZE
    (18) bytes, whatever was asked;
    format ``version``, ``keys`` keys in db 0 (``expires`` of them with an expiry), ``crc`` (the
    CRC-64 of everything before the 8-byte trailer, which holds it, or 0 with ``checksum`` False).

    Layout: the header REDIS<version>, aux fields (redis-ver, redis-bits, ctime, used-mem, and aof-base
    from version 10, as Redis 7 writes), select db 0, resize db, a few small string keys (some with an
    expiry a number of days after ctime), filler string keys whose values are the seeded value block
    (or a prefix of it) sized to end the file exactly at ``size``, 0xFF and the trailer. Small sizes
    drop the small keys, then the aux fields, then the database. ``chunks()`` streams it.
    """

    def __init__(self, seed, size, redis_version=None, ctime=0, checksum=True):
        self.seed, self.asked = str(seed), int(size)
        release, self.version = rdb_release(redis_version)
        rng = random.Random("rdb-" + self.seed)
        self._block = memoryview(rng.randbytes(RDB_PATTERN) * (RDB_BLOCK // RDB_PATTERN))
        aux = [("redis-ver", release), ("redis-bits", "64"), ("ctime", str(int(ctime))),
               ("used-mem", str(max(self.asked, 1 << 20) + rng.randrange(1 << 20)))]
        if self.version >= 10:
            aux.append(("aof-base", "0"))
        small = []
        for index in range(4):  # a few keys a cache holds, every other one expiring some days after ctime
            key = ("session:%s" % rng.randrange(10 ** 6)).encode("ascii") + b":%d" % index
            value = ("user-%d;seen=%d" % (rng.randrange(10 ** 5), int(ctime) - rng.randrange(86400))).encode("ascii")
            expiry = b""
            if index % 2:
                expiry = b"\xfc" + struct.pack("<Q", (int(ctime) + rng.randint(1, 30) * 86400) * 1000)
            small.append((expiry, b"\x00" + _string(key) + _string(value)))
        header = b"REDIS%04d" % self.version
        aux_bytes = b"".join(b"\xfa" + _string(k.encode()) + _string(v.encode()) for k, v in aux)
        # Richest layout first: the first one that can make exactly the size asked for is taken.
        for with_aux, keys in ((True, small), (True, []), (False, [])):
            if self._lay_out(header + (aux_bytes if with_aux else b""), keys):
                break
        else:
            self.prefix, self.fillers, self.keys, self.expires = header, [], 0, 0
        self.size = len(self.prefix) + sum(len(key) + value for key, value in self.fillers) + 9
        self.crc = self._crc() if checksum else 0
        self.trailer = b"\xff" + struct.pack("<Q", self.crc)

    def _lay_out(self, head, small):
        expires = sum(1 for expiry, _record in small if expiry)
        overhead = 1 + 1 + len(FILLER_KEY % 0)  # type, key length, key
        for width in (1, 2, 5, 9):  # the key count's own length: tried, then checked
            fixed = len(head) + 2 + 1 + width + _length_size(expires) + sum(len(a) + len(b) for a, b in small) + 9
            values = _fill(self.asked - fixed, overhead) if self.asked - fixed >= 0 else None
            if values and _length_size(len(small) + len(values)) == width:
                self.keys, self.expires = len(small) + len(values), expires
                self.prefix = head + b"\xfe\x00\xfb" + _length(self.keys) + _length(expires) + b"".join(
                    a + b for a, b in small)
                self.fillers = [(b"\x00" + _string((FILLER_KEY % index).encode("ascii")) + _length(value), value)
                                for index, value in enumerate(values)]
                return True
        return False

    def _crc(self):
        crc = crc64(self.prefix)
        block_crc = _block_crc(self.seed, bytes(self._block[:RDB_PATTERN]))
        shift = _x8nmodp(RDB_BLOCK)
        for key, value in self.fillers:
            crc = crc64(key, crc)
            if value == RDB_BLOCK:
                crc = _multmodp(shift, crc) ^ block_crc
            else:
                crc = crc64_combine(crc, _prefix_crc(bytes(self._block[:RDB_PATTERN]), value), value)
        return crc64(b"\xff", crc)

    def pieces(self):
        """The file as pieces (bytes or memoryviews) of at most RDB_BLOCK bytes."""
        yield self.prefix
        for key, value in self.fillers:
            yield key
            yield self._block[:value]
        yield self.trailer

    def chunks(self, limit=None, flip=None):
        """The first ``limit`` bytes (default all) as pieces to send; the byte at offset ``flip`` inverted."""
        offset, limit = 0, self.size if limit is None else min(limit, self.size)
        for piece in self.pieces():
            if offset >= limit:
                return
            piece = piece[:limit - offset]
            if flip is not None and offset <= flip < offset + len(piece):
                piece = bytearray(piece)
                piece[flip - offset] ^= 0xFF
            offset += len(piece)
            if len(piece):
                yield piece


_CRC_CACHE = {}
_CRC_LOCK = threading.Lock()


def _prefix_crc(pattern, length):
    """crc64 of the first ``length`` bytes of ``pattern`` repeated: whole repeats by doubling."""
    whole, rest = divmod(length, len(pattern))
    crc, unit, unit_length = 0, crc64(pattern) if whole else 0, len(pattern)
    while whole:  # crc of pattern * whole, from the crcs of pattern * 2^k
        if whole & 1:
            crc = crc64_combine(crc, unit, unit_length)
        unit, unit_length = crc64_combine(unit, unit, unit_length), unit_length * 2
        whole >>= 1
    return crc64_combine(crc, crc64(pattern[:rest]), rest)


def _block_crc(seed, pattern):
    with _CRC_LOCK:
        if seed in _CRC_CACHE:
            return _CRC_CACHE[seed]
    crc = _prefix_crc(pattern, RDB_BLOCK)
    with _CRC_LOCK:
        if len(_CRC_CACHE) >= 64:
            _CRC_CACHE.clear()
        _CRC_CACHE[seed] = crc
    return crc


def rdb_file(row, extra=0, checksum=True):
    """The RdbFile of a backup row (cached): seeded by its SourceBackupId (a cross-region copy's
    original) or else its BackupId, BackupSize (+ ``extra``) bytes, its RedisVersion, ctime its BackupTime."""
    key = (row.get("SourceBackupId") or row["BackupId"], (row.get("BackupSize") or 0) + extra,
           row.get("RedisVersion"), row.get("BackupTime") or 0, checksum)
    with _FILE_LOCK:
        made = _FILE_CACHE.pop(key, None)
        if made is not None:
            _FILE_CACHE[key] = made  # most recently used last
            return made
    made = RdbFile(*key)
    with _FILE_LOCK:
        _FILE_CACHE[key] = made
        while len(_FILE_CACHE) > RDB_CACHE:
            del _FILE_CACHE[next(iter(_FILE_CACHE))]
    return made


_FILE_CACHE = collections.OrderedDict()
_FILE_LOCK = threading.Lock()

THIN_CAP = 16 << 20  # a generated file above this is restored from its thin twin: Redis never loads GiBs here


def thin_rdb(made):
    """The bytes of an RDB file with the keys of RdbFile ``made`` (the same header, aux fields, resize-db
    counts, small keys with their expiries, filler key names and count) and 4-byte filler values."""
    data = made.prefix + b"".join(key[:-_length_size(value)] + _string(b"thin") for key, value in made.fillers) + b"\xff"
    return data + struct.pack("<Q", crc64(data))


def damage(data, kind):
    """``data`` (a whole RDB file) as corruption ``kind`` leaves it for a restore: flip_byte inverts the
    middle byte, truncate, stall and cut keep the first half, not_rdb is a gzip stream as long, no_checksum
    zeroes the trailer, wrong_size adds WRONG_SIZE_EXTRA zero bytes after the end; None: as it is."""
    if kind == "flip_byte":
        data = bytearray(data)
        data[len(data) // 2] ^= 0xFF
        return bytes(data)
    if kind in ("truncate", "stall", "cut"):
        return data[:len(data) // 2]
    if kind == "not_rdb":
        return b"".join(gzip_stream(len(data))[1])
    if kind == "no_checksum":
        return data[:-8] + bytes(8)
    if kind == "wrong_size":
        return data + bytes(WRONG_SIZE_EXTRA)
    return data


def restore_bytes(row, kind=None, snapshot=None):
    """What a group restored from backup ``row`` loads: its snapshot file (a path), else its generated file
    (thin_rdb of it above THIN_CAP), as ``kind`` damages it."""
    if snapshot:
        with open(snapshot, "rb") as handle:
            data = handle.read()
    else:
        made = rdb_file(row)
        data = b"".join(bytes(piece) for piece in made.chunks()) if made.size <= THIN_CAP else thin_rdb(made)
    return damage(data, kind)


# The data set's groups hold this data (known_data_commands): KNOWN_KEYS keys in db 0, KNOWN_EXPIRES of
# them expiring 30 days after the emulator starts; "emulator:group" holds the GroupId.
KNOWN_KEYS, KNOWN_EXPIRES = 22, 2


def known_data_commands(group_id):
    commands = [("SET", "emulator:group", group_id)]
    commands += [("SET", "customer:%02d" % n, "customer-%d" % n) for n in range(1, 17)]
    commands += [("HSET", "cart:1", "apples", "3", "pears", "2"), ("RPUSH", "queue:jobs", "a", "b", "c"),
                 ("SADD", "tags", "red", "blue")]
    commands += [("SET", "session:%d" % n, "alive", "PX", str(30 * 86400 * 1000)) for n in (1, 2)]
    return commands


class _GroupJob:
    """A group's server being started (a create) or stopped (a delete) off the request thread:
    ``done`` is set when it is over; ``server`` the started Server, or ``error`` why not."""

    def __init__(self, target, *args):
        self.done, self.server, self.error = threading.Event(), None, None
        threading.Thread(target=self._run, args=(target,) + args, name="group-job", daemon=True).start()

    def _run(self, target, *args):
        try:
            self.server = target(*args)
        except (redis_plane.RedisError, OSError, ValueError) as exc:
            self.error = str(exc)
        finally:
            self.done.set()


def gzip_stream(size):
    """(length, pieces): a valid gzip stream of exactly ``size`` bytes (stored deflate blocks of text), or
    for a size under 23 (the smallest such stream) the first ``size`` bytes of that smallest one."""
    text = b"this is not an RDB file, it is a gzip stream\n"
    data = (text * (GZIP_STORED // len(text) + 1))[:GZIP_STORED]
    blocks = max(1, -(-(size - 18) // (GZIP_STORED + 5)))
    total = max(0, size - 18 - 5 * blocks)
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

    def pieces():
        crc, left, sent = 0, total, 0
        for index in range(blocks):
            length = min(left, GZIP_STORED)
            left -= length
            final = 1 if index == blocks - 1 else 0
            block = bytes((final,)) + struct.pack("<HH", length, length ^ 0xFFFF) + data[:length]
            crc = zlib.crc32(data[:length], crc)
            piece = (head + block) if index == 0 else block
            yield piece[:size - sent]
            sent += len(piece)
        yield (struct.pack("<II", crc, total & 0xFFFFFFFF))[:max(0, size - sent)]
    return size, (piece for piece in pieces() if piece)


class Emulator:
    """The API in a background thread; a context manager too.

    ``data``: a data set (default ``generate_dataset()``; the emulator keeps its own copy).
    ``latency`` is in seconds; ``faults`` a FaultPlan; ``fail_regions`` ({region: kind})
    adds to it. ``mutate_between_pages``: 0 never, N the first N pages with Offset > 0,
    True (or a negative number) every one. ``tls``: (cert file, key file) to serve HTTPS.
    Hostile faults: ``drip_interval`` (seconds between the bytes of drip and drip_headers),
    ``oversize_bytes`` (the size of oversized, oversized_chunked and gzip_bomb bodies, inflated),
    ``claimed_total`` (the TotalCount of total_claimed, endless and over_limit), ``over_limit_rows`` (the rows
    of an over_limit page).
    ``listing_lag``: a backup created while it is N is left out of DescribeURedisBackup answers until N of
    them that would have listed it have been answered (also the ``listing_lag`` property, settable).
    Acting on backups: ``backup_seconds`` (how long a created backup is Backuping),
    ``manual_backup_limit`` (20208 past it), ``url_ttl`` (seconds a download link works),
    ``lose_create_answers`` ((count, kind): the next creates are performed, their answer lost).
    Cross-region copies: ``copy_seconds`` (how long after its source turns Success a copy is listed).
    Groups: ``group_create_seconds`` (how long a created group is Creating), ``group_delete_seconds`` (how
    long a deleted one is Deleting before it is gone); fail_group_creates(N) makes the next N end in CreateFail.
    """

    def __init__(self, data=None, host="127.0.0.1", port=0, max_page_size=100, latency=0.0,
                 faults=None, fail_regions=None, hang_seconds=30.0, mutate_between_pages=0,
                 tls=None, verbose=False, drip_interval=1.0, oversize_bytes=64 << 20, claimed_total=10 ** 12,
                 backup_seconds=2.0, manual_backup_limit=10, url_ttl=3600, lose_create_answers=(0, "reset"),
                 listing_lag=0, over_limit_rows=1000, copy_seconds=0.0, group_create_seconds=2.0,
                 group_delete_seconds=1.0, redis=False, lose_delete_answers=(0, "reset")):
        # The data plane: True/"on" needs redis-server, "auto" uses it when it is on PATH, False/"off" never.
        if redis not in (True, False, "on", "off", "auto"):
            raise ValueError("redis must be True, False, 'on', 'off' or 'auto', not %r" % (redis,))
        self.redis_server = None if redis in (False, "off") else redis_plane.find_redis_server()
        if redis in (True, "on") and not self.redis_server:
            raise ValueError("redis-server is not on PATH (or this is not Linux): no data plane")
        self._plane = None  # made by start()
        self._servers = {}  # group key -> its redis_plane.Server (Running groups only)
        self._snapshots = {}  # BackupId -> the file of a snapshot taken of a group's server
        self._slow_creates = [0, 0.0]  # the next N group creates are Creating this many seconds
        self._drop_keys = [0, 0]  # the next N restores lose this many keys after loading
        self._lost_deletes = [0, "reset"]
        if group_create_seconds < 0 or group_delete_seconds < 0:
            raise ValueError("group_create_seconds and group_delete_seconds must be 0 or more")
        self.group_create_seconds, self.group_delete_seconds = float(group_create_seconds), float(group_delete_seconds)
        self._group_pending = {}  # (Region, ProjectId, GroupId) -> (when, the State then: Running, CreateFail or None: gone)
        self._fail_group_creates = 0  # the next group creates that end in CreateFail
        if max_page_size < 1 or latency < 0 or hang_seconds < 0:
            raise ValueError("max_page_size must be 1 or more, latency and hang_seconds 0 or more")
        if backup_seconds < 0 or manual_backup_limit < 0 or url_ttl < 0:
            raise ValueError("backup_seconds, manual_backup_limit and url_ttl must be 0 or more")
        self.backup_seconds, self.manual_backup_limit, self.url_ttl = float(backup_seconds), int(manual_backup_limit), url_ttl
        self._pending = {}  # BackupId -> (row, when it is done, whether it fails)
        if copy_seconds < 0:
            raise ValueError("copy_seconds must be 0 or more")
        self.copy_seconds = float(copy_seconds)
        self._copying = []  # (when it is listed, the copy's row): copies on their way to their region
        self._next_expiry = None  # the earliest time a copy with SaveDays is gone (None: none will be)
        self._url_secret = os.urandom(32)  # signs download links; another emulator (or a restart) voids them
        self._lost = [0, "reset"]
        self._corruptions = {}  # BackupId -> how its download is damaged (CORRUPTION_KINDS)
        self._expired_links = 0  # the next links DescribeURedisBackupURL answers that are already expired
        if drip_interval < 0 or oversize_bytes < 0 or claimed_total < 0:
            raise ValueError("drip_interval, oversize_bytes and claimed_total must be 0 or more")
        self.host, self.port = host, port
        self.max_page_size, self.latency, self.hang_seconds = max_page_size, latency, hang_seconds
        self.drip_interval, self.oversize_bytes, self.claimed_total = drip_interval, int(oversize_bytes), int(claimed_total)
        if not isinstance(over_limit_rows, int) or isinstance(over_limit_rows, bool) or over_limit_rows < 1:
            raise ValueError("over_limit_rows must be a count of 1 or more")
        self.over_limit_rows = over_limit_rows
        self._lagging = {}  # BackupId -> listing calls it is still left out of (only those above 0)
        self._listing_lag = 0
        self._stopping = threading.Event()  # set by stop(): ends hangs and drips at once
        self.faults = faults or FaultPlan()
        self.faults.fail_regions.update(FaultPlan(fail_regions=fail_regions).fail_regions)
        unlimited = mutate_between_pages is True or mutate_between_pages < 0
        self.mutations_left = None if unlimited else int(mutate_between_pages)  # None: no limit
        self.mutations = 0
        self.tls, self.verbose = tls, verbose
        self._lock = threading.Lock()
        self.listing_lag = listing_lag  # checked by the setter
        self._in_flight = 0
        self._install(json.loads(json.dumps(data if data is not None else generate_dataset())))
        self._server = self._thread = None
        self.reset_stats()
        self.lose_create_answers(*lose_create_answers)
        self.lose_delete_answers(*lose_delete_answers)

    # lifecycle
    def start(self):
        """Listen and serve in a daemon thread; returns self."""
        context = _tls_context(*self.tls) if self.tls else None  # fails before binding anything
        self._stopping.clear()
        if self.redis_server and self._plane is None:
            self._plane = redis_plane.Plane(self.redis_server)
            try:  # every Running group answers on its port before any request can list it
                self._sync_plane()
            except (redis_plane.RedisError, OSError) as exc:
                self._close_plane()
                raise OSError("the data plane did not start: %s" % exc)
        server_class = _Server6 if ":" in self.host else _Server
        self._server = server_class((self.host, self.port), type("Handler", (_Handler,), {"emulator": self}))
        if context:
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True,
                do_handshake_on_connect=False)  # handshakes happen in the request threads, never in accept()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="emulator-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening, end hangs, drips and oversized answers, and close open connections
        (a kept-alive client sees them go)."""
        if self._server is not None:
            self._stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        self._close_plane()

    def _close_plane(self):
        if self._plane is not None:
            self._plane.close()  # every redis-server, its files and the snapshots
            with self._lock:
                self._plane, self._servers, self._snapshots = None, {}, {}

    @property
    def data_plane(self):
        """Whether Running groups are real redis-servers (now, or once started)."""
        return bool(self.redis_server)

    def _sync_plane(self):
        """Give every Running group without a server one holding the known data (at start, and for groups
        upserted later), stop the servers of groups no longer Running or gone, and put each server's
        address in its row."""
        with self._lock:
            plane = self._plane
            if plane is None:
                return
            keys = set(_group_key(row) for row in self._data["groups"] if row.get("State") == "Running")
            stale = [(key, server) for key, server in self._servers.items() if key not in keys]
            for key, _server in stale:
                del self._servers[key]
            wanted = [dict(row) for row in self._data["groups"]
                      if row.get("State") == "Running" and _group_key(row) not in self._servers]
        for _key, server in stale:
            plane.stop(server)
        started = []
        try:
            for row, port in zip(wanted, redis_plane.free_ports(len(wanted))):  # all at once, then wait
                started.append([row, plane.start(plane.new_folder(), row.get("Password"), port)])
            for index, (row, server) in enumerate(started):
                server = started[index][1] = plane.ready(server)
                server.call(*known_data_commands(row["GroupId"]))
        except redis_plane.RedisError:
            for _row, server in started:
                plane.stop(server)  # a second stop of one that ready() stopped does nothing
            raise
        with self._lock:
            for row, server in started:
                self._servers[_group_key(row)] = server
                self._stats["redis_servers"] += 1
            for row in self._data["groups"]:
                server = self._servers.get(_group_key(row))
                if server is not None:
                    row.update(VirtualIP="127.0.0.1", Port=server.port)
            self._group_listings = {}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % ("https" if self.tls else "http", host, self.port)

    # data and statistics
    @property
    def data(self):
        """A copy of the data set as it is now (created backups that are done read as done), without the
        groups' Passwords: groups() is the one place that shows them."""
        with self._lock:
            self._settle()
            data = json.loads(json.dumps(self._data))
        for group in data["groups"]:
            group.pop("Password", None)
        return data

    def change(self, upsert=(), delete=()):
        """Add or replace rows (by BackupId) and delete rows (by BackupId), while serving."""
        upsert, delete = list(upsert), list(delete)
        if not all(isinstance(row, dict) for row in upsert) or not all(isinstance(i, str) for i in delete):
            raise ValueError("upsert takes a list of rows (objects), delete a list of BackupIds")
        with self._lock:
            gone = set(delete) | set(row.get("BackupId") for row in upsert)
            rows = [row for row in self._data["backups"] if row["BackupId"] not in gone]
            rows += [dict(row) for row in upsert]
            self._install(dict(self._data, backups=rows))  # raises before changing anything

    def groups(self):
        """A copy of the Redis groups as they are now, hidden fields included (and the hidden Pid of the
        redis-server of a group that has one)."""
        with self._lock:
            self._settle()
            rows = json.loads(json.dumps(self._data["groups"]))
            for row in rows:
                server = self._servers.get(_group_key(row))
                if server is not None:
                    row["Pid"] = server.pid
            return rows

    def redis_pids(self):
        """The pids of every redis-server this emulator runs (groups Running, Creating or Deleting)."""
        plane = self._plane
        return plane.pids() if plane is not None else []

    def slow_group_creates(self, count, seconds):
        """Make the next ``count`` CreateURedisGroup calls that are accepted stay Creating ``seconds``
        (instead of group_create_seconds; and until their server is ready)."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("slow_group_creates takes a count of 0 or more")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 86400:
            raise ValueError("slow_group_creates takes seconds, 0 to 86400")
        with self._lock:
            self._slow_creates = [count, float(seconds)]

    def group_creates_to_slow(self):
        with self._lock:
            return tuple(self._slow_creates)

    def drop_restored_keys(self, count, keys):
        """Make the next ``count`` restores (CreateURedisGroup with a BackupId whose server starts) delete
        ``keys`` keys of db 0 once loaded, before the group turns Running: a restore that lost data."""
        for value, what in ((count, "count"), (keys, "keys")):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError("drop_restored_keys takes a %s of 0 or more" % what)
        with self._lock:
            self._drop_keys = [count, keys]

    def restored_keys_to_drop(self):
        with self._lock:
            return tuple(self._drop_keys)

    def lose_delete_answers(self, count, kind="reset"):
        """Perform the next ``count`` DeleteURedisGroup calls that succeed, then lose their answer as ``kind`` says."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or kind not in LOST_ANSWER_KINDS:
            raise ValueError("lose_delete_answers takes a count of 0 or more and a kind, one of %s"
                             % ", ".join(LOST_ANSWER_KINDS))
        with self._lock:
            self._lost_deletes = [count, kind]

    def delete_answers_to_lose(self):
        with self._lock:
            return tuple(self._lost_deletes)

    def _take_lost_delete_answer(self):
        with self._lock:
            if not self._lost_deletes[0]:
                return None
            self._lost_deletes[0] -= 1
            return self._lost_deletes[1]

    def fail_group_creates(self, count):
        """Make the next ``count`` CreateURedisGroup calls that are accepted end in CreateFail."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("fail_group_creates takes a count of 0 or more")
        with self._lock:
            self._fail_group_creates = count

    def group_creates_to_fail(self):
        with self._lock:
            return self._fail_group_creates

    def change_groups(self, upsert=(), delete=(), fail=(), succeed=(), policy=None):
        """Add or replace groups (by Region, ProjectId, GroupId), delete groups (by GroupId), make the
        backups created for groups end in Error (``fail``) or not (``succeed``), and set policies
        (``{GroupId: {"AutoBackup": ..., "BackupTime": ...}}``), while serving."""
        upsert, delete, fail, succeed, policy = list(upsert), list(delete), list(fail), list(succeed), dict(policy or {})
        if not all(isinstance(row, dict) for row in upsert) or not all(
                isinstance(i, str) for i in delete + fail + succeed + list(policy)):
            raise ValueError("upsert takes a list of group rows, delete, fail and succeed lists of GroupIds, "
                             "policy an object of GroupId -> {AutoBackup, BackupTime}")
        with self._lock:
            replaced = set(_group_key(row) for row in upsert)
            rows = [dict(row) for row in self._data["groups"] if row["GroupId"] not in delete and _group_key(row) not in replaced]
            rows += [dict(row) for row in upsert]
            known = set(row["GroupId"] for row in rows)
            for group_id in fail + succeed + list(policy):
                if group_id not in known:
                    raise ValueError("there is no group %r" % group_id)
            for row in rows:
                if row["GroupId"] in fail or row["GroupId"] in succeed:
                    row["FailBackups"] = row["GroupId"] in fail
                for name, value in policy.get(row["GroupId"], {}).items():
                    if name not in ("AutoBackup", "BackupTime"):
                        raise ValueError("a policy sets AutoBackup and BackupTime, not %r" % name)
                    row[name] = value
            self._install(dict(self._data, groups=rows))  # raises before changing anything
        self._sync_plane()

    def lose_create_answers(self, count, kind="reset"):
        """Perform the next ``count`` CreateURedisBackup calls, then lose their answer as ``kind`` says."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or kind not in LOST_ANSWER_KINDS:
            raise ValueError("lose_create_answers takes a count of 0 or more and a kind, one of %s"
                             % ", ".join(LOST_ANSWER_KINDS))
        with self._lock:
            self._lost = [count, kind]

    def create_answers_to_lose(self):
        """(count, kind): how many of the next creates will still lose their answer, and how."""
        with self._lock:
            return tuple(self._lost)

    @property
    def listing_lag(self):
        """How many DescribeURedisBackup answers that would list it leave out a backup created now."""
        with self._lock:
            return self._listing_lag

    @listing_lag.setter
    def listing_lag(self, calls):
        if not isinstance(calls, int) or isinstance(calls, bool) or calls < 0:
            raise ValueError("listing_lag takes a count of listing calls, 0 or more, not %r" % (calls,))
        with self._lock:
            self._listing_lag = calls

    def corrupt_backup(self, backup_id, kind):
        """Damage the file ``backup_id``'s download links serve as ``kind`` says (one of CORRUPTION_KINDS);
        None or "none" serves it whole again. An unknown backup or kind is a ValueError (nothing changes)."""
        if kind is not None and kind != "none" and kind not in CORRUPTION_KINDS:
            raise ValueError("kind must be one of %s, none or null, not %r" % (", ".join(CORRUPTION_KINDS), kind))
        with self._lock:
            if not isinstance(backup_id, str) or not any(row["BackupId"] == backup_id for row in self._data["backups"]):
                raise ValueError("there is no backup %r" % (backup_id,))
            if kind in (None, "none"):
                self._corruptions.pop(backup_id, None)
            else:
                self._corruptions[backup_id] = kind

    def corruptions(self):
        """{BackupId: kind} of the backups whose downloads are damaged."""
        with self._lock:
            return dict(self._corruptions)

    def expire_links(self, count):
        """Make the next ``count`` links DescribeURedisBackupURL answers already expired (their download is 403)."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("expire_links takes a count of 0 or more, not %r" % (count,))
        with self._lock:
            self._expired_links = count

    def expired_links_left(self):
        """How many of the next links will still be answered already expired."""
        with self._lock:
            return self._expired_links

    def _take_expired_link(self):
        with self._lock:
            if not self._expired_links:
                return False
            self._expired_links -= 1
            return True

    def _take_lost_answer(self):
        with self._lock:
            if not self._lost[0]:
                return None
            self._lost[0] -= 1
            return self._lost[1]

    def _install(self, data):
        check_dataset(data)
        if "groups" not in data:  # a data set of before groups: its backups name them
            data = dict(data, groups=derive_groups(data))
        self._group_listings = {}
        self._accounts = dict((a["public_key"], a) for a in data["accounts"])
        self._projects = set(p for a in data["accounts"] for p in a.get("projects", []) + [a["default_project"]])
        self._projects.update(row["ProjectId"] for row in data["backups"] + data["groups"])
        self._data = data
        self._configs = make_configs(data)
        self._listings = {}
        backup_ids = set(row["BackupId"] for row in data["backups"])  # a deleted backup lags no more
        self._lagging = dict((key, left) for key, left in self._lagging.items() if key in backup_ids)
        self._next_expiry = _next_expiry(data["backups"])
        # endless rows count down from the data set's newest BackupTime
        self._newest = max((row["BackupTime"] for row in data["backups"] if isinstance(row.get("BackupTime"), int)),
                           default=EPOCH_BASE)

    def reset_stats(self):
        with self._lock:
            self._stats = {"requests": 0, "api_requests": 0, "peak_concurrency": 0,
                           "faults_injected": 0, "by_region": {}, "by_action": {}, "creates": 0,
                           "downloads": 0, "download_bytes": 0, "group_creates": 0, "group_deletes": 0,
                           "redis_servers": 0, "snapshots": 0, "restored_keys_dropped": 0}

    def stats(self):
        """{"requests", "api_requests", "peak_concurrency", "faults_injected", "by_region", "by_action",
        "creates" (backups actually created), "group_creates" and "group_deletes" (groups actually created
        and deleted), "redis_servers" (redis-servers started and ready), "snapshots" (backups that are a
        server's own RDB), "restored_keys_dropped" (keys drop_restored_keys deleted), "downloads" (files
        served in full or in part),
        "download_bytes" (the bytes of them sent)}."""
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def _count(self, name):
        with self._lock:
            self._stats[name] += 1

    def _begin_api_request(self, region, action=""):
        """Count an API request as started; returns its number (1-based)."""
        with self._lock:
            stats = self._stats
            stats["api_requests"] += 1
            stats["by_region"][region] = stats["by_region"].get(region, 0) + 1
            stats["by_action"][action] = stats["by_action"].get(action, 0) + 1
            self._in_flight += 1
            stats["peak_concurrency"] = max(stats["peak_concurrency"], self._in_flight)
            return stats["api_requests"]

    def _end_api_request(self):
        with self._lock:
            self._in_flight -= 1

    # the API itself
    def answer(self, params):
        """The JSON document answering one API request's parameters (no faults)."""
        action = params.get("Action", "")
        try:
            with self._lock:
                account = self._authenticate(params)
                self._settle()
            body = getattr(self, self._HANDLERS[action])(params, account)
        except ApiError as error:
            return {"RetCode": error.ret_code, "Action": "%sResponse" % action, "Message": error.message}
        answer = {"RetCode": 0, "Action": "%sResponse" % action}
        answer.update(body)
        return answer

    _HANDLERS = {ACTION: "_describe", GROUP_ACTION: "_describe_groups", CREATE_ACTION: "_create",
                 URL_ACTION: "_backup_url", POLICY_ACTION: "_update_policy", GROUP_CREATE_ACTION: "_create_group",
                 GROUP_DELETE_ACTION: "_delete_group", CONFIG_ACTION: "_describe_configs"}

    def _describe(self, params, account, internal=False):
        """A DescribeURedisBackup answer's TotalCount and DataSet. ``internal`` (a listing a fault answers
        with, not the one asked for) neither mutates the data nor counts toward a backup's listing lag."""
        with self._lock:
            query = self._query(params, account)
            if query.offset > 0 and not internal:
                self._mutate(query)
            # Each listing is filtered and sorted once per data version, not once per page:
            # with 10,000 rows that scan, not the network, would bound a benchmark.
            key = query._replace(offset=0, limit=0)
            rows = self._listings.get(key)
            if rows is None:
                rows = self._listings[key] = newest_first(row for row in self._data["backups"] if _matches(row, query))
            if self._lagging:  # the cache holds what the backend has; the lagging rows are left out per answer
                rows = self._lag(rows, count=not internal)
        page = rows[query.offset:query.offset + min(query.limit, self.max_page_size)]
        return {"TotalCount": len(rows), "DataSet": [public_view(row) for row in page]}

    def _lag(self, rows, count):
        """``rows`` without the backups that still lag (under the lock); ``count``: this answer counts for them."""
        hidden = set(row["BackupId"] for row in rows if self._lagging.get(row["BackupId"]))
        if not hidden:
            return rows
        if count:
            for backup_id in hidden:
                self._lagging[backup_id] -= 1
                if not self._lagging[backup_id]:
                    del self._lagging[backup_id]  # listed from the next answer on
        return [row for row in rows if row["BackupId"] not in hidden]

    def mismatch(self, kind, params, right):
        """The answer of the MISMATCH_FAULTS ``kind`` to ``params``, or None where the kind does not apply.

        ``right`` is the answer without faults (None for a CreateURedisBackup or UpdateURedisBackupStrategy
        that wrong_action strikes: those are not performed). A refusal is never changed (None).
        """
        action = params.get("Action", "")
        if right is not None and right.get("RetCode") != 0:
            return None
        try:
            with self._lock:
                account = self._authenticate(params)
            if kind == "wrong_action":
                self._scope(params, account)  # the checks a changing action would have failed first
                other = dict((key, params[key]) for key in ("Region", "ProjectId") if params.get(key))
                if action in (ACTION, GROUP_ACTION):
                    other.update((key, params[key]) for key in ("Offset", "Limit") if key in params)
                if action == ACTION:
                    return dict({"RetCode": 0, "Action": "%sResponse" % GROUP_ACTION}, **self._describe_groups(other, account))
                other["RegionType"] = "normal"
                return dict({"RetCode": 0, "Action": "%sResponse" % ACTION}, **self._describe(other, account, internal=True))
            if right is None or "DataSet" not in right:
                return None
            return self._mismatched_listing(kind, params, right, account)
        except ApiError:
            return None

    def _mismatched_listing(self, kind, params, right, account):
        """mismatch() for the kinds that change a listing (``right`` is one, RetCode 0)."""
        groups, configs = params.get("Action") == GROUP_ACTION, params.get("Action") == CONFIG_ACTION
        if kind == "empty_listing":
            return dict(right, TotalCount=0, DataSet=[])
        if kind == "short_listing":
            if not right.get("TotalCount"):
                return None  # an empty listing is already as short as it gets
            first = right["DataSet"][:1] if _int_param(params, "Offset", 0, minimum=0) == 0 else []
            return dict(right, TotalCount=1, DataSet=first)
        if kind == "over_limit":
            made_up = _endless_configs if configs else _endless_groups if groups else _endless_rows
            return dict(right, TotalCount=self.claimed_total,
                        DataSet=made_up(params, self.max_page_size, self._newest, count=self.over_limit_rows))
        filters = ("Version", "ConfigId") if configs else ("GroupId", "Zone") if groups else ("GroupId", "BackupId")
        if kind == "ignore_filter":
            if not any(params.get(key) for key in filters):
                return None
            other = dict((key, value) for key, value in params.items() if key not in filters)
            if configs:  # Zone and RegionFlag are required: only the optional filters are ignored
                return dict(right, **self._describe_configs(other, account))
            if groups:
                return dict(right, **self._describe_groups(other, account))
            other["RegionType"] = params.get("RegionType") or "normal"
            return dict(right, **self._describe(other, account, internal=True))
        # other_group
        group_id = params.get("GroupId")
        if not group_id or configs:
            return None
        if groups:
            region, project = self._scope(params, account)
            zone = params.get("Zone") or None
            with self._lock:
                ids = set(row["GroupId"] for row in self._data["groups"]
                          if (row["Region"], row["ProjectId"]) == (region, project) and zone in (None, row.get("Zone")))
        else:
            with self._lock:
                query = self._query(params, account)._replace(group_id=None, backup_id=None)
                ids = set(row.get("GroupId") for row in self._data["backups"]
                          if _matches(row, query) and not self._lagging.get(row["BackupId"]))
        others = sorted(value for value in ids if isinstance(value, str) and value and value != group_id)
        if not others:
            return None
        other = dict((key, value) for key, value in params.items() if key != "BackupId")
        other["GroupId"] = others[0]
        if groups:
            return dict(right, **self._describe_groups(other, account))
        return dict(right, **self._describe(other, account, internal=True))

    def _authenticate(self, params):
        """The account that signed the request, checked in the gateway's order."""
        action = params.get("Action")
        if not action:
            raise ApiError(160, "Missing Action")
        if action not in ACTIONS:
            raise ApiError(161, "Action [%s] not exist" % action)
        if not params.get("Signature"):
            raise ApiError(170, "Missing signature")
        account = self._accounts.get(params.get("PublicKey"))
        if account is None:
            raise ApiError(172, "User Not Exists")
        expected = sign(dict((k, v) for k, v in params.items() if k != "Signature"), account["private_key"])
        # Bytes: compare_digest refuses str holding non-ASCII text, and a Signature may hold any.
        if not hmac.compare_digest(expected.encode("utf-8"), params["Signature"].encode("utf-8")):
            raise ApiError(171, "Signature VerifyAC Error")
        return account

    def _scope(self, params, account):
        """(region, project) of a request, checked as the gateway does."""
        region = params.get("Region")
        if not region:
            raise ApiError(210, "Missing params [Region]")
        if region not in self._data["regions"]:
            raise ApiError(230, "Params [Region] not available")
        project = params.get("ProjectId") or account["default_project"]
        if project not in self._projects:
            raise ApiError(292, "Project not exist")
        if project != account["default_project"] and project not in account.get("projects", []):
            raise ApiError(299, "IAM permission denied")
        return region, project

    def _query(self, params, account):
        region, project = self._scope(params, account)
        if not params.get("GroupId") and not params.get("RegionType"):
            raise ApiError(210, "Missing params [GroupId]")
        region_type = params.get("RegionType") or "normal"
        if region_type not in REGION_TYPES:
            raise ApiError(230, "Params [RegionType] not available")
        return Query(region, project, region_type,
                     params.get("GroupId") or None, params.get("BackupId") or None, params.get("SlaveZone") or None,
                     _int_param(params, "Offset", 0, minimum=0), _int_param(params, "Limit", 10, minimum=1))

    def _describe_groups(self, params, account):
        region, project = self._scope(params, account)
        offset, limit = _int_param(params, "Offset", 0, minimum=0), _int_param(params, "Limit", 20, minimum=1)
        key = (region, project, params.get("GroupId") or None, params.get("Zone") or None)
        with self._lock:
            rows = self._group_listings.get(key)
            if rows is None:
                rows = self._group_listings[key] = newest_groups_first(
                    row for row in self._data["groups"]
                    if (row["Region"], row["ProjectId"]) == (region, project)
                    and key[2] in (None, row["GroupId"]) and key[3] in (None, row.get("Zone")))
            page = [public_group(row) for row in rows[offset:offset + min(limit, self.max_page_size)]]
        return {"TotalCount": len(rows), "DataSet": page}

    def _group(self, region, project, group_id):
        """The stored group row (under the lock), or None."""
        for row in self._data["groups"]:
            if (row["Region"], row["ProjectId"], row["GroupId"]) == (region, project, group_id):
                return row
        return None

    def _required(self, params, name):
        if not params.get(name):
            raise ApiError(210, "Missing params [%s]" % name)
        return params[name]

    def _create(self, params, account):
        region, project = self._scope(params, account)
        group_id, name = self._required(params, "GroupId"), self._required(params, "BackupName")
        if not BACKUP_NAME_RE.match(name):
            raise ApiError(230, "Params [BackupName] not available")
        with self._lock:
            group = self._group(region, project, group_id)
            if group is None:
                raise ApiError(230, "Params [GroupId] not available")
            if params.get("Zone") and params["Zone"] != group.get("Zone"):
                raise ApiError(230, "Params [Zone] not available")
            manual = [row for row in self._data["backups"]
                      if (row["Region"], row["ProjectId"], row.get("GroupId")) == (region, project, group_id)
                      and row.get("BackupType") == "Manual" and row.get("State") not in ("Expired", "Error")]
            if len(manual) >= self.manual_backup_limit:
                raise ApiError(QUOTA_RET_CODE, "backup count exceeds limit")
            row = {"Region": region, "ProjectId": project, "BackupId": str(uuid.uuid4()), "BackupName": name,
                   "BackupTime": int(time.time()), "BackupSize": 0, "BackupType": "Manual", "State": "Backuping",
                   "GroupId": group_id, "GroupName": group.get("Name") or group.get("GroupName") or group_id}
            for field, source in (("Zone", "Zone"), ("MemorySize", "Size"), ("RedisVersion", "Version"),
                                  ("SlaveZone", "SlaveZone")):
                if group.get(source) is not None:
                    row[field] = group[source]
            self._data["backups"].append(row)
            self._listings = {}
            if self._listing_lag:
                self._lagging[row["BackupId"]] = self._listing_lag
            fails = bool(group.get("FailBackups"))
            server = self._servers.get(_group_key(group))
            if server is not None and not fails:
                fails = not self._snapshot(server, row["BackupId"])
            self._pending[row["BackupId"]] = (row, time.time() + self.backup_seconds, fails)
            self._stats["creates"] += 1
        return {"BackupId": row["BackupId"]}

    def _snapshot(self, server, backup_id):
        """Take a real snapshot (SAVE, under the lock: a small data set saves in milliseconds) and keep a copy
        of the server's dump.rdb as the backup's file; False when the server does not answer."""
        path = os.path.join(self._plane.folder, "backup-%s.rdb" % uuid.uuid4().hex)
        try:
            server.call(("SAVE",))
            with open(os.path.join(server.folder, "dump.rdb"), "rb") as source, open(path, "wb") as copy:
                copy.write(source.read())
        except (redis_plane.RedisError, OSError):
            return False
        self._snapshots[backup_id] = path
        self._stats["snapshots"] += 1
        return True

    def _settle(self):
        """Finish the created backups whose time has come, list the copies that have arrived and drop
        the expired ones (under the lock): cheap when none of that is due."""
        now = time.time()
        if self._group_pending:
            self._settle_groups(now)
        if self._pending:
            done = [backup_id for backup_id, (_row, when, _fails) in self._pending.items() if when <= now]
            for backup_id in done:
                row, _when, fails = self._pending.pop(backup_id)
                if row.get("State") == "Backuping":
                    row["State"] = "Error" if fails else "Success"
                    # 37 KiB per GB of the group: small on purpose, since tests and users' CI download them
                    row["BackupSize"] = 0 if fails else max(1, row.get("MemorySize") or 1) * CREATED_BYTES_PER_GB
                    if not fails and backup_id in self._snapshots:  # the server's own RDB file
                        row["BackupSize"] = os.path.getsize(self._snapshots[backup_id])
                    if not fails:
                        self._start_copy(row, now)
            if done:
                self._listings = {}
        if self._copying and self._copying[0][0] <= now:
            arrived = [copy for when, copy in self._copying if when <= now]
            self._copying = [(when, copy) for when, copy in self._copying if when > now]
            known = set(row["BackupId"] for row in self._data["backups"])
            self._data["backups"] += [copy for copy in arrived if copy["BackupId"] not in known]
            self._next_expiry = _next_expiry(self._data["backups"])
            self._listings = {}
        if self._next_expiry is not None and self._next_expiry < now:
            self._data["backups"] = [row for row in self._data["backups"] if not _expired(row, now)]
            self._next_expiry = _next_expiry(self._data["backups"])
            self._listings = {}

    def _start_copy(self, row, now):
        """Send a backup that just turned Success to its group's cross-region destination, if the group
        has a policy now (under the lock). The copy is listed copy_seconds later, even if the policy is
        closed in between: it was already on its way."""
        group = self._group(row["Region"], row["ProjectId"], row.get("GroupId"))
        if group is None or not group.get("DstRegion"):
            return
        copy = dict(row, Region=group["DstRegion"], BackupId=copy_id(row["BackupId"]), SrcRegionName=row["Region"],
                    DstRegionName=group["DstRegion"], SourceBackupId=row["BackupId"], SaveDays=group["SaveDays"],
                    State="Success")
        self._copying.append((now + self.copy_seconds, copy))
        self._copying.sort(key=lambda item: item[0])

    def _bool_param(self, params, name):
        if params.get(name, "") not in ("", "true", "false"):
            raise ApiError(230, "Params [%s] not available" % name)

    def _backup_url(self, params, account):
        region, project = self._scope(params, account)
        backup_id = self._required(params, "BackupId")
        for name in ("RegionFlag", "IsCrossRegion"):
            self._bool_param(params, name)
        with self._lock:
            row = next((r for r in self._data["backups"] if r["BackupId"] == backup_id and r["ProjectId"] == project
                        and region in (r["Region"], r.get("SrcRegionName"), r.get("DstRegionName"))), None)
            if row is None or params.get("GroupId") not in (None, "", row.get("GroupId")):
                raise ApiError(230, "Params [BackupId] not available")
            # A cross-region backup's link is asked with IsCrossRegion=true, a normal one's without: the other
            # way round the server looks among the other kind and finds no such backup.
            if bool(row.get("SrcRegionName") or row.get("DstRegionName")) != (params.get("IsCrossRegion") == "true"):
                raise ApiError(230, "Params [BackupId] not available")
            state = row.get("State")
        if state != "Success":
            raise ApiError(URL_RET_CODE, "get backup url failed: backup is %s" % state)
        expires = int(time.time() + self.url_ttl)
        if self._take_expired_link():
            expires = int(time.time()) - 1  # expired when it is answered: the download is 403
        link = "%s/_emulator/download/%s?Expires=%d&Signature=%s" % (
            self.base_url, quote(backup_id, safe=""), expires, self._link_signature(backup_id, expires))
        return {"BackupPath": link, "BackupURL": link}

    def _link_signature(self, backup_id, expires):
        return hmac.new(self._url_secret, ("%s:%s" % (backup_id, expires)).encode("utf-8"), hashlib.sha256).hexdigest()

    def download(self, backup_id, expires, signature):
        """What a download link serves, (length, pieces, stall): the backup's file (rdb_file) as
        corrupt_backup damaged it, its length in bytes, its pieces (bytes) to send and whether the
        connection then stalls; or None when the link is not valid: altered, expired, not this
        emulator's, or of a backup that is gone or no longer Success."""
        good = self._link_signature(backup_id, expires or "")
        if not hmac.compare_digest(good.encode("utf-8"), (signature or "").encode("utf-8")):
            return None
        if not re.match(r"\A[0-9]+\Z", expires or "") or int(expires) < time.time():
            return None
        with self._lock:
            self._settle()
            row = next((row for row in self._data["backups"] if row["BackupId"] == backup_id), None)
            if row is None or row.get("State") != "Success":
                return None
            row, kind = dict(row), self._corruptions.get(backup_id)
            snapshot = self._snapshots.get(row.get("SourceBackupId") or backup_id)
        if snapshot:
            try:
                data = restore_bytes(row, None if kind in ("stall", "cut") else kind, snapshot)
            except OSError:
                return None  # the emulator stopped: its files are gone
            if kind in ("stall", "cut"):
                return len(data), [data[:len(data) // 2]], {"stall": True, "cut": "cut"}[kind]
            return len(data), [data], False
        if kind == "not_rdb":
            return gzip_stream(row.get("BackupSize") or 0) + (False,)
        made = rdb_file(row, extra=WRONG_SIZE_EXTRA if kind == "wrong_size" else 0, checksum=kind != "no_checksum")
        if kind in ("truncate", "stall", "cut"):
            after = {"stall": True, "cut": "cut"}.get(kind, False)
            return (made.size // 2 if kind == "truncate" else made.size), made.chunks(made.size // 2), after
        return made.size, made.chunks(flip=made.size // 2 if kind == "flip_byte" else None), False

    def _served(self, size, start=False):
        """Count a download begun (``start``) and ``size`` bytes of it sent."""
        with self._lock:
            self._stats["downloads"] += 1 if start else 0
            self._stats["download_bytes"] += size

    def _update_policy(self, params, account):
        region, project = self._scope(params, account)
        group_id = self._required(params, "GroupId")
        hour = params.get("BackupTime", "")
        if hour == "":
            hour = "0"  # the server's default, and the trap: an update that leaves it out moves backups to midnight
        if not re.match(r"\A[0-9]{1,2}\Z", hour) or int(hour) > 23:
            raise ApiError(230, "Params [BackupTime] not available")
        auto = params.get("AutoBackup") or "enable"  # the other trap: leaving it out switches backups on
        if auto not in AUTO_BACKUP_VALUES:
            raise ApiError(230, "Params [AutoBackup] not available")
        operation = params.get("OperationType") or "normal"
        if operation not in OPERATION_TYPES:
            raise ApiError(230, "Params [OperationType] not available")
        save_days = _int_param(params, "SaveDays", 0, minimum=0)
        if operation == "modify":  # the cross-region policy: copies to DstRegion, kept SaveDays days
            if not params.get("SaveDays"):
                raise ApiError(210, "Missing params [SaveDays]")
            if save_days < 1:
                raise ApiError(230, "Params [SaveDays] not available")
            destination = self._required(params, "DstRegion")
            if destination not in self._data["regions"] or destination == region:
                raise ApiError(230, "Params [DstRegion] not available")
        with self._lock:
            group = self._group(region, project, group_id)
            if group is None:
                raise ApiError(230, "Params [GroupId] not available")
            # modify and close take AutoBackup and BackupTime as normal does, defaults included: what the real
            # server does with them there is not documented, so a client must send the current values.
            group.update(AutoBackup=auto, BackupTime=int(hour), ModifyTime=int(time.time()))
            if operation == "modify":
                group.update(DstRegion=destination, SaveDays=save_days)
            elif operation == "close":
                group.pop("DstRegion", None)
                group.pop("SaveDays", None)
            self._group_listings = {}
        return {}

    # Redis groups: CreateURedisGroup, DeleteURedisGroup and DescribeURedisConfig (a group is a row, no redis-server)
    def _describe_configs(self, params, account):
        region, _project = self._scope(params, account)
        zone = self._required(params, "Zone")
        if "RegionFlag" not in params or params["RegionFlag"] == "":
            raise ApiError(210, "Missing params [RegionFlag]")
        self._bool_param(params, "RegionFlag")
        offset, limit = _int_param(params, "Offset", 0, minimum=0), _int_param(params, "Limit", 20, minimum=1)
        flag = params["RegionFlag"] == "true"  # every configuration here is a single-zone one: true lists none
        rows = [dict((k, v) for k, v in row.items() if k != "Region") for row in self._configs
                if row["Region"] == region and row["Zone"] == zone and row["RegionFlag"] == flag
                and params.get("Version") in (None, "", row["Version"]) and params.get("ConfigId") in (None, "", row["ConfigId"])]
        return {"TotalCount": len(rows), "DataSet": rows[offset:offset + min(limit, self.max_page_size)]}

    def _choice(self, params, name, allowed, default):
        value = params.get(name) or default
        if value not in allowed:
            raise ApiError(230, "Params [%s] not available" % name)
        return value

    def _create_group(self, params, account):
        region, project = self._scope(params, account)
        name, zone = self._required(params, "Name"), self._required(params, "Zone")
        high_availability = self._required(params, "HighAvailability")
        if not BACKUP_NAME_RE.match(name):
            raise ApiError(230, "Params [Name] not available")
        if high_availability not in AUTO_BACKUP_VALUES:
            raise ApiError(230, "Params [HighAvailability] not available")
        if zone not in region_zones(self._data, region):
            raise ApiError(230, "Params [Zone] not available")
        version = self._choice(params, "Version", REDIS_VERSIONS, "4.0")
        size = _int_param(params, "Size", 1, minimum=1)
        if size not in GROUP_SIZES:
            raise ApiError(230, "Params [Size] not available")
        auto = self._choice(params, "AutoBackup", AUTO_BACKUP_VALUES, "disable")
        hour = _int_param(params, "BackupTime", 3, minimum=0)
        if hour > 23:
            raise ApiError(230, "Params [BackupTime] not available")
        charge = self._choice(params, "ChargeType", CHARGE_TYPES, "Month")
        quantity = _int_param(params, "Quantity", 1, minimum=0) or 1  # 0 is the SDKs' "until the month ends"
        port = _int_param(params, "Port", 6379, minimum=1)
        if port > 65535:
            raise ApiError(230, "Params [Port] not available")
        password = None
        if params.get("Password"):
            try:  # the SDKs send it base64-encoded
                password = base64.b64decode(params["Password"].encode("ascii"), validate=True).decode("utf-8")
            except (ValueError, UnicodeError):
                raise ApiError(230, "Params [Password] not available")
        backup_id, wanted_config = params.get("BackupId") or None, params.get("ConfigId") or None
        if backup_id and not wanted_config:
            raise ApiError(210, "Missing params [ConfigId]")
        with self._lock:
            config = None
            if wanted_config:
                config = next((row for row in self._configs if row["ConfigId"] == wanted_config
                               and row["Region"] == region and row["Zone"] == zone), None)
                if config is None or (params.get("Version") and params["Version"] != config["Version"]):
                    raise ApiError(230, "Params [ConfigId] not available")
                version = config["Version"]
            fails = False
            if backup_id:
                backup = next((row for row in self._data["backups"] if row["BackupId"] == backup_id
                               and row["ProjectId"] == project and row["Region"] == region
                               and row.get("State") == "Success"), None)
                if backup is None:
                    raise ApiError(230, "Params [BackupId] not available")
                # Accepted, then the restore fails as a real one does: an RDB file newer than the server
                # cannot be loaded, and that is known only once the group's redis-server starts.
                fails = _version_key(backup.get("RedisVersion")) > _version_key(version)
            if self._fail_group_creates:
                self._fail_group_creates -= 1
                fails = True
            delay = self.group_create_seconds
            if self._slow_creates[0]:
                self._slow_creates[0] -= 1
                delay = self._slow_creates[1]
            job = None
            if self._plane is not None and not fails:
                drop = 0
                if backup_id and self._drop_keys[0]:
                    self._drop_keys[0] -= 1
                    drop = self._drop_keys[1]
                source = None
                if backup_id:
                    source = (dict(backup), self._corruptions.get(backup_id),
                              self._snapshots.get(backup.get("SourceBackupId") or backup_id))
                job = _GroupJob(self._start_group_server, self._plane, password, source, drop)
            taken = set(row["GroupId"] for row in self._data["groups"] if (row["Region"], row["ProjectId"]) == (region, project))
            group_id = None
            while group_id is None or group_id in taken:  # shaped like the data set's ids, never one of them
                group_id = "uredis-%s-%s" % (region.replace("-", ""), uuid.uuid4().hex[:8])
            now = int(time.time())
            expires = {"Month": now + quantity * 30 * 86400, "Year": now + quantity * 365 * 86400}.get(charge, 0)
            row = {"Region": region, "ProjectId": project, "GroupId": group_id, "Name": name, "Zone": zone,
                   "ConfigId": config["ConfigId"] if config else config_id(zone, version, "default"), "Version": version,
                   "Protocol": "redis", "Role": "master", "Type": "single", "HighAvailability": high_availability,
                   "AutoBackup": auto, "BackupTime": hour, "RewriteTime": 4, "ChargeType": charge,
                   "VirtualIP": "127.0.0.1", "Port": port, "VPCId": params.get("VPCId") or "uvnet-default",
                   "SubnetId": params.get("SubnetId") or "subnet-default", "Tag": params.get("Tag") or "Default",
                   "State": "Creating", "Size": size, "UsedSize": 0, "MemorySize": size, "CreateTime": now,
                   "ModifyTime": now, "ExpireTime": expires, "SecPolicy": 0, "IsHighPerformance": False,
                   "SSLEnable": False}
            if password is not None:
                row["Password"] = password
            if backup_id:
                row["SourceBackupId"] = backup_id
            self._data["groups"].append(row)
            self._group_pending[_group_key(row)] = (time.time() + delay, "CreateFail" if fails else "Running", job)
            self._group_listings = {}
            self._stats["group_creates"] += 1
        return {"GroupId": group_id}

    def _delete_group(self, params, account):
        region, project = self._scope(params, account)
        group_id = self._required(params, "GroupId")
        with self._lock:
            group = self._group(region, project, group_id)
            if group is not None and params.get("Zone") and params["Zone"] != group.get("Zone"):
                raise ApiError(230, "Params [Zone] not available")
            if group is None or group.get("State") == "Deleting":
                raise ApiError(GROUP_DELETE_RET_CODE, "delete failed: group does not exist")
            if group.get("State") == "Creating":  # the cloud refuses to delete a group that is not made yet
                raise ApiError(GROUP_DELETE_RET_CODE, "delete failed: group is Creating")
            group.update(State="Deleting", ModifyTime=int(time.time()))
            server, job = self._servers.pop(_group_key(group), None), None
            if server is not None:  # stopped off the request thread; the group is gone once it has stopped
                job = _GroupJob(self._plane.stop, server)
            self._group_pending[_group_key(group)] = (time.time() + self.group_delete_seconds, None, job)
            self._group_listings = {}
            self._stats["group_deletes"] += 1
        return {}

    def _start_group_server(self, plane, password, source, drop):
        """A new group's server, ready: empty, or loading ``source`` ((backup row, corruption kind, snapshot
        path)); ``drop`` keys deleted once loaded. Runs in a _GroupJob's thread; RedisError when it fails
        (the server is stopped and its files removed)."""
        folder = plane.new_folder()
        server = None
        try:
            if source is not None:
                with open(os.path.join(folder, "dump.rdb"), "wb") as handle:
                    handle.write(restore_bytes(*source))
            server = plane.ready(plane.start(folder, password))  # stops it when it fails
            for _key in range(drop):
                key, = server.call(("RANDOMKEY",))
                if key is None:
                    break
                server.call(("DEL", key))
                self._count("restored_keys_dropped")
            return server
        except BaseException:
            if server is not None:
                plane.stop(server)
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _settle_groups(self, now):
        """Move the created groups to Running or CreateFail and drop the deleted ones, once their time has come."""
        done = [key for key, (when, _state, job) in self._group_pending.items()
                if when <= now and (job is None or job.done.is_set())]  # and its server started or stopped
        for key in done:
            _when, state, job = self._group_pending.pop(key)
            if state is None:
                self._data["groups"] = [row for row in self._data["groups"] if _group_key(row) != key]
                continue
            group = self._group(*key)
            if job is not None and job.server is not None:
                if group is None or group.get("State") != "Creating" or self._plane is None:
                    threading.Thread(target=job.server.stop, daemon=True).start()  # its group went meanwhile
                    continue
                self._servers[key] = job.server
                group.update(VirtualIP="127.0.0.1", Port=job.server.port)
                self._stats["redis_servers"] += 1
            elif job is not None:
                state = "CreateFail"  # the server did not start, load or answer (job.error says why)
            if group is not None and group.get("State") == "Creating":
                group.update(State=state, ModifyTime=int(now))
        if done:
            self._group_listings = {}

    def _mutate(self, query):
        """Add a newest backup and drop the oldest of the listing, as a busy account does mid-listing."""
        if self.mutations_left == 0:
            return
        rows = newest_first(row for row in self._data["backups"] if _matches(row, query._replace(backup_id=None)))
        if not rows:
            return
        if self.mutations_left is not None:
            self.mutations_left -= 1
        self.mutations += 1
        newest, oldest = rows[0], rows[-1]
        # The mutation's number seeds the new id: the same run gives the same ids, never twice.
        seed = random.Random("mutation-%d" % self.mutations)
        backup_id = "mutated-%s" % uuid.UUID(int=seed.getrandbits(128), version=4)
        added = dict(newest, BackupId=backup_id, BackupTime=(newest.get("BackupTime") or 0) + 1,
                     BackupName="created mid-listing")
        self._data["backups"] = [row for row in self._data["backups"] if row is not oldest] + [added]
        self._listings = {}


def _tls_context(cert_file, key_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror or exc
        raise ValueError("cannot load TLS certificate %s and key %s: %s" % (cert_file, key_file, reason))
    return context


# --- HTTP ------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a burst of new connections (16 workers per client) is not dropped

    def __init__(self, *args, **kwargs):
        self._connections = set()
        self._connections_lock = threading.Lock()
        ThreadingHTTPServer.__init__(self, *args, **kwargs)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        ThreadingHTTPServer.process_request(self, request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        ThreadingHTTPServer.shutdown_request(self, request)

    def close_connections(self):
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def handle_error(self, request, client_address):
        # Resets, broken pipes and failed TLS handshakes are the client's business (and the
        # point of some faults); anything else is a bug in the emulator and is shown.
        if not isinstance(sys.exc_info()[1], OSError):
            ThreadingHTTPServer.handle_error(self, request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API gateway
    server_version = "sigcalcloud-emulator"
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's
    # delayed ACK each answer would wait about 40 ms more than --latency-ms says.
    disable_nagle_algorithm = True
    emulator = None  # set on the subclass Emulator.start makes

    def log_message(self, fmt, *args):
        if self.emulator.verbose:
            # a GET request line carries CreateURedisGroup's Password (base64 is no secret-keeping)
            line = re.sub(r"(?i)(Password=)[^&\s]*", r"\1***", fmt % args)
            sys.stderr.write("emulator: %s - %s\n" % (self.address_string(), line))

    def do_GET(self):
        self._handle(urlsplit(self.path).query)

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return self._send(400, b"bad Content-Length", "text/plain; charset=utf-8")
        self._handle(self.rfile.read(length).decode("utf-8", "replace"))

    def _handle(self, form):
        emu = self.emulator
        emu._count("requests")
        path = urlsplit(self.path).path
        if path.startswith(CONTROL_PREFIX):
            return self._control(path[len(CONTROL_PREFIX):], form)
        if path != "/":
            return self._send(404, b"not found", "text/plain; charset=utf-8")
        params = dict(parse_qsl(form, keep_blank_values=True))
        number = emu._begin_api_request(params.get("Region", ""), params.get("Action", ""))
        self._in_flight = True
        try:  # latency and faults count as in flight: that is what concurrency limits see
            self._answer_api(number, params)
        finally:
            self._land()

    def _land(self):
        """End this API request's in-flight count, once, before the client can see the answer:
        a client that sends its next request as soon as it has one is not concurrent with it."""
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            self.emulator._end_api_request()

    def _answer_api(self, number, params):
        emu = self.emulator
        action = params.get("Action", "")
        fault = emu.faults.pick(number, params.get("Region", ""))
        if emu.latency:
            time.sleep(emu.latency)
        answer, lost = None, False
        if fault == "wrong_action":
            # Another action's answer: a changing action is not performed (its right answer is not made).
            right = None if action in CHANGING_ACTIONS else emu.answer(params)
            answer = emu.mismatch(fault, params, right)
            if answer is None:  # a refusal stays a refusal; a changing action's is made below (it changes nothing)
                fault, answer = None, right
        elif fault in LISTING_FAULTS:
            answer = emu.answer(params)
            if answer["RetCode"] != 0 or "DataSet" not in answer:
                fault = None  # a refusal stays a refusal (and no fault is counted): only a listing is lied about
            elif fault in MISMATCH_LISTING_FAULTS:
                mismatched = emu.mismatch(fault, params, answer)
                fault, answer = (None, answer) if mismatched is None else (fault, mismatched)
        elif fault and action in CHANGING_ACTIONS:
            # The fault strikes in front of the backend, which never sees the request: nothing is
            # created or changed, and what the kind sends (late, cut or garbled) is the gateway's 150.
            answer = {"RetCode": 150, "Action": "%sResponse" % action, "Message": "Service unavailable"}
        if fault is None and action in CREATING_ACTIONS:
            answer = answer or emu.answer(params)
            if answer["RetCode"] == 0:  # only a create that was performed loses its answer
                fault = emu._take_lost_answer()
                lost = fault is not None
        if fault is None and action == GROUP_DELETE_ACTION:
            answer = answer or emu.answer(params)
            if answer["RetCode"] == 0:  # only a delete that was performed loses its answer
                fault = emu._take_lost_delete_answer()
                lost = fault is not None
        if fault:
            emu._count("faults_injected")
        if fault == "reset":
            return self._reset()
        if fault == "hang":
            emu._stopping.wait(emu.hang_seconds)  # this thread only: other requests go on
            if lost:
                return self._reset()  # a lost answer never arrives: the hang ends in a reset
        if fault in HTTP_ERROR_FAULTS:
            page = "<html><body><h1>%s</h1><p>The gateway is not answering.</p></body></html>" % fault
            headers = {"Retry-After": "1"} if fault == "429" else {}
            return self._send(int(fault), page.encode("utf-8"), "text/html; charset=utf-8", headers)
        if fault == "html":
            return self._send(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html; charset=utf-8")
        if fault == "empty":
            return self._send(200, b"", "application/json")
        if answer is None:
            answer = emu.answer(params)
        if fault == "truncated":
            body = _json_bytes(answer)
            return self._send(200, body[:len(body) // 2], "application/json")
        if fault in STREAMED_FAULTS:
            return self._stream(fault, answer)
        if fault in RAW_FAULTS:
            return self._send(200, _raw_json(fault, answer), "application/json")
        self._send_json(_garble(fault, answer, emu, params) if fault in GARBLED_FAULTS else answer)

    # hostile streams: each runs in its request's own thread, and ends quietly when the client
    # goes away (a failed write) or the emulator stops (stop() sets _stopping and shuts the socket)
    def _stream(self, fault, answer):
        emu = self.emulator
        if fault in ("drip", "drip_headers"):
            body = _json_bytes(answer)
            headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
            if fault == "drip":
                self._start(headers)
                return self._drip(body)
            self.log_request(200)
            return self._drip(self._head(headers) + body)
        if fault == "gzip_bomb":
            pieces = _gzip_bomb(answer, emu.oversize_bytes)
            self._start({"Content-Type": "application/json", "Content-Encoding": "gzip",
                         "Content-Length": str(sum(len(piece) for piece in pieces))})
            return self._pour(pieces)
        prefix, padding, suffix = _padded(_json_bytes(answer), emu.oversize_bytes)
        if fault == "oversized_chunked":
            self._start({"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
            return self._pour(_padding_pieces(prefix, padding, suffix), chunked=True)
        self._start({"Content-Type": "application/json", "Content-Length": str(len(prefix) + padding + len(suffix))})
        return self._pour(_padding_pieces(prefix, padding, suffix))

    def _start(self, headers):
        """Send a 200's status line and headers (with a request id) at once; the body is the caller's."""
        self.send_response(200)
        for name, value in dict(headers, **{REQUEST_ID_HEADER: str(uuid.uuid4())}).items():
            self.send_header(name, value)
        self.end_headers()

    def _head(self, headers):
        """The bytes of a 200's status line and headers, as _start would send them."""
        lines = ["%s 200 OK" % self.protocol_version, "Server: %s" % self.version_string(), "Date: %s" % self.date_time_string()]
        lines += ["%s: %s" % item for item in dict(headers, **{REQUEST_ID_HEADER: str(uuid.uuid4())}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _drip(self, data):
        """Send ``data`` a byte at a time, drip_interval apart (the first at once)."""
        emu = self.emulator
        for index in range(len(data)):
            if index and emu._stopping.wait(emu.drip_interval):
                self._gone()
                return
            if index == len(data) - 1:
                self._land()
            if not self._write(data[index:index + 1]):
                return

    def _pour(self, pieces, chunked=False):
        """Send each piece (bytes) as it is made, chunk-encoded or not, the last one after _land()."""
        pending = None
        for piece in pieces:
            if self.emulator._stopping.is_set():
                self._gone()
                return
            if pending is not None and not self._write(pending, chunked):
                return
            pending = piece
        self._land()
        if pending is not None and self._write(pending, chunked) and chunked:
            self._write(b"0\r\n\r\n")

    def _write(self, data, chunked=False):
        """Send ``data`` now; False (and the connection is done) once the client has gone."""
        if chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        try:
            self.wfile.write(data)
        except (OSError, ValueError):  # BrokenPipe, ConnectionReset, a socket stop() shut, a closed file
            self._gone()
            return False
        return True

    def _gone(self):
        self.close_connection = True

    def _reset(self):
        """Drop the connection with a TCP RST: the client gets no answer at all."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self._land()
        self.connection.close()

    def _control(self, name, form):
        emu = self.emulator
        if name.startswith("download/") and self.command == "GET":
            query = dict(parse_qsl(form, keep_blank_values=True))
            served = emu.download(unquote(name[len("download/"):]), query.get("Expires"), query.get("Signature"))
            if served is None:
                return self._send(403, b"this link is not valid (expired or altered)", "text/plain; charset=utf-8")
            return self._send_file(*served)
        routes = {("stats", "GET"): emu.stats,
                  ("reset_stats", "POST"): lambda: emu.reset_stats() or {"ok": True},
                  ("backups", "GET"): lambda: emu.data,
                  ("backups", "POST"): lambda: self._change(form),
                  ("groups", "GET"): emu.groups,
                  ("groups", "POST"): lambda: self._change_groups(form),
                  ("lose_create_answers", "GET"): self._lost_answers,
                  ("lose_create_answers", "POST"): lambda: self._lose(form),
                  ("listing_lag", "GET"): lambda: {"calls": emu.listing_lag},
                  ("listing_lag", "POST"): lambda: self._set_listing_lag(form),
                  ("corrupt", "GET"): emu.corruptions,
                  ("corrupt", "POST"): lambda: self._corrupt(form),
                  ("expired_links", "GET"): lambda: {"count": emu.expired_links_left()},
                  ("expired_links", "POST"): lambda: self._expire_links(form),
                  ("fail_group_creates", "GET"): lambda: {"count": emu.group_creates_to_fail()},
                  ("fail_group_creates", "POST"): lambda: self._fail_group_creates(form),
                  ("slow_group_creates", "GET"): lambda: self._pair(emu.group_creates_to_slow(), "seconds"),
                  ("slow_group_creates", "POST"): lambda: self._order(form, ("count", "seconds"), emu.slow_group_creates,
                                                                      emu.group_creates_to_slow),
                  ("drop_restored_keys", "GET"): lambda: self._pair(emu.restored_keys_to_drop(), "keys"),
                  ("drop_restored_keys", "POST"): lambda: self._order(form, ("count", "keys"), emu.drop_restored_keys,
                                                                      emu.restored_keys_to_drop),
                  ("lose_delete_answers", "GET"): lambda: self._pair(emu.delete_answers_to_lose(), "kind"),
                  ("lose_delete_answers", "POST"): lambda: self._order(form, ("count", "kind"), emu.lose_delete_answers,
                                                                       emu.delete_answers_to_lose, kind="reset")}
        if (name, self.command) not in routes:
            known = any(route == name for route, _method in routes)
            return self._send(405 if known else 404, b"no such emulator path or method", "text/plain; charset=utf-8")
        try:
            return self._send_json(routes[(name, self.command)]())
        except (ValueError, TypeError) as exc:  # a bad change: the data stays as it was
            return self._send(400, ("bad change: %s" % exc).encode("utf-8"), "text/plain; charset=utf-8")

    def _change(self, form):
        change = json.loads(form or "{}")
        if not isinstance(change, dict) or not all(isinstance(change.get(k, []), list) for k in ("upsert", "delete")):
            raise ValueError('send {"upsert": [rows], "delete": [backup ids]}')
        self.emulator.change(change.get("upsert", []), change.get("delete", []))
        return {"ok": True, "backups": len(self.emulator.data["backups"])}

    def _change_groups(self, form):
        change = json.loads(form or "{}")
        known = ("upsert", "delete", "fail", "succeed", "policy")
        if not isinstance(change, dict) or set(change) - set(known):
            raise ValueError('send {"upsert": [rows], "delete": [ids], "fail": [ids], "succeed": [ids], '
                             '"policy": {id: {"AutoBackup": ..., "BackupTime": ...}}}')
        for key in known[:-1]:
            if not isinstance(change.get(key, []), list):
                raise ValueError("%s must be a list" % key)
        if not isinstance(change.get("policy", {}), dict) or not all(
                isinstance(v, dict) for v in change.get("policy", {}).values()):
            raise ValueError("policy must map group ids to objects")
        self.emulator.change_groups(**change)
        return {"ok": True, "groups": len(self.emulator.groups())}

    def _lose(self, form):
        order = json.loads(form or "{}")
        if not isinstance(order, dict) or set(order) - {"count", "kind"}:
            raise ValueError('send {"count": N, "kind": "reset"}')
        self.emulator.lose_create_answers(order.get("count", 1), order.get("kind", "reset"))
        return dict(self._lost_answers(), ok=True)

    def _set_listing_lag(self, form):
        order = json.loads(form or "{}")
        if not isinstance(order, dict) or set(order) != {"calls"}:
            raise ValueError('send {"calls": N}')
        self.emulator.listing_lag = order["calls"]
        return {"ok": True, "calls": self.emulator.listing_lag}

    def _corrupt(self, form):
        order = json.loads(form or "{}")
        if not isinstance(order, dict) or set(order) != {"BackupId", "kind"}:
            raise ValueError('send {"BackupId": "...", "kind": "flip_byte"} (kind null or "none" clears)')
        self.emulator.corrupt_backup(order["BackupId"], order["kind"])
        return {"ok": True, "corrupt": self.emulator.corruptions()}

    def _expire_links(self, form):
        order = json.loads(form or "{}")
        if not isinstance(order, dict) or set(order) != {"count"}:
            raise ValueError('send {"count": N}')
        self.emulator.expire_links(order["count"])
        return {"ok": True, "count": self.emulator.expired_links_left()}

    def _fail_group_creates(self, form):
        order = json.loads(form or "{}")
        if not isinstance(order, dict) or set(order) != {"count"}:
            raise ValueError('send {"count": N}')
        self.emulator.fail_group_creates(order["count"])
        return {"ok": True, "count": self.emulator.group_creates_to_fail()}

    @staticmethod
    def _pair(values, second):
        return {"count": values[0], second: values[1]}

    def _order(self, form, names, setter, getter, **defaults):
        """POST {names[0]: N, names[1]: V} (V may default): call setter(N, V) and answer the new values."""
        order = json.loads(form or "{}")
        if not isinstance(order, dict) or set(order) - set(names) or set(names) - set(order) - set(defaults):
            raise ValueError("send {%s}" % ", ".join('"%s": ...' % name for name in names))
        setter(*[order.get(name, defaults.get(name)) for name in names])
        return dict(self._pair(getter(), names[1]), ok=True)

    def _send_file(self, length, pieces, stall):
        """Stream a download (200, Content-Length ``length``) piece by piece, each counted as sent;
        ``stall``: then hold the connection silent for hang_seconds (or until the emulator stops) and close it."""
        emu = self.emulator
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header(REQUEST_ID_HEADER, str(uuid.uuid4()))
        self.end_headers()
        emu._served(0, start=True)
        for piece in pieces:
            if emu._stopping.is_set() or not self._write(piece):
                return self._gone()
            emu._served(len(piece))
        if stall == "cut":  # the connection ends short of its Content-Length
            return self._gone()
        if stall:
            emu._stopping.wait(emu.hang_seconds)
            self._gone()

    def _lost_answers(self):
        count, kind = self.emulator.create_answers_to_lose()
        return {"count": count, "kind": kind}

    def _send_json(self, document):
        self._send(200, _json_bytes(document), "application/json")

    def _send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header(REQUEST_ID_HEADER, str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._land()
        self.end_headers()
        self.wfile.write(body)


def _json_bytes(document):
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _garble(kind, answer, emu=None, params=None):
    """A well-formed JSON answer that breaks the API's contract as ``kind`` says.

    ``emu`` (the Emulator) and ``params`` (the request's) are needed by total_claimed and endless.
    The rows a kind touches or makes up are groups in a DescribeURedisGroup answer, else backups.
    """
    action = answer.get("Action") or "%sResponse" % ACTION
    groups = action == "%sResponse" % GROUP_ACTION
    configs = action == "%sResponse" % CONFIG_ACTION
    name = "Name" if groups or configs else "BackupName"
    if kind == "retcode150":
        return {"RetCode": 150, "Action": action, "Message": "Service unavailable"}
    if kind == "no_retcode":
        return dict((k, v) for k, v in answer.items() if k != "RetCode")
    if kind == "dataset_not_list":
        return dict(answer, DataSet="not a list")
    if kind == "total_claimed":
        return dict(answer, TotalCount=emu.claimed_total)
    if kind == "endless":
        made_up = _endless_configs if configs else _endless_groups if groups else _endless_rows
        return dict(answer, TotalCount=emu.claimed_total, DataSet=made_up(params, emu.max_page_size, emu._newest))
    if kind == "empty_dataset":
        return dict(answer, DataSet=[])
    if kind == "no_dataset":
        return dict((k, v) for k, v in answer.items() if k != "DataSet")
    if kind == "control_message":
        return {"RetCode": 230, "Action": action, "Message": CONTROL_TEXT}
    if kind == "control_rows":
        def marked(row):  # a group's names only where it has them: absent is not empty
            keys = [key for key in (name, "GroupName") if not (groups or configs) or key in row]
            return dict(row, **dict((key, row.get(key, "") + CONTROL_TEXT) for key in keys))
        return dict(answer, DataSet=[marked(row) for row in answer["DataSet"]])
    if kind == "retcode_infinity":
        return dict(answer, RetCode=float("inf"))  # json.dumps writes Infinity
    if kind == "retcode_fraction":
        return dict(answer, RetCode=0.9)
    # bad_row_types: every row (or one made up, on an empty page) has the wrong types
    if configs:
        rows = answer.get("DataSet") or [{"ConfigId": "bad-row"}]
        return dict(answer, DataSet=[dict(row, CreateTime="yesterday", RegionFlag=[1]) for row in rows])
    rows = answer.get("DataSet") or [{"GroupId": "bad-row"} if groups else {"BackupId": "bad-row"}]
    wrong = {"BackupTime": "yesterday", "Size" if groups else "BackupSize": [1]}
    return dict(answer, DataSet=[dict(row, **wrong) for row in rows])


def _endless_rows(params, max_page_size, newest, count=None):
    """A full page of made-up rows at the request's Offset: valid, newest first, ids endless-<n>.
    ``count`` rows (over_limit), else min(Limit, max_page_size)."""
    offset = _int_param(params, "Offset", 0, minimum=0)
    if count is None:
        count = min(_int_param(params, "Limit", 10, minimum=1), max_page_size)
    return [{"BackupId": "endless-%d" % number, "BackupName": "endless-%d" % number,
             "BackupTime": max(0, newest - number), "BackupSize": 1 << 20, "BackupType": "Auto", "State": "Success",
             "GroupId": params.get("GroupId") or "uredis-endless", "GroupName": "endless",
             "Zone": "%s-01" % params.get("Region", ""), "MemorySize": 1, "RedisVersion": "6.0"}
            for number in range(offset, offset + count)]


def _endless_groups(params, max_page_size, newest, count=None):
    """_endless_rows for DescribeURedisGroup: made-up Running groups endless-<n>, newest first (Limit default 20)."""
    offset = _int_param(params, "Offset", 0, minimum=0)
    if count is None:
        count = min(_int_param(params, "Limit", 20, minimum=1), max_page_size)
    return [{"GroupId": "endless-%d" % number, "Name": "endless-%d" % number, "Zone": "%s-01" % params.get("Region", ""),
             "Version": "6.0", "Protocol": "redis", "Role": "master", "Type": "single", "HighAvailability": "enable",
             "AutoBackup": "enable", "BackupTime": 3, "RewriteTime": 4, "State": "Running", "Size": 1, "MemorySize": 1,
             "Port": 6379, "CreateTime": max(0, newest - number), "ModifyTime": max(0, newest - number)}
            for number in range(offset, offset + count)]


def _endless_configs(params, max_page_size, newest, count=None):
    """_endless_rows for DescribeURedisConfig: made-up Usable configurations endless-<n> of the request's Zone."""
    offset = _int_param(params, "Offset", 0, minimum=0)
    if count is None:
        count = min(_int_param(params, "Limit", 20, minimum=1), max_page_size)
    return [{"ConfigId": "endless-%d" % number, "Name": "endless-%d" % number, "Description": "endless",
             "Version": "6.0", "Zone": params.get("Zone", ""), "RegionFlag": False, "State": "Usable",
             "IsModify": "Modifiable", "CreateTime": max(0, newest - number), "ModifyTime": max(0, newest - number)}
            for number in range(offset, offset + count)]


def _json_with(document, key, raw):
    """``document`` as JSON (bytes), with ``key``'s value written as the JSON text ``raw``."""
    items = ["%s: %s" % (json.dumps(name, ensure_ascii=False), raw if name == key else json.dumps(value, ensure_ascii=False))
             for name, value in dict(document, **{key: None}).items()]
    return ("{%s}" % ", ".join(items)).encode("utf-8")


def _raw_json(kind, answer):
    """The body (bytes) of a RAW_FAULTS kind: JSON text that json.dumps would not write."""
    if kind == "retcode_huge":
        return _json_with(answer, "RetCode", "1e400")
    if kind == "huge_int":
        return _json_with(answer, "TotalCount", "1" + "0" * (HUGE_INT_DIGITS - 1))
    if kind == "deep_json":
        document = {"RetCode": 0, "Action": answer.get("Action") or "%sResponse" % ACTION, "TotalCount": 1, "DataSet": None}
        return _json_with(document, "DataSet", "[" * DEEP_JSON_DEPTH + "]" * DEEP_JSON_DEPTH)
    # lone_surrogate: ensure_ascii writes the str's lone surrogate as the escape \ud800 (UTF-8 cannot hold it)
    rows = [dict(row) for row in answer["DataSet"]]
    name = "Name" if answer.get("Action") in ("%sResponse" % GROUP_ACTION, "%sResponse" % CONFIG_ACTION) else "BackupName"
    if rows:
        rows[0][name] = rows[0].get(name, "") + LONE_SURROGATE
    return json.dumps(dict(answer, DataSet=rows)).encode("ascii")


PADDING_PREFIX = b'{"Padding": "'
_PADDING = b"x" * PAD_CHUNK
_GZIP_HEADS = {}  # oversize_bytes -> (gzip bytes so far, the compressor that made them, padding bytes in them)
_GZIP_SIZES_KEPT = 8  # each costs about size / 1000 bytes and a compressor's state (some 300 KB)
_GZIP_LOCK = threading.Lock()


def _padded(body, size):
    """(prefix, padding, suffix): the JSON object ``body`` with a first field "Padding": "xxx..." of
    ``padding`` bytes, so that the three make ``size`` bytes (or the least over it a Padding allows)."""
    rest = body[1:]  # the object's fields and its closing brace
    suffix = b'"' + (b"}" if rest == b"}" else b", " + rest)
    return PADDING_PREFIX, max(0, size - len(PADDING_PREFIX) - len(suffix)), suffix


def _padding_pieces(prefix, padding, suffix):
    """``prefix``, ``padding`` bytes of "x" in PAD_CHUNK pieces, then ``suffix``: never the whole at once."""
    yield prefix
    while padding > 0:
        yield _PADDING[:padding] if padding < PAD_CHUNK else _PADDING
        padding -= PAD_CHUNK
    yield suffix


def _gzip_bomb(answer, size):
    """The gzip body (a list of bytes) of ``answer`` padded to ``size`` bytes, compressed about 1000:1.

    The padding up to GZIP_RESERVE before the end is compressed once per size and kept (for the
    last _GZIP_SIZES_KEPT sizes; some 65 KB for 64 MiB), the rest per request from a copy of the
    compressor: the inflated text is never held.
    """
    prefix, padding, suffix = _padded(_json_bytes(answer), size)
    with _GZIP_LOCK:
        if size not in _GZIP_HEADS:
            while len(_GZIP_HEADS) >= _GZIP_SIZES_KEPT:
                del _GZIP_HEADS[next(iter(_GZIP_HEADS))]  # the oldest size
            compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: a gzip header and trailer
            done = max(0, size - len(prefix) - GZIP_RESERVE)
            head = b"".join(compressor.compress(piece) for piece in _padding_pieces(prefix, done, b""))
            _GZIP_HEADS[size] = head, compressor, done
        head, compressor, done = _GZIP_HEADS[size]
        compressor = compressor.copy()
    tail = [compressor.compress(piece) for piece in _padding_pieces(b"", max(0, padding - done), suffix)]
    return [head, b"".join(tail) + compressor.flush()]


# --- command line ----------------------------------------------------------------------

def _number(kind, minimum, what):
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a number" % text)
        if value < minimum:
            raise argparse.ArgumentTypeError("must be %s or more (%s)" % (minimum, what))
        return value
    return convert


def _parser():
    parser = argparse.ArgumentParser(
        prog="server.py", description="Local emulator of the sigcalcloud URedis backup API.",
        epilog="Fault kinds: %s. See docs/docsite/rst/emulator.rst." % ", ".join(FAULT_KINDS))
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=_number(int, 0, "0 picks a free port"), default=0, metavar="PORT", help="port (default 0: a free one)")
    add("--data", metavar="FILE", help="serve this JSON data set instead of a generated one")
    add("--regions", default=",".join(DEFAULT_REGIONS), metavar="A,B,C",
        help="regions of the generated data set (default %s)" % ",".join(DEFAULT_REGIONS))
    add("--backups-per-region", type=_number(int, 0, "a count"), default=30, metavar="N",
        help="normal backups of the demo project per region (default 30)")
    add("--seed", type=int, default=1, metavar="N", help="seed of the generated data set (default 1)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--epoch", type=int, metavar="T", help="the generated data's 'now', a UNIX time (default: fixed by the seed)")
    when.add_argument("--now-relative", action="store_true", help="generate backups from the last 30 days")
    add("--dump-data", metavar="FILE", help="write the data set to FILE as JSON")
    add("--max-page-size", type=_number(int, 1, "rows"), default=100, metavar="N", help="most rows per page (default 100)")
    add("--latency-ms", type=_number(float, 0, "milliseconds"), default=0.0, metavar="MS", help="added to every API answer")
    add("--fault-rate", type=_number(float, 0, "a fraction"), default=0.0, metavar="R", help="fraction of API requests that fail")
    add("--fault-kinds", default=",".join(TRANSIENT_FAULTS), metavar="K,K",
        help="kinds --fault-rate draws from (default %s)" % ",".join(TRANSIENT_FAULTS))
    add("--fault-seed", type=int, default=0, metavar="N", help="seed of the fault draws (default 0)")
    add("--fault-schedule", default="", metavar="N=KIND,...", help="fail API requests by number (1-based)")
    add("--fail-region", action="append", default=[], metavar="REGION[=KIND]", help="every request for REGION fails")
    add("--hang-seconds", type=_number(float, 0, "seconds"), default=30.0, metavar="S", help="how long a hang lasts (default 30)")
    add("--drip-interval", type=_number(float, 0, "seconds"), default=1.0, metavar="S",
        help="seconds between the bytes of a drip or drip_headers answer (default 1)")
    add("--oversize-bytes", type=_number(int, 0, "bytes"), default=64 << 20, metavar="N",
        help="size of an oversized, oversized_chunked or (inflated) gzip_bomb body (default %d: 64 MiB)" % (64 << 20))
    add("--claimed-total", type=_number(int, 0, "a count"), default=10 ** 12, metavar="N",
        help="the TotalCount of total_claimed and endless answers (default 10**12)")
    add("--over-limit-rows", type=_number(int, 1, "rows"), default=1000, metavar="N",
        help="the rows of every over_limit page, whatever Limit says (default 1000)")
    add("--listing-lag", type=_number(int, 0, "listing calls"), default=0, metavar="N",
        help="a created backup is left out of the next N DescribeURedisBackup answers that would list it (default 0)")
    add("--mutate-between-pages", type=int, nargs="?", const=-1, default=0, metavar="N",
        help="add and drop a row before pages with Offset > 0 (the first N; no N: every one)")
    add("--backup-seconds", type=_number(float, 0, "seconds"), default=2.0, metavar="S",
        help="how long a created backup is Backuping (default 2)")
    add("--copy-seconds", type=_number(float, 0, "seconds"), default=0.0, metavar="S",
        help="how long after its source turns Success a cross-region copy is listed (default 0)")
    add("--manual-backup-limit", type=_number(int, 0, "a count"), default=10, metavar="N",
        help="Manual backups a group may hold before creates answer 20208 (default 10)")
    add("--url-ttl", type=_number(float, 0, "seconds"), default=3600, metavar="S",
        help="how long a download link works (default 3600)")
    add("--lose-create-answers", default="0", metavar="N[=KIND]",
        help="perform the next N creates, then lose their answer: KIND is %s (default reset)" % ", ".join(LOST_ANSWER_KINDS))
    add("--group-create-seconds", type=_number(float, 0, "seconds"), default=2.0, metavar="S",
        help="how long a group made by CreateURedisGroup is Creating (default 2)")
    add("--group-delete-seconds", type=_number(float, 0, "seconds"), default=1.0, metavar="S",
        help="how long a group DeleteURedisGroup deletes is Deleting, then gone (default 1)")
    add("--lose-delete-answers", default="0", metavar="N[=KIND]",
        help="perform the next N group deletes, then lose their answer: KIND as --lose-create-answers")
    add("--redis", choices=("auto", "on", "off"), default="auto",
        help="a real redis-server behind every Running group: auto (default: when redis-server is on PATH), on, off")
    add("--tls-cert", metavar="FILE", help="certificate (PEM) to serve HTTPS with")
    add("--tls-key", metavar="FILE", help="private key (PEM) of --tls-cert")
    add("--verbose", action="store_true", help="log each request to stderr")
    return parser


def emulator_from_args(args):
    """The Emulator (not started) that parsed command-line ``args`` describe."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.data:
        data = load_dataset(args.data)
    else:
        epoch = int(time.time()) // 3600 * 3600 if args.now_relative else args.epoch
        regions = [r.strip() for r in args.regions.split(",") if r.strip()]
        data = generate_dataset(regions, args.backups_per_region, args.seed, epoch)
    count, _sep, kind = args.lose_create_answers.partition("=")
    if not count.strip().isdigit():
        raise ValueError("bad --lose-create-answers %r: use N or N=KIND, e.g. 1=reset" % args.lose_create_answers)
    delete_count, _sep, delete_kind = args.lose_delete_answers.partition("=")
    if not delete_count.strip().isdigit():
        raise ValueError("bad --lose-delete-answers %r: use N or N=KIND, e.g. 1=reset" % args.lose_delete_answers)
    faults = FaultPlan(rate=args.fault_rate, kinds=[k.strip() for k in args.fault_kinds.split(",") if k.strip()],
                       seed=args.fault_seed, schedule=parse_schedule(args.fault_schedule),
                       fail_regions=parse_fail_regions(args.fail_region))
    return Emulator(data=data, host=args.host, port=args.port, max_page_size=args.max_page_size,
                    latency=args.latency_ms / 1000.0, faults=faults, hang_seconds=args.hang_seconds,
                    mutate_between_pages=args.mutate_between_pages, drip_interval=args.drip_interval,
                    oversize_bytes=args.oversize_bytes, claimed_total=args.claimed_total,
                    backup_seconds=args.backup_seconds, manual_backup_limit=args.manual_backup_limit,
                    url_ttl=args.url_ttl, lose_create_answers=(int(count), kind.strip() or "reset"),
                    listing_lag=args.listing_lag, over_limit_rows=args.over_limit_rows, copy_seconds=args.copy_seconds,
                    group_create_seconds=args.group_create_seconds, group_delete_seconds=args.group_delete_seconds,
                    redis=args.redis, lose_delete_answers=(int(delete_count), delete_kind.strip() or "reset"),
                    tls=(args.tls_cert, args.tls_key) if args.tls_cert else None, verbose=args.verbose)


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        emulator = emulator_from_args(args)
        data = emulator.data
        if args.dump_data:
            with open(args.dump_data, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1)
        emulator.start()
    except (ValueError, OSError, OverflowError) as exc:  # user errors: a message, no traceback
        parser.exit(2, "emulator: %s\n" % exc)
    if not emulator.data_plane:
        sys.stderr.write("emulator: no data plane (%s): groups are rows, no redis-server behind them\n"
                         % ("--redis off" if args.redis == "off" else "redis-server is not on PATH"))
        sys.stderr.flush()

    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stopped.set())
    account = data["accounts"][0]
    print(json.dumps({"base_url": emulator.base_url, "port": emulator.port, "public_key": account["public_key"],
                      "private_key": account["private_key"], "regions": data["regions"],
                      "backups": len(data["backups"]), "groups": len(data["groups"])}), flush=True)
    while not stopped.wait(0.5):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
