#!/usr/bin/env bash
# Command two of the README: set up (idempotently) and run every test and quality gate.
# The fast gates (ruff, yamllint, syntax checks, role READMEs: seconds) run first and stop the
# run when they fail. Then lanes run side by side, each printed when it ends: lint (ansible-lint,
# then the documentation linters), pytest, ansible-test, and one lane per molecule scenario. The
# machine CI uses has 2 cores; the lanes are more than that on purpose: the molecule scenarios
# mostly wait (podman exec, systemd, the manager double's restarts), so run one after the other
# they were the longest chain while the cores idled, and the kernel shares the cores among
# lanes as well as a queue would.
# The molecule base image is built (when missing or stale) beside the fast gates and the lint
# lane, which do not need it. Exits non-zero when any stage fails; prints a summary either way.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$M1038_ROOT/scripts/setup.sh"
cd "$M1038_ROOT"

logs="$M1038_CACHE/test-logs"
rm -rf "$logs"
mkdir -p "$logs"

# The molecule base image is built (when missing or stale) beside the quick gates, which do not
# need it: on a fresh machine its debootstrap takes a minute or two of mostly waiting.
M1038_SETUP_DONE=1 scripts/build-molecule-image.sh >"$logs/image-build.log" 2>&1 &
image_pid=$!

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
  # Tests that run a molecule scenario (marker molecule_lane) run in their own lane.
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

# Every scenario of molecule/ runs in a lane below; one that is not fails the run.
check_scenarios_in_lanes() {
  local scenario rc=0
  for scenario in molecule/*/molecule.yml; do
    scenario="$(basename "$(dirname "$scenario")")"
    case "$scenario" in
      default | broken_rule | windows) ;;
      *) echo "FAIL  molecule $scenario: in no lane of scripts/test.sh" >"$logs/molecule $scenario.result"; rc=1 ;;
    esac
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

lane_lint() {
  local rc=0
  stage "ansible-lint (production profile)" ansible-lint || rc=1
  stage "antsibull-changelog lint (fragments, changelog.yaml)" changelog_lint || rc=1
  stage "antsibull-docs lint-collection-docs --plugin-docs" antsibull-docs lint-collection-docs --plugin-docs . || rc=1
  return "$rc"
}

# Each lane runs in the background, its output in $logs/lane-NAME.log; started_lane NAME records it.
lane_pids=() lane_names=()
started_lane() {
  lane_pids+=($!)
  lane_names+=("$1")
}

quick_rc=0
{ stage "ruff" bash -c 'ruff check . && ruff format --check .' &&
  stage "yamllint" yamllint --strict . &&
  stage "syntax-check playbooks" syntax_check &&
  stage "role READMEs generated from argument_specs" python scripts/gen_role_readme.py --check
} || quick_rc=$?
if ((quick_rc != 0)); then
  wait "$image_pid" || true
  finish
  exit "$quick_rc"
fi

lane_lint >"$logs/lane-lint.log" 2>&1 &
started_lane lint
image_rc=0
wait "$image_pid" || image_rc=$?
if ((image_rc != 0)); then
  cat "$logs/image-build.log"
  echo "FAIL  molecule image build (exit $image_rc)" >"$logs/molecule image build.result"
  wait "${lane_pids[@]}" || true
  cat "$logs/lane-lint.log"
  finish
  exit "$image_rc"
fi
stage "pytest (unit, property, project)" pytest_all >"$logs/lane-pytest.log" 2>&1 &
started_lane pytest
stage "ansible-test sanity" scripts/ansible-test.sh ci >"$logs/lane-ansible-test.log" 2>&1 &
started_lane ansible-test
stage "molecule default (README molecule-only route, fresh copy)" molecule_route >"$logs/lane-molecule-default.log" 2>&1 &
started_lane molecule-default
stage "molecule broken_rule" molecule_scenario broken_rule >"$logs/lane-molecule-broken_rule.log" 2>&1 &
started_lane molecule-broken_rule
# Its prepare step would run ansible-lint and the PowerShell gate again (the lint lane and pytest run them).
M1038_SCENARIO_LINT=0 stage "molecule windows" molecule_scenario windows >"$logs/lane-molecule-windows.log" 2>&1 &
started_lane molecule-windows

failed=0
check_scenarios_in_lanes || failed=1
for i in "${!lane_pids[@]}"; do
  wait "${lane_pids[$i]}" || failed=1
  cat "$logs/lane-${lane_names[$i]}.log"
done

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
if ((failed != 0)); then
  exit 1
fi
