#!/usr/bin/env bash
# The module against the API emulator, which this target starts itself. Pages hold at most
# 7 rows (so a listing takes several concurrent pages), the first two API requests fail (503,
# then a reset: the module must retry through them) and region hk always answers HTTP 503.
set -eux
# shellcheck source-path=SCRIPTDIR
source ../setup_emulator/emulator.sh --max-page-size 7 --fault-schedule 1=503,2=reset --fail-region hk=503
ansible-playbook -i ../../inventory runme.yml "$@"
