#!/usr/bin/env bash
# Command two of the README: set up (idempotently) and run every test and
# quality gate. Exits non-zero on the first failing stage; prints a summary.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$M1038_ROOT/scripts/setup.sh" --image
cd "$M1038_ROOT"

declare -a summary=()
stage() {
  local name="$1"; shift
  local start=$SECONDS
  printf '\n===== %s =====\n' "$name"
  if "$@"; then
    summary+=("ok    $name ($((SECONDS - start))s)")
  else
    local rc=$?
    summary+=("FAIL  $name ($((SECONDS - start))s, exit $rc)")
    printf '\n%s\n' "${summary[@]}"
    exit "$rc"
  fi
}

syntax_check() {
  local pb
  for pb in playbooks/*.yml; do
    ansible-playbook -i inventories/lab/hosts.yml --syntax-check "$pb" >/dev/null || { echo "syntax error: $pb"; return 1; }
    ansible-playbook -i inventories/example/hosts.yml --syntax-check "$pb" >/dev/null || { echo "syntax error: $pb (example)"; return 1; }
    echo "syntax ok: $pb"
  done
}

molecule_all() {
  local scenario
  for scenario in molecule/*/molecule.yml; do
    scenario="$(basename "$(dirname "$scenario")")"
    # The podman driver's create playbook writes async status under $HOME.
    HOME="$M1038_CACHE/home" molecule test -s "$scenario" || return 1
  done
}

stage "ruff" bash -c 'ruff check . && ruff format --check .'
stage "yamllint" yamllint --strict .
stage "ansible-lint (production profile)" ansible-lint
stage "syntax-check playbooks" syntax_check
stage "pytest (unit + project)" pytest -n 2 -p no:cacheprovider
stage "ansible-test units + sanity" scripts/ansible-test.sh all
stage "molecule" molecule_all

printf '\n===== summary =====\n'
printf '%s\n' "${summary[@]}"
