#!/usr/bin/env bash
# The whole test suite, as CI runs it: for each ansible-core of the matrix
# (scripts/lib.sh), ansible-test sanity and integration, then pytest over the unit tests and the
# end-to-end tests that drive real ansible-playbook / ansible-inventory processes
# against the emulator; then the linters once (scripts/lint.sh). Exits non-zero if
# anything failed.
#   scripts/test.sh            everything
#   scripts/test.sh --no-sanity  skip ansible-test sanity (quicker local loop)
#   PYTEST_ARGS="-k inventory" scripts/test.sh --no-sanity
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

run_sanity=1
# Older managed-host Pythons for the module (tests/e2e/test_module.py skips, saying so, without them).
targets=()
for v in $(target_pythons); do
  if t=$(target_venv "$v"); then targets+=("$t"); else echo "== no python$v here: the module is not run on it"; fi
done
export SIGCALCLOUD_TEST_TARGET_PYTHONS="${targets[*]}"
[ "${1:-}" = "--no-sanity" ] && run_sanity=0
# pytest workers (pytest-xdist): one per core, as the end-to-end tests mostly wait on ansible processes.
workers=${SIGCALCLOUD_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
failed=()
steps=()
start=$(date +%s)

# step NAME COMMAND...: run it, note its seconds for the table at the end, and whether it failed.
step() {
  local name=$1 began rc
  shift
  began=$(date +%s)
  "$@"
  rc=$?
  steps+=("$(printf '%-34s %6ss  %s' "$name" "$(( $(date +%s) - began ))" "$([ $rc = 0 ] && echo ok || echo FAILED)")")
  [ $rc = 0 ] || failed+=("$name")
  return $rc
}

sanity() {
  local venv=$1 pyver=$2 copy
  ensure_get_pip_cache "$venv/bin/python"
  copy=$(ansible_test_copy)
  (cd "$copy" && "$venv/bin/ansible-test" sanity --venv --python "$pyver" --color no)
}

run_pytest() {
  local venv=$1 collections
  shift
  collections=$(collections_path)
  read -ra pytest_args <<< "${PYTEST_ARGS:-}"
  (cd "$root" && PYTHONPATH="$collections" ANSIBLE_COLLECTIONS_PATH="$collections" \
     "$venv/bin/python" -m pytest -p no:cacheprovider -q -n "$workers" "${pytest_args[@]}" "$@")
}

while read -r name pyver core_spec scope; do
  python=$(find_python "$pyver") || {
    echo "== SKIP $name: python$pyver is not installed here (looked on PATH and in pyenv)"
    continue
  }
  echo "== $name: $("$python" --version), $core_spec"
  began=$(date +%s)
  venv=$("$root/scripts/venv.sh" "$name" "$python" "$core_spec") || { failed+=("$name: setup"); continue; }
  steps+=("$(printf '%-34s %6ss  %s' "$name: virtualenv" "$(( $(date +%s) - began ))" ok)")

  if [ "$run_sanity" = 1 ]; then
    echo "== $name: ansible-test sanity"
    step "$name: sanity" sanity "$venv" "$pyver"
  fi

  step "$name: integration" bash "$root/scripts/integration.sh" "$name" "$pyver" "$core_spec"

  if [ "$scope" = full ]; then
    suite=(tests/unit tests/e2e)
    echo "== $name: pytest (unit + end-to-end, $workers workers)"
  else
    suite=(tests/e2e/test_module.py tests/e2e/test_actions.py tests/e2e/test_inventory.py tests/e2e/test_release.py)
    echo "== $name: pytest (modules, inventory and release end-to-end tests, $workers workers)"
  fi
  step "$name: pytest" run_pytest "$venv" "${suite[@]}"
done < <(matrix)

step "lint" bash "$root/scripts/lint.sh"
# The HTML docs site, built with warnings as errors and checked: links, anchors, empty pages and,
# with Chromium, the layout at 1280 and 800 px (scripts/docs.sh).
echo "== docs: make docs"
step "docs" bash "$root/scripts/docs.sh"
# The built tarball as Galaxy / Automation Hub and ansible-builder see it: galaxy-importer
# (ansible-lint on, no warning allowed) and ansible-builder introspect / create.
step "release checks" bash "$root/scripts/release_checks.sh"

echo "== where the time went"
printf '%s\n' "${steps[@]}"
echo "== test suite took $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
  printf '== FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "== all passed"
