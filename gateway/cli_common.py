"""What every `edumon` sub-command needs: logging set-up (text or JSON lines), a config or a
clear exit, the example city wherever edumon is installed, and one clear line for a port that
is already taken."""

from __future__ import annotations

import errno
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from gateway.collector import Plugins
from gateway.config import ConfigError, EdumonConfig, load_config
from gateway.shipped import shipped

LogFormat = Literal["text", "json"]
_log_format: LogFormat = "text"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def set_log_format(log_format: LogFormat) -> None:
    """Chosen once by `edumon --log-format`, before a command sets logging up."""
    global _log_format
    _log_format = log_format


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if _log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def load_or_exit(path: str, plugins: Plugins) -> EdumonConfig:
    try:
        return load_config(path, plugins)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def example_config() -> Path:
    """The example city: the repository's examples/city.yaml, else the copy a wheel installs
    in <prefix>/share/edumon/examples/."""
    return shipped("examples/city.yaml", "examples/city.yaml")


def port_in_use(error: OSError, components: dict[str, str]) -> str | None:
    """The one line for an address already in use, naming the port and the component that
    wanted it (`components`: "host:port" -> what listens there); None for other errors."""
    if error.errno != errno.EADDRINUSE:
        return None
    found = re.search(r"\('?\[?([^'\]]*)\]?'?, (\d+)", str(error))
    where = f"{found.group(1)}:{found.group(2)}" if found else "?"
    port = found.group(2) if found else "?"
    component = next(
        (name for address, name in components.items() if address.rpartition(":")[2] == port),
        "a collector's listener (see its *_listen setting)",
    )
    return f"edumon: port {port} ({where}) is already in use; {component} cannot listen there"


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (stdout keeps the command's result); yields `advance`.
    Not a terminal: nothing is drawn."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    timing = (TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, *timing, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
