"""Every rule of the default pack links a runbook page that exists in docs/runbooks/, below
edumon's own address unless `alerts.runbook_base_url` (or the rules file) says otherwise; the
pages are served at /runbooks/ beside the index at /."""

from __future__ import annotations

from pathlib import Path

from gateway.alerts.rules import DEFAULT_RULES, DEFAULT_RUNBOOK_BASE_URL, RuleFile, load_rules
from gateway.alerts.service import Alerting
from gateway.collector import device_tags
from gateway.config import load_config
from gateway.http_pages import own_runbooks_url, page_routes
from gateway.http_server import Request
from gateway.metrics import Metrics
from gateway.plugins import PLUGINS
from gateway.yaml_lines import load_with_lines

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"


def test_every_default_rule_links_an_existing_runbook_at_edumon_itself() -> None:
    assert DEFAULT_RUNBOOK_BASE_URL == "http://127.0.0.1:9108/runbooks"
    for rule in load_rules():
        assert rule.runbook is not None, rule.name
        assert rule.runbook.startswith(f"{DEFAULT_RUNBOOK_BASE_URL}/"), rule.runbook
        page = rule.runbook.removeprefix(f"{DEFAULT_RUNBOOK_BASE_URL}/")
        assert (RUNBOOKS / f"{page}.md").is_file(), rule.name


def test_the_service_links_its_own_address_unless_configured(tmp_path: Path) -> None:
    config = tmp_path / "edumon.yaml"
    config.write_text(f"service: {{state_dir: {tmp_path / 'state'}}}\nsites: []\n")
    own = own_runbooks_url("10.0.0.5", 9200, tls=True)
    assert own == "https://10.0.0.5:9200/runbooks"
    alerting = Alerting(
        load_config(config, PLUGINS, {}), Metrics(), device_tags(PLUGINS), None, own
    )
    links = {rule.runbook for rule in alerting.engine.rules.values()}
    assert links and all(link and link.startswith(f"{own}/") for link in links)

    config.write_text(
        f"service: {{state_dir: {tmp_path / 'state'}}}\nsites: []\n"
        "alerts: {runbook_base_url: 'https://wiki.city.lv/edumon'}\n"
    )
    alerting = Alerting(
        load_config(config, PLUGINS, {}), Metrics(), device_tags(PLUGINS), None, own
    )
    links = {rule.runbook for rule in alerting.engine.rules.values()}
    assert "https://wiki.city.lv/edumon/uplink-down" in links
    assert all(link and link.startswith("https://wiki.city.lv/edumon/") for link in links)


def test_a_rules_file_may_name_its_own_base_url() -> None:
    data, _ = load_with_lines(DEFAULT_RULES.read_text(encoding="utf-8"))
    pack = RuleFile.model_validate({**data, "runbook_base_url": "https://wiki.city.lv/edumon/"})
    assert "https://wiki.city.lv/edumon/uplink-down" in {r.runbook for r in pack.resolved_rules()}


async def test_the_index_and_the_runbook_pages() -> None:
    routes = page_routes("edumon-test", RUNBOOKS)
    index = await routes["/"](Request("GET", "/", {}))
    assert index.status == 200 and index.content_type.startswith("text/html")
    for link in ("/status", "/healthz", "/metrics", "/topology", "/runbooks/"):
        assert f'href="{link}"'.encode() in index.body
    page = await routes["/runbooks/"](Request("GET", "/runbooks/uplink-down", {}))
    assert page.status == 200
    assert b"<h1>UplinkDown: a school's uplink port is down</h1>" in page.body
    assert b"<h2>What to do</h2>\n<ol><li>School detail" in page.body
    listing = await routes["/runbooks/"](Request("GET", "/runbooks/", {}))
    assert b'<a href="uplink-down">' in listing.body
    raw = await routes["/runbooks/"](Request("GET", "/runbooks/uplink-down.md", {}))
    assert raw.content_type.startswith("text/markdown")
    assert raw.body == (RUNBOOKS / "uplink-down.md").read_bytes()
    for missing in ("/runbooks/nope", "/runbooks/../../pyproject", "/runbooks/a/b"):
        assert (await routes["/runbooks/"](Request("GET", missing, {}))).status == 404
