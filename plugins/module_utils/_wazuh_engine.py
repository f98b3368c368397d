# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small model of how wazuh-analysisd picks a rule, for the generated rules and the stock
rules an eventchannel event passes on its way to them (``_wazuh_stock``).

It follows the engine's source (4.7 to 4.14) and was checked against the engine built from
v4.7.5, v4.9.2 and v4.14.7 (docs/wazuh-ruleset.md, "Engine behaviour relied on"):

* While the rules load, a level-0 rule is stored as level 99 and every level is multiplied by
  100 (``src/analysisd/rules.c``, ``Rules_OP_ReadRules``); ``_OS_AddRule``
  (``src/analysisd/rules_list.c``) inserts a child before the first sibling of strictly lower
  stored level. So a parent's children run **level 0 first**, then highest level first, equal
  levels in load order (stock files load before ``etc/rules``).
* ``OS_CheckIfRuleMatch`` (``src/analysisd/rules.c``) takes the first child whose own
  conditions match and descends into it; if none of that child's children matches, the child
  is the result and its later siblings are never tried (a matching level-0 rule ends the
  event silently).
* A ``<field>`` or dynamic ``<list>`` on a field the event lacks never matches, negate or not.
* ``<regex>`` runs on the full log (for eventchannel events the decoder's compact JSON, UTF-8
  kept as is); ``type="pcre2"`` patterns compile with no options (byte-wise).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_stock import EVENTCHANNEL_ROOT, RULES, StockRule

_HEX_ESCAPE = re.compile(r"\\x\{([0-9a-fA-F]{2})\}")
EVENTCHANNEL_DECODER = "windows_eventchannel"


@lru_cache(maxsize=1024)
def compile_pcre2(pattern: str) -> re.Pattern[bytes]:
    """Translate the PCRE2 subset the generator emits into a Python bytes regex."""
    return re.compile(_HEX_ESCAPE.sub(r"\\x\1", pattern).encode("utf-8"))


def compact_json(event: dict) -> str:
    """The full log as the decoders leave it: compact JSON on one line, UTF-8 kept (cJSON)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def field_value(event: dict, dotted: str) -> str | None:
    """Wazuh's JSON decoder exposes nested keys as dotted field names."""
    node: object = event
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, (dict, list)) or node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def stored_level(level: int) -> int:
    """The level a rule sorts by among its siblings while the rules load (rules.c)."""
    return 9900 if level == 0 else level * 100


def insert_child(siblings: list, node, level: int) -> None:
    """``_OS_AddRule``: before the first sibling of strictly lower stored level, else last."""
    key = stored_level(level)
    for position, (_sibling, sibling_level) in enumerate(siblings):
        if key > stored_level(sibling_level):
            siblings.insert(position, (node, level))
            return
    siblings.append((node, level))


def _search(pattern: str, text: str) -> bool:
    return compile_pcre2(pattern).search(text.encode("utf-8")) is not None


def rule_matches(rule, event: dict, full_log: str, lists: dict[str, dict[str, str]], decoder: str) -> bool:
    """Evaluate one generated rule's own conditions (not its parents) against ``event``."""
    if rule.decoded_as and rule.decoded_as != decoder:
        return False
    for pattern, negate in rule.regex:
        if _search(pattern, full_log) == negate:
            return False
    for name, pattern, negate in rule.fields:
        value = field_value(event, name)
        if value is None or _search(pattern, value) == negate:
            return False
    for name, lookup, list_name in rule.lists:
        value = field_value(event, name)
        if value is None:
            return False
        present = value in lists[list_name]
        if (lookup == "match_key") != present:
            return False
    return True


class Tree:
    """The stock routing rules with the generated rules inserted as the engine inserts them.

    ``rules`` are the generated rules in file order. Stock children keep their stock order
    (``_wazuh_stock`` lists them as the engine orders them); generated rules load after them.
    """

    def __init__(self, rules: list) -> None:
        self.children: dict[int, list] = {
            rid: [(RULES[c], RULES[c].level) for c in stock.children] for rid, stock in RULES.items()
        }
        self.roots: list = []
        own = {rule.rule_id for rule in rules}
        for rule in rules:
            if not rule.parents:
                insert_child(self.roots, rule, rule.level)
            for parent in rule.parents:
                if parent in own or parent in RULES:
                    insert_child(self.children.setdefault(parent, []), rule, rule.level)

    def route(self, event: dict, lists: dict[str, dict[str, str]], decoder: str) -> list:
        """The rules the event passes, root first; the last one is where the engine ends."""
        full_log = compact_json(event)

        def matches(node) -> bool:
            if isinstance(node, StockRule):
                return node.matches(lambda name: field_value(event, name))
            return rule_matches(node, event, full_log, lists, decoder)

        if decoder == EVENTCHANNEL_DECODER:
            candidates = [RULES[EVENTCHANNEL_ROOT]]
        else:
            candidates = [root for root, _level in self.roots]
        taken: list = []
        while True:
            node = next((c for c in candidates if matches(c)), None)
            if node is None:
                return taken
            taken.append(node)
            candidates = [child for child, _level in self.children.get(node.rule_id, [])]


def decoder_for(event: dict) -> str:
    """Eventchannel events are JSON with a top-level ``win`` object; the rest decode as json."""
    return EVENTCHANNEL_DECODER if isinstance(event.get("win"), dict) else "json"


def route(rules: list, event: dict, lists: dict[str, dict[str, str]], tree: Tree | None = None) -> list:
    """The rules (stock and generated) the engine passes for ``event``, as in a trace."""
    return (tree or Tree(rules)).route(event, lists, decoder_for(event))


def winner(rules: list, event: dict, lists: dict[str, dict[str, str]], tree: Tree | None = None):
    """The rule (stock or generated) the engine would end on for ``event``, or None."""
    taken = route(rules, event, lists, tree)
    return taken[-1] if taken else None


def trace(nodes: list) -> str:
    """``60000 > 60003 > 60601``."""
    return " > ".join(str(node.rule_id) for node in nodes)
