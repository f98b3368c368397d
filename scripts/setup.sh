#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine, as root:
#   system packages, the project venv (.cache/venv) from requirements-lock.txt,
#   the collections in requirements.yml, podman storage under .cache/, and
#   (with --image) the molecule base image.
# Each step checks before it acts, so a second run changes nothing.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$M1038_ROOT"

want_image=0
for arg in "$@"; do
  case "$arg" in
    --image) want_image=1 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*"; }

# 1. System packages (apt-get update only when something is missing).
apt_packages=(podman runc debootstrap python3 python3-venv git dpkg-dev gnupg shellcheck)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "system packages present"
fi

# 2. Podman storage inside the project cache.
mkdir -p "$M1038_CACHE/containers"
storage_conf="$(printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
  "$M1038_CACHE/containers/storage" "$M1038_CACHE/containers/run")"
if [[ ! -f "$CONTAINERS_STORAGE_CONF" ]] || [[ "$(cat "$CONTAINERS_STORAGE_CONF")" != "$storage_conf" ]]; then
  printf '%s\n' "$storage_conf" >"$CONTAINERS_STORAGE_CONF"
  log "wrote $CONTAINERS_STORAGE_CONF"
fi

# 3. The molecule base image (only for commands that start containers), built in the
#    background: it needs podman and debootstrap, not the venv, and on a fresh machine the two
#    downloads take about as long as each other.
image_pid=""
image_log="$M1038_CACHE/image-build.log"
if ((want_image)); then
  M1038_SETUP_DONE=1 "$M1038_ROOT/scripts/build-molecule-image.sh" >"$image_log" 2>&1 &
  image_pid=$!
fi

# 4. Python venv from the lock file (reinstalled only when the lock changes).
python="${M1038_PYTHON:-python3}"
venv="$M1038_CACHE/venv"
lock_hash="$(sha256sum requirements-lock.txt | cut -c1-16)"
stamp="$venv/.m1038-lock-$lock_hash"
if [[ ! -f "$stamp" ]]; then
  log "creating venv $venv from requirements-lock.txt"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q -r requirements-lock.txt
  rm -f "$venv"/.m1038-lock-*
  touch "$stamp"
else
  log "venv up to date"
fi

# 5. Collections. The PyPI ansible package already carries them, so with
#    Galaxy unreachable this reports "Nothing to do".
mkdir -p "$ANSIBLE_HOME/collections"
if ! out="$(timeout 120 ansible-galaxy collection install -r requirements.yml -p "$ANSIBLE_HOME/collections" 2>&1)"; then
  printf '%s\n' "$out" >&2
  log "collection install failed: requirements.yml is not satisfied by the installed ansible package"
  exit 1
fi
log "collections: $(printf '%s\n' "$out" | tail -n 1)"

if [[ -n "$image_pid" ]]; then
  image_rc=0
  wait "$image_pid" || image_rc=$?
  sed 's/^/[setup] /' "$image_log"
  if ((image_rc != 0)); then
    log "molecule image build failed (exit $image_rc)"
    exit "$image_rc"
  fi
fi
log "done"
