# shellcheck shell=bash
# Sourced by a target's runme.sh (needs/target/setup_emulator in its aliases), with the
# emulator's flags as arguments: starts tests/emulator/server.py on a free port, stops it when
# the script exits, and exports the SIGCALCLOUD_* variables that point every plugin at it.
# The working directory is the target's, inside ansible-test's copy of tests/integration, where
# ansible-test also put the emulator (needs/file in this target's aliases).
emulator_python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
emulator_ready=${OUTPUT_DIR:-.}/emulator.json
"$emulator_python" ../../../emulator/server.py --port 0 "$@" > "$emulator_ready" &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true' EXIT

# The ready line is one JSON line; until it is whole, the emulator is starting.
for _ in $(seq 100); do
  grep -q '}$' "$emulator_ready" 2>/dev/null && break
  kill -0 "$emulator_pid" || { echo "the emulator did not start" >&2; exit 1; }
  sleep 0.1
done
eval "$("$emulator_python" - "$emulator_ready" <<'PY'
import json, shlex, sys
info = json.loads(open(sys.argv[1]).readline())
for name, value in (("BASE_URL", info["base_url"]), ("PUBLIC_KEY", info["public_key"]),
                    ("PRIVATE_KEY", info["private_key"]), ("REGION", info["regions"][0])):
    print("export SIGCALCLOUD_%s=%s" % (name, shlex.quote(value)))
PY
)"
