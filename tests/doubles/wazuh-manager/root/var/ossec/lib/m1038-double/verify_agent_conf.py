# TEST DOUBLE of verify-agent-conf (m1038.appcontrol tests). Not Wazuh. Run through bin/verify-agent-conf.
# `-f FILE`: reads FILE as Wazuh's own XML reader does (os_xml: no entity decoded, a '<' in text only
# behind an odd run of backslashes, which stay in the text), with _wazuh_osxml.py, a copy of the
# project's port of src/os_xml/os_xml.c made at build time; then checks that it is made of
# <agent_config> blocks whose <localfile> entries have <location> and <log_format>.
# `-f FILE --show` (a TEST DOUBLE extension, not in Wazuh's tool): also prints, as JSON, each localfile
# as read, and its query as the Windows agent passes it to EvtSubscribe (filter_special_chars()).
# Fault injection for the interrupted-run tests (molecule broken_rule), files under HOME/etc:
#   .m1038-double-fail-verify-agent-conf  every check fails, printing the file's text (not consumed)
#   .m1038-double-hang-verify-agent-conf  the check waits while the file exists (at most 10 min), after
#                                         writing its pid to .m1038-double-verify-agent-conf-waiting
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _wazuh_osxml import OsXmlError, agent_unescape, read  # noqa: E402

HOME = os.environ.get("M1038_DOUBLE_HOME", os.path.dirname(os.path.dirname(HERE)))
FAIL = os.path.join(HOME, "etc", ".m1038-double-fail-verify-agent-conf")
HANG = os.path.join(HOME, "etc", ".m1038-double-hang-verify-agent-conf")
WAITING = os.path.join(HOME, "etc", ".m1038-double-verify-agent-conf-waiting")


def injected_fault(path):
    """Apply a fault a test injected; return an exit code when the check must fail."""
    if os.path.exists(HANG):
        with open(WAITING, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        deadline = time.monotonic() + 600
        while os.path.exists(HANG) and time.monotonic() < deadline:
            time.sleep(0.2)
    if os.path.exists(FAIL):
        with open(FAIL, encoding="utf-8") as handle:
            reason = handle.read().strip()
        print(f"verify-agent-conf: ERROR: (test double) {path}: fault injected by a test: {reason}", file=sys.stderr)
        return 1
    return None


def localfiles(root):
    found = []
    for localfile in root.find_all("localfile"):
        entry = {}
        for name in ("location", "log_format", "query"):
            node = next(localfile.find_all(name), None)
            entry[name] = node.content if node is not None else None
        entry["query_for_agent"] = agent_unescape(entry["query"]) if entry["query"] is not None else None
        found.append(entry)
    return found


def main(argv):
    if len(argv) not in (3, 4) or argv[1] != "-f" or argv[3:] not in ([], ["--show"]):
        print("verify-agent-conf (TEST DOUBLE): usage: verify-agent-conf -f FILE [--show]", file=sys.stderr)
        return 2
    path = argv[2]
    fault = injected_fault(path)
    if fault is not None:
        return fault
    try:
        with open(path, "rb") as handle:  # os_xml reads bytes and decodes nothing
            root = read(handle.read().decode("utf-8", "surrogateescape"))
    except (OSError, OsXmlError) as exc:
        print(f"verify-agent-conf: ERROR: (test double) {path}: {exc}", file=sys.stderr)
        return 1
    errors = []
    for child in root.children:
        if child.element != "agent_config":
            errors.append(f"unexpected top-level element <{child.element}>")
    for entry in localfiles(root):
        for needed in ("location", "log_format"):
            if not (entry[needed] or "").strip():
                errors.append(f"<localfile> without <{needed}>")
    for error in errors:
        print(f"verify-agent-conf: ERROR: (test double) {path}: {error}", file=sys.stderr)
    if not errors and argv[3:] == ["--show"]:
        print(json.dumps(localfiles(root), indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
