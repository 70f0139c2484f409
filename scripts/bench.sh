#!/usr/bin/env bash
# make bench: the speed benchmark, tests/benchmark/run.py, download.py then drill.py, in the virtualenv of the
# default matrix entry (the demo's), with the collection on ANSIBLE_COLLECTIONS_PATH. Arguments go to
# run.py (the Makefile passes BENCH_ARGS): scripts/bench.sh --quick, scripts/bench.sh --help; --quick goes to
# drill.py too.
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
# The restore drill against the emulator's own restore time, with real redis-servers
# (tests/benchmark/drill_results.json); skipped, saying so, where redis-server is not installed.
drill_args=()
for arg in "$@"; do
  if [ "$arg" = --quick ]; then drill_args+=(--quick); fi
done
if command -v redis-server >/dev/null; then
  "$venv/bin/python" "$root/tests/benchmark/drill.py" "${drill_args[@]}"
else
  echo "bench: redis-server is not installed: the restore drill's benchmark (tests/benchmark/drill.py) is skipped" >&2
fi
