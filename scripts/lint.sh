#!/usr/bin/env bash
# Linters over the whole collection, as `make test` runs them once:
# ruff (Python), yamllint (YAML), ansible-lint --profile production (every
# playbook, role, rulebook and inventory in docs/, playbooks/, roles/, extensions/eda/rulebooks and tests/integration), antsibull-docs (plugin documentation) and
# antsibull-changelog (fragments). Exits non-zero if any of them fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

python=$(find_python 3.11) || python=$(command -v python3)
venv=$("$root/scripts/venv.sh" lint "$python" "ansible-core>=2.19,<2.20" "$root/tests/lint-requirements.txt") || exit 1
export PATH="$venv/bin:$PATH"
failed=()
cd "$root" || exit 1

echo "== lint: ruff"
ruff check --output-format concise . || failed+=(ruff)
echo "== lint: yamllint"
yamllint --strict . || failed+=(yamllint)

# ansible-lint and antsibull-docs want the collection under ansible_collections/.
collections=$(collections_path)
echo "== lint: ansible-lint --profile production docs playbooks roles extensions/eda/rulebooks tests/integration"
(cd "$collections/ansible_collections/sigcalcloud/cloud" \
  && ANSIBLE_COLLECTIONS_PATH="$collections" ansible-lint --offline --profile production --nocolor docs playbooks roles extensions/eda/rulebooks tests/integration) \
  || failed+=(ansible-lint)
echo "== lint: antsibull-docs lint-collection-docs --plugin-docs"
(cd "$collections/ansible_collections/sigcalcloud/cloud" \
  && ANSIBLE_COLLECTIONS_PATH="$collections" antsibull-docs lint-collection-docs --plugin-docs .) \
  || failed+=(antsibull-docs)
echo "== lint: antsibull-changelog lint"
antsibull-changelog lint || failed+=(antsibull-changelog)

if [ ${#failed[@]} -gt 0 ]; then
  echo "== lint FAILED: ${failed[*]}"
  exit 1
fi
echo "== lint passed"
