"""The readiness_window filter: the module's window, fixed once; errors as filter errors."""

from __future__ import annotations

import time

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.filter.readiness_window import FilterModule

window = FilterModule().filters()["readiness_window"]


def test_a_fixed_end():
    assert window(30, "2026-12-01T00:00:00Z") == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-12-01T00:00:00Z",
        "days": 30.0,
    }


def test_now_by_default():
    found = window("7")
    assert found["days"] == 7.0
    assert found["end"] <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))


@pytest.mark.parametrize(
    ("days", "end", "message"),
    [("a week", "", "window_days 'a week' is not a number"), (0, "", "must be a positive"), (3, "x", "'x' is not")],
)
def test_errors(days, end, message):
    with pytest.raises(AnsibleFilterError, match=f"readiness_window: .*{message}"):
        window(days, end)
