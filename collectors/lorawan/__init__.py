"""LoRaWAN uplinks from ChirpStack v4 and The Things Stack v3: parsing, payload codecs,
deduplication, frame-loss tracking and Samples; bad input is counted and dead-lettered."""
