# shellcheck shell=bash
# Sourced by a target's runme.sh (needs/target/setup_emulator in its aliases), with the
# emulator's flags as arguments: starts tests/emulator/server.py on a free port, stops it when
# the script exits, and exports the SIGCALCLOUD_* variables that point every plugin at it.
# It runs inside ansible-test's copy of tests/integration, where ansible-test also put the
# emulator and scripts/lib.sh (needs/file in this target's aliases); lib.sh's start_emulator
# is the one way the scripts start the emulator, make demo's too.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
emulator_python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
trap stop_emulator EXIT
start_emulator "$emulator_python" "$@"
