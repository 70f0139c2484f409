#!/usr/bin/env bash
# `make docs` (and part of `make test`): the collection's HTML docs site in
# .build/docsite/build/html, built as antsibull-docs' own `sphinx-init` + build.sh would, in
# .venv/docs, with Sphinx -W; then checked by scripts/check_docsite.py: internal links and
# anchors, no empty page and, where Chromium is installed, the layout at 1280 and 800 px, with
# a screenshot of every page in .build/docsite/screenshots.
#
# The guides are written once, in RST, in docs/docsite/rst/ (listed in extra-docs.yml), so a
# docs build from the collection tarball (Galaxy, Automation Hub) shows them too. The landing
# page, whose toctrees are every page's sidebar, is docs/site/index.rst. The event source's
# page is generated from its DOCUMENTATION by scripts/event_source_doc.py and committed; a
# stale one fails the build.
#
# The release checks (scripts/release_checks.sh) build the site again from the installed
# release tarball, as Galaxy builds it: SIGCALCLOUD_DOCS_COLLECTIONS_PATH is the collections
# path that holds that copy, SIGCALCLOUD_DOCS_SITE where the site goes, and
# SIGCALCLOUD_DOCS_NO_BROWSER=1 skips the Chromium layout check (run on the checkout already).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

python=$(find_python 3.11) || python=$(command -v python3)
venv=$("$root/scripts/venv.sh" docs "$python" "ansible-core>=2.19,<2.20" "$root/tests/docs-requirements.txt")
export PATH="$venv/bin:$PATH"
ANSIBLE_COLLECTIONS_PATH=${SIGCALCLOUD_DOCS_COLLECTIONS_PATH:-$(collections_path)}
export ANSIBLE_COLLECTIONS_PATH
# The collection the site documents: the checkout, or an installed copy.
collection="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/sigcalcloud/cloud"
[ -f "$collection/plugins/modules/uredis_backup_info.py" ] || { echo "docs: no collection in $collection" >&2; exit 1; }
"$venv/bin/python" "$root/scripts/event_source_doc.py" --check

site=${SIGCALCLOUD_DOCS_SITE:-$root/.build/docsite}
rm -rf "$site"
mkdir -p "$(dirname "$site")"
mkdir -m 755 "$site"  # antsibull-docs wants it writable by its owner only

antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" \
  --project sigcalcloud.cloud --copyright "sigcalcloud.cloud contributors" \
  --title "sigcalcloud.cloud documentation" --index-rst-source "$root/docs/site/index.rst" \
  sigcalcloud.cloud >/dev/null

# Ours on top of the generated conf.py: a style sheet, and Ansible's own docs from a local
# inventory (this build must not depend on the network; see below).
cat >> "$site/conf.py" <<'EOF'

# --- added by scripts/docs.sh ---
# The theme's top bar links Ansible's blog and forum by default: ours instead, short enough to
# leave room for the title at 800 px.
html_theme_options = {
    'topbar_links': {
        'Source': 'https://github.com/sigcalcloud/ansible-collection-cloud',
        'Issues': 'https://github.com/sigcalcloud/ansible-collection-cloud/issues',
    },
}
html_static_path = ['_static']
html_css_files = ['sigcalcloud.css']
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),
}
EOF
# Our style sheet (see its comments).
mkdir -p "$site/_static"
cat > "$site/_static/sigcalcloud.css" <<'EOF'
/* Table cells wrap instead of running off the page: the theme keeps them on one line. */
.rst-content table.docutils td, .rst-content table.docutils th { white-space: normal; vertical-align: top; padding: 6px 8px; }
/* Code and links in cells break only where a word would otherwise not fit its cell: with
   "anywhere", columns shrank below their longest name and split every one (SIGCALCLOUD_VALIDATE_CER|TS). */
.rst-content table.docutils td code, .rst-content table.docutils th code,
.rst-content table.docutils td a { overflow-wrap: break-word; white-space: normal; }
/* A long plugin name in a title breaks rather than running off the page. */
.rst-content h1, .rst-content h2, .rst-content h3 { overflow-wrap: break-word; }
/* On a narrow screen, beside the sidebar, a wide table scrolls in its own box, not the page. */
@media screen and (max-width: 1000px) {
  .wy-nav-content { padding: 1.2em 1em; }
  .rst-content table.docutils { display: block; overflow-x: auto; font-size: 90%; }
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
chmod og-w rst  # sphinx-init made it; antsibull-docs wants it writable by its owner only
antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --use-current \
  --fail-on-error --dest-dir rst sigcalcloud.cloud >/dev/null

# The event source is no plugin type antsibull-docs knows: put the environment variables it
# reads into the index of every plugin's environment variables, linked to its page.
"$venv/bin/python" - "$collection" rst/collections/environment_variables.rst <<'EOF'
import pathlib, re, sys
root, index = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
source = (root / "extensions/eda/plugins/event_source/uredis_backup_events.py").read_text(encoding="utf-8")
ref = (":ref:`sigcalcloud.cloud.uredis\\_backup\\_events event source "
       "<ansible_collections.sigcalcloud.cloud.docsite.uredis_backup_events>`")
text = index.read_text(encoding="utf-8")
for name in sorted(set(re.findall(r"E\((SIGCALCLOUD_[A-Z_]+)\)", source))):
    entry = re.search(r"^\.\. envvar:: %s\n(?:.*\n)*?(?=^\.\. envvar::|\Z)" % name, text, re.M)
    if entry:
        block = entry.group(0).rstrip("\n")
        text = text.replace(block, block + "\n    " + ref, 1)
    else:
        text = text.rstrip("\n") + "\n.. envvar:: %s\n\n    Read by the event source.\n\n    *Used by:*\n    %s\n" % (name, ref)
index.write_text(text, encoding="utf-8")
EOF

sphinx-build -M html rst build -c . -W --keep-going -q

# The theme's logo links to "/", the root of the web server: not this site's landing page
# unless the site is served from there, and nothing from a file. Link it to the landing page.
"$venv/bin/python" - build/html <<'EOF'
import os, pathlib, sys
html = pathlib.Path(sys.argv[1])
for page in html.rglob("*.html"):
    text = page.read_text(encoding="utf-8")
    home = os.path.relpath(html / "index.html", page.parent)
    fixed = text.replace('<a class="DocSite-nav" href="/"', '<a class="DocSite-nav" href="%s"' % home)
    if fixed != text:
        page.write_text(fixed, encoding="utf-8")
EOF

# Every plugin and every guide has its page.
html=build/html/collections/sigcalcloud/cloud
pages=(uredis_backup_info_module uredis_backup_module uredis_backup_url_info_module uredis_backup_download_module
       uredis_backup_policy_module
       uredis_group_info_module uredis_group_module uredis_restore_check_module uredis_backup_inventory
       restore_drill_role)
for rst in "$collection"/docs/docsite/rst/*.rst; do pages+=("docsite/$(basename "$rst" .rst)"); done
for page in "${pages[@]}"; do
  [ -s "$html/$page.html" ] || { echo "docs: missing $html/$page.html" >&2; exit 1; }
done
"$venv/bin/python" "$root/scripts/check_docsite.py" build/html "$site/screenshots"
echo "== docs built: $site/build/html/index.html"
