"""A webhook receiver standing in for the paging relay behind Alertmanager: it records every
notification Alertmanager sends (a real HTTP server on loopback, in a thread, because
Alertmanager calls it whatever the test's event loop is doing)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Page:
    receiver: str  # the path Alertmanager posted to: one per receiver
    body: dict[str, Any]

    @property
    def site(self) -> str | None:
        site: str | None = self.body.get("groupLabels", {}).get("site")
        return site

    def firing(self) -> list[str]:
        return [a["labels"]["alertname"] for a in self.body["alerts"] if a["status"] == "firing"]


class Pager:
    def __init__(self) -> None:
        self.pages: list[Page] = []
        self._lock = threading.Lock()
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with pager._lock:
                    pager.pages.append(Page(self.path.strip("/"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Pager:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def for_site(self, site: str) -> list[Page]:
        with self._lock:
            return [page for page in self.pages if page.site == site]
