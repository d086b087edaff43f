"""The one registry of collectors: the only place in the gateway that names one.

Adding a collector is a new package under collectors/ exporting a `PLUGIN`
(gateway.collector.CollectorPlugin) and one line here.
"""

from __future__ import annotations

from collectors.lorawan.plugin import PLUGIN as LORAWAN
from collectors.mqtt.plugin import PLUGIN as MQTT
from collectors.mqtt_json.plugin import PLUGIN as MQTT_JSON
from collectors.probes.plugin import PLUGIN as PROBES
from collectors.snmp.plugin import PLUGIN as SNMP
from gateway.collector import CollectorPlugin

PLUGINS: list[CollectorPlugin] = [SNMP, MQTT, LORAWAN, PROBES, MQTT_JSON]
