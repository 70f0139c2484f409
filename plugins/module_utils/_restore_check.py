# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The restore check: what a restored Redis holds against what its backup file says it should.

Two halves meet here. ``probe`` asks the restored Redis (with redis-py) how many keys each
database holds and whether the canary key holds its value; ``expected`` turns the walk of the
backup's file (RdbScanner's tallies) into the range each database may hold; ``verdict`` compares
them. Nothing of the customer's data is kept or returned: counts, and the canary's yes or no.
"""

from __future__ import annotations

import re
import time
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import clip, printable

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    HAS_REDIS = True
    REDIS_IMPORT_ERROR: Optional[str] = None
except ImportError as _exc:  # the module says how to install it
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = str(_exc)

_DB_RE = re.compile(r"\Adb(\d{1,5})\Z")


class Discard:
    """A file that keeps nothing: the download is checked as it streams, and the customer's data is never
    written anywhere (Downloader writes into it, and starts it again on a retry)."""

    def __init__(self) -> None:
        self.size = 0

    def tell(self) -> int:
        return self.size

    def seek(self, offset: int) -> None:
        self.size = offset

    def truncate(self) -> None:
        pass

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, redis.exceptions.AuthenticationError) or "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
        return "authentication failed (wrong or missing password)"
    if isinstance(exc, redis.exceptions.TimeoutError):
        return "no answer within the redis_timeout of %ss" % timeout
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return clip(printable(text), 200) or type(exc).__name__


def probe(host: str, port: int, password: Optional[str], timeout: float, canary: Optional[Tuple[str, bytes, int]] = None
          ) -> Dict[str, Any]:
    """``{"found": {db: keys}, "canary_matched": bool or None, "checked_at": epoch seconds}`` of the Redis at
    ``host:port``. ``canary`` is (key, value, db). Every call waits at most ``timeout`` seconds and is not
    retried, so the whole probe has a deadline of a few timeouts. Raises SigcalcloudError naming host:port
    (never the password)."""
    where = "%s:%d" % (host, port)
    clients = []

    def client(db: int) -> Any:
        made = redis.Redis(host=host, port=port, db=db, password=password, socket_timeout=timeout,
                           socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0), decode_responses=False)
        clients.append(made)
        return made

    try:
        try:
            info = client(0).info("keyspace")
            checked_at = time.time()  # keys expiring up to now may have been expired by Redis when it answered
            matched = None
            if canary is not None:
                key, value, db = canary
                matched = client(db).get(key) == value  # bytes against bytes: no decoding of customer data
        except redis.exceptions.RedisError as exc:
            raise SigcalcloudError("could not check the Redis at %s: %s" % (where, _reason(exc, timeout)))
    finally:
        for made in clients:
            made.close()
    return {"found": _keyspace(info, where), "canary_matched": matched, "checked_at": checked_at}


def _keyspace(info: Any, where: str) -> Dict[int, int]:
    """INFO keyspace as {db: keys}; the server's answer is checked, not trusted."""
    found = {}
    problem = "the Redis at %s answered INFO keyspace with something that is not a key count per database" % where
    if not isinstance(info, dict):
        raise SigcalcloudError(problem)
    for name, fields in info.items():
        match = _DB_RE.match(str(name))
        keys = fields.get("keys") if isinstance(fields, dict) else None
        if not match or isinstance(keys, bool) or not isinstance(keys, int) or keys < 0:
            raise SigcalcloudError(problem)
        found[int(match.group(1))] = keys
    return found


def expected(tallies: List[Dict[str, Any]]) -> Dict[int, Dict[str, int]]:
    """Per database, from the walk's tallies cut at (restored_at, checked_at): ``keys`` in the file,
    ``expired_out`` (expired at or before the restore: Redis does not load them), ``expected`` (the most the
    restored database may hold) and ``expected_min`` (the least: keys expiring between the restore and the
    check may or may not have been expired by Redis)."""
    databases: Dict[int, Dict[str, int]] = {}
    for tally in tallies:
        into = databases.setdefault(tally["db"], {"keys": 0, "expired_out": 0, "expired_by_check": 0})
        into["keys"] += tally["keys"]
        into["expired_out"] += tally["expired"][0]
        into["expired_by_check"] += tally["expired"][1]
    for into in databases.values():
        into["expected"] = into["keys"] - into["expired_out"]
        into["expected_min"] = into["keys"] - into.pop("expired_by_check")
    return databases


def verdict(databases: Dict[int, Dict[str, int]], found: Dict[int, int]) -> Tuple[Dict[str, Any], List[str]]:
    """(the ``keys`` result, the failures in words): every database of the file or of the server."""
    rows, failures = [], []
    for db in sorted(set(databases) | set(found)):
        want = databases.get(db, {"keys": 0, "expired_out": 0, "expected": 0, "expected_min": 0})
        holds = found.get(db, 0)
        rows.append({"db": db, "expected": want["expected"], "expected_min": want["expected_min"], "found": holds})
        if not want["expected_min"] <= holds <= want["expected"]:
            if not want["keys"]:
                failures.append("db %d holds %d keys, the backup none" % (db, holds))
                continue
            span = want["expected"] if want["expected"] == want["expected_min"] else "%d to %d" % (
                want["expected_min"], want["expected"])
            failures.append("db %d holds %d keys, the backup %d of which %d expired before the restore (expected %s)"
                            % (db, holds, want["keys"], want["expired_out"], span))
    keys = {
        "expected": sum(row["expected"] for row in rows),
        "expected_min": sum(row["expected_min"] for row in rows),
        "found": sum(row["found"] for row in rows),
        "expired_out": sum(want["expired_out"] for want in databases.values()),
        "databases": rows,
    }
    return keys, failures
