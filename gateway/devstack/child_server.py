"""One real server as a child process on loopback: start with a readiness deadline, stop,
kill, restart on the same port. The concrete servers live in `gateway.devstack.servers`.

Synchronous on purpose (subprocess + urllib): usable from pytest fixtures, the CLI and the
demo before its event loop starts.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

PR_SET_PDEATHSIG = 1
PORT_ATTEMPTS = 5


class ServerError(RuntimeError):
    """A server did not start or answer; the message carries the tail of its log."""


class PortCollision(ServerError):
    """The server could not bind its port (another process took it)."""


# candidates in turn from a random start, as the kernel hands out its own: a port just given
# out (not yet bound by its server) is not given again before the whole range went round
_TURN = itertools.count(random.randrange(1 << 16))


def free_port(host: str = "127.0.0.1", kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port nothing holds on `host` now, for a server started a moment later.

    Taken below the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port from
    there, released, may be given to another process's client socket before the server binds
    it (seen: a simulated agent's UDP port taken while a parallel test ran); one below it is
    never handed out unasked. Where that range starts too low, the kernel picks (port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low = _ephemeral_low()
    first = low // 2
    for _ in range(100 if low > 2048 else 0):
        port = first + next(_TURN) % (low - first)
        with socket.socket(family, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens there (TIME_WAIT leftovers of old connections do not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def http_get(url: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    """(status, body); HTTP errors are answers too, connection errors raise OSError."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_request(
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30,
) -> bytes:
    """POST (GET without body) expecting 2xx; else ServerError with the start of the body."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as error:
        raise ServerError(f"{url}: HTTP {error.code}: {error.read()[:300]!r}") from error


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook so a server gets SIGTERM when this process dies (even by SIGKILL), so a
    crashed test run leaves no server behind. Linux only, and only from the main thread:
    PDEATHSIG fires when the *thread* that forked exits."""
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


class StartStop:
    """`with thing:` starts it and always stops it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ChildServer(StartStop):
    """Start/stop/kill/restart one server; subclasses say how to configure, run and probe it.

    The port: `port=None` takes a free one; `port=N` insists on N unless `port_fallback` is
    set. Until the first successful start a collision moves to a new free port (a few tries);
    after it the port is pinned, so stop()+start() and restart() come back on the same port
    and data dir (outage tests rely on that).
    """

    name: ClassVar[str] = "server"
    binary_names: ClassVar[tuple[str, ...]] = ()
    apt_package: ClassVar[str] = ""
    start_timeout_s: ClassVar[float] = 30.0
    stop_timeout_s: ClassVar[float] = 10.0

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        port_fallback: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.log_path = self.data_dir / f"{self.name}.log"
        self._port_movable = port is None or port_fallback
        self._process: subprocess.Popen[bytes] | None = None

    # -- subclass interface
    def command(self) -> list[str]:
        """The argv; may write the config file into the data dir first."""
        raise NotImplementedError

    def is_ready(self) -> bool:
        """One readiness probe; OSError counts as not ready yet."""
        raise NotImplementedError

    def ports_free(self) -> bool:
        return port_is_free(self.port, self.host)

    def choose_new_ports(self) -> None:
        self.port = free_port(self.host)

    def after_ready(self) -> None:
        """Runs after every successful start (e.g. create the admin user)."""

    # -- lookup
    @classmethod
    def binary(cls) -> str | None:
        for name in cls.binary_names:
            found = shutil.which(name) or (
                name if os.path.isabs(name) and os.access(name, os.X_OK) else None
            )
            if found:
                return found
        return None

    @classmethod
    def binary_missing_reason(cls) -> str | None:
        if cls.binary() is None:
            return f"{cls.binary_names[0]} not installed (apt install {cls.apt_package})"
        return None

    def require_binary(self) -> str:
        binary = self.binary()
        if binary is None:
            raise ServerError(self.binary_missing_reason())
        return binary

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    # -- lifecycle
    def start(self) -> Self:
        if self.running:
            return self
        self.require_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = PORT_ATTEMPTS if self._port_movable else 1
        for attempt in range(1, attempts + 1):
            if self._port_movable and not self.ports_free():
                self.choose_new_ports()
            try:
                self._launch_and_wait()
            except PortCollision:
                if attempt == attempts:
                    raise
                self.choose_new_ports()
                continue
            self._port_movable = False
            self.after_ready()
            return self
        raise AssertionError("unreachable")

    def _launch_and_wait(self) -> None:
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in a terminal reaches only us; we stop them
                preexec_fn=_die_with_parent(),
            )
        deadline = started + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                new_log = self._log_since(log_offset)
                error = (
                    PortCollision if "address already in use" in new_log.lower() else ServerError
                )
                raise error(
                    f"{self.name} exited with {code} on port {self.port}: {self.log_tail()}"
                )
            try:
                if self.is_ready():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise ServerError(
            f"{self.name} not ready on port {self.port} after {self.start_timeout_s:g} s: "
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM, wait up to stop_timeout_s, then SIGKILL. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self) -> None:
        """SIGKILL, no clean shutdown (crash tests). Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()

    def restart(self) -> Self:
        """Stop and start again on the same port and data dir."""
        self.stop()
        return self.start()

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state} data={self.data_dir}>"
