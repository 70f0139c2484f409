#!/usr/bin/env bash
# uredis_group against the API emulator, which this target starts itself: a group restored from a
# backup (its answer lost once: the module must find the group, not make a second one), then
# deleted. Groups are Creating 1 s and Deleting 0.5 s.
set -eux
# shellcheck source-path=SCRIPTDIR
source ../setup_emulator/emulator.sh --group-create-seconds 1 --group-delete-seconds 0.5 --lose-create-answers 1=reset
ansible-playbook -i ../../inventory runme.yml "$@"
