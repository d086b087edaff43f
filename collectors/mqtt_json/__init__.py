"""MQTT JSON declared, not coded: config mappings from topic patterns to measurements."""
