#!/usr/bin/env bash
# make bench: the speed benchmark, tests/benchmark/run.py then download.py, in the virtualenv of the default
# matrix entry (the demo's), with the collection on ANSIBLE_COLLECTIONS_PATH. Arguments go to
# run.py (the Makefile passes BENCH_ARGS): scripts/bench.sh --quick, scripts/bench.sh --help.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

venv=$(default_venv)
ANSIBLE_COLLECTIONS_PATH=$(collections_path)
export ANSIBLE_COLLECTIONS_PATH
"$venv/bin/python" "$root/tests/benchmark/run.py" "$@"
# uredis_backup_download against curl on a 1 GiB backup (tests/benchmark/download_results.json).
"$venv/bin/python" "$root/tests/benchmark/download.py"
