"""Copy to the device as secrets.py and fill in (secrets.py is never committed).

cp firmware/secrets.example.py /tmp/secrets.py   # edit it, then:
mpremote cp /tmp/secrets.py :secrets.py
"""

SITE = "example-school"
EXHIBIT = "example-exhibit"

WIFI_SSID = "example-ssid"
WIFI_PASSWORD = "not-a-real-password"

MQTT_HOST = "192.0.2.10"  # TEST-NET-1: replace with the broker's address
MQTT_PORT = 1883
MQTT_USER = ""  # empty: anonymous
MQTT_PASSWORD = "not-a-real-password"
MQTT_KEEPALIVE_S = 60

HEALTH_INTERVAL_S = 10
OFFLINE_BUFFER = 100  # health messages kept while the broker is unreachable
WATCHDOG_MS = 30000
STEP_MS = 1000
INTERACTION_PIN = None  # GPIO of the visitor button/beam, or None
