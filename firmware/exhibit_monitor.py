"""The exhibit monitor: health over MQTT, surviving Wi-Fi and broker outages.

Contract (collectors/mqtt/telemetry.py):
    edumon/{site}/exhibit/{exhibit}/health  JSON, QoS 1: ts, interactions, errors, temp_c,
                                            cpu_pct, fw
    edumon/{site}/exhibit/{exhibit}/status  "online" retained on connect; "offline"
                                            retained QoS 1 as the MQTT Last Will

Everything the device provides is injected, so the same code runs on the device, on CPython
with shims and under MicroPython-WebAssembly:
    wlan          network.WLAN-like: isconnected(), connect(ssid, password)
    mqtt_factory  () -> umqtt.simple.MQTTClient-like, not yet connected
    wdt           machine.WDT-like: feed()
    clock         monotonic() seconds for timers, unix() seconds for `ts`
    sensors       read() -> {"interactions", "errors", "temp_c", "cpu_pct"}; temp_c None
                  for no reading (it is left out of the health message then)
Only `main()` imports the MicroPython modules.
"""

import json

from offline_buffer import OfflineBuffer
from reconnect_backoff import Backoff

FW_VERSION = "1.0.0"
STATUS_ONLINE = b"online"
STATUS_OFFLINE = b"offline"
ONLINE = "online"
MQTT_DOWN = "mqtt_down"
WIFI_DOWN = "wifi_down"
# before NTP has set the RTC the clock says 2000 (or 1970): send no `ts` then, and the
# collector stamps the receive time instead of dead-lettering a bogus one
MIN_VALID_UNIX = 1577836800  # 2020-01-01


def topic(site, exhibit, leaf):
    return f"edumon/{site}/exhibit/{exhibit}/{leaf}".encode()


def health_payload(ts, reading, fw):
    body = {
        "interactions": int(reading["interactions"]),
        "errors": int(reading["errors"]),
        "cpu_pct": round(float(reading["cpu_pct"]), 1),
        "fw": fw,
    }
    if reading.get("temp_c") is not None:  # None: no reading (no sensor, or it failed)
        body["temp_c"] = round(float(reading["temp_c"]), 2)
    if ts >= MIN_VALID_UNIX:
        body["ts"] = int(ts)
    return json.dumps(body).encode()


class Monitor:
    def __init__(
        self,
        site,
        exhibit,
        wlan,
        mqtt_factory,
        wdt,
        clock,
        sensors,
        ssid="",
        wifi_password="",
        fw=FW_VERSION,
        health_interval_s=10,
        keepalive_s=60,
        buffer=None,
        wifi_backoff=None,
        mqtt_backoff=None,
        replay_batch=20,
        on_wifi_up=None,
        log=print,
    ):
        self.wlan = wlan
        self.mqtt_factory = mqtt_factory
        self.wdt = wdt
        self.clock = clock
        self.sensors = sensors
        self.ssid = ssid
        self.wifi_password = wifi_password
        self.fw = fw
        self.health_interval_s = health_interval_s
        self.keepalive_s = keepalive_s
        self.buffer = buffer if buffer is not None else OfflineBuffer(100)
        self.wifi_backoff = wifi_backoff if wifi_backoff is not None else Backoff(1, 30)
        self.mqtt_backoff = mqtt_backoff if mqtt_backoff is not None else Backoff(1, 60)
        self.replay_batch = replay_batch
        self.on_wifi_up = on_wifi_up
        self.log = log
        self.health_topic = topic(site, exhibit, "health")
        self.status_topic = topic(site, exhibit, "status")
        self.client = None
        self.wifi_up = False
        self.next_health = None
        self.last_tx = 0.0
        self.stats = {
            "published": 0,
            "buffered": 0,
            "replayed": 0,
            "mqtt_connects": 0,
            "mqtt_failures": 0,
            "wifi_connects": 0,
        }

    def state(self):
        if not self.wifi_up:
            return WIFI_DOWN
        return ONLINE if self.client is not None else MQTT_DOWN

    def step(self):
        """One iteration; returns the state afterwards. Never raises for network trouble."""
        self.wdt.feed()
        now = self.clock.monotonic()
        if self._ensure_wifi(now) and self._ensure_mqtt(now):
            self._keep_alive(now)
        if self.client is not None:
            self._replay()
        if self._health_due(now):
            message = (
                self.health_topic,
                health_payload(self.clock.unix(), self.sensors.read(), self.fw),
            )
            if self.client is None or not self._publish(message, now):
                self.buffer.push(message)
                self.stats["buffered"] += 1
        return self.state()

    def close(self):
        """Clean shutdown: a clean DISCONNECT does not fire the will, so say offline first."""
        if self.client is not None:
            try:
                self.client.publish(self.status_topic, STATUS_OFFLINE, retain=True, qos=1)
                self.client.disconnect()
            except Exception as error:
                self.log(f"mqtt close failed: {error!r}")
            self.client = None

    def _ensure_wifi(self, now):
        if self.wlan.isconnected():
            if not self.wifi_up:
                self.wifi_up = True
                self.wifi_backoff.succeeded()
                self.stats["wifi_connects"] += 1
                self.log("wifi up")
                if self.on_wifi_up is not None:
                    self.on_wifi_up()
            return True
        if self.wifi_up:
            self.wifi_up = False
            self.log("wifi lost")
            self._drop_mqtt()
        if self.wifi_backoff.ready(now):
            try:
                self.wlan.connect(self.ssid, self.wifi_password)
            except OSError as error:
                self.log(f"wifi connect failed: {error!r}")
            # connect() only starts joining; if the link is not up by then, try again later
            self.wifi_backoff.failed(now)
        return False

    def _ensure_mqtt(self, now):
        if self.client is not None:
            return True
        if not self.mqtt_backoff.ready(now):
            return False
        client = None
        try:
            client = self.mqtt_factory()
            client.set_last_will(self.status_topic, STATUS_OFFLINE, retain=True, qos=1)
            client.connect()
            client.publish(self.status_topic, STATUS_ONLINE, retain=True, qos=1)
        except Exception as error:  # OSError, or umqtt's MQTTException for a refused CONNECT
            self.stats["mqtt_failures"] += 1
            delay = self.mqtt_backoff.failed(now)
            self.log(f"mqtt connect failed: {error!r}; retry in {delay} s")
            if client is not None:
                self._close_socket(client)
            return False
        self.client = client
        self.last_tx = now
        self.mqtt_backoff.succeeded()
        self.stats["mqtt_connects"] += 1
        self.log("mqtt connected")
        return True

    def _keep_alive(self, now):
        try:
            self.client.check_msg()  # raises once the broker has closed the connection
            if self.keepalive_s and now - self.last_tx >= self.keepalive_s / 2:
                self.client.ping()
                self.last_tx = now
        except Exception as error:
            self.log(f"mqtt connection lost: {error!r}")
            self._drop_mqtt()

    def _replay(self):
        now = self.clock.monotonic()
        sent = 0
        while len(self.buffer) and sent < self.replay_batch and self.client is not None:
            self.wdt.feed()  # each QoS 1 publish waits for its PUBACK
            if not self._publish(self.buffer.peek(), now):
                return
            self.buffer.pop()
            self.stats["replayed"] += 1
            sent += 1

    def _publish(self, message, now):
        try:
            self.client.publish(message[0], message[1], retain=False, qos=1)
        except Exception as error:
            self.log(f"mqtt publish failed: {error!r}")
            self._drop_mqtt()
            return False
        self.last_tx = now
        self.stats["published"] += 1
        return True

    def _health_due(self, now):
        if self.next_health is not None and now < self.next_health:
            return False
        if self.next_health is None or now - self.next_health >= self.health_interval_s:
            self.next_health = now + self.health_interval_s  # first run, or far behind
        else:
            self.next_health += self.health_interval_s
        return True

    def _drop_mqtt(self):
        """Forget the connection without DISCONNECT, so the broker sends the Last Will."""
        if self.client is not None:
            self._close_socket(self.client)
            self.client = None

    @staticmethod
    def _close_socket(client):
        sock = getattr(client, "sock", None)
        if sock is not None:
            try:  # noqa: SIM105 - MicroPython has no contextlib
                sock.close()
            except Exception:
                pass


