"""SNMP: lean v2c codec, GETBULK column walker, poller with counter-rate logic."""
