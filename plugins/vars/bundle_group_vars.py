# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: bundle_group_vars
short_description: host_group_vars plus the bundle's top-level group_vars/ for every inventory
version_added: 0.1.0
description:
  - Does what C(ansible.builtin.host_group_vars) does (C(group_vars/) and C(host_vars/)
    beside each inventory source and playbook) and, underneath an inventory's own
    C(group_vars/), loads one project-wide C(group_vars/) folder, so the same settings
    reach the hosts of every inventory under C(inventories/).
  - Enable it I(instead of) C(host_group_vars) (C(vars_plugins_enabled = m1038.appcontrol.bundle_group_vars)).
    Replacing the builtin is what makes the order certain. Ansible orders vars plugins by
    when they were first loaded, not by the order of C(vars_plugins_enabled).
  - Precedence, low to high, for each group - project-wide C(group_vars/), then the
    inventory's C(group_vars/), then the playbook's C(group_vars/). The project layer is
    added for inventory sources only; it is not added again for the playbook folder,
    so it never overrides an inventory's values.
  - Files follow the C(host_group_vars) rules (C(NAME.yml), C(NAME.yaml), C(NAME.json),
    or a folder C(NAME/) of such files read in sorted order).
  - An inventory source kept in the playbook's own folder cannot be told apart from that
    folder, so it gets no project layer; keep inventories under C(inventories/).
options:
  path:
    description:
      - Folder holding the project-wide group variable files.
      - A relative path resolves against the folder of the Ansible configuration file
        in use. When no configuration file is in use and the path is relative, no
        project layer is loaded.
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
  _valid_extensions:
    default: [".yml", ".yaml", ".json"]
    description:
      - Extensions of variable files, as for C(host_group_vars).
    env:
      - name: ANSIBLE_YAML_FILENAME_EXT
    ini:
      - key: yaml_valid_extensions
        section: defaults
    type: list
    elements: string
extends_documentation_fragment:
  - vars_plugin_staging
"""

import os

from ansible import constants as C
from ansible.inventory.group import InventoryObjectType
from ansible.plugins.vars import BaseVarsPlugin
from ansible.plugins.vars.host_group_vars import VarsModule as HostGroupVars
from ansible.utils.vars import combine_vars


def resolve_group_vars_dir(path, config_file):
    """Return the absolute project folder for ``path`` or None when it cannot be resolved."""
    if os.path.isabs(path):
        return os.path.realpath(path)
    if not config_file:
        return None
    return os.path.realpath(os.path.join(os.path.dirname(config_file), path))


def is_playbook_dir(path, basedir):
    """True when ``path`` is the playbook folder the loader works from."""
    if not basedir:
        return False
    return os.path.realpath(path) == os.path.realpath(basedir)


class VarsModule(BaseVarsPlugin):
    is_stateless = True

    def __init__(self):
        super().__init__()
        # Composed, not inherited: the builtin's REQUIRES_ENABLED marker is not
        # allowed on collection plugins, and the loader must not be re-entered.
        self._builtin = HostGroupVars()

    def _host_group_vars(self, loader, path, entities, cache):
        return self._builtin.get_vars(loader, path, entities, cache=cache)

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        if not isinstance(entities, list):
            entities = [entities]
        folder = resolve_group_vars_dir(self.get_option("path"), C.CONFIG_FILE)
        if folder is None or not os.path.isdir(folder):
            return self._host_group_vars(loader, path, entities, cache)
        if os.path.realpath(os.path.join(path, "group_vars")) == folder:
            # The project root itself (ansible-inventory's base folder when run from
            # the checkout): the project layer is already under each inventory.
            return {}
        data = {}
        if not is_playbook_dir(path, loader.get_basedir()):
            for entity in entities:
                if getattr(entity, "base_type", None) is InventoryObjectType.GROUP:
                    for found in loader.find_vars_files(folder, entity.name):
                        new_data = loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
                        if new_data:
                            data = combine_vars(data, new_data)
        return combine_vars(data, self._host_group_vars(loader, path, entities, cache))
