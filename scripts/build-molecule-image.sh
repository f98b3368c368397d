#!/usr/bin/env bash
# Build the molecule base image: a Debian 12 system container (systemd as PID 1,
# python3) made with debootstrap and `podman import`. No registry is needed.
# Cached: the image carries a label with the hash of its inputs and is rebuilt
# only when those change (this script, the suite, the package list).
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

suite="${M1038_IMAGE_SUITE:-bookworm}"
mirror="${M1038_IMAGE_MIRROR:-http://deb.debian.org/debian}"
packages="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,procps,iproute2,ca-certificates,gnupg,apt-utils"
image="$M1038_MOLECULE_IMAGE"

inputs_hash="$( { cat "${BASH_SOURCE[0]}"; echo "$suite $mirror $packages"; } | sha256sum | cut -c1-16)"
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

# A container has no consoles, no kernel modules to load and no hardware clock.
for unit in getty@tty1.service console-getty.service systemd-remount-fs.service \
            systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
            systemd-timesyncd.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar -C "$rootfs" --numeric-owner -c . | podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL org.m1038.inputs=$inputs_hash" \
  --message "m1038.appcontrol molecule base ($suite)" \
  - "$image" >/dev/null
echo "built $image (inputs $inputs_hash)"
