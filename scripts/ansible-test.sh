#!/usr/bin/env bash
# ansible-test units and sanity for the collection, run on a copy of the tracked
# tree laid out as ansible_collections/m1038/appcontrol (ansible-test requires that
# layout). A dedicated venv keeps ansible-test's own pins out of .cache/venv.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$M1038_ROOT"

at_venv="$M1038_CACHE/ansible-test-venv"
core_pin="$(grep -E '^ansible-core==' requirements-lock.txt)"
if [[ ! -x "$at_venv/bin/ansible-test" ]] || ! "$at_venv/bin/pip" freeze 2>/dev/null | grep -qx "$core_pin"; then
  python3 -m venv "$at_venv"
  "$at_venv/bin/pip" install -q "$core_pin"
fi

# ansible-test keeps its state under ~/.ansible/test: point HOME into the cache.
export HOME="$M1038_CACHE/home"
# The pip version ansible-test bootstraps into its venvs (get_venv_packages()).
pip_version="$("$at_venv/bin/python" - <<'PY'
import pathlib, re, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)"
shim="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$shim")"
cp scripts/lib/get_pip_shim.py "$shim"

dest="$M1038_CACHE/ansible-test/ansible_collections/m1038/appcontrol"
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -co --exclude-standard -z | grep -zv '^collections/' | xargs -0 cp --parents -t "$dest"
cd "$dest"
# The copy sits inside this checkout's git tree (under the ignored .cache/), where
# ansible-test would list no files; a repository of its own gives it the file list.
git init -q .
export PATH="$at_venv/bin:$PATH"
python_version="$("$at_venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# all: every unit test and sanity; units or sanity alone; ci (what scripts/test.sh runs): sanity,
# without the changelog test. pytest runs every unit test through the same ansible_collections
# import path (collections/ links this checkout), so running them again here cost about 110 s on
# 2 cores (the module tests alone about 40 s of CPU and a venv of their own on a fresh machine)
# and proved nothing new; `scripts/ansible-test.sh units` runs them under ansible-test.
what="${1:-all}"
case "$what" in
  all | units | sanity | ci) ;;
  *) echo "ansible-test.sh: unknown argument: $what (all, units, sanity or ci)" >&2; exit 2 ;;
esac
if [[ "$what" == all || "$what" == units ]]; then
  ansible-test units --local --requirements --python "$python_version" --color no
fi
if [[ "$what" != units ]]; then
  # pslint needs pwsh (PowerShell), which these machines do not have and cannot
  # install; the PowerShell syntax gate (scripts/ps_syntax_gate.py, run by pytest)
  # parses every .ps1 instead, so style rules are the known gap.
  # validate-modules also needs pwsh to read a .ps1 module's argument spec and stops
  # with FileNotFoundError on the first one, so it runs on every other plugin file,
  # the .py documentation stub beside each .ps1 module included.
  # In ci mode the changelog test is skipped too: scripts/test.sh's lint lane runs the same
  # antsibull-changelog lint (fragments and changelog.yaml), and here it costs a venv of its own.
  skips=(--skip-test pslint --skip-test validate-modules)
  [[ "$what" != ci ]] || skips+=(--skip-test changelog)
  ansible-test sanity --local --requirements --python "$python_version" --color no "${skips[@]}"
  mapfile -t vm_targets < <(git ls-files -co --exclude-standard plugins | grep -v '\.ps1$')
  ansible-test sanity --local --requirements --python "$python_version" --color no \
    --test validate-modules "${vm_targets[@]}"
fi
