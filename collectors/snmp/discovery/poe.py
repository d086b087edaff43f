"""POWER-ETHERNET-MIB (RFC 3621) per port and per PSE, with a profile's per-port power, as
`PoePort`s, a `PoeBudget` and `poe` samples (site, device (, ifname): budget_w, power_w,
used_pct per switch; power_w, status, class per port)."""

from __future__ import annotations

from collections.abc import Sequence

from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.poe_profile import PoeProfile
from collectors.snmp.discovery.ports import Ports
from collectors.snmp.discovery.walk import RowBudget, Rows, walk_bounded
from collectors.snmp.varbind_values import number
from gateway.plausible import Refused, keep_plausible
from gateway.sample import FieldValue, Sample
from gateway.topology.observations import PoeBudget, PoeDetection, PoePort

PSE_PORT = "1.3.6.1.2.1.105.1.1.1"
ADMIN_ENABLE = f"{PSE_PORT}.3"
DETECTION = f"{PSE_PORT}.6"
CLASSIFICATION = f"{PSE_PORT}.10"
MAIN_PSE = "1.3.6.1.2.1.105.1.3.1.1"
MAIN_POWER = f"{MAIN_PSE}.2"  # nominal W
MAIN_CONSUMPTION = f"{MAIN_PSE}.4"  # W
DETECTIONS: dict[int, PoeDetection] = {
    1: "disabled",
    2: "searching",
    3: "deliveringPower",
    4: "fault",
    5: "test",
    6: "otherFault",
}


def port_if_index(group: int, port: int, ports: Ports, profile: PoeProfile | None) -> int | None:
    pattern = profile.port_name if profile is not None else None
    if pattern is None:
        return port if port in ports.names else None
    suffix = pattern.format(group=group, port=port)
    for if_index, name in sorted(ports.names.items()):
        before = name[: -len(suffix)]
        if name.endswith(suffix) and not (before and before[-1].isdigit()):
            return if_index
    return None


async def read_poe(
    transport: SnmpTransport,
    ports: Ports,
    profile: PoeProfile | None,
    budget: RowBudget,
    repetitions: int,
) -> tuple[list[PoePort], PoeBudget | None, int]:
    """PSE ports, the switch's budget (None without pethMainPseTable), rows refused."""
    power_column = profile.port_power if profile is not None else None
    columns = [DETECTION, ADMIN_ENABLE, CLASSIFICATION, MAIN_POWER, MAIN_CONSUMPTION]
    walked = await walk_bounded(
        transport, columns + ([power_column.oid] if power_column else []), budget, repetitions
    )
    detection, admin, classes, nominal, consumption = walked[:5]
    power: Rows = walked[5] if power_column else {}
    ports_out: list[PoePort] = []
    refused = 0
    for index, varbind in detection.items():
        if_index = port_if_index(*index, ports, profile) if len(index) == 2 else None
        if if_index is None:
            refused += 1
            continue
        enable = number(admin.get(index))
        class_code = number(classes.get(index))
        watts = number(power.get(index))
        ports_out.append(
            PoePort(
                ports.name(if_index),
                None if enable is None else enable == 1,
                DETECTIONS.get(int(number(varbind) or 0), "unknown"),
                None
                if watts is None or power_column is None
                else round(watts * power_column.scale, 3),
                int(class_code) - 1 if class_code is not None and 1 <= class_code <= 5 else None,
            )
        )
    if not nominal:
        return ports_out, None, refused
    total = sum(number(v) or 0.0 for v in nominal.values())
    used = sum(number(v) or 0.0 for v in consumption.values())
    return ports_out, PoeBudget(total, used), refused


def poe_samples(
    site: str,
    device: str,
    poe_ports: Sequence[PoePort],
    poe_budget: PoeBudget | None,
    time_ns: int,
    refused: list[tuple[str, Refused]],
) -> list[Sample]:
    samples = []
    if poe_budget is not None:
        fields: dict[str, FieldValue] = {
            "budget_w": poe_budget.nominal_w,
            "power_w": poe_budget.consumption_w,
        }
        if poe_budget.nominal_w > 0:
            fields["used_pct"] = round(100.0 * poe_budget.consumption_w / poe_budget.nominal_w, 2)
        kept = keep_plausible(fields, "", refused)
        if kept:
            samples.append(Sample("poe", {"site": site, "device": device}, kept, time_ns))
    for port in poe_ports:
        fields = {"status": port.detection}
        if port.power_w is not None:
            fields["power_w"] = port.power_w
        if port.class_ is not None:
            fields["class"] = port.class_
        tags = {"site": site, "device": device, "ifname": port.ifname}
        samples.append(
            Sample("poe", tags, keep_plausible(fields, f"{port.ifname} ", refused), time_ns)
        )
    return samples
