"""The first poll's profile choices are one INFO line ("42 switches: 40 generic, 2 ..."), each
device's choice is at debug level, and a later change of profile is one line of its own."""

from __future__ import annotations

import logging

import pytest

from collectors.snmp.profile_log import ProfileChoices
from collectors.snmp.profiles import load_profiles, match_profile

PROFILES = load_profiles()
NET_SNMP = "1.3.6.1.4.1.8072.3.2.10"


def info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]


def test_the_first_round_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "collectors.snmp.poller")
    choices = ProfileChoices()
    choices.expected = 42
    generic = match_profile(PROFILES, NET_SNMP, "edumon simulated switch")
    other = match_profile(PROFILES, "1.3.6.1.4.1.9.1.1", "Cisco IOS Software")
    for n in range(40):
        choices.matched(f"sw-{n}", generic)
    assert info_lines(caplog) == []
    choices.matched("sw-40", other)
    choices.matched("sw-41", other)
    name, other_name = generic.profile.name, other.profile.name
    assert name != other_name
    assert info_lines(caplog) == [f"SNMP profiles: 42 switches: 40 {name}, 2 {other_name}"]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 42 and debug[0].startswith(f"sw-0: profile {name} (")
    choices.matched("sw-0", other)  # new firmware
    assert info_lines(caplog)[-1].startswith(f"sw-0: profile now {other_name}, was {name}")


def test_silent_switches_do_not_hold_the_line_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "collectors.snmp.poller")
    now = [0.0]
    choices = ProfileChoices(clock=lambda: now[0])
    choices.expected, choices.round_s = 3, 60.0
    generic = match_profile(PROFILES, NET_SNMP, "")
    choices.matched("sw-1", generic)
    now[0] = 5.0
    choices.matched("sw-2", generic)
    now[0] = 20.0
    choices.polled_again("sw-2")  # out of schedule (a device behind it went down)
    assert info_lines(caplog) == []
    now[0] = 60.0
    choices.polled_again("sw-1")  # the second round began; sw-3 never answered
    name = generic.profile.name
    assert info_lines(caplog) == [f"SNMP profiles: 2 switches: 2 {name} (1 not answering yet)"]
