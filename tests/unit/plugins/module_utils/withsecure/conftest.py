"""Fixtures for the WithSecure forwarder tests: the FAKE Elements API on loopback and a configuration.

The fake (tests/doubles/withsecure-api/fake_elements_api.py) is real HTTP on 127.0.0.1 with a random
port; every test gets a fresh one. Nothing here mocks the client: it talks HTTP to the fake.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[5]
FAKE_PATH = PROJECT / "tests" / "doubles" / "withsecure-api" / "fake_elements_api.py"
CLIENT_ID = "m1038-test-client"
SECRET = "m1038-test-secret-Zq7!x"  # noqa: S105 - a test credential; the tests check it never leaks


def load_fake():
    name = "m1038_fake_elements_api"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FAKE_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_api = load_fake()


class Fake:
    """A running fake and shortcuts to its state."""

    def __init__(self, token_lifetime=3600):
        self.server, self.url = fake_api.start(client_id=CLIENT_ID, secret=SECRET, token_lifetime=token_lifetime)
        self.state = self.server.state

    def add(self, events):
        with self.state.lock:
            self.state.add(events)
        return events

    def generate(self, count, **kwargs):
        return self.add(fake_api.generate(count, **kwargs))

    def faults(self, *faults):
        with self.state.lock:
            self.state.faults.extend(faults)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = Fake()
    yield server
    server.stop()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "client_secret"
    path.write_text(SECRET + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def settings(tmp_path, fake, secret_file):
    """The forwarder's configuration (as the role writes it) for the fake, in tmp_path."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    return {
        "api_url": fake.url,
        "client_id": CLIENT_ID,
        "client_secret_file": str(secret_file),
        "output": str(tmp_path / "out" / "events.json"),
        "state_dir": str(state),
        "start_lookback_minutes": 180,
        "page_limit": 50,
        "max_attempts": 4,
        "backoff_max_seconds": 0,
    }


@pytest.fixture
def config_file(tmp_path, settings):
    (tmp_path / "out").mkdir(exist_ok=True)
    path = tmp_path / "forwarder.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def output_events(path):
    """The events in an output file, in order (every line must be one whole JSON object)."""
    if not os.path.exists(path):
        return []
    raw = Path(path).read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "the output ends in a partial line"
    return [json.loads(line)["withsecure"] for line in raw.splitlines()]
