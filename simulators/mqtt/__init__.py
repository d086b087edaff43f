"""MQTT device simulators: classroom access points and science-centre exhibits."""
