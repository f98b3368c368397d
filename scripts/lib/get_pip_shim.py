"""Local stand-in for the get-pip.py that ansible-test downloads to bootstrap pip.

ansible-test creates its sanity and unit virtual environments without pip and then
runs a cached ``get-pip.py`` inside them. That script is downloaded from a host these
machines cannot reach, so scripts/ansible-test.sh places this file in ansible-test's
cache instead. It does what get-pip.py does with the same arguments: install pip
(from the interpreter's bundled ensurepip wheel) and then ``pip install`` the
requested packages, which come from the configured package index as usual.
"""

import ensurepip
import os
import runpy
import sys

# Options only get-pip.py understands; pip itself would reject them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    # ensurepip drops PIP_* variables and points PIP_CONFIG_FILE at /dev/null for
    # its own offline install; restore the caller's pip settings (index, CA bundle).
    saved = dict(os.environ)
    ensurepip.bootstrap(upgrade=False, default_pip=True)
    os.environ.clear()
    os.environ.update(saved)
    sys.argv = ["pip", "install", "--upgrade", *args]
    runpy.run_module("pip", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
