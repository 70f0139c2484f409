#!/usr/bin/env bash
# The whole test suite, as CI runs it: for each ansible-core of the matrix
# (scripts/lib.sh), ansible-test sanity and integration, then pytest over the unit tests and the
# end-to-end tests that drive real ansible-playbook / ansible-inventory processes
# against the emulator; then the linters, the docs site and the release checks once.
# Exits non-zero if anything failed, and ends with a table of each step's seconds.
#   scripts/test.sh            everything
#   scripts/test.sh --no-sanity  skip ansible-test sanity (quicker local loop), but for its quick
#                                static tests on the newest core (~20 s; quick_sanity_tests below),
#                                which catch what pytest does not
#   PYTEST_ARGS="-k inventory" scripts/test.sh --no-sanity
#
# Two lanes run side by side (SIGCALCLOUD_TEST_LANES, default 2 where there are two cores or
# more): ansible-test sanity and lint are single-threaded, and the end-to-end tests leave a core
# idle while they wait on servers, so one lane's work fills the other's gaps. The entries of one
# Python share a lane: ansible-test keeps one set of virtualenvs per Python (~/.ansible/test),
# which two runs must not build at the same time. Each lane's lines are prefixed with its letter.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

run_sanity=1
[ "${1:-}" = "--no-sanity" ] && run_sanity=0
# Older managed-host Pythons for the module (tests/e2e/test_module.py skips, saying so, without them).
targets=()
for v in $(target_pythons); do
  if t=$(target_venv "$v"); then targets+=("$t"); else echo "== no python$v here: the module is not run on it"; fi
done
export SIGCALCLOUD_TEST_TARGET_PYTHONS="${targets[*]}"
cores=$(nproc 2>/dev/null || echo 2)
lanes=${SIGCALCLOUD_TEST_LANES:-$([ "$cores" -ge 2 ] && echo 2 || echo 1)}
# pytest workers (pytest-xdist) per run: one per core, as the end-to-end tests mostly wait.
workers=${SIGCALCLOUD_TEST_WORKERS:-$cores}
logs="$root/.build/test-run"
rm -rf "$logs"
mkdir -p "$logs"
start=$(date +%s)

# cpu_now: sets cpu to the CPU seconds (user + system) this shell's finished children have used
# so far, from the builtin times, run in this shell (in a $(...) subshell it would count only
# that subshell's children).
cpu_now() {
  local file="$logs/times.$BASHPID"
  times > "$file"
  cpu=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } printf "%d", s }' "$file")
}

# step NAME COMMAND...: run it, and note its seconds, its CPU seconds and whether it failed (in
# files, as the lanes are subshells) for the table at the end.
step() {
  local name=$1 began cpu cpu_before rc
  shift
  began=$(date +%s)
  cpu_now
  cpu_before=$cpu
  "$@"
  rc=$?
  cpu_now
  printf '%-28s %6ss %7s CPU-s  %s\n' "$name" "$(( $(date +%s) - began ))" "$(( cpu - cpu_before ))" \
    "$([ $rc = 0 ] && echo ok || echo FAILED)" >> "$logs/steps"
  [ $rc = 0 ] || echo "$name" >> "$logs/failed"
  return $rc
}

# sanity VENV PYTHON-VERSION NAME [ANSIBLE-TEST ARGS...]: ansible-test sanity, all of it unless
# the arguments pick tests.
sanity() {
  local venv=$1 pyver=$2 name=$3 copy
  shift 3
  ensure_get_pip_cache "$venv/bin/python"
  copy=$(ansible_test_copy "sanity-$name")
  (cd "$copy" && "$venv/bin/ansible-test" sanity --venv --python "$pyver" --color no "$@")
}
# The sanity tests that take seconds, not minutes: make test-quick runs them on the newest core
# (whose validate-modules is the strictest), as a stray blank line fails sanity on every core.
quick_sanity_tests=(--test pep8 --test compile --test validate-modules --test shellcheck --test yamllint)
newest_entry=$(matrix | tail -n 1 | cut -d' ' -f1)

run_pytest() {
  local venv=$1 name=$2 collections temp
  shift 2
  collections=$(collections_path)
  temp="${TMPDIR:-/tmp}/sigcalcloud-pytest-$(id -u)"
  mkdir -p "$temp"
  read -ra pytest_args <<< "${PYTEST_ARGS:-}"
  # Each run its own temporary folder: pytest prunes older ones, which may be another lane's.
  (cd "$root" && PYTHONPATH="$collections" ANSIBLE_COLLECTIONS_PATH="$collections" \
     "$venv/bin/python" -m pytest -p no:cacheprovider -q -n "$workers" \
     --basetemp "$temp/$name" "${pytest_args[@]}" "$@")
}

