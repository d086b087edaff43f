"""paho-mqtt 2.x on edumon's asyncio loop: one connection, driven through paho's external-loop
interface (socket open/close and register/unregister-write callbacks with `loop_read`,
`loop_write`, `loop_misc`), the way aiomqtt does it.

paho owns the protocol (packets, keepalive and its timeout, QoS flows, `manual_ack` with
`ack(mid, qos)`); this module turns its callbacks into awaitables and its failures into
`MqttError`s that say why. Used by the durable consumer (gateway/mqtt_consumer.py), the
simulators and the tests' publishers: one MQTT library in the project.

`connect()` runs paho's blocking connect (DNS, TCP, TLS handshake, CONNECT) in a worker
thread, as aiomqtt does: paho offers no non-blocking connect. Everything after the CONNACK
runs on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from gateway.mqtt_options import (
    ClientOptions,
    ConnAck,
    Message,
    MqttError,
    Will,
    connect_properties,
    paho_client,
)

__all__ = ["ClientOptions", "ConnAck", "Message", "MqttClient", "MqttError", "Will"]

RECEIVED_LIMIT = 10_000  # messages kept for `messages` (without on_message); more are dropped
CONNECT_TIMEOUT_S = 10.0  # TCP, TLS and CONNACK; a frozen broker accepts TCP and says nothing
REQUEST_TIMEOUT_S = 10.0  # SUBACK, UNSUBACK, PUBACK

OnMessage = Callable[[Message], None]


class MqttClient:
    """One connection: `connect`, then `subscribe`/`unsubscribe`/`publish`/`ack`; `closed`
    is set with the reason once it is gone. Messages go to `on_message` as paho parses them,
    or without one to `messages` (simulators and tests)."""

    def __init__(
        self,
        host: str,
        port: int,
        options: ClientOptions | None = None,
        on_message: OnMessage | None = None,
    ) -> None:
        options = options or ClientOptions()
        self.host, self.port, self.options = host, port, options
        self._loop = asyncio.get_running_loop()
        self._paho = client = paho_client(options)
        client.on_socket_open = self._socket_opened
        client.on_socket_close = self._socket_closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._no_write
        client.on_connect = self._connack
        client.on_disconnect = self._disconnected
        client.on_subscribe = self._reply
        client.on_unsubscribe = self._reply
        client.on_publish = self._published
        self.received: asyncio.Queue[Message] = asyncio.Queue(RECEIVED_LIMIT)
        self.dropped = 0  # messages past RECEIVED_LIMIT not taken from `messages`
        deliver = on_message or self._keep
        client.on_message = lambda _client, _userdata, message: deliver(message)
        self.closed = asyncio.Event()
        self.reason = "not connected"
        self._accepted: asyncio.Future[ConnAck] = self._loop.create_future()
        self._replies: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._fd: int | None = None
        self._reading = True
        self._misc: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ requests
    async def connect(self) -> ConnAck:
        """The broker's CONNACK, once it accepted the connection (MqttError otherwise)."""
        options = self.options
        properties, clean_start = connect_properties(options)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await asyncio.to_thread(
                    self._paho.connect,
                    self.host,
                    self.port,
                    options.keepalive_s,
                    clean_start=clean_start,
                    properties=properties,
                )
                return await self._accepted
        except TimeoutError:
            self.close(f"no answer to CONNECT within {CONNECT_TIMEOUT_S:g} s")
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            self.close(f"cannot connect: {error}")
        raise MqttError(self.reason)

    async def subscribe(self, topics: str | list[str], qos: int = 1) -> list[ReasonCode]:
        """The broker's answer per topic (granted QoS, or a failure code)."""
        filters = [topics] if isinstance(topics, str) else topics
        result, mid = self._paho.subscribe([(topic, qos) for topic in filters])
        return await self._wait(result, mid, "SUBACK")

    async def unsubscribe(self, topics: list[str]) -> None:
        result, mid = self._paho.unsubscribe(topics)
        await self._wait(result, mid, "UNSUBACK")

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish; with QoS 1 or 2, returns once the broker acknowledged it."""
        info = self._paho.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            await self._wait(info.rc, info.mid, "PUBACK")
        elif info.rc:
            raise MqttError(f"cannot publish: {paho.error_string(info.rc)}")

    @property
    async def messages(self) -> AsyncIterator[Message]:
        """The messages received, in order, while connected (without on_message)."""
        while not self.closed.is_set() or not self.received.empty():
            yield await self.received.get()

    def _keep(self, message: Message) -> None:
        try:
            self.received.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1

    def ack(self, mid: int, qos: int) -> None:
        """PUBACK (QoS 1) a message received with manual_ack; on a lost connection the broker
        redelivers it instead."""
        if not self.closed.is_set():
            self._paho.ack(mid, qos)

    def pause_reading(self) -> None:
        """Stop reading the socket (the broker holds further messages back: TCP flow control)."""
        if self._reading and self._fd is not None:
            self._loop.remove_reader(self._fd)
        self._reading = False

    def resume_reading(self) -> None:
        if not self._reading and self._fd is not None:
            self._loop.add_reader(self._fd, self._read)
            if self._paho.buffered:  # packets read before the pause: the socket may stay quiet
                self._loop.call_soon(self._read)
        self._reading = True

    async def disconnect(self) -> None:
        """DISCONNECT (a persistent session stays with the broker) and close."""
        if not self.closed.is_set():
            self._step(self._paho.loop_write)  # the PUBACKs waiting for the writer first
            self._paho.disconnect()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self.closed.wait()
        self.close("disconnected")

    def close(self, reason: str) -> None:
        """The connection is unusable: remember the first reason, wake every waiter, close the
        socket (without DISCONNECT: an MQTT 5 will is sent, the session stays)."""
        if not self.closed.is_set():
            self.reason = reason
            self.closed.set()
        waiters: list[asyncio.Future[Any]] = [self._accepted, *self._replies.values()]
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(MqttError(self.reason))
                waiter.exception()  # retrieved: nobody may be waiting (a failed connect)
        self._replies.clear()
        self._release()
        self._paho.on_socket_close = None  # paho may still hold the socket, closed here
        sock = self._paho.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    async def __aenter__(self) -> MqttClient:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.disconnect()

    # -------------------------------------------------------------- paho's callbacks
    def _on_loop(self, call: Callable[..., Any], *args: Any) -> None:
        """paho calls the socket callbacks from connect's worker thread too."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            call(*args)
        else:
            self._loop.call_soon_threadsafe(call, *args)

    def _socket_opened(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        self._on_loop(self._watch, sock.fileno())

    def _watch(self, fd: int) -> None:
        if self.closed.is_set():
            return
        self._fd = fd
        if self._reading:
            self._loop.add_reader(fd, self._read)
        self._misc = self._loop.create_task(self._misc_loop())

    def _socket_closed(self, _client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._socket_gone)

    def _socket_gone(self) -> None:
        self._release()
        # after paho's on_disconnect, which comes next and knows why
        self._loop.call_soon(self.close, "connection lost")

    def _release(self) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None

    def _want_write(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        self._on_loop(self._add_writer, sock)

    def _add_writer(self, sock: socket.socket) -> None:
        if self._fd is not None and not self.closed.is_set():
            self._loop.add_writer(self._fd, self._step, self._paho.loop_write)

    def _no_write(self, _client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._remove_writer)

    def _remove_writer(self) -> None:
        if self._fd is not None:
            self._loop.remove_writer(self._fd)

    @property
    def oversized(self) -> bool:
        """Whether the broker sent a packet over max_packet_size (the connection is closed)."""
        return bool(self._paho.oversized)

    def _read(self) -> None:
        """What the socket has, and every packet already buffered (a chunk holds many)."""
        self._step(self._paho.loop_read)
        while self._paho.buffered and self._reading and not self.closed.is_set():
            self._step(self._paho.loop_read)

    def _step(self, action: Callable[[], int]) -> None:
        """One of paho's loop calls; an error (or a malformed packet) closes the connection."""
        try:
            result = action()
        except Exception as error:  # a packet paho cannot decode raises from its parser
            self.close(f"malformed packet from the broker: {type(error).__name__}: {error}")
            return
        if result not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN, paho.MQTT_ERR_NO_CONN):
            self.close(f"connection lost: {paho.error_string(result)}")

    async def _misc_loop(self) -> None:
        """paho's keepalive: PINGREQ when due, and the connection closed when a PINGRESP did
        not come within the keepalive."""
        while self._paho.loop_misc() == paho.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 - polls paho
            await asyncio.sleep(1)

    def _connack(self, _c: paho.Client, _u: Any, flags: Any, code: ReasonCode, props: Any) -> None:
        if self._accepted.done():
            return
        if code.is_failure:
            self.close(f"the broker refused the connection: {code.getName()}")
            return
        maximum_qos = getattr(props, "MaximumQoS", 2) if props is not None else 2
        self._accepted.set_result(ConnAck(bool(flags.session_present), int(maximum_qos)))

    def _disconnected(
        self, _c: paho.Client, _u: Any, flags: Any, code: ReasonCode, _p: Any
    ) -> None:
        if self._paho.oversized:
            size, limit = self._paho.oversized, self._paho.max_packet_size
            self.close(f"the broker sent a packet of {size:,} bytes, over the limit of {limit:,}")
        elif code.value == 0:
            self.close("disconnected")
        elif flags.is_disconnect_packet_from_server:  # MQTT 5: the broker says why
            self.close(f"the broker disconnected: {code.getName()}")
        elif code.getName() in ("Protocol error", "Malformed packet"):  # paho's parser refused it
            self.close(f"malformed packet from the broker ({code.getName()})")
        elif code.getName() == "Keep alive timeout":
            self.close(f"no PINGRESP within {self._paho.keepalive} s (keepalive timeout)")
        else:
            self.close(f"connection lost: {code.getName()}")

    def _reply(self, _c: paho.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        waiter = self._replies.pop(mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(codes)

    def _published(self, _c: paho.Client, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        self._reply(_c, _u, mid, [code], _p)

    async def _wait(self, result: int, mid: int | None, reply: str) -> list[ReasonCode]:
        if result != paho.MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"cannot send: {paho.error_string(result)}; {self.reason}")
        waiter = self._replies.setdefault(mid, self._loop.create_future())
        if self.closed.is_set():
            self.close(self.reason)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await waiter
        except TimeoutError:
            raise MqttError(f"no {reply} within {REQUEST_TIMEOUT_S:g} s") from None
