#!/usr/bin/env bash
# Command two of the README: set up (idempotently) and run every test and
# quality gate. The quick gates run first, one after the other (the documentation
# linters beside them); then two lanes run side by side (the machine has 2 cores):
# lane 1 is pytest then ansible-test,
# lane 2 is every molecule scenario. Each lane's output is printed when it ends.
# Exits non-zero when any stage fails; prints a summary either way.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$M1038_ROOT/scripts/setup.sh" --image
cd "$M1038_ROOT"

logs="$M1038_CACHE/test-logs"
rm -rf "$logs"
mkdir -p "$logs"

# stage NAME CMD...: run one stage, record its result and time in $logs/NAME.result.
stage() {
  local name="$1"; shift
  local start=$SECONDS rc=0 cpu_before cpu
  printf '\n===== %s =====\n' "$name"
  children_cpu
  cpu_before=$cpu_seconds
  "$@" || rc=$?
  children_cpu
  cpu=$((cpu_seconds - cpu_before))
  if ((rc == 0)); then
    echo "ok    $name ($((SECONDS - start))s wall, ${cpu}s cpu)" >"$logs/$name.result"
  else
    echo "FAIL  $name ($((SECONDS - start))s wall, ${cpu}s cpu, exit $rc)" >"$logs/$name.result"
  fi
  return "$rc"
}

# children_cpu: sets cpu_seconds to the whole seconds of CPU (user + system) used by this
# shell's finished children, from bash's `times` (its second line), so each stage reports what
# it cost as well as how long it took on a machine that other work may share. It must run in
# this shell, not in $(...) or a pipe: a subshell's `times` counts only its own children.
children_cpu() {
  local file="$logs/.times.$BASHPID"
  times >"$file"
  cpu_seconds="$(awk 'NR == 2 {
    total = 0
    for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] }
    printf "%d\n", total
  }' "$file")"
  rm -f "$file"
}

syntax_check() {
  # One ansible-playbook per inventory for every playbook (each start costs ~2 s of CPU);
  # ansible-playbook names the file that does not parse.
  local inv playbooks=(playbooks/*.yml)
  for inv in inventories/*/hosts.yml; do
    ansible-playbook -i "$inv" --syntax-check "${playbooks[@]}" >/dev/null || { echo "syntax error ($inv)"; return 1; }
    echo "syntax ok: ${#playbooks[@]} playbooks ($inv)"
  done
}

changelog_lint() {
  # Every fragment (changelogs/fragments/) and the generated changelogs/changelog.yaml.
  antsibull-changelog lint && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
}

pytest_all() {
  # --dist loadfile keeps a module's tests (and its module-scoped lab) on one worker.
  # Tests that run a molecule scenario belong to the molecule lane.
  pytest -n 2 --dist loadfile -m "not molecule_lane" --junit-xml "$logs/pytest.xml"
}

molecule_scenario() {
  # The podman driver's create playbook writes async status under $HOME.
  HOME="$M1038_CACHE/home" molecule test -s "$1"
}

molecule_route() {
  # The default scenario, run through the README's molecule-only route on a fresh copy
  # of the project (tests/project/test_readme_routes.py says what it takes warm).
  pytest -p no:cacheprovider -m molecule_lane tests/project/test_readme_routes.py
}

lane_python() {
  stage "pytest (unit, property, project)" pytest_all &&
    stage "ansible-test units + sanity" scripts/ansible-test.sh all
}

lane_molecule() {
  local scenario rc=0
  stage "molecule default (README molecule-only route, fresh copy)" molecule_route || rc=1
  for scenario in molecule/*/molecule.yml; do
    scenario="$(basename "$(dirname "$scenario")")"
    [[ "$scenario" == default ]] && continue # run by molecule_route above
    stage "molecule $scenario" molecule_scenario "$scenario" || rc=1
  done
  return "$rc"
}

finish() {
  local result
  printf '\n===== summary =====\n'
  for result in "$logs"/*.result; do
    [[ -f "$result" ]] && cat "$result"
  done
}

doc_lints() {
  stage "antsibull-changelog lint (fragments, changelog.yaml)" changelog_lint &&
    stage "antsibull-docs lint-collection-docs --plugin-docs" antsibull-docs lint-collection-docs --plugin-docs .
}

# The documentation linters (about 25 s of CPU, one core) run beside the other quick gates,
# which keep one core busy between them: on 2 cores they cost little wall time.
doc_lints >"$logs/doc-lints.log" 2>&1 &
doc_lints_pid=$!
quick_rc=0
{ stage "ruff" bash -c 'ruff check . && ruff format --check .' &&
  stage "yamllint" yamllint --strict . &&
  stage "ansible-lint (production profile)" ansible-lint &&
  stage "syntax-check playbooks" syntax_check &&
  stage "role READMEs generated from argument_specs" python scripts/gen_role_readme.py --check
} || quick_rc=$?
doc_rc=0
wait "$doc_lints_pid" || doc_rc=$?
cat "$logs/doc-lints.log"
((quick_rc != 0)) || quick_rc=$doc_rc
if ((quick_rc != 0)); then
  finish
  exit "$quick_rc"
fi

lane_python >"$logs/lane-python.log" 2>&1 &
python_pid=$!
lane_molecule >"$logs/lane-molecule.log" 2>&1 &
molecule_pid=$!
python_rc=0 molecule_rc=0
wait "$molecule_pid" || molecule_rc=$?
cat "$logs/lane-molecule.log"
wait "$python_pid" || python_rc=$?
cat "$logs/lane-python.log"

finish
# The closing line CI reads: pytest's own counts (unit, property and project tests).
python3 - "$logs/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    suite = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    sys.exit(0)
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
print(f"pytest: {tests - failures - errors - skipped} passed, {failures + errors} failed, {skipped} skipped")
PY
if ((python_rc != 0 || molecule_rc != 0)); then
  exit 1
fi
