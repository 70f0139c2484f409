"""Offline stand-in for the get-pip script that ansible-test --venv downloads.

ansible-test runs it as ``python get_pip.py [pip options] pip==X [--no-setuptools]
[--no-wheel]`` inside a fresh virtualenv. Bootstrapping with the interpreter's own
``ensurepip`` and then installing the requested pip from the package index needs no
download from anywhere but the package registry.
"""

import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

# ensurepip runs in its own process: in-process it blanks PIP_CONFIG_FILE in
# os.environ, which would hide the machine's pip configuration (index, CA bundle)
# from the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY_FLAGS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + args))
