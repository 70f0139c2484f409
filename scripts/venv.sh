#!/usr/bin/env bash
# Create (or reuse) a project-local virtualenv.
#   scripts/venv.sh NAME PYTHON ANSIBLE_CORE_SPEC [REQUIREMENTS_FILE...]
# Without requirements files: every tests/requirements/*.txt (a test matrix entry).
# tests/constraints.txt constrains every venv. Prints the venv's path. Re-installs only when
# the requirements or the constraints change.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1 python=$2 core_spec=$3
shift 3
venv="$root/.venv/$name"
stamp="$venv/.requirements.sha"
if [ $# -gt 0 ]; then
  requirements=("$@")
else
  requirements=("$root"/tests/requirements/*.txt)
fi
constraints="$root/tests/constraints.txt"
want=$( { cat "${requirements[@]}" "$constraints"; echo "$core_spec"; "$python" --version; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== setting up $venv ($("$python" --version), $core_spec)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # (this machine's pip configuration names local indexes that may be absent: hide that noise)
  { "$venv/bin/python" -m pip install --quiet --upgrade pip \
      && "$venv/bin/python" -m pip install --quiet --constraint "$constraints" \
           "$core_spec" "${requirements[@]/#/--requirement=}"
  } 2>&1 | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  "$venv/bin/python" -c "import ansible" || { echo "== setting up $venv failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
echo "$venv"
