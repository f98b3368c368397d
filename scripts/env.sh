# shellcheck shell=bash
# Source this file: it points every tool the project runs at the project cache
# (.cache/), so runs leave nothing in the user's home directory.
M1038_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
M1038_CACHE="${M1038_CACHE:-$M1038_ROOT/.cache}"
export M1038_ROOT M1038_CACHE

export ANSIBLE_CONFIG="$M1038_ROOT/ansible.cfg"
export ANSIBLE_HOME="$M1038_CACHE/ansible"
export ANSIBLE_LOCAL_TEMP="$M1038_CACHE/ansible/tmp"
# No ANSIBLE_REMOTE_TEMP here: it would apply inside the lab and molecule containers
# too, where a path under /tmp lands on systemd's tmpfs and breaks podman's file copy.
# The controller's remote tmp is set per host (group_vars/controller.yml).
export ANSIBLE_ASYNC_DIR="$M1038_CACHE/ansible/async"
export ANSIBLE_COLLECTIONS_PATH="$M1038_ROOT/collections:$M1038_CACHE/ansible/collections"
export ANSIBLE_ROLES_PATH="$M1038_ROOT/roles"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export ANSIBLE_FORCE_COLOR=0
export XDG_CACHE_HOME="$M1038_CACHE/xdg/cache"
export XDG_CONFIG_HOME="$M1038_CACHE/xdg/config"
export XDG_DATA_HOME="$M1038_CACHE/xdg/data"
export PIP_CACHE_DIR="$M1038_CACHE/pip"
export PYTHONPYCACHEPREFIX="$M1038_CACHE/pycache"
# Bytecode is cached (under the prefix above, out of the tree). A shell that sets
# PYTHONDONTWRITEBYTECODE makes every Python process compile its imports anew: measured here,
# an empty ansible-playbook run costs 3.4 s of CPU with it set and 1.8 s without, and the test
# command starts Python processes by the thousand.
unset PYTHONDONTWRITEBYTECODE
export RUFF_CACHE_DIR="$M1038_CACHE/ruff"
export CONTAINERS_CONF="$M1038_ROOT/molecule/podman/containers.conf"
export CONTAINERS_STORAGE_CONF="$M1038_CACHE/containers/storage.conf"
export M1038_MOLECULE_IMAGE="${M1038_MOLECULE_IMAGE:-localhost/m1038-debian12-systemd:latest}"
export PATH="$M1038_CACHE/venv/bin:$PATH"
