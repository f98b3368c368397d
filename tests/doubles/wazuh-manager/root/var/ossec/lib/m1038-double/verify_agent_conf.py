# TEST DOUBLE of verify-agent-conf (m1038.appcontrol tests). Not Wazuh. Run through bin/verify-agent-conf.
# `-f FILE`: checks that FILE is well-formed XML made of <agent_config>
# blocks whose <localfile> entries have <location> and <log_format>.
import sys
import xml.etree.ElementTree as ET


def main(argv):
    if len(argv) != 3 or argv[1] != "-f":
        print("verify-agent-conf (TEST DOUBLE): usage: verify-agent-conf -f FILE", file=sys.stderr)
        return 2
    path = argv[2]
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
