# TEST DOUBLE of verify-agent-conf (m1038.appcontrol tests). Not Wazuh. Run through bin/verify-agent-conf.
# `-f FILE`: checks that FILE is well-formed XML made of <agent_config>
# blocks whose <localfile> entries have <location> and <log_format>.
# Fault injection for the interrupted-run tests (molecule broken_rule), files under HOME/etc:
#   .m1038-double-fail-verify-agent-conf  every check fails, printing the file's text (not consumed)
#   .m1038-double-hang-verify-agent-conf  the check waits while the file exists (at most 10 min), after
#                                         writing its pid to .m1038-double-verify-agent-conf-waiting
import os
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
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


def main(argv):
    if len(argv) != 3 or argv[1] != "-f":
        print("verify-agent-conf (TEST DOUBLE): usage: verify-agent-conf -f FILE", file=sys.stderr)
        return 2
    path = argv[2]
    fault = injected_fault(path)
    if fault is not None:
        return fault
    try:
        with open(path, encoding="utf-8") as handle:
            root = ET.fromstring("<wrap>" + handle.read() + "</wrap>")  # noqa: S314
    except (OSError, ET.ParseError) as exc:
        print(f"verify-agent-conf: ERROR: (test double) {path}: {exc}", file=sys.stderr)
        return 1
    errors = []
    for child in root:
        if child.tag != "agent_config":
            errors.append(f"unexpected top-level element <{child.tag}>")
        for localfile in child.iter("localfile"):
            for needed in ("location", "log_format"):
                if not (localfile.findtext(needed) or "").strip():
                    errors.append(f"<localfile> without <{needed}>")
    for error in errors:
        print(f"verify-agent-conf: ERROR: (test double) {path}: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
