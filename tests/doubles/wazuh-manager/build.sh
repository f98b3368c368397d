#!/usr/bin/env bash
# Build the wazuh-manager TEST DOUBLE (.deb) and a signed local APT repository
# that serves it, laid out like Wazuh's (dists/stable/main). Output:
#   OUT/repo/                       the repository (copy it to the manager)
#   OUT/repo/GPG-KEY-M1038-DOUBLE   its signing key (armored)
# Usage: build.sh [OUT]   (default: .cache/doubles/wazuh-manager)
# Needs dpkg-deb, dpkg-scanpackages (dpkg-dev), gpg, python3. Not Wazuh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/.cache/doubles/wazuh-manager}"
version="${M1038_DOUBLE_VERSION:-4.14.7-1+m1038double}"
suite=stable component=main

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"
cp -a "$here/root" "$pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/var/ossec/lib/m1038-double"
sed "s/@VERSION@/$version/" "$here/DEBIAN/control.in" >"$pkg/DEBIAN/control"
install -m 0755 "$here/DEBIAN/postinst" "$here/DEBIAN/prerm" "$pkg/DEBIAN/"
# The double's wazuh-analysisd -t runs the project's own pre-flight checks; its verify-agent-conf
# reads with the project's port of Wazuh's os_xml reader.
for mod in _wazuh_preflight.py _wazuh_rulesyntax.py _ossec_conf.py _wazuh_osxml.py; do
  install -m 0644 "$root/plugins/module_utils/$mod" "$pkg/var/ossec/lib/m1038-double/$mod"
done
printf 'TEST DOUBLE (m1038.appcontrol): these are copies of plugins/module_utils/ used by bin/wazuh-analysisd -t and bin/verify-agent-conf.\n' \
  >"$pkg/var/ossec/lib/m1038-double/README"

rm -rf "$out/repo"
pool="$out/repo/pool/$component/w/wazuh-manager"
mkdir -p "$pool"
deb="$pool/wazuh-manager_${version}_all.deb"
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$deb" >/dev/null

arches="all amd64 arm64"
for arch in $arches; do
  dir="$out/repo/dists/$suite/$component/binary-$arch"
  mkdir -p "$dir"
  (cd "$out/repo" && dpkg-scanpackages --multiversion pool /dev/null 2>/dev/null) >"$dir/Packages"
  gzip -9nc "$dir/Packages" >"$dir/Packages.gz"
done

python3 - "$out/repo/dists/$suite" "$suite" "$component" "$arches" <<'PY'
import hashlib, os, sys, time
base, suite, component, arches = sys.argv[1:5]
files = []
for dirpath, _dirs, names in os.walk(base):
    for name in sorted(names):
        full = os.path.join(dirpath, name)
        files.append((os.path.relpath(full, base), open(full, "rb").read()))
lines = [
    "Origin: m1038 wazuh-manager TEST DOUBLE",
    "Label: m1038 wazuh-manager TEST DOUBLE (not Wazuh)",
    f"Suite: {suite}",
    f"Codename: {suite}",
    "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
    f"Architectures: {arches}",
    f"Components: {component}",
]
for field, algo in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
    lines.append(f"{field}:")
    lines += [f" {algo(data).hexdigest()} {len(data):>8} {rel}" for rel, data in sorted(files)]
open(os.path.join(base, "Release"), "w").write("\n".join(lines) + "\n")
PY

export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key \
  'm1038 wazuh-manager TEST DOUBLE repository <double@m1038.invalid>' ed25519 sign 1d 2>/dev/null
gpg --batch --quiet --yes --clearsign -o "$out/repo/dists/$suite/InRelease" "$out/repo/dists/$suite/Release"
gpg --batch --quiet --yes -abs -o "$out/repo/dists/$suite/Release.gpg" "$out/repo/dists/$suite/Release"
gpg --batch --quiet --armor --export >"$out/repo/GPG-KEY-M1038-DOUBLE"
chmod -R a+rX "$out/repo"
echo "built $deb"
echo "repository $out/repo (suite $suite, component $component, key GPG-KEY-M1038-DOUBLE)"
