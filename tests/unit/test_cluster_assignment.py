"""Rendezvous hashing of targets over members, the shared poll grid, and the `cluster` and
`alertmanager` config sections."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gateway.cluster.node import next_slot_ns, phase_ns
from gateway.cluster.rendezvous import assignment, owner
from gateway.config import check_config, load_config
from gateway.plugins import PLUGINS

TARGETS = [f"school-{n:03d}-sw" for n in range(600)]
THREE = ["edumon-a", "edumon-b", "edumon-c"]


def test_every_target_has_exactly_one_owner_whatever_the_order_of_members() -> None:
    forward = assignment(TARGETS, THREE)
    backward = assignment(TARGETS, list(reversed(THREE)))
    assert forward == backward
    assert set(forward.values()) == set(THREE)


def test_targets_spread_evenly() -> None:
    shares = Counter(assignment(TARGETS, THREE).values())
    assert all(150 <= n <= 250 for n in shares.values()), shares


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (THREE, ["edumon-a", "edumon-b"]),  # c leaves
        (THREE, ["edumon-b", "edumon-c"]),  # a leaves
        (THREE, [*THREE, "edumon-d"]),  # d joins
        (["edumon-a"], ["edumon-a", "edumon-b"]),  # a second member
        (["edumon-a", "edumon-b"], ["edumon-a"]),  # back to one
    ],
)
def test_only_the_share_of_the_member_that_joined_or_left_moves(
    before: list[str], after: list[str]
) -> None:
    old, new = assignment(TARGETS, before), assignment(TARGETS, after)
    moved = {t for t in TARGETS if old[t] != new[t]}
    left, joined = set(before) - set(after), set(after) - set(before)
    # a leaver's targets all move, and nothing else does; a joiner takes only what it now owns
    assert moved == {t for t in TARGETS if old[t] in left or new[t] in joined}
    assert all(new[t] not in left for t in TARGETS)


def test_no_member_no_owner() -> None:
    assert owner("sw-1", []) is None
    assert owner("sw-1", ["only"]) == "only"


S = 1_000_000_000


@pytest.mark.parametrize(
    ("now", "interval", "phase", "due"),
    [
        (0, 5 * S, 0, 5 * S),  # exactly on a slot: the next one
        (1, 5 * S, 0, 5 * S),
        (4 * S, 5 * S, 2 * S, 7 * S),
        (2 * S, 5 * S, 2 * S, 7 * S),
        (2 * S - 1, 5 * S, 2 * S, 2 * S),
        (1_764_000_003 * S, 3 * S, S // 2, 1_764_000_003 * S + S // 2),
    ],
)
def test_next_slot_on_the_grid(now: int, interval: int, phase: int, due: int) -> None:
    assert next_slot_ns(now, interval, phase) == due


def test_phase_is_a_function_of_the_target_name_only() -> None:
    phases = {phase_ns(t, 5 * S) for t in TARGETS[:50]}
    assert len(phases) == 50 and all(0 <= p < 5 * S for p in phases)
    assert phase_ns("sw-1", 5 * S) == phase_ns("sw-1", 5 * S)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(text)
    return path


def test_cluster_section_with_credentials_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
cluster:
  name: city
  member: edumon-a
  etcd_endpoints: ["https://127.0.0.1:2379", "https://127.0.0.2:2379"]
  username_env: ETCD_USER
  password_env: ETCD_PASSWORD
  ca_file: etcd-ca.pem
alertmanager: {urls: ["http://127.0.0.1:9093", "http://127.0.0.1:9095"]}
""",
    )
    config = load_config(path, PLUGINS, {"ETCD_USER": "edumon", "ETCD_PASSWORD": "s3cret"})
    assert config.cluster is not None
    assert config.cluster.password is not None
    assert config.cluster.password.get_secret_value() == "s3cret"
    assert config.cluster.ca_file == tmp_path / "etcd-ca.pem"
    assert config.alertmanager is not None
    assert config.alertmanager.all_urls == ["http://127.0.0.1:9093", "http://127.0.0.1:9095"]
    assert "s3cret" not in repr(config)


def test_without_cluster_section_edumon_is_alone_and_one_alertmanager_url_works(
    tmp_path: Path,
) -> None:
    config = load_config(
        write(tmp_path, "alertmanager: {url: http://127.0.0.1:9093}\n"), PLUGINS, {}
    )
    assert config.cluster is None
    assert config.alertmanager is not None
    assert config.alertmanager.all_urls == ["http://127.0.0.1:9093"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{name: city}", "cluster.etcd_endpoints: Field required"),
        ("{name: city, etcd_endpoints: []}", "at least 1 item"),
        ("{name: 'a/b', etcd_endpoints: ['http://127.0.0.1:2379']}", "cluster.name"),
        ("{name: c, etcd_endpoints: ['http://127.0.0.1:2379'], lease_ttl_s: 1}", "lease_ttl_s"),
        (
            "{name: c, etcd_endpoints: ['http://127.0.0.1:2379'], cert_file: c.pem}",
            "cert_file and key_file go together",
        ),
        ("{name: c, etcd_endpoints: ['http://127.0.0.1:2379'], password: x}", "unknown key"),
    ],
)
def test_cluster_section_problems(tmp_path: Path, section: str, message: str) -> None:
    problems = check_config(write(tmp_path, f"cluster: {section}\n"), PLUGINS, {})
    assert any(message in str(problem) for problem in problems), problems
