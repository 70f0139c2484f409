# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection in execution environments, as ansible-builder sees the release tarball.

ansible-builder is not in the test matrix's virtualenvs (tests/requirements/); these tests
skip there, saying so. scripts/release_checks.sh runs them in .venv/release, which has it
(tests/release-requirements.txt). No container is built: `ansible-builder introspect` and
`ansible-builder create` need no container runtime."""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from helpers import ROOT

BIN = os.path.dirname(sys.executable)
COLLECTION = "sigcalcloud.cloud"
EXAMPLE = os.path.join(ROOT, "docs", "awx", "execution-environment.yml")
GUIDE = os.path.join(ROOT, "docs", "docsite", "rst", "awx.rst")


@pytest.fixture
def builder():
    """The ansible-builder command of this venv; skips the test where it is not installed."""
    if importlib.util.find_spec("ansible_builder") is None:
        pytest.skip("ansible-builder is not importable in this venv (%s): scripts/release_checks.sh runs these tests "
                    "in .venv/release, which installs it from tests/release-requirements.txt" % sys.executable)
    return os.path.join(BIN, "ansible-builder")


def run(argv, **kwargs):
    # PYTHONPATH (scripts/test.sh sets it) would show ansible-galaxy the checkout as installed.
    env = dict((k, v) for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ANSIBLE_"))
    env.update(kwargs.pop("env", {}), ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, check=False, **kwargs)
    assert completed.returncode == 0, "%s\n--- stdout\n%s\n--- stderr\n%s" % (argv, completed.stdout, completed.stderr)
    return completed


def requirement_lines(lines):
    """['requests>=2.25  # from collection sigcalcloud.cloud'] -> [('requests>=2.25', 'sigcalcloud.cloud')]."""
    parsed = []
    for line in lines:
        match = re.fullmatch(r"(\S.*?)\s+# from collection (\S+)", line.strip())
        assert match, "not a requirement of a collection: %r" % line
        parsed.append((match.group(1), match.group(2)))
    return parsed


def introspect_output(text):
    """The YAML document that `ansible-builder introspect` prints after its '# Dependency data' line."""
    return yaml.safe_load("\n".join(line for line in text.splitlines() if not line.startswith("#")))


def the_collections_requirements():
    """requirements.txt at the collection root, without comments: what ansible-builder must report."""
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        lines = [re.sub(r"\s*#.*", "", line).strip() for line in handle]
    return [line for line in lines if line]


def yaml_blocks(path):
    """The YAML code blocks of an RST page, dedented."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    blocks = re.findall(r"^\.\. code(?:-block)?:: yaml[^\n]*\n\n((?:(?:   [^\n]*)?\n)+)", text, re.M)
    return [textwrap.dedent(block).strip("\n") + "\n" for block in blocks]


# --- what the collection declares --------------------------------------------------

def test_the_collection_needs_requests_anycrc_and_redis_with_lower_bounds_only():
    # anycrc: uredis_backup_download's CRC-64 at memory speed (binary wheels from Python 3.9 on; the module
    # has a pure-Python path without it). redis: uredis_restore_check's Redis client.
    assert the_collections_requirements() == ["requests>=2.25", 'anycrc>=2.0; python_version >= "3.9"', "redis>=4.1"]
    with open(os.path.join(ROOT, "meta", "execution-environment.yml")) as handle:
        meta = yaml.safe_load(handle)
    # No bindep.txt: nothing system-level is needed (see the file's comment).
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt"}}
    assert not os.path.exists(os.path.join(ROOT, "bindep.txt"))
    # The same lower bound as the plugins document (plugins/doc_fragments/connection.py).
    with open(os.path.join(ROOT, "plugins", "doc_fragments", "connection.py")) as handle:
        assert "  - requests >= 2.25 (on the host that runs the module)" in handle.read()


def test_the_guide_shows_the_example_definition_as_it_is():
    with open(EXAMPLE, encoding="utf-8") as handle:
        example = handle.read()
    assert example in yaml_blocks(GUIDE), "docs/docsite/rst/awx.rst must show docs/awx/execution-environment.yml unchanged"


# --- ansible-builder on the installed release ----------------------------------------

