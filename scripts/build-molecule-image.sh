#!/usr/bin/env bash
# Build the molecule base image: a Debian 12 system container (systemd as PID 1,
# python3) made with debootstrap and `podman import`. No registry is needed.
# Cached: the image carries a label with the hash of its inputs and is rebuilt
# only when those change (the suite, mirror, package list, masked units and
# import settings below).
#
# Run on its own (the README's molecule-only route on a fresh clone), it first
# runs scripts/setup.sh, which installs what the route needs (podman, debootstrap,
# the venv with molecule, the podman storage settings) and then calls this script
# back with M1038_SETUP_DONE=1 to build the image.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [[ -z "${M1038_SETUP_DONE:-}" ]]; then
  exec "$M1038_ROOT/scripts/setup.sh" --image
fi

suite="${M1038_IMAGE_SUITE:-bookworm}"
mirror="${M1038_IMAGE_MIRROR:-http://deb.debian.org/debian}"
packages="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,procps,iproute2,ca-certificates,gnupg,apt-utils"
image="$M1038_MOLECULE_IMAGE"
# A container has no consoles, no kernel modules to load and no hardware clock.
masked_units=(getty@tty1.service console-getty.service systemd-remount-fs.service
  systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount
  systemd-timesyncd.service)
import_changes=('CMD ["/sbin/init"]' 'STOPSIGNAL SIGRTMIN+3')
recipe_version=2 # bump when the steps below change in a way the inputs above do not show

inputs_hash="$(printf '%s\n' "$recipe_version" "$suite" "$mirror" "$packages" "${masked_units[@]}" \
  "${import_changes[@]}" | sha256sum | cut -c1-16)"
current="$(podman image inspect --format '{{ index .Labels "org.m1038.inputs" }}' "$image" 2>/dev/null || true)"
if [[ "$current" == "$inputs_hash" ]]; then
  echo "molecule image $image is up to date (inputs $inputs_hash)"
  exit 0
fi

work="$M1038_CACHE/image"
rootfs="$work/rootfs-$inputs_hash"
mkdir -p "$work"
rm -rf "$rootfs"
trap 'rm -rf "$rootfs"' EXIT
echo "building $image from debootstrap $suite (inputs $inputs_hash)"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

for unit in "${masked_units[@]}"; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

changes=()
for change in "${import_changes[@]}" "LABEL org.m1038.inputs=$inputs_hash"; do
  changes+=(--change "$change")
done
tar -C "$rootfs" --numeric-owner -c . | podman import "${changes[@]}" \
  --message "m1038.appcontrol molecule base ($suite)" \
  - "$image" >/dev/null
echo "built $image (inputs $inputs_hash)"
