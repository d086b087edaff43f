"""CPython stand-in for MicroPython's `network`: a WLAN a test switches up and down.

`connect()` brings the link up only while `reachable` is true (the access point in range),
as a real join does some time after connect() returns.
"""

from __future__ import annotations

STA_IF = 0
AP_IF = 1


class WLAN:
    def __init__(self, interface: int = STA_IF) -> None:
        self.interface = interface
        self.is_active = False
        self.up = False
        self.reachable = True
        self.connect_calls: list[tuple[str, str]] = []

    def active(self, value: bool | None = None) -> bool:
        if value is not None:
            self.is_active = value
        return self.is_active

    def connect(self, ssid: str, password: str) -> None:
        self.connect_calls.append((ssid, password))
        self.up = self.reachable

    def disconnect(self) -> None:
        self.up = False

    def isconnected(self) -> bool:
        return self.up
