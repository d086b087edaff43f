"""MQTT JSON mappings: config problems at file:line, topic patterns, values and tag bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.mqtt_json.config import MappingSpec
from collectors.mqtt_json.intake import JsonIntake, Placement
from collectors.mqtt_json.mapping import CompiledMapping
from collectors.mqtt_json.paths import TopicPattern
from gateway.config import check_config
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import kind_totals
from gateway.plugins import PLUGINS

GOOD = """\
mqtt_json:
  mappings:
    - name: shelly
      topic: "shellies/{device}/sensor/#"
      measurement: environment
      device: "{device}"
      fields: {temp_c: tC}
sites:
  - id: s1
    name: School
    devices:
      - {kind: json_device, id: ht-1, mapping: shelly, match: shellyht-AB12, room: "1"}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('"shellies/{device}/sensor/#"', '"shellies/#/{device}"', 4, "'#' may only end"),
        ('device: "{device}"', 'device: "{room}"', 3, "{room} is not a named segment"),
        ("fields: {temp_c: tC}", "fields: {temp_c: 'a..b'}", 7, "has an empty key"),
        ("fields: {temp_c: tC}", "fields: {}", 7, "at least 1 item"),
        ("fields: {temp_c: tC}", "fields: {ok: {path: state, type: bool, scale: 2}}", 7, "scale"),
        ("mapping: shelly,", "mapping: shelley,", 12, "no mqtt_json mapping is named"),
        ("measurement: environment", "measurement: Env-1", 5, "should match pattern"),
    ],
)
def test_config_problems_name_the_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in GOOD
    path = tmp_path / "edumon.yaml"
    path.write_text(GOOD.replace(old, new))
    problems = check_config(path, PLUGINS, {})
    assert [p.line for p in problems] == [line], problems
    assert message in problems[0].message


def test_the_good_config_has_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "edumon.yaml"
    path.write_text(GOOD)
    assert check_config(path, PLUGINS, {}) == []


@pytest.mark.parametrize(
    ("pattern", "topic", "bound"),
    [
        ("tele/{device}/SENSOR", "tele/plug_1/SENSOR", {"device": "plug_1"}),
        ("tele/{device}/SENSOR", "tele/plug_1/STATE", None),
        ("tele/{device}/SENSOR", "tele/a/b/SENSOR", None),
        ("shellies/{d}/sensor/#", "shellies/ht/sensor/temperature", {"d": "ht"}),
        ("a/+/{x}", "a/b/c", {"x": "c"}),
        ("a/+/{x}", "a/b", None),
    ],
)
def test_topic_patterns(pattern: str, topic: str, bound: dict[str, str] | None) -> None:
    assert TopicPattern.parse(pattern).match(topic) == bound


def intake(tmp_path: Path, **mapping: object) -> JsonIntake:
    spec = MappingSpec.model_validate(
        {"name": "m", "topic": "agent/{ap}/radio", "measurement": "wifi_ap", **mapping}
    )
    dead = DeadLetterFile(tmp_path / "dead.jsonl")
    return JsonIntake([CompiledMapping.of(spec)], {("m", "x"): Placement("s", "r", "x")}, dead)


def test_tag_values_from_devices_are_capped(tmp_path: Path) -> None:
    json_intake = intake(
        tmp_path,
        tags={"ap": {"value": "{ap}", "max_values": 2}, "band": {"path": "band"}},
        fields={"clients": {"path": "sta", "type": "int"}},
    )
    body = json.dumps({"band": "5g", "sta": 3}).encode()
    assert [
        s.tags["ap"]
        for ap in ("a1", "a2", "a1")
        for s in json_intake.handle(f"agent/{ap}/radio", body)
    ] == ["a1", "a2", "a1"]
    assert json_intake.handle("agent/a3/radio", body) == []
    assert kind_totals(json_intake.counts) == {
        ("accepted", ""): 3,
        ("rejected", "too many tag values"): 1,
    }
    [record] = json_intake.dead_letters.read()
    assert "at most 2 become series" in record["reason"]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b'{"sta": 1e400, "band": "5g"}', "wrong type"),  # parsed as infinity
        (b'{"sta": 99999999999999999999, "band": "5g"}', "wrong type"),  # beyond 64 bits
        (b'{"sta": 1.5, "band": "5g"}', "wrong type"),  # not an integer
        (b'{"sta": 3, "band": "\\ud800"}', "bad tag"),  # lone surrogate
        (b'{"sta": 3, "band": {"x": 1}}', "bad tag"),
        (b'{"sta": 3}', "missing tag"),
        (b"[" * 60_000, "invalid JSON"),
        (b'{"sta": 3, "band": "5g", "pad": "' + b"x" * 70_000 + b'"}', "too large"),
    ],
)
def test_hostile_payloads_are_dead_lettered(tmp_path: Path, payload: bytes, kind: str) -> None:
    json_intake = intake(
        tmp_path,
        tags={"band": {"path": "band"}},
        fields={"clients": {"path": "sta", "type": "int"}},
    )
    assert json_intake.handle("agent/a1/radio", payload) == []
    assert kind_totals(json_intake.counts) == {("rejected", kind): 1}
    assert json_intake.dead_letters.read()[0]["reason"].startswith(kind)
