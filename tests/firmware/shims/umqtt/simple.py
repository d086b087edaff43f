"""CPython stand-in for micropython-lib's `umqtt.simple`, speaking real MQTT 3.1.1.

Same API and failure behaviour as the device library (connect with Last Will, publish with
QoS 0/1 waiting for PUBACK, ping, check_msg/wait_msg, disconnect; OSError when the
connection is gone, MQTTException when CONNECT is refused), written for CPython sockets so
the firmware can talk to a real Mosquitto. `sock` is public, as upstream: a test closes it to
kill the connection without DISCONNECT. A socket timeout (upstream has none; the device's
watchdog covers a hang) keeps a test from blocking forever.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

SOCKET_TIMEOUT_S = 5.0


class MQTTException(Exception):
    pass


def _str(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return struct.pack("!H", len(data)) + data


def _remaining_length(size: int) -> bytes:
    out = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


class MQTTClient:
    def __init__(
        self,
        client_id: str | bytes,
        server: str,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        keepalive: int = 0,
    ) -> None:
        self.client_id = client_id
        self.server = server
        self.port = port or 1883
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.sock: socket.socket | None = None
        self.pid = 0
        self.cb: Callable[[bytes, bytes], None] | None = None
        self.lw_topic: bytes | None = None
        self.lw_msg = b""
        self.lw_qos = 0
        self.lw_retain = False

    def set_callback(self, cb: Callable[[bytes, bytes], None]) -> None:
        self.cb = cb

    def set_last_will(
        self, topic: str | bytes, msg: bytes, retain: bool = False, qos: int = 0
    ) -> None:
        assert 0 <= qos <= 2 and topic
        self.lw_topic = topic.encode() if isinstance(topic, str) else topic
        self.lw_msg, self.lw_qos, self.lw_retain = msg, qos, retain

    def connect(self, clean_session: bool = True) -> bool:
        self.sock = socket.create_connection((self.server, self.port), timeout=SOCKET_TIMEOUT_S)
        flags = 0x02 if clean_session else 0
        payload = _str(self.client_id)
        if self.lw_topic:
            flags |= 0x04 | self.lw_qos << 3 | (0x20 if self.lw_retain else 0)
            payload += _str(self.lw_topic) + _str(self.lw_msg)
        if self.user:
            flags |= 0x80
            payload += _str(self.user)
            if self.password:
                flags |= 0x40
                payload += _str(self.password)
        variable = b"\x00\x04MQTT\x04" + bytes([flags]) + struct.pack("!H", self.keepalive)
        self._send(0x10, variable + payload)
        answer = self._read(4)
        if answer[0] != 0x20 or answer[1] != 0x02:
            raise MQTTException(29)
        if answer[3] != 0:
            raise MQTTException(answer[3])
        return bool(answer[2] & 1)

    def disconnect(self) -> None:
        assert self.sock is not None
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()

    def ping(self) -> None:
        assert self.sock is not None
        self.sock.sendall(b"\xc0\x00")

    def publish(self, topic: str | bytes, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        assert qos in (0, 1), "QoS 2 is not supported, as upstream"
        body = _str(topic)
        if qos:
            self.pid = self.pid % 65535 + 1
            body += struct.pack("!H", self.pid)
        self._send(0x30 | qos << 1 | retain, body + msg)
        while qos:
            if self.wait_msg() == 0x40:
                size = self._read(1)[0]
                pid = struct.unpack("!H", self._read(2))[0]
                assert size == 2
                if pid == self.pid:
                    return

    def wait_msg(self) -> int | None:
        """One incoming packet; PINGRESP and PUBLISH are handled, other types returned."""
        assert self.sock is not None
        try:
            first = self.sock.recv(1)
        except BlockingIOError:
            return None
        finally:
            self.sock.settimeout(SOCKET_TIMEOUT_S)
        if first == b"":
            raise OSError(-1)
        if first == b"\xd0":  # PINGRESP
            assert self._read(1) == b"\x00"
            return None
        op = first[0]
        if op & 0xF0 != 0x30:
            return op
        size = self._read_length()
        data = self._read(size)
        topic_len = struct.unpack("!H", data[:2])[0]
        topic, rest = data[2 : 2 + topic_len], data[2 + topic_len :]
        if op & 6 == 2:
            self._send(0x40, rest[:2])
            rest = rest[2:]
        if self.cb is not None:
            self.cb(topic, rest)
        return None

    def check_msg(self) -> int | None:
        assert self.sock is not None
        self.sock.setblocking(False)
        return self.wait_msg()

    def _send(self, packet_type: int, body: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(bytes([packet_type]) + _remaining_length(len(body)) + body)

    def _read(self, size: int) -> bytes:
        assert self.sock is not None
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise OSError(-1)
            data += chunk
        return data

    def _read_length(self) -> int:
        size = shift = 0
        while True:
            byte = self._read(1)[0]
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return size
            shift += 7
