"""What every `edumon` sub-command needs: logging set-up and a config or a clear exit."""

from __future__ import annotations

import logging
import sys

from gateway.config import ConfigError, EdumonConfig, load_config


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def load_or_exit(path: str) -> EdumonConfig:
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
