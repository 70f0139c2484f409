# shellcheck shell=bash
# Shared shell helpers of the scripts/*.sh and of the integration targets' emulator.sh
# (sourced, not run). The sourcing script sets root, the checkout's top folder (for emulator.sh,
# the top of ansible-test's copy, which holds this file: needs/file/scripts/lib.sh).
: "${root:?scripts/lib.sh needs root set to the checkout}"

# The test matrix: NAME PYTHON-VERSION ANSIBLE-CORE-SPEC SCOPE. Every entry runs ansible-test
# sanity and integration; SCOPE "full" runs the whole unit and end-to-end suite, "core" the
# module, inventory and release end-to-end tests (tests/e2e/test_module.py, test_inventory.py,
# test_release.py). 2.16 is the oldest core we support (Automation Platform 2.5), 2.19 the first
# with data tagging, 2.21 the newest on PyPI. Each Python is one the core supports as controller.
matrix() {
  echo "core2.16 3.12 ansible-core>=2.16,<2.17 full"
  echo "core2.17 3.12 ansible-core>=2.17,<2.18 core"
  echo "core2.18 3.13 ansible-core>=2.18,<2.19 core"
  echo "core2.19 3.11 ansible-core>=2.19,<2.20 full"
  echo "core2.20 3.12 ansible-core>=2.20,<2.21 core"
  echo "core2.21 3.13 ansible-core>=2.21,<2.22 full"
}

# The entry the demo and the benchmark use: the README's Python 3.11.
default_entry() {
  matrix | grep "^core2.19 "
}

# default_venv -> the virtualenv of the default entry (made or reused by scripts/venv.sh), for
# make demo and make bench.
default_venv() {
  local name pyver core_spec python
  read -r name pyver core_spec _ < <(default_entry)
  python=$(find_python "$pyver") || python=$(command -v python3)
  "$root/scripts/venv.sh" "$name" "$python" "$core_spec"
}

# Managed-host Pythons the module is also run on, besides the controller's own (the newest
# each core supports as a target): 3.7 is the oldest the module supports (its python_requires,
# tests/config.yml), and the oldest 2.16 and 2.17 run modules on; 2.18 and 2.19 start at 3.8,
# 2.20 and later at 3.9. A core that refuses one says so and the test skips with its message.
target_pythons() {
  echo "3.7 3.8 3.9"
}

# target_venv 3.8 -> the python of a small venv with requests, for running the module
# on an older managed-host Python; nothing when that Python is not installed.
target_venv() {
  local v=$1 python venv
  python=$(find_python "$v") || return 1
  venv="$root/.venv/target-py$v"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import requests" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2 && "$venv/bin/python" -m pip install --quiet requests 2>&1 \
      | grep -v "is ignored: it is neither a file nor a directory" >&2
  fi
  "$venv/bin/python" -c "import requests" 2>/dev/null && echo "$venv/bin/python"
}

# find_python 3.13 -> path of a working interpreter of that version, or nothing.
# pyenv's own installs come first: its shims on PATH fail for versions not selected.
find_python() {
  local v=$1 p
  for p in "$(pyenv root 2>/dev/null)"/versions/"$v".*/bin/"python$v" \
           "$HOME"/.pyenv/versions/"$v".*/bin/"python$v" \
           "$(command -v "python$v" 2>/dev/null)"; do
    if [ -n "$p" ] && [ -x "$p" ] && "$p" -c "" 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# The collection must sit under ansible_collections/sigcalcloud/cloud for Ansible
# to load it; a symlink keeps edits live for playbook runs.
collections_path() {
  local dir="$root/.build/collections/ansible_collections/sigcalcloud"
  mkdir -p "$dir"
  [ -L "$dir/cloud" ] || ln -sfn "$root" "$dir/cloud"
  echo "$root/.build/collections"
}

# ansible-test resolves symlinks to find the collection root, so it gets a copy of
# the files git would ship (tracked plus untracked-but-not-ignored). The copy lives
# outside this checkout: inside it, git would hide it from ansible-test as ignored.
#   ansible_test_copy [NAME]: one copy per NAME, so that runs side by side (scripts/test.sh's
#   lanes) never share one.
ansible_test_copy() {
  local dest
  dest="${TMPDIR:-/tmp}/sigcalcloud-ansible-test-$(id -u)/$(echo "$root" | sha256sum | cut -c1-12)/${1:-default}/ansible_collections/sigcalcloud/cloud"
  rm -rf "$dest"
  mkdir -p "$dest"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | tar --null -T - -cf -) | tar -xf - -C "$dest"
  echo "$dest"
}

# ansible-test --venv fetches a get-pip script from the internet; this machine is
# offline but for the package registries. ansible-test first looks in its cache, so
# put there a stand-in that bootstraps pip with ensurepip and installs from PyPI.
ensure_get_pip_cache() {
  local python=$1 version cache
  version=$("$python" - <<'PY'
import pathlib, re, ansible_test
text = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)
  cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  if ! cmp -s "$root/scripts/get_pip_offline.py" "$cache"; then
    # (copied, then moved into place: a run beside this one may be reading it)
    mkdir -p "$(dirname "$cache")"
    cp "$root/scripts/get_pip_offline.py" "$cache.$$"
    mv -f "$cache.$$" "$cache"
  fi
}

# start_emulator PYTHON [server flags...]: starts tests/emulator/server.py with PYTHON on a free
# port, waits until it is ready, and exports the SIGCALCLOUD_* variables that point the collection
# at it (base URL, the demo key pair, its first region); EMULATOR_PID is its process, which
# stop_emulator stops. Returns non-zero (the emulator stopped) when it does not get ready.
# The one way the scripts start it: make demo (scripts/demo.sh) and the integration targets
# (tests/integration/targets/setup_emulator/emulator.sh) both come here.
start_emulator() {
  local python=$1; shift
  local ready
  ready=$(mktemp)
  "$python" "$root/tests/emulator/server.py" --port 0 "$@" > "$ready" &
  EMULATOR_PID=$!
  # When ready, the emulator prints one JSON line (server.py's docstring): a flat object, so
  # a line that ends in "}" is the whole of it, where a file that is not empty may hold half.
  local waited=0
  until grep -q '}$' "$ready" 2>/dev/null; do
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
      echo "the emulator failed to start" >&2
      rm -f "$ready"
      return 1
    fi
    if [ "$waited" -ge 100 ]; then
      echo "the emulator was not ready within 10 s" >&2
      stop_emulator
      rm -f "$ready"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  eval "$("$python" - "$ready" <<'PY'
import json, shlex, sys
info = json.loads(open(sys.argv[1]).readline())
for name, key in (("BASE_URL", "base_url"), ("PUBLIC_KEY", "public_key"), ("PRIVATE_KEY", "private_key")):
    print("export SIGCALCLOUD_%s=%s" % (name, shlex.quote(str(info[key]))))
print("export SIGCALCLOUD_REGION=%s" % shlex.quote(info["regions"][0]))
PY
)"
  rm -f "$ready"
}

stop_emulator() {
  if [ -n "${EMULATOR_PID:-}" ]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=
  fi
}
