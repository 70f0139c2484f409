#!/usr/bin/env bash
# The release checks, as `make test` runs them once: build the release tarball, run
# galaxy-importer on it as Galaxy and Automation Hub import it (offline: ansible-lint on, its
# ansible-test step off), failing on any warning or error in its output, build the docs site
# from the installed tarball, then the execution-environment tests (tests/e2e/test_ee.py:
# ansible-builder introspect and create) on that same tarball. In their own virtualenv,
# .venv/release (tests/release-requirements.txt).
# Exits non-zero if anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

start=$(date +%s)
python=$(find_python 3.11) || python=$(command -v python3)
venv=$("$root/scripts/venv.sh" release "$python" "ansible-core>=2.19,<2.20" "$root/tests/release-requirements.txt") \
  || { echo "== release checks FAILED: setting up .venv/release"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sigcalcloud-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/ansible-tmp"
# Every tool below runs in a clean environment: the venv's tools first on PATH, a home of its
# own (no ~/.ansible, no user configuration), no ANSIBLE_*, PYTHONPATH or GALAXY_IMPORTER_*
# variables of the caller's.
clean_env=(env -i "PATH=$venv/bin:/usr/local/bin:/usr/bin:/bin" "HOME=$work/home" "LANG=C.UTF-8"
           "TMPDIR=$work" "ANSIBLE_NOCOLOR=1")
failed=()

echo "== release: ansible-galaxy collection build"
"${clean_env[@]}" ansible-galaxy collection build "$root" --output-path "$work/dist" \
  || { echo "== release checks FAILED: build"; exit 1; }
tarballs=("$work"/dist/sigcalcloud-cloud-*.tar.gz)
tarball=${tarballs[0]}

# galaxy-importer's settings (galaxy_importer/config.py). REQUIRE_V1_OR_GREATER is on, as Automation
# Hub's certification wants: a galaxy.yml version below 1.0.0 fails the import.
cat > "$work/galaxy-importer.cfg" <<EOF
[galaxy-importer]
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
RUN_ANSIBLE_DOC = True
CHECK_CHANGELOG = True
CHECK_REQUIRED_TAGS = True
REQUIRE_V1_OR_GREATER = True
LOG_LEVEL_MAIN = INFO
ANSIBLE_LOCAL_TMP = $work/ansible-tmp
TMP_ROOT_DIR = $work
EOF

echo "== release: galaxy-importer $(basename "$tarball")"
# It writes importer_result.json into its working directory: the work folder.
(cd "$work" && "${clean_env[@]}" "GALAXY_IMPORTER_CONFIG=$work/galaxy-importer.cfg" \
   python -m galaxy_importer.main "$tarball") > "$work/importer.log" 2>&1
importer_rc=$?
sed 's/^/   /' "$work/importer.log"
# Its log: INFO lines bare, every other level as "LEVEL: message" (ansible-lint findings are
# WARNINGs). Anything but a clean, completed import fails.
problems=$(grep -cE '^(WARNING|ERROR|CRITICAL)|Traceback' "$work/importer.log")
if [ "$importer_rc" != 0 ] || [ "$problems" != 0 ] \
   || ! grep -qx "Importer processing completed successfully" "$work/importer.log" \
   || ! grep -q "^Linting collection via ansible-lint" "$work/importer.log"; then
  echo "== galaxy-importer FAILED: exit code $importer_rc, $problems warning or error line(s)"
  failed+=(galaxy-importer)
else
  echo "== galaxy-importer passed: no warning, no error"
fi

echo "== release: the docs site, built from the installed tarball"
# What Galaxy and Automation Hub build: antsibull-docs on the installed collection, its guides
# from the tarball's docs/docsite. Links, anchors and empty pages are checked; the layout
# check in Chromium ran on the checkout's site (make docs) and is not repeated.
if "${clean_env[@]}" ansible-galaxy collection install "$tarball" -p "$work/installed" > "$work/install.log" 2>&1 \
   && SIGCALCLOUD_DOCS_COLLECTIONS_PATH="$work/installed" SIGCALCLOUD_DOCS_SITE="$work/docsite" \
      SIGCALCLOUD_DOCS_NO_BROWSER=1 bash "$root/scripts/docs.sh"; then
  echo "== docs site from the tarball passed"
else
  sed 's/^/   /' "$work/install.log"
  echo "== docs site from the tarball FAILED"
  failed+=("docs site from the tarball")
fi

echo "== release: pytest tests/e2e/test_ee.py (ansible-builder)"
# The tests skip where ansible-builder is missing; here it must be there, so that they run.
if ! "$venv/bin/python" -c "import ansible_builder" 2>/dev/null; then
  echo "== ansible-builder is not importable in $venv: tests/release-requirements.txt installs it"
  failed+=("ansible-builder missing")
else
  (cd "$root" && "${clean_env[@]}" "SIGCALCLOUD_RELEASE_TARBALL=$tarball" \
     python -m pytest -p no:cacheprovider -q -rs tests/e2e/test_ee.py) \
    || failed+=("pytest test_ee.py")
fi

echo "== release checks took $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== release checks FAILED: ${failed[*]}"
  exit 1
fi
echo "== release checks passed"
