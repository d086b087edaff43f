"""A real SMTP server for tests: aiosmtpd (PyPI) as a child process on a free loopback port,
storing every mail it receives in a Maildir the test reads."""

from __future__ import annotations

import mailbox
import socket
import subprocess
import sys
import time
from email.message import Message
from pathlib import Path
from types import TracebackType

from gateway.devstack.child_server import free_port


class SmtpServer:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SmtpServer:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"]
        command += ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)]
        self._process = subprocess.Popen(command, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while not self._accepts():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"aiosmtpd did not start: {self._stderr()}")
            time.sleep(0.1)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _stderr(self) -> str:
        assert self._process is not None and self._process.stderr is not None
        return self._process.stderr.read().decode(errors="replace") if self._process.poll() else ""

    def mails(self) -> list[Message]:
        return list(mailbox.Maildir(self.maildir, create=True))

    def clear(self) -> None:
        mailbox.Maildir(self.maildir, create=True).clear()
