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
failed=()
start=$(date +%s)

while read -r name pyver core_spec scope; do
  python=$(find_python "$pyver") || {
    echo "== SKIP $name: python$pyver is not installed here (looked on PATH and in pyenv)"
    continue
  }
  echo "== $name: $("$python" --version), $core_spec"
  venv=$("$root/scripts/venv.sh" "$name" "$python" "$core_spec") || { failed+=("$name: setup"); continue; }

  if [ "$run_sanity" = 1 ]; then
    ensure_get_pip_cache "$venv/bin/python"
    copy=$(ansible_test_copy)
    echo "== $name: ansible-test sanity"
    (cd "$copy" && "$venv/bin/ansible-test" sanity --venv --python "$pyver" --color no) \
      || failed+=("$name: sanity")
  fi

  bash "$root/scripts/integration.sh" "$name" "$pyver" "$core_spec" || failed+=("$name: integration")

  collections=$(collections_path)
  read -ra pytest_args <<< "${PYTEST_ARGS:-}"
  if [ "$scope" = full ]; then
    suite=(tests/unit tests/e2e)
    echo "== $name: pytest (unit + end-to-end)"
  else
    suite=(tests/e2e/test_module.py tests/e2e/test_actions.py tests/e2e/test_inventory.py tests/e2e/test_release.py)
    echo "== $name: pytest (modules, inventory and release end-to-end tests)"
  fi
  (cd "$root" && PYTHONPATH="$collections" ANSIBLE_COLLECTIONS_PATH="$collections" \
     "$venv/bin/python" -m pytest -p no:cacheprovider -q "${pytest_args[@]}" "${suite[@]}") \
    || failed+=("$name: pytest")
done < <(matrix)

bash "$root/scripts/lint.sh" || failed+=("lint")
# The HTML docs site, built with warnings as errors and checked: links, anchors, empty pages and,
# with Chromium, the layout at 1280 and 800 px (scripts/docs.sh).
echo "== docs: make docs"
bash "$root/scripts/docs.sh" || failed+=("docs")
# The built tarball as Galaxy / Automation Hub and ansible-builder see it: galaxy-importer
# (ansible-lint on, no warning allowed) and ansible-builder introspect / create.
bash "$root/scripts/release_checks.sh" || failed+=("release checks")

echo "== test suite took $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
  printf '== FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "== all passed"
