#!/usr/bin/env bash
# The README's first command: set up a project-local virtualenv, start the emulator,
# run the example playbook and an ad-hoc call against it, then stop the emulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

venv=$(default_venv)
export ANSIBLE_COLLECTIONS_PATH
ANSIBLE_COLLECTIONS_PATH=$(collections_path)
export PATH="$venv/bin:$PATH" ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
# The demo plays run on the implicit localhost; spare the reader Ansible's notes about it.
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

trap stop_emulator EXIT
# --now-relative: backup times end at the current hour, so "the last 30 days" has data.
start_emulator "$venv/bin/python" --now-relative
echo "== emulator on $SIGCALCLOUD_BASE_URL (demo key $SIGCALCLOUD_PUBLIC_KEY, region $SIGCALCLOUD_REGION)"

cd "$root/docs/examples"
echo "== ansible-playbook demo_playbook.yml"
ansible-playbook demo_playbook.yml

echo "== ansible localhost -m sigcalcloud.cloud.uredis_backup_info -a 'state=Error'"
ansible localhost -m sigcalcloud.cloud.uredis_backup_info -a "state=Error" \
  | "$venv/bin/python" -c 'import json, sys; text = sys.stdin.read(); data = json.loads(text[text.index("{"):]); print("%d failed backups, for example:" % len(data["backups"])); print(json.dumps(data["backups"][:1], indent=2, ensure_ascii=False))'
echo "== ansible-inventory -i demo.uredis_backup.yml --graph"
ansible-inventory -i demo.uredis_backup.yml --graph

echo "== ansible-playbook -i demo.uredis_backup.yml -i groups.uredis_backup.yml failed_backups_playbook.yml"
ansible-playbook -i demo.uredis_backup.yml -i groups.uredis_backup.yml failed_backups_playbook.yml

# A Redis group that has never been backed up, with automatic backups off: the inventory shows it,
# and the remediation playbook takes a backup (waiting for it) and switches its backups on.
stale=uredis-${SIGCALCLOUD_REGION//-/}-91
echo "== ansible-inventory -i groups.uredis_backup.yml --host $stale (a group with no backup at all)"
ansible-inventory -i groups.uredis_backup.yml --host "$stale" \
  | "$venv/bin/python" -c 'import json, sys; facts = json.load(sys.stdin); print({k: facts[k] for k in ("group_id", "state", "auto_backup", "uredis_backups", "uredis_latest_successful_backup")})'
echo "== ansible-playbook sigcalcloud.cloud.remediate_uredis_backups -e group_id=$stale (repair it)"
ansible-playbook sigcalcloud.cloud.remediate_uredis_backups -e "group_id=$stale" -e uredis_poll_interval=1
echo "== ansible-playbook sigcalcloud.cloud.remediate_uredis_backups -e group_id=$stale (again: nothing to do)"
ansible-playbook sigcalcloud.cloud.remediate_uredis_backups -e "group_id=$stale" -e uredis_poll_interval=1
copies=$(mktemp -d)
echo "== ansible-playbook verified_copy_playbook.yml -e group_id=$stale (download its new backup, proven whole)"
ansible-playbook verified_copy_playbook.yml -e "group_id=$stale" -e "dest=$copies/"
rm -rf "$copies"
# The proof that a backup works is restoring it: the emulator's groups are real redis-servers when
# Debian's redis-server is installed, so the drill restores the backup just taken and counts its keys.
if command -v redis-server >/dev/null 2>&1; then
  report=$(mktemp)
  echo "== ansible-playbook sigcalcloud.cloud.restore_drill -e group_id=$stale (restore its backup into a scratch group, check, delete)"
  ansible-playbook sigcalcloud.cloud.restore_drill -e "group_id=$stale" -e restore_drill_poll_interval=1 \
    -e "restore_drill_report_file=$report"
  "$venv/bin/python" -c 'import json, sys; r = json.load(open(sys.argv[1]))["results"][0]; print({k: r[k] for k in ("group_id", "backup_id", "passed", "restore_seconds", "key_counts", "scratch_group_gone")})' "$report"
  rm -f "$report"
else
  echo "== restore drill skipped: the emulator's groups need Debian's redis-server to hold data (sudo apt-get install redis-server)"
fi
echo "== demo finished"
