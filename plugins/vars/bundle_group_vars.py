# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: bundle_group_vars
short_description: Apply the bundle's top-level group_vars/ to every inventory
version_added: 0.1.0
description:
  - Loads group variables from one project-wide C(group_vars/) folder, so the same
    settings reach the hosts of every inventory under C(inventories/).
  - Ansible's own C(host_group_vars) only reads C(group_vars/) beside an inventory
    source or a playbook. This plugin adds the project folder without symlinks.
  - List it before C(host_group_vars) in C(vars_plugins_enabled). Vars plugins listed
    later win, so an inventory's own C(group_vars/) overrides the project-wide values.
  - Only group variables are loaded; host variables stay with each inventory.
  - Files follow the C(host_group_vars) rules (C(NAME.yml), C(NAME.yaml), C(NAME.json),
    or a folder C(NAME/) of such files read in sorted order).
options:
  path:
    description:
      - Folder holding the project-wide group variable files.
      - A relative path resolves against the folder of the Ansible configuration file
        in use. When no configuration file is in use and the path is relative, the
        plugin loads nothing.
    type: str
    default: group_vars
    ini:
      - section: m1038_bundle_group_vars
        key: path
    env:
      - name: M1038_BUNDLE_GROUP_VARS
  stage:
    ini:
      - section: m1038_bundle_group_vars
        key: stage
    env:
      - name: M1038_BUNDLE_GROUP_VARS_STAGE
extends_documentation_fragment:
  - vars_plugin_staging
"""

import os

from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.group import InventoryObjectType
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.vars import combine_vars


def resolve_group_vars_dir(path, config_file):
    """Return the absolute folder for ``path`` or None when it cannot be resolved."""
    if os.path.isabs(path):
        return os.path.realpath(path)
    if not config_file:
        return None
    return os.path.realpath(os.path.join(os.path.dirname(config_file), path))


class VarsModule(BaseVarsPlugin):
    REQUIRES_ENABLED = True
    is_stateless = True

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        folder = resolve_group_vars_dir(self.get_option("path"), C.CONFIG_FILE)
        if folder is None or not os.path.isdir(folder):
            return {}
        if not isinstance(entities, list):
            entities = [entities]
        data = {}
        for entity in entities:
            if getattr(entity, "base_type", None) is not InventoryObjectType.GROUP:
                continue
            for found in loader.find_vars_files(folder, entity.name):
                try:
                    new_data = loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
                except TypeError:  # ansible-core < 2.19 has no trusted_as_template
                    new_data = loader.load_from_file(found, cache="all", unsafe=True)
                if not new_data:
                    continue
                try:
                    data = combine_vars(data, new_data)
                except Exception as exc:
                    raise AnsibleParserError(f"Could not process {found!r}: {exc}") from exc
        return data