def test_introspect_lists_requests_for_the_installed_collection(builder, release):
    tarball, installed = release
    collection = installed / "ansible_collections" / "sigcalcloud" / "cloud"
    for shipped in ("meta/execution-environment.yml", "requirements.txt"):
        assert (collection / shipped).is_file(), shipped
    assert not (collection / "bindep.txt").exists()

    result = run([builder, "introspect", "--sanitize", installed])
    data = introspect_output(result.stdout)
    assert requirement_lines(data["python"]) == [(r, COLLECTION) for r in the_collections_requirements()], result.stdout
    assert data["system"] == [], result.stdout


def test_create_with_the_example_definition_and_the_tarball(builder, release, tmp_path):
    """ansible-builder create with docs/awx/execution-environment.yml, changed to install the
    tarball as docs/docsite/rst/awx.rst shows; then the context's galaxy stage and its introspection, run
    here as the image build would run them: they must find requests for the collection."""
    tarball, _installed = release
    with open(EXAMPLE, encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    assert definition["version"] == 3
    assert definition["dependencies"]["galaxy"] == {"collections": [{"name": COLLECTION}]}
    assert "python" not in definition["dependencies"]  # requests comes from the collection itself
    core = definition["dependencies"]["ansible_core"]["package_pip"]
    assert re.fullmatch(r"ansible-core>=2\.16,<2\.17", core), core  # Automation Platform 2.5's core
    assert definition["dependencies"]["ansible_runner"]["package_pip"] == "ansible-runner"  # AWX needs it

    # The guide's tarball variant, applied as it says.
    variant, = [yaml.safe_load(block) for block in yaml_blocks(GUIDE) if "type: file" in block]
    definition["dependencies"].update(variant["dependencies"])
    definition["additional_build_files"] = variant["additional_build_files"]
    build_file, = definition["additional_build_files"]
    ee_dir = tmp_path / "ee"
    ee_dir.mkdir()
    shutil.copy(str(tarball), str(ee_dir / build_file["src"]))  # "next to the EE file", under the guide's name
    (ee_dir / "execution-environment.yml").write_text(yaml.safe_dump(definition, sort_keys=False))

    result = run([builder, "create", "--file", "execution-environment.yml", "--context", "context",
                  "--output-filename", "Containerfile"], cwd=str(ee_dir))
    assert "warning" not in result.stdout.lower() + result.stderr.lower(), result
    context = ee_dir / "context"
    build = context / "_build"
    copied = build / build_file["dest"] / build_file["src"]
    assert filecmp.cmp(str(tarball), str(copied), shallow=False)
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy == variant["dependencies"]["galaxy"]
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG ANSIBLE_INSTALL_REFS="%s ansible-runner"' % core in containerfile
    assert "COPY _build /build\nWORKDIR /build\n" in containerfile
    assert re.search(r"^RUN .*ansible-galaxy collection install .*-r requirements\.yml "
                     r'--collections-path "/usr/share/ansible/collections"$', containerfile, re.M), containerfile
    assert "RUN $PYCMD /output/scripts/introspect.py introspect --write-bindep=/tmp/src/bindep.txt " \
           "--write-pip=/tmp/src/requirements.txt\n" in containerfile

    # The galaxy stage: in _build/ (the image's /build), install requirements.yml.
    image_collections = tmp_path / "usr-share-ansible" / "collections"
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-r", "requirements.yml",
         "--collections-path", image_collections], cwd=str(build), env={"ANSIBLE_HOME": str(tmp_path / "ansible-home")})
    manifest = image_collections / "ansible_collections" / "sigcalcloud" / "cloud" / "MANIFEST.json"
    assert manifest.is_file()
    # The builder stage: the context's own introspection script over what the galaxy stage installed.
    written = tmp_path / "src" / "requirements.txt"
    result = run([sys.executable, build / "scripts" / "introspect.py", "introspect", image_collections,
                  "--write-pip", written, "--write-bindep", tmp_path / "src" / "bindep.txt"])
    data = introspect_output(result.stdout)
    assert requirement_lines(data["python"]) == [(r, COLLECTION) for r in the_collections_requirements()], result.stdout
    assert data["system"] == []
    assert requirement_lines(written.read_text().splitlines()) == [(r, COLLECTION) for r in the_collections_requirements()]
    assert not (tmp_path / "src" / "bindep.txt").exists()  # nothing for the image's package manager
