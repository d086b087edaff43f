"""SNMP switch-fleet simulator: v2c agents with a school-day traffic model and faults."""
