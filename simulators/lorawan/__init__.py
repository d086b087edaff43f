"""LoRaWAN network-server simulator (ChirpStack v4 and The Things Stack v3 events over MQTT)."""
