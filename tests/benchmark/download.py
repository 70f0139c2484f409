# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""make bench, part 2: uredis_backup_download against curl, on a 1 GiB backup served by the emulator.

Side by side, in rounds, each fetching the same file from the emulator (its own process) into
a fresh path:
  curl            curl -o FILE LINK: the floor, a download that checks nothing
  module          the module's own process (its file run with its arguments, as AnsiballZ runs it):
                  download, SHA-256, CRC-64, RDB walk, move into place; wall time and peak RSS
  ansible curl    ansible localhost -m command -a "curl -o FILE LINK": Ansible doing the same work
                  with no client of ours, the floor of
  ansible module  ansible localhost -m sigcalcloud.cloud.uredis_backup_download
The ratios are module / curl (the goal: at most 1.25) and ansible module / ansible curl. The
module's peak RSS is also measured on a small file, to show it does not grow with the file.

    python tests/benchmark/download.py [--size-mib 1024] [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emulator.server import generate_dataset  # noqa: E402  # pylint: disable=wrong-import-position
from run import collections_path, import_module, log, run_child  # noqa: E402  # pylint: disable=wrong-import-position

REGION = "cn-bj2"
BACKUP_ID = "bench-download"
MODULE = os.path.join(ROOT, "plugins", "modules", "uredis_backup_download.py")


def data_file(directory, size):
    data = generate_dataset((REGION,), 5, seed=1)
    model = next(row for row in data["backups"] if row["State"] == "Success" and row.get("GroupId"))
    small = dict(model, BackupId=BACKUP_ID + "-small", BackupSize=16 << 20)
    data["backups"].extend([dict(model, BackupId=BACKUP_ID, BackupSize=size), small])
    path = os.path.join(directory, "data.json")
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path, model["GroupId"]


def start_emulator(data_path):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "emulator", "server.py"), "--port", "0",
                             "--data", data_path], stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    return proc, ready


class Subjects:
    def __init__(self, ready, group_id, directory):
        self.ready, self.group_id, self.directory = ready, group_id, directory
        sys.path.insert(0, collections_path())
        client_module = import_module("_client")
        self.backups = import_module("_backups")
        self.client = client_module.Client(ready["public_key"], ready["private_key"], base_url=ready["base_url"])
        self.env = dict(os.environ, SIGCALCLOUD_BASE_URL=ready["base_url"], SIGCALCLOUD_PUBLIC_KEY=ready["public_key"],
                        SIGCALCLOUD_PRIVATE_KEY=ready["private_key"], SIGCALCLOUD_REGION=REGION,
                        ANSIBLE_COLLECTIONS_PATH=collections_path(), NO_PROXY="*",
                        PYTHONPATH=collections_path(), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        self.count = 0

    def link(self, backup_id=BACKUP_ID):
        return self.backups.backup_url(self.client, REGION, backup_id, group_id=self.group_id)["backup_path"]

    def dest(self):
        self.count += 1
        return os.path.join(self.directory, "copy-%d.rdb" % self.count)

    def _run(self, argv, dest, expect_size):
        result = run_child(argv, self.env, self.directory, os.path.join(self.directory, "stdout"))
        size = os.path.getsize(dest) if os.path.exists(dest) else None
        if result["rc"] != 0 or size != expect_size:
            raise SystemExit("bench: %s failed (rc %s, file %s bytes): %s" % (argv[0], result["rc"], size, result["stderr"]))
        os.unlink(dest)
        return result

    def curl(self, size):
        dest = self.dest()
        return self._run(["curl", "-sS", "--fail", "-o", dest, self.link()], dest, size)

    def module_args(self, dest, backup_id=BACKUP_ID):
        return dict(backup_id=backup_id, group_id=self.group_id, dest=dest, force=True)

    def module(self, size, backup_id=BACKUP_ID):
        dest = self.dest()
        args = os.path.join(self.directory, "args.json")
        with open(args, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": self.module_args(dest, backup_id)}, handle)
        result = self._run([sys.executable, MODULE, args], dest, size)
        with open(os.path.join(self.directory, "stdout")) as handle:
            answer = json.loads(handle.read())
        if answer.get("checksum") != "ok":
            raise SystemExit("bench: the module did not verify the file: %s" % answer)
        result["crc_implementation"] = answer["crc_implementation"]
        return result

    def ansible_curl(self, size):
        dest = self.dest()
        return self._run(["ansible", "localhost", "-c", "local", "-m", "ansible.builtin.command", "-a",
                          "curl -sS --fail -o %s %s" % (dest, self.link())], dest, size)

    def ansible_module(self, size):
        dest = self.dest()
        return self._run(["ansible", "localhost", "-c", "local", "-m", "sigcalcloud.cloud.uredis_backup_download",
                          "-a", json.dumps(self.module_args(dest))], dest, size)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "benchmark", "download_results.json"))
    args = parser.parse_args(argv)
    if not shutil.which("curl"):
        raise SystemExit("bench: curl is not installed: it is the floor the download is measured against")
    size = args.size_mib << 20
    directory = tempfile.mkdtemp(prefix="sigcalcloud-bench-download-")
    emulator = None
    try:
        data_path, group_id = data_file(directory, size)
        emulator, ready = start_emulator(data_path)
        subjects = Subjects(ready, group_id, directory)
        names = ("curl", "module", "ansible_curl", "ansible_module")
        samples = dict((name, []) for name in names)
        subjects.curl(size)  # warm the emulator's path and the page cache's room once, unmeasured
        for number in range(args.rounds):
            # Each round in another order: what one run leaves to the kernel (a GiB of freed page cache)
            # falls on every subject alike.
            for name in names[number % len(names):] + names[:number % len(names)]:
                samples[name].append(getattr(subjects, name)(size))
            log("download round %d: %s" % (number + 1, ", ".join(
                "%s %.2fs" % (name, samples[name][-1]["wall"]) for name in names)))
        small = [subjects.module(16 << 20, BACKUP_ID + "-small") for _round in range(args.rounds)]
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(10)
        shutil.rmtree(directory, ignore_errors=True)

    def wall(name):
        return statistics.median(sample["wall"] for sample in samples[name])

    figures = {
        "size_bytes": size,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "crc_implementation": samples["module"][0]["crc_implementation"],
        "seconds": dict((name, round(wall(name), 3)) for name in names),
        "cpu_seconds": dict((name, round(statistics.median(sample["cpu"] for sample in samples[name]), 3))
                            for name in names),
        "mb_per_second": dict((name, round(size / 1e6 / wall(name), 1)) for name in ("curl", "module")),
        "module_over_curl": round(wall("module") / wall("curl"), 3),
        "ansible_module_over_ansible_curl": round(wall("ansible_module") / wall("ansible_curl"), 3),
        "module_over_curl_each_round": [round(m["wall"] / c["wall"], 3) for m, c in zip(samples["module"], samples["curl"])],
        "module_peak_rss_mb": round(max(sample["rss_kb"] for sample in samples["module"]) / 1024.0, 1),
        "module_peak_rss_mb_16mib_file": round(max(sample["rss_kb"] for sample in small) / 1024.0, 1),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with open(args.out, "w") as handle:
        json.dump(figures, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print(json.dumps(figures, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
