"""Fakes at the monitor's device boundary (clock, Wi-Fi, watchdog, sensors, MQTT broker).

MicroPython-compatible on purpose: the same fakes drive the monitor under CPython
(tests/firmware) and under MicroPython-WebAssembly (run_firmware.mjs -> scenario.py).
"""


class FakeClock:
    def __init__(self, unix_start=1763366400):
        self.now = 0.0
        self.unix_start = unix_start

    def monotonic(self):
        return self.now

    def unix(self):
        return self.unix_start + self.now

    def advance(self, seconds):
        self.now += seconds


class FakeWDT:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class FakeWLAN:
    """Joins on connect() while `reachable`; a test drops the link with `up = False`."""

    def __init__(self, up=False):
        self.up = up
        self.reachable = True
        self.connect_calls = 0

    def connect(self, ssid, password):
        self.connect_calls += 1
        self.up = self.reachable

    def isconnected(self):
        return self.up


class FakeSensors:
    """Each read is one more interaction, so every health message is distinguishable."""

    def __init__(self):
        self.reads = 0

    def read(self):
        self.reads += 1
        return {"interactions": self.reads, "errors": 0, "temp_c": 41.5, "cpu_pct": 12.25}


class FakeSocket:
    def __init__(self, client):
        self.client = client
        self.closed = False

    def close(self):
        if not self.closed:
            self.closed = True
            self.client.broker.lost(self.client)


class FakeBroker:
    """Records what devices publish; `up = False` is an outage (connections die, no will is
    sent while it is down, as when the broker itself crashes)."""

    def __init__(self):
        self.up = True
        self.messages = []  # (topic, payload, retain, qos), in arrival order
        self.retained = {}
        self.connects = 0
        self.pings = 0
        self.clients = []

    def client(self, client_id="fake"):
        return FakeClient(self, client_id)

    def crash(self):
        self.up = False
        for client in self.clients:
            client.connected = False
        self.clients = []

    def deliver(self, topic, payload, retain, qos):
        self.messages.append((topic, payload, retain, qos))
        if retain:
            self.retained[topic] = payload

    def lost(self, client):
        """A connection closed without DISCONNECT: publish its Last Will."""
        if client.connected and self.up and client.will is not None:
            topic, msg, retain, qos = client.will
            self.deliver(topic, msg, retain, qos)
        client.connected = False

    def health(self):
        return [m[1] for m in self.messages if m[0].endswith(b"/health")]


class FakeClient:
    def __init__(self, broker, client_id):
        self.broker = broker
        self.client_id = client_id
        self.will = None
        self.connected = False
        self.sock = FakeSocket(self)

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain, qos)

    def connect(self, clean_session=True):
        if not self.broker.up:
            raise OSError(111)  # ECONNREFUSED
        self.broker.connects += 1
        self.broker.clients.append(self)
        self.connected = True

    def _check(self):
        if not (self.connected and self.broker.up):
            raise OSError(-1)

    def publish(self, topic, msg, retain=False, qos=0):
        self._check()
        self.broker.deliver(topic, msg, retain, qos)

    def check_msg(self):
        self._check()

    def ping(self):
        self._check()
        self.broker.pings += 1

    def disconnect(self):
        self._check()
        self.connected = False
