#!/usr/bin/env bash
# Command one of the README: set up (idempotently) and run the main job on the
# embedded local lab. Extra arguments go to ansible-playbook (e.g. --check --diff).
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$M1038_ROOT/scripts/setup.sh" --image
cd "$M1038_ROOT"
exec ansible-playbook -i inventories/lab/hosts.yml playbooks/lab.yml "$@"
