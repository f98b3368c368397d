#!/usr/bin/env bash
# Build the collection's documentation site with antsibull-docs and Sphinx: a page for
# every module, filter, vars plugin and role, generated from the plugins' own
# DOCUMENTATION/EXAMPLES/RETURN and the roles' meta/argument_specs.yml (the same pages
# Ansible's own docsite shows for a collection).
#
#   bash scripts/docs.sh [DEST]     # default DEST: $M1038_CACHE/docs-site (.cache/docs-site)
#
# Open DEST/build/html/index.html. DEST is rebuilt from scratch on each run and lives
# under .cache/ (ignored by git): the site is never committed. A plugin or role whose
# documentation antsibull-docs cannot parse fails the build (--fail-on-error); Sphinx
# warnings do not (--lenient), because offline every link into docs.ansible.com
# (intersphinx) warns and stays plain text. Markup errors are scripts/test.sh's job
# (antsibull-docs lint-collection-docs --plugin-docs).
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$M1038_ROOT/scripts/setup.sh"
cd "$M1038_ROOT"

dest="${1:-$M1038_CACHE/docs-site}"
rm -rf "$dest"
mkdir -p "$dest"
# --use-current documents the collection as Ansible finds it: this checkout, through
# collections/ansible_collections/m1038/appcontrol (ANSIBLE_COLLECTIONS_PATH, scripts/env.sh).
antsibull-docs sphinx-init --use-current --fail-on-error --lenient --dest-dir "$dest" \
  --project m1038.appcontrol --title "m1038.appcontrol" --html-short-title m1038.appcontrol \
  --copyright "m1038.appcontrol contributors" m1038.appcontrol >/dev/null
bash "$dest/build.sh"
echo "docs site: $dest/build/html/index.html"
