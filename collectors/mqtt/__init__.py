"""MQTT telemetry of classroom Wi-Fi access points and science-centre exhibits."""
