#!/usr/bin/env bash
# The inventory plugin against the API emulator, which this target starts itself: real
# ansible-inventory --list / --graph runs, then plays on the groups the plugin makes.
# Pages hold at most 7 rows; region hk always answers HTTP 503.
set -eux
# shellcheck source-path=SCRIPTDIR
source ../setup_emulator/emulator.sh --max-page-size 7 --fail-region hk=503
out=${OUTPUT_DIR:-.}

ansible-inventory -i test.uredis_backup.yml --list > "$out/list.json"
ansible-inventory -i test.uredis_backup.yml --graph > "$out/graph.txt"
ansible-inventory -i groups.uredis_backup.yml --list > "$out/groups.json"
ansible-inventory -i partial.uredis_backup.yml --list > "$out/partial.json" 2> "$out/partial.err"
# Ansible makes a failing inventory source a mere warning unless told otherwise (as AWX does).
if ANSIBLE_INVENTORY_UNPARSED_FAILED=true ansible-inventory -i failing.uredis_backup.yml --list \
     > /dev/null 2> "$out/failing.err"; then
  echo "ansible-inventory should have failed on failing.uredis_backup.yml" >&2
  exit 1
fi

# ansible-inventory --list writes API strings as {"__ansible_unsafe": text} (2.19+ always; 2.16-2.18
# since the plugin marks them unsafe): make them plain values, as 2.19's from_json profile
# inventory_legacy would, so the checks read the same on every core.
for listing in list groups partial; do
  "$emulator_python" - "$out/$listing.json" <<'PY'
import json, sys
def plain(value):
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
text = open(sys.argv[1]).read()
with open(sys.argv[1], "w") as handle:
    json.dump(plain(json.loads(text[text.index("{"):])), handle)
PY
done

ansible-playbook -i ../../inventory -i test.uredis_backup.yml -e "out=$out" runme.yml "$@"
