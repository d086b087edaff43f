"""CPython stand-in for MicroPython's `machine`: only what the firmware touches."""

from __future__ import annotations


class WDT:
    """Counts feeds instead of resetting the board."""

    def __init__(self, id: int = 0, timeout: int = 5000) -> None:
        self.timeout = timeout
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    IRQ_FALLING = 2

    def __init__(self, id: int, mode: int = IN, pull: int | None = None) -> None:
        self.id = id
        self.handler = None

    def irq(self, trigger: int = IRQ_FALLING, handler: object = None) -> None:
        self.handler = handler
