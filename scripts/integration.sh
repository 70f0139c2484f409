#!/usr/bin/env bash
# ansible-test integration (tests/integration/targets/*, each starting the API emulator
# itself) for one entry of the test matrix, or for every entry without arguments:
#   scripts/integration.sh [NAME PYTHON-VERSION ANSIBLE-CORE-SPEC]
#   scripts/integration.sh core2.19 3.11 "ansible-core>=2.19,<2.20"
# Extra ansible-test arguments go through INTEGRATION_ARGS, e.g. INTEGRATION_ARGS=-v.
# Like sanity in scripts/test.sh, it runs on a copy of the collection outside the checkout.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

run_entry() {
  local name=$1 pyver=$2 core_spec=$3 python venv copy
  python=$(find_python "$pyver") || {
    echo "== SKIP $name integration: python$pyver is not installed here"
    return 0
  }
  venv=$("$root/scripts/venv.sh" "$name" "$python" "$core_spec") || return 1
  ensure_get_pip_cache "$venv/bin/python"
  copy=$(ansible_test_copy "integration-$name")
  echo "== $name: ansible-test integration"
  read -ra extra <<< "${INTEGRATION_ARGS:-}"
  # --requirements installs tests/integration/requirements.txt (requests) into ansible-test's
  # venv. (This machine's pip configuration names local indexes that may be absent: hide that noise.)
  (cd "$copy" && "$venv/bin/ansible-test" integration --venv --python "$pyver" --requirements \
     --color no "${extra[@]}" 2>&1) | grep --line-buffered -v "is ignored: it is neither a file nor a directory"
}

if [ $# -gt 0 ]; then
  run_entry "$@"
  exit
fi
failed=()
while read -r name pyver core_spec _scope; do
  run_entry "$name" "$pyver" "$core_spec" || failed+=("$name")
done < <(matrix)
[ ${#failed[@]} -eq 0 ] || { echo "== integration FAILED: ${failed[*]}"; exit 1; }