# run_entry NAME PYTHON-VERSION CORE-SPEC SCOPE: one matrix entry's sanity, integration and pytest.
run_entry() {
  local name=$1 pyver=$2 core_spec=$3 scope=$4 python venv suite
  python=$(find_python "$pyver") || {
    echo "== SKIP $name: python$pyver is not installed here (looked on PATH and in pyenv)"
    return 0
  }
  echo "== $name: $("$python" --version), $core_spec"
  venv=$(step "$name: virtualenv" "$root/scripts/venv.sh" "$name" "$python" "$core_spec") || return 1
  if [ "$run_sanity" = 1 ]; then
    echo "== $name: ansible-test sanity"
    step "$name: sanity" sanity "$venv" "$pyver" "$name"
  elif [ "$name" = "$newest_entry" ]; then
    echo "== $name: ansible-test sanity, the quick tests only (${quick_sanity_tests[*]})"
    step "$name: quick sanity" sanity "$venv" "$pyver" "$name" "${quick_sanity_tests[@]}"
  fi
  step "$name: integration" bash "$root/scripts/integration.sh" "$name" "$pyver" "$core_spec"
  if [ "$scope" = full ]; then
    suite=(tests/unit tests/e2e)
    echo "== $name: pytest (unit + end-to-end, $workers workers)"
  else
    suite=(tests/e2e/test_module.py tests/e2e/test_actions.py tests/e2e/test_inventory.py tests/e2e/test_release.py)
    echo "== $name: pytest (modules, inventory and release end-to-end tests, $workers workers)"
  fi
  # Its failure is in the table already; run_entry fails only when it could not set up the entry.
  step "$name: pytest" run_pytest "$venv" "$name" "${suite[@]}" || true
}

# Once, after the matrix entries of a lane.
run_once() {
  step "lint" bash "$root/scripts/lint.sh"
  # The HTML docs site, built with warnings as errors and checked: links, anchors, empty pages and,
  # with Chromium, the layout at 1280 and 800 px (scripts/docs.sh).
  echo "== docs: make docs"
  step "docs" bash "$root/scripts/docs.sh"
  # The built tarball as Galaxy / Automation Hub and ansible-builder see it: galaxy-importer
  # (ansible-lint on, no warning allowed) and ansible-builder introspect / create.
  step "release checks" bash "$root/scripts/release_checks.sh"
}

# lane_plan LANES: "LANE NAME PYTHON CORE-SPEC SCOPE" for every matrix entry, the entries of one
# Python in one lane, lanes balanced by weight (a full entry counts 2, a core one 1, in the order
# of the matrix); then "LANE once" for the lightest lane, which also runs lint, docs and release.
lane_plan() {
  matrix | awk -v lanes="$1" '
    { w = ($4 == "full") ? 2 : 1
      if (!($2 in weight)) order[++n] = $2
      weight[$2] += w; entries[$2] = entries[$2] $0 "\n" }
    END {
      for (i = 1; i <= n; i++) {            # heaviest Python first
        for (j = i + 1; j <= n; j++) if (weight[order[j]] > weight[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
      }
      for (l = 1; l <= lanes; l++) load[l] = 0
      for (i = 1; i <= n; i++) {
        best = 1
        for (l = 2; l <= lanes; l++) if (load[l] < load[best]) best = l
        lane[order[i]] = best; load[best] += weight[order[i]]
      }
      light = 1
      for (l = 2; l <= lanes; l++) if (load[l] < load[light]) light = l
    }
    { line[NR] = $0; py[NR] = $2 }
    END { for (k = 1; k <= NR; k++) print lane[py[k]], line[k]; print light, "once" }'
}

run_lane() {
  local lane=$1 this name pyver core_spec scope
  while read -r this name pyver core_spec scope; do
    [ "$this" = "$lane" ] || continue
    if [ "$name" = once ]; then
      run_once
    else
      run_entry "$name" "$pyver" "$core_spec" "$scope" || echo "$name: setup" >> "$logs/failed"
    fi
  done < <(lane_plan "$lanes")
  printf "%-28s %6ss\n" "lane $lane done after" "$(( $(date +%s) - start ))" >> "$logs/lanes"
}

echo "== $lanes lane(s), $workers pytest workers each"
pids=()
for lane in $(seq "$lanes"); do
  letter=$(echo ABCDEFGH | cut -c"$lane")
  ( run_lane "$lane" 2>&1 | sed -u "s/^/[$letter] /" ) &
  pids+=($!)
done
wait "${pids[@]}"

echo "== where the time went (lanes side by side)"
cat "$logs/steps" "$logs/lanes" 2>/dev/null
echo "== test suite took $(( $(date +%s) - start ))s"
if [ -s "$logs/failed" ]; then
  sed 's/^/== FAILED: /' "$logs/failed"
  exit 1
fi
echo "== all passed"
