"""A broker that answers a subscription with a malformed MQTT 5 SUBACK (a peer on a local
socket, speaking raw bytes at our transport boundary: no real broker sends one): the consumer
says why, reconnects with backoff, and its task never dies."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.deadletter import DeadLetterFile
from gateway.mqtt_consumer import MqttConsumer, MqttSettings
from tests.integration.test_mqtt_consumer import Collected, handler

CONNACK_V5 = b"\x20\x03\x00\x00\x00"  # session not present, success, no properties
SUBACK_BAD_PROPERTIES = b"\x90\x03\x00\x01\xff"  # a property length that never ends


async def test_a_malformed_suback_fails_the_session_not_the_task(tmp_path: Path) -> None:
    sessions = 0

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sessions
        sessions += 1
        await reader.read(1024)  # CONNECT
        writer.write(CONNACK_V5)
        await reader.read(1024)  # SUBSCRIBE
        writer.write(SUBACK_BAD_PROPERTIES)
        await writer.drain()
        await reader.read(1024)  # until the consumer hangs up
        writer.close()

    server = await asyncio.start_server(broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = MqttSettings("127.0.0.1", port, protocol="5", reconnect_max_s=0.5)
    consumer = MqttConsumer(
        "hostile", settings, ["a/#"], handler, DeadLetterFile(tmp_path / "dl.jsonl")
    )
    task = asyncio.create_task(consumer.run(Collected()))
    try:
        async with asyncio.timeout(10):
            while sessions < 3:  # noqa: ASYNC110 - counts the peer's sessions
                await asyncio.sleep(0.05)
        assert not task.done()
        assert consumer.stats.connects == 0
        assert "malformed packet from the broker" in consumer.health.detail
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()
        await server.wait_closed()
