"""Release the collection, with the version chosen in one place: galaxy.yml.

Usage:
  python scripts/release.py VERSION   release VERSION (run from .venv/lint, or with antsibull-changelog there):
                                      1. set ``version:`` in galaxy.yml (that line only, comments kept);
                                      2. write the ``COLLECTION_VERSION = "..."`` line of
                                         plugins/module_utils/_client.py from it (the User-Agent's version);
                                      3. run ``antsibull-changelog release --version VERSION`` in the checkout:
                                         changelogs/changelog.yaml gets the release with every fragment,
                                         the fragments are removed, CHANGELOG.md is written again;
                                      4. run the check below.
  python scripts/release.py --check   only check that galaxy.yml, COLLECTION_VERSION, changelogs/changelog.yaml
                                      (newest release) and CHANGELOG.md (newest section) name the same version;
                                      exits 1, saying what disagrees, when they do not.

Nothing else writes COLLECTION_VERSION: never edit it, or galaxy.yml's version, by hand for a release.
Standard library and PyYAML; antsibull-changelog for a release (tests/lint-requirements.txt, .venv/lint).
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The files that name the version, relative to the checkout.
GALAXY = "galaxy.yml"
CLIENT = "plugins/module_utils/_client.py"
CHANGES = "changelogs/changelog.yaml"
CHANGELOG_MD = "CHANGELOG.md"

# Semantic versioning 2.0.0, as galaxy.yml and antsibull-changelog want it (no build metadata needed here).
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")
GALAXY_LINE = re.compile(r"^(version:[ \t]*)([\"']?)([^\s\"'#]+)\2", re.M)
CLIENT_LINE = re.compile(r'^COLLECTION_VERSION = "([^"\n]*)"$', re.M)
# antsibull-changelog's Markdown: one "## v1\.0\.0" heading per release, newest first.
MD_HEADING = re.compile(r"^## v(\S+)\s*$", re.M)


class ReleaseError(Exception):
    """A file is not as this script expects it; the message says which and how."""


def version_key(version):
    """Sort key for a semantic version: 1.0.0-rc.1 < 1.0.0 < 1.0.1."""
    match = SEMVER.match(version)
    if not match:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre = match.groups()
    pre_key = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in (pre or "").split(".") if part)
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre_key)


def set_galaxy_version(text, version):
    """galaxy.yml's text with its top-level ``version:`` set; every other line untouched."""
    new, count = GALAXY_LINE.subn(lambda m: m.group(1) + m.group(2) + version + m.group(2), text)
    if count != 1:
        raise ReleaseError("galaxy.yml: expected one top-level 'version:' line, found %d" % count)
    if (yaml.safe_load(new) or {}).get("version") != version:
        raise ReleaseError("galaxy.yml: the version line did not parse back as %s" % version)
    return new


def set_client_version(text, version):
    """_client.py's text with its ``COLLECTION_VERSION = "..."`` line set; nothing else changed."""
    new, count = CLIENT_LINE.subn('COLLECTION_VERSION = "%s"' % version, text)
    if count != 1:
        raise ReleaseError('%s: expected one line COLLECTION_VERSION = "...", found %d' % (CLIENT, count))
    return new


def read(root, name):
    return (pathlib.Path(root) / name).read_text(encoding="utf-8")


def galaxy_version(root=ROOT):
    return str((yaml.safe_load(read(root, GALAXY)) or {}).get("version"))


def client_version(root=ROOT):
    match = CLIENT_LINE.search(read(root, CLIENT))
    return match.group(1) if match else None


def changelog_versions(root=ROOT):
    """Releases in changelogs/changelog.yaml, newest first."""
    data = yaml.safe_load(read(root, CHANGES)) or {}
    return sorted((str(v) for v in (data.get("releases") or {})), key=version_key, reverse=True)


def markdown_versions(root=ROOT):
    """Release headings of CHANGELOG.md, in the file's order (newest first), Markdown escapes removed."""
    return [re.sub(r"\\(.)", r"\1", heading) for heading in MD_HEADING.findall(read(root, CHANGELOG_MD))]


