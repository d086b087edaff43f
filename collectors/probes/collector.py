"""The probe collector: bursts of ICMP / TCP SYN / DNS probes per target and method.

Each poll sends `burst` packets per method, `spacing_s` apart, and writes one `probe` sample
per method: `up` (a positive answer: echo reply, SYN-ACK, a DNS answer that passes the check),
`reachable` (anything came back, a RST or a DNS error included), rtt min/avg/max, jitter and
loss. Without raw sockets (no root / CAP_NET_RAW) ICMP and TCP probes fall back to timing a
TCP connect, tagged `method=tcp_connect` so nobody mistakes it for ICMP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field

from collectors.probes.packets import Family, family_of, parse_dns_answer
from collectors.probes.stats import burst_fields
from collectors.probes.transport import ProbeResult, ProbeTransport, RawSocketsUnavailable
from gateway.sample import FieldValue, Sample

log = logging.getLogger(__name__)
FALLBACK_PORT = 443


@dataclass(frozen=True)
class ProbeJob:
    site: str
    target: str
    address: str
    methods: tuple[str, ...] = ("icmp",)
    tcp_port: int | None = None
    dns_name: str | None = None
    dns_type: str = "A"
    dns_expect: tuple[str, ...] = ()
    burst: int = 5
    spacing_s: float = 0.2
    timeout_s: float = 1.0
    tags: dict[str, str] = field(default_factory=dict)


class ProbeCollector:
    name = "probes"

    def __init__(self, transport: ProbeTransport) -> None:
        self.transport = transport

    @classmethod
    def open(cls, *, allow_raw: bool = True) -> ProbeCollector:
        """Raw sockets when allowed and permitted; otherwise say so once and fall back."""
        if allow_raw:
            try:
                return cls(ProbeTransport(raw=True))
            except RawSocketsUnavailable as error:
                log.warning(
                    "probes: %s (run as root or grant CAP_NET_RAW); ICMP and TCP SYN probes "
                    "fall back to TCP connect timing, tagged method=tcp_connect",
                    error,
                )
        return cls(ProbeTransport(raw=False))

    async def poll(self, job: ProbeJob) -> list[Sample]:
        address = await _resolve(job.address)
        family = family_of(address)
        methods = list(job.methods)
        if not self.transport.raw and {"icmp", "tcp"} & set(methods):
            methods = [m for m in methods if m == "dns"] + ["tcp_connect"]
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._burst(job, m, address, family)) for m in methods]
        return [task.result() for task in tasks]

    async def _burst(self, job: ProbeJob, method: str, address: str, family: Family) -> Sample:
        async with asyncio.TaskGroup() as group:
            tasks = []
            for i in range(job.burst):
                if i:
                    await asyncio.sleep(job.spacing_s)
                tasks.append(group.create_task(self._probe(job, method, address, family)))
        results = [task.result() for task in tasks]
        fields: dict[str, FieldValue] = dict(burst_fields([_rtt(r) for r in results]))
        fields["reachable"] = int(fields["received"]) > 0
        fields.update(self._judge(job, method, results))
        tags = {
            "site": job.site,
            "target": job.target,
            "method": method,
            "family": f"ipv{family}",
            **job.tags,
        }
        return Sample("probe", tags, fields, time.time_ns())

    async def _probe(self, job: ProbeJob, method: str, address: str, family: Family) -> ProbeResult:
        if method == "icmp":
            return await self.transport.echo(address, family, job.timeout_s)
        if method == "tcp":
            assert job.tcp_port is not None
            return await self.transport.syn(address, family, job.tcp_port, job.timeout_s)
        if method == "dns":
            assert job.dns_name is not None
            return await self.transport.dns(
                address, family, job.dns_name, job.dns_type, job.timeout_s
            )
        return await tcp_connect(address, job.tcp_port or FALLBACK_PORT, job.timeout_s)

    def _judge(
        self, job: ProbeJob, method: str, results: list[ProbeResult]
    ) -> dict[str, FieldValue]:
        outcomes = {r.outcome for r in results}
        if method == "icmp":
            return {"up": "echo" in outcomes}
        if method in ("tcp", "tcp_connect"):
            state = (
                "open" if "open" in outcomes else "closed" if "closed" in outcomes else "filtered"
            )
            return {"up": state == "open", "port_state": state}
        return _judge_dns(job, [r for r in results if r.outcome == "dns"])


def _judge_dns(job: ProbeJob, answers: list[ProbeResult]) -> dict[str, FieldValue]:
    """`up` when a response has NOERROR, an address of the asked type, and the expected ones."""
    fields: dict[str, FieldValue] = {"up": False, "answers": 0}
    for answer in answers:
        try:
            rcode, addresses = parse_dns_answer(answer.payload, job.dns_type)
        except ValueError:
            fields["malformed"] = int(fields.get("malformed", 0)) + 1
            continue
        fields["rcode"] = rcode
        fields["answers"] = len(addresses)
        expected = set(job.dns_expect)
        if rcode == 0 and addresses and expected <= set(addresses):
            fields["up"] = True
    return fields


def _rtt(result: ProbeResult) -> float | None:
    """A burst's RTTs count every answer from the target; errors and timeouts are losses."""
    return result.rtt_ms if result.outcome in ("echo", "open", "closed", "dns") else None


async def tcp_connect(address: str, port: int, timeout_s: float) -> ProbeResult:
    """Time a TCP handshake with an ordinary socket (no privileges): open, refused or lost."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(address, port)
    except ConnectionRefusedError:
        return ProbeResult("closed", (time.perf_counter() - started) * 1000)
    except TimeoutError:
        return ProbeResult("timeout")
    except OSError as error:
        return ProbeResult("error", detail=str(error))
    rtt = (time.perf_counter() - started) * 1000
    writer.close()
    return ProbeResult("open", rtt)


async def _resolve(address: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
        return address
    except OSError:
        infos = await asyncio.get_running_loop().getaddrinfo(address, None, type=socket.SOCK_STREAM)
        return str(infos[0][4][0])
