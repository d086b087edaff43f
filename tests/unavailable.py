"""What a test needs and this machine lacks (a binary, root): a skip with the reason here, a
failure under CI=true, where everything is installed and nothing may skip (.ci/setup)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from gateway.devstack.servers import ChildServer


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`; under CI (the CI variable set) fail with it instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide it (see .ci/setup)", pytrace=False)
    pytest.skip(reason)


def require(server_class: type[ChildServer]) -> None:
    """The server's binary is installed, or the test is `unavailable`."""
    if reason := server_class.binary_missing_reason():
        unavailable(reason)