def build_monitor(config, wlan, mqtt_client_class, wdt, clock, sensors, on_wifi_up=None):
    """A Monitor wired from a config module (the device's secrets.py, see
    secrets.example.py) and umqtt.simple's MQTTClient class."""
    site = config.SITE
    exhibit = config.EXHIBIT
    keepalive_s = getattr(config, "MQTT_KEEPALIVE_S", 60)
    client_kwargs = {"port": getattr(config, "MQTT_PORT", 1883), "keepalive": keepalive_s}
    if getattr(config, "MQTT_USER", None):
        client_kwargs["user"] = config.MQTT_USER
        client_kwargs["password"] = config.MQTT_PASSWORD
    client_id = f"edumon-{site}-{exhibit}"

    def mqtt_factory():
        return mqtt_client_class(client_id, config.MQTT_HOST, **client_kwargs)

    return Monitor(
        site,
        exhibit,
        wlan,
        mqtt_factory,
        wdt,
        clock,
        sensors,
        ssid=config.WIFI_SSID,
        wifi_password=config.WIFI_PASSWORD,
        health_interval_s=getattr(config, "HEALTH_INTERVAL_S", 10),
        keepalive_s=keepalive_s,
        buffer=OfflineBuffer(getattr(config, "OFFLINE_BUFFER", 100)),
        on_wifi_up=on_wifi_up,
    )


def main():
    """Device entry point (main.py calls this). Never returns; the watchdog resets a hang."""
    import secrets  # on the device only, never in git: see secrets.example.py
    import time

    import exhibit_device as device
    import machine
    import network
    from umqtt.simple import MQTTClient

    wdt = machine.WDT(timeout=getattr(secrets, "WATCHDOG_MS", 30000))
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    clock = device.DeviceClock()
    sensors = device.ExhibitSensors(getattr(secrets, "INTERACTION_PIN", None))
    monitor = build_monitor(secrets, wlan, MQTTClient, wdt, clock, sensors, device.sync_time)
    period_ms = getattr(secrets, "STEP_MS", 1000)
    while True:
        started = time.ticks_ms()
        try:
            monitor.step()
        except Exception as error:  # a bug or sensor fault: log, keep feeding, keep going
            print(f"step failed: {error!r}")
        busy = time.ticks_diff(time.ticks_ms(), started)
        sensors.note_busy(busy, period_ms)
        time.sleep_ms(max(0, period_ms - busy))