def check(root=ROOT):
    """What disagrees with galaxy.yml's version, one sentence each; empty when everything agrees."""
    problems = []
    version = galaxy_version(root)
    if not SEMVER.match(version):
        problems.append("galaxy.yml: version %r is not a semantic version" % version)
    client = client_version(root)
    if client != version:
        problems.append("%s: COLLECTION_VERSION is %r, galaxy.yml says %s" % (CLIENT, client, version))
    releases = changelog_versions(root)
    if version not in releases:
        problems.append("changelogs/changelog.yaml: no release %s (it has %s)" % (version, ", ".join(releases) or "none"))
    elif releases[0] != version:
        problems.append("changelogs/changelog.yaml: the newest release is %s, galaxy.yml says %s" % (releases[0], version))
    headings = markdown_versions(root)
    if not headings:
        problems.append("CHANGELOG.md: no release section")
    elif headings[0] != version:
        problems.append("CHANGELOG.md: the first release section is v%s, galaxy.yml says %s "
                        "(run antsibull-changelog generate)" % (headings[0], version))
    elif releases and headings != releases:
        problems.append("CHANGELOG.md: its releases (%s) are not those of changelogs/changelog.yaml (%s): "
                        "run antsibull-changelog generate" % (", ".join(headings), ", ".join(releases)))
    return problems


def find_antsibull_changelog():
    """antsibull-changelog next to this Python, else in .venv/lint, else on PATH."""
    here = os.path.dirname(sys.executable)
    search = os.pathsep.join([here, str(ROOT / ".venv" / "lint" / "bin"), os.environ.get("PATH", "")])
    found = shutil.which("antsibull-changelog", path=search)
    if not found:
        raise ReleaseError("antsibull-changelog not found (next to %s, in .venv/lint/bin or on PATH): run "
                           "scripts/lint.sh once, or scripts/venv.sh lint PYTHON 'ansible-core>=2.19,<2.20' "
                           "tests/lint-requirements.txt, to create .venv/lint" % sys.executable)
    return found


def release(version):
    if not SEMVER.match(version):
        raise ReleaseError("%r is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE])" % version)
    released = changelog_versions()
    if released and version_key(version) < version_key(released[0]):
        raise ReleaseError("%s is older than the newest release in changelogs/changelog.yaml, %s" % (version, released[0]))
    tool = find_antsibull_changelog()  # before anything is written
    bin_dir = os.path.dirname(tool)

    for name, setter in ((GALAXY, set_galaxy_version), (CLIENT, set_client_version)):
        text = read(ROOT, name)
        new = setter(text, version)
        if new != text:
            (ROOT / name).write_text(new, encoding="utf-8")
            print("== %s: version %s" % (name, version))

    command = [tool, "release", "--version", version]
    ansible_doc = os.path.join(bin_dir, "ansible-doc")
    if os.path.exists(ansible_doc):  # antsibull-changelog lists the plugins with ansible-doc: the same venv's
        command += ["--ansible-doc-bin", ansible_doc]
    env = dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
    print("== %s" % " ".join(command))
    result = subprocess.run(command, cwd=str(ROOT), env=env, check=False)
    if result.returncode != 0:
        raise ReleaseError("antsibull-changelog release failed (exit code %d); galaxy.yml and _client.py already say %s"
                           % (result.returncode, version))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Release the collection; galaxy.yml holds the version.")
    parser.add_argument("version", nargs="?", help="the version to release, e.g. 1.0.0")
    parser.add_argument("--check", action="store_true",
                        help="only check that galaxy.yml, COLLECTION_VERSION, changelog.yaml and CHANGELOG.md agree")
    args = parser.parse_args(argv)
    if args.check == bool(args.version):
        parser.error("give either VERSION or --check")
    try:
        if args.version:
            release(args.version)
        problems = check()
    except (ReleaseError, OSError, yaml.YAMLError) as error:
        print("release.py: %s" % error, file=sys.stderr)
        return 1
    if problems:
        print("release.py: the version is not the same everywhere:", file=sys.stderr)
        for problem in problems:
            print("  - %s" % problem, file=sys.stderr)
        return 1
    print("== version %s: galaxy.yml, COLLECTION_VERSION, changelogs/changelog.yaml and CHANGELOG.md agree"
          % galaxy_version())
    return 0


if __name__ == "__main__":
    sys.exit(main())
