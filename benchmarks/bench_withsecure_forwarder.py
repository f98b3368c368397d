"""Benchmark the WithSecure forwarder: N events from the FAKE Elements API on loopback to the output file.

The fake (tests/doubles/withsecure-api/fake_elements_api.py) runs in its own process holding N
application-control events; the forwarder runs in a fresh interpreter so that its peak RSS
(``ru_maxrss``) is its own. Printed per size:

* ``fetch only``: the client pages through every event (token, ``nextAnchor``) and keeps nothing,
  the cost of HTTP and JSON alone;
* ``forward``: a whole run, as the systemd unit starts it - pages, one line per event, an fsync per
  page and an atomic cursor per page, the status file;
* ``resume``: a second run right after, which finds nothing new (the cost of a quiet poll).

Figures only; it asserts nothing but that every event arrived once.

    .cache/venv/bin/python benchmarks/bench_withsecure_forwarder.py --events 100000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / "collections"
FAKE = ROOT / "tests" / "doubles" / "withsecure-api" / "fake_elements_api.py"
CLIENT_ID = "m1038-bench-client"

FETCH_CODE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_api import ElementsClient
secret = open(sys.argv[3]).readline().strip()
client = ElementsClient(sys.argv[2], sys.argv[4], secret, user_agent="m1038-bench")
form = [("engine", "applicationControl"), ("persistenceTimestampStart", "2000-01-01T00:00:00.000Z"),
        ("exclusiveStart", "false"), ("order", "asc"), ("limit", "200")]
start = time.perf_counter()
count, pages, anchor = 0, 0, None
while True:
    page = client.events_page(form + ([("anchor", anchor)] if anchor else []))
    count += len(page.items)
    pages += 1
    anchor = page.next_anchor
    if not anchor:
        break
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "events": count, "pages": pages,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

FORWARD_CODE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_forward import forward, load_config
config = load_config(sys.argv[2])
start = time.perf_counter()
code = forward(config, log=lambda message: None)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "exit": code,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_json(code, *args):
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_listening(port, proc, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the fake API exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit("the fake API did not start")


def bench(count, workdir):
    secret = workdir / "client_secret"
    secret.write_text("m1038-bench-secret\n", encoding="utf-8")
    secret.chmod(0o600)
    port = free_port()
    started = time.perf_counter()
    fake = subprocess.Popen(
        [
            sys.executable,
            str(FAKE),
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--secret-file",
            str(secret),
            "--generate",
            str(count),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, fake)
        generated = time.perf_counter() - started
        url = f"http://127.0.0.1:{port}"
        fetch = run_json(FETCH_CODE, COLLECTIONS, url, secret, CLIENT_ID)
        state = workdir / "state"
        state.mkdir()
        output = workdir / "out" / "events.json"
        output.parent.mkdir()
        config = workdir / "forwarder.json"
        config.write_text(
            json.dumps(
                {
                    "api_url": url,
                    "client_id": CLIENT_ID,
                    "client_secret_file": str(secret),
                    "output": str(output),
                    "state_dir": str(state),
                    "start_lookback_minutes": 24 * 60,
                    "output_max_bytes": 0,
                }
            ),
            encoding="utf-8",
        )
        forward = run_json(FORWARD_CODE, COLLECTIONS, config)
        resume = run_json(FORWARD_CODE, COLLECTIONS, config)
        status = json.loads((state / "status.json").read_text(encoding="utf-8"))
        size = output.stat().st_size
        ids = set()
        with output.open("rb") as handle:
            for line in handle:
                ids.add(json.loads(line)["withsecure"]["id"])
        assert forward["exit"] == 0 and resume["exit"] == 0 and len(ids) == count == fetch["events"], "events lost"
    finally:
        fake.terminate()
        fake.wait()
    return {
        "generated": generated,
        "fetch": fetch,
        "forward": forward,
        "resume": resume,
        "pages": status["totals"]["pages"] - status["last_run"]["pages"],
        "bytes": size,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--events", default="100000", help="comma-separated event counts")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'events':>8} {'pages':>6} {'output':>9} | {'fetch only':>11} {'ev/s':>8} | "
        f"{'forward':>9} {'ev/s':>8} {'peak RSS':>9} | {'resume':>8}"
    )
    for count in (int(n) for n in args.events.split(",")):
        with tempfile.TemporaryDirectory(prefix="m1038-bench-ws-") as tmp:
            r = bench(count, Path(tmp))
        fetch_s, forward_s = r["fetch"]["seconds"], r["forward"]["seconds"]
        print(
            f"{count:>8,} {r['pages']:>6} {r['bytes'] / 1e6:>7.1f}MB | {fetch_s:>9.2f} s {count / fetch_s:>8,.0f} | "
            f"{forward_s:>7.2f} s {count / forward_s:>8,.0f} {r['forward']['peak_kb'] / 1024:>6.1f} MB | "
            f"{r['resume']['seconds']:>6.3f} s"
        )


if __name__ == "__main__":
    main()
