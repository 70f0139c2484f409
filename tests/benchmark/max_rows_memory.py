# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Peak memory of one listing at the row limit (max_rows): the figures in docs/docsite/rst/reliability.rst.

    .venv/core2.19/bin/python tests/benchmark/max_rows_memory.py [--rows 100000]

Starts the emulator (tests/emulator/server.py) with every page of cn-bj2 full of made-up
backups (``endless``) and a TotalCount of exactly ``--rows``, and measures, each in a process
of its own (peak RSS from ``os.wait4``):

* the client alone: ``_backups.list_backups`` holding every row (a fresh Python);
* the module: ``ansible localhost -m sigcalcloud.cloud.uredis_backup_info -a "region=cn-bj2
  since=1s"`` (every row read and shaped, none returned: the module's own cost), the peak of
  the ansible process and the module process it waits for;
* the same two with a TotalCount of ten times ``--rows``: refused after the first page.

Nothing but 127.0.0.1 is contacted. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(ROOT, "tests", "emulator", "server.py")

CLIENT = r"""
import sys
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups, _client
client = _client.Client(sys.argv[1], sys.argv[2], base_url=sys.argv[3], max_rows=int(sys.argv[4]))
try:
    results, _errors = _backups.list_backups(client, [_backups.Query("cn-bj2")])
    print("rows", len(results[_backups.Query("cn-bj2")]))
except _client.SigcalcloudError as error:
    print("refused", error)
"""


def emulator(claimed):
    process = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--regions", "cn-bj2", "--backups-per-region", "5",
                                "--fail-region", "cn-bj2=endless", "--claimed-total", str(claimed)],
                               stdout=subprocess.PIPE, text=True)
    return process, json.loads(process.stdout.readline())


def measured(command, env):
    """(peak RSS in MiB of the process and the children it waited for, seconds, its output)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _pid, _status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        text = out.read()
    return round(usage.ru_maxrss / 1024.0, 1), round(time.perf_counter() - started, 2), text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rows", type=int, default=100000, help="max_rows, and the TotalCount claimed (default 100000)")
    args = parser.parse_args()
    env = dict(os.environ, ANSIBLE_CONFIG="", ANSIBLE_HOME=tempfile.mkdtemp())
    figures = {"max_rows": args.rows, "python": sys.version.split()[0]}
    for label, claimed in (("at_the_limit", args.rows), ("ten_times_the_limit", 10 * args.rows)):
        server, ready = emulator(claimed)
        try:
            keys = [ready["public_key"], ready["private_key"], ready["base_url"], str(args.rows)]
            rss, seconds, text = measured([sys.executable, "-c", CLIENT] + keys, env)
            figures["client_%s" % label] = {"peak_rss_mib": rss, "seconds": seconds, "said": text.strip()[:160]}
            module_env = dict(env, SIGCALCLOUD_PUBLIC_KEY=keys[0], SIGCALCLOUD_PRIVATE_KEY=keys[1],
                              SIGCALCLOUD_BASE_URL=keys[2], SIGCALCLOUD_MAX_ROWS=keys[3])
            ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
            rss, seconds, text = measured([ansible, "localhost", "-m", "sigcalcloud.cloud.uredis_backup_info",
                                           "-a", "region=cn-bj2 since=1s"], module_env)
            said = "refused" if "max_rows" in text else "ok" if "SUCCESS" in text else text.strip()[-200:]
            figures["module_%s" % label] = {"peak_rss_mib": rss, "seconds": seconds, "said": said}
        finally:
            server.terminate()
            server.wait()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
