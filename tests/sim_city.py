"""The simulated city (simulators/snmp/city.py) as the `sites:` of an edumon config: the city
ring (two cores, two aggregation switches), then each school's core and access switch, an access
point and an exhibit with MACs; one school dual-homed. Each switch gets a free UDP port."""

from __future__ import annotations

from tests.netsnmp import free_udp_port


def city_sites_yaml(
    schools: int, dual_homed: str, *, switch_options: str = "", ring_kind: str | None = None
) -> str:
    """`switch_options` is added to each switch's flow mapping (", timeout_s: 1")."""

    def switch(name: str, role: str, extra: str = "") -> str:
        return (
            f"      - {{kind: switch, id: {name}, role: {role}, address: 127.0.0.1,"
            f" port: {free_udp_port()}, credentials: lab{switch_options}{extra}}}\n"
        )

    kind = f"    kind: {ring_kind}\n" if ring_kind else ""
    text = "sites:\n  - id: city\n    name: City ring\n" + kind + "    devices:\n"
    text += "".join(switch(n, "core") for n in ("core-1", "core-2", "agg-1", "agg-2"))
    for n in range(1, schools + 1):
        uplinks = ", uplinks: [Te1/0/1, Te1/0/2]" if f"school-{n}" == dual_homed else ""
        text += (
            f"  - id: school-{n}\n    name: School {n}\n    devices:\n"
            + switch(f"s{n}-core", "core", uplinks)
            + switch(f"s{n}-access", "access")
            + f"      - {{kind: access_point, id: s{n}-ap, room: '101', mac: '02:00:00:00:{n:02x}:01'}}\n"
            + f"      - {{kind: exhibit, id: s{n}-exhibit, zone: hall, mac: '02:00:00:00:{n:02x}:02'}}\n"
        )
    return text
