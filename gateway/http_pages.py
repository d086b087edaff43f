"""edumon's human pages: the index at `/` (what this is, its version, where to look next) and
the runbooks under `/runbooks/` (docs/runbooks/*.md, which a wheel installs in
<prefix>/share/edumon/runbooks/), as simple HTML or, with `.md`, as the Markdown itself."""

from __future__ import annotations

import html
import re
import socket
from pathlib import Path

from gateway.http_server import Handler, Request, Response
from gateway.shipped import edumon_version, shipped

HTML = "text/html; charset=utf-8"
MARKDOWN = "text/markdown; charset=utf-8"
RUNBOOK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")
_CODE = re.compile(r"`([^`]+)`")
# the index's links: path, what it shows
ENDPOINTS = (
    ("/status", "status: sites, firing alerts, exhibits, collectors (JSON; `edumon status`)"),
    ("/healthz", "health of each component (JSON)"),
    ("/metrics", "edumon's own metrics (Prometheus text)"),
    ("/topology", "the network's shape as edumon discovered it (JSON)"),
    ("/runbooks/", "runbooks: what each alert means and what to do"),
    ("/probe?target=ID", "poll one configured device now, nothing written (Prometheus text)"),
)


def runbooks_dir() -> Path:
    return shipped("docs/runbooks", "runbooks")


def page_routes(service_name: str, runbooks: Path | None = None) -> dict[str, Handler]:
    """`/` and `/runbooks/` (every path below it) for the HTTP server."""
    directory = runbooks or runbooks_dir()

    async def index(_request: Request) -> Response:
        return Response(200, _index(service_name, directory), HTML)

    async def runbook(request: Request) -> Response:
        return _runbook(directory, request.path.removeprefix("/runbooks/"))

    return {"/": index, "/runbooks/": runbook}


def _index(service_name: str, runbooks: Path) -> bytes:
    items = "".join(
        f'<li><a href="{html.escape(path)}">{html.escape(path)}</a>: {_inline(what)}</li>'
        for path, what in ENDPOINTS
    )
    found = "" if runbooks.is_dir() else f"<p>No runbooks found in {html.escape(str(runbooks))}</p>"
    body = (
        f"<h1>edumon {html.escape(edumon_version())}: {html.escape(service_name)}</h1>"
        "<p>Monitoring for a city's school network and science centre: SNMP, MQTT, LoRaWAN and "
        "probes into InfluxDB, alerts to Alertmanager.</p>"
        f"<ul>{items}</ul>{found}"
    )
    return _page("edumon", body)


def _runbook(directory: Path, name: str) -> Response:
    raw = name.endswith(".md")
    stem = name.removesuffix(".md") or "README"
    path = directory / f"{stem}.md"
    if not (RUNBOOK_NAME.match(stem) or stem == "README") or not path.is_file():
        return Response(404, f"no runbook {name!r}\n".encode())
    text = path.read_text(encoding="utf-8")
    if raw:
        return Response(200, text.encode(), MARKDOWN)
    title = text.splitlines()[0].lstrip("# ") if text else stem
    return Response(200, _page(title, _markdown(text)), HTML)


def _page(title: str, body: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f'<body style="font-family:sans-serif;max-width:50em;margin:2em auto">'
        f'{body}<hr><p><a href="/">edumon</a> · <a href="/runbooks/">runbooks</a></p>'
        "</body></html>"
    ).encode()


def _markdown(text: str) -> str:
    """The runbooks' Markdown: headings, numbered and bulleted lists, paragraphs, `code` and
    links (a sibling `name.md` becomes the page `name`)."""
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines[0].startswith("#"):
            level = min(len(lines[0]) - len(lines[0].lstrip("#")), 6)
            blocks.append(f"<h{level}>{_inline(lines[0].lstrip('# '))}</h{level}>")
            lines = lines[1:]
        if not lines:
            continue
        if all(_ITEM.match(line) for line in lines):
            tag = "ol" if lines[0].lstrip()[0].isdigit() else "ul"
            items = "".join(f"<li>{_inline(_ITEM.sub('', line))}</li>" for line in lines)
            blocks.append(f"<{tag}>{items}</{tag}>")
        else:
            blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(blocks)


def _inline(text: str) -> str:
    escaped = _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))
    return _LINK.sub(lambda m: f'<a href="{_href(m.group(2))}">{m.group(1)}</a>', escaped)


def _href(target: str) -> str:
    page = target.removesuffix(".md")
    return page if RUNBOOK_NAME.match(page) else html.escape(target)


def own_runbooks_url(host: str, port: int, tls: bool) -> str:
    """The runbooks' address at edumon's own listener; a wildcard listener is named by this
    machine's name."""
    name = socket.getfqdn() if host in ("", "0.0.0.0", "::") else host
    name = f"[{name}]" if ":" in name else name
    return f"{'https' if tls else 'http'}://{name}:{port}/runbooks"
