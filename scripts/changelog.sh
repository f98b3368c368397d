#!/usr/bin/env bash
# Fold changelogs/fragments/ into changelogs/changelog.yaml under the version in
# galaxy.yml and regenerate CHANGELOG.rst, with antsibull-changelog.
#
#   bash scripts/changelog.sh                            # the version in progress
#   bash scripts/changelog.sh --date 2027-01-15 --update-existing   # the release step
#
# Until that version is tagged it is the release in progress: a rerun adds fragments
# merged since, takes in edits of fragments already folded in (fragments are kept,
# changelogs/config.yaml), and lists new modules, plugins and roles whose
# version_added is that version. Extra arguments go to `antsibull-changelog release`.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$M1038_ROOT/scripts/setup.sh"
cd "$M1038_ROOT"
antsibull-changelog lint
antsibull-changelog release --reload-plugins --refresh "$@"
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
echo "changelog: CHANGELOG.rst and changelogs/changelog.yaml regenerated for $(sed -n 's/^version: *//p' galaxy.yml)"
