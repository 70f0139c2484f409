#!/usr/bin/env bash
# The modules that act on backups (uredis_backup, uredis_backup_policy, uredis_backup_url_info,
# uredis_group_info) against the API emulator, which this target starts itself. Backups take a
# second; the first create's answer is lost after the backup was made (the module must find it,
# not take a second one).
set -eux
# shellcheck source-path=SCRIPTDIR
source ../setup_emulator/emulator.sh --backup-seconds 1 --lose-create-answers 1=reset
ansible-playbook -i ../../inventory runme.yml "$@"
