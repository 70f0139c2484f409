#!/usr/bin/env bash
# `make docs`: the collection's HTML docs site in .build/docsite/build/html, built as
# antsibull-docs' own `sphinx-init` + build.sh would, in .venv/docs, with Sphinx -W.
#
# The guides are written once, in Markdown (docs/*.md: GitHub and Galaxy show them as they
# are). antsibull-docs only takes RST extra docs, so each guide has a short stand-in page in
# docs/docsite/rst/ (listed in extra-docs.yml, checked by lint-collection-docs) whose first
# line is ".. markdown-guide: docs/X.md". Here, after antsibull-docs has copied the pages
# into the site, each stand-in is replaced by its Markdown guide, which myst-parser renders.
# An RST include of the Markdown would not do: lint-collection-docs checks each page on its
# own, away from docs/, and fails on the include.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

python=$(find_python 3.11) || python=$(command -v python3)
venv=$("$root/scripts/venv.sh" docs "$python" "ansible-core>=2.19,<2.20" "$root/tests/docs-requirements.txt")
export PATH="$venv/bin:$PATH"
ANSIBLE_COLLECTIONS_PATH=$(collections_path)
export ANSIBLE_COLLECTIONS_PATH
site="$root/.build/docsite"
rm -rf "$site"
mkdir -p "$root/.build"
mkdir -m 755 "$site"  # antsibull-docs wants it writable by its owner only

antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" \
  --project sigcalcloud.cloud --copyright "sigcalcloud.cloud contributors" \
  --title "sigcalcloud.cloud documentation" sigcalcloud.cloud >/dev/null

# Ours on top of the generated conf.py: Markdown pages, and Ansible's own docs from a local
# inventory (this build must not depend on the network; see below).
cat >> "$site/conf.py" <<'EOF'

# --- added by scripts/docs.sh ---
extensions.append('myst_parser')
myst_heading_anchors = 3
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),
}
EOF

# The labels of Ansible's docs that the generated plugin pages refer to. A new one shows up as
# an "undefined label" or "reference target not found" warning, which fails the build: add it here.
"$venv/bin/python" - "$site/ansible_devel.inv" <<'EOF'
import sys, zlib
entries = """\
ansible_configuration_settings std:label -1 reference_appendices/config.html#ansible-configuration-settings Ansible Configuration Settings
common_return_values std:label -1 reference_appendices/common_return_values.html#common-return-values Return Values
ANSIBLE_CACHE_PLUGIN std:envvar 1 reference_appendices/config.html#envvar-$ -
ANSIBLE_CACHE_PLUGIN_CONNECTION std:envvar 1 reference_appendices/config.html#envvar-$ -
ANSIBLE_CACHE_PLUGIN_PREFIX std:envvar 1 reference_appendices/config.html#envvar-$ -
ANSIBLE_CACHE_PLUGIN_TIMEOUT std:envvar 1 reference_appendices/config.html#envvar-$ -
"""
header = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
         b"# The remainder of this file is compressed using zlib.\n"
with open(sys.argv[1], "wb") as f:
    f.write(header + zlib.compress(entries.encode()))
EOF

cd "$site"
# The two steps of the generated build.sh, with the stand-ins swapped in between.
chmod og-w rst  # sphinx-init made it; antsibull-docs wants it writable by its owner only
antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --use-current \
  --fail-on-error --dest-dir rst sigcalcloud.cloud >/dev/null

docsite=rst/collections/sigcalcloud/cloud/docsite
"$venv/bin/python" - "$root" "$docsite" <<'EOF'
# Replace each stand-in page by its Markdown guide, under the page's own label. Links to
# other guides (X.md) stay links between pages; links to other files of the repository
# go to GitHub, where those files are shown.
import pathlib, posixpath, re, sys
root, docsite = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
blob = "https://github.com/sigcalcloud/ansible-collection-cloud/blob/main/"

def link(match):
    target = match.group(2)
    if re.match(r"[a-z]+:|#", target) or target.split("#")[0].endswith(".md"):
        return match.group(0)
    return match.group(1) + blob + posixpath.normpath("docs/" + target) + ")"

for page in sorted(docsite.glob("*.rst")):
    text = page.read_text(encoding="utf-8")
    source = re.match(r"\.\. markdown-guide: (\S+)\n", text)
    if not source:
        continue  # a page written in RST
    label = re.search(r"^\.\. _([^:]+):$", text, re.M).group(1)
    guide = (root / source.group(1)).read_text(encoding="utf-8")
    guide = re.sub(r"(\]\()([^)\s]+)\)", link, guide)
    page.with_suffix(".md").write_text("(%s)=\n\n%s" % (label, guide), encoding="utf-8")
    page.unlink()
EOF

sphinx-build -M html rst build -c . -W --keep-going -q

# Every plugin and every guide has its page.
html=build/html/collections/sigcalcloud/cloud
pages=(uredis_backup_info_module uredis_backup_inventory)
for rst in "$root"/docs/docsite/rst/*.rst; do pages+=("docsite/$(basename "$rst" .rst)"); done
for page in "${pages[@]}"; do
  [ -s "$html/$page.html" ] || { echo "docs: missing $html/$page.html" >&2; exit 1; }
done
echo "== docs built: $site/build/html/index.html"
