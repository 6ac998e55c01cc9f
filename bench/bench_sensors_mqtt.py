"""Benchmark: 200,000 small QoS-1 messages through a local mosquitto into the sensor store, end to end, beside a
bare paho subscriber that only counts the same messages (the ceiling a paho client reaches on this machine).

    PYTHONPATH=src python bench/bench_sensors_mqtt.py [--messages 200000] [--per-message 1]

`--per-message K` sends JSON lists of K readings, so the same messages carry K times the observations.

The publisher is a separate process writing MQTT 3.1.1 QoS-1 PUBLISH packets straight to a socket and counting the
broker's PUBACKs, so its own cost stays small and is the same for both subscribers. Target: ≥ 20,000 messages/s
sustained, none lost.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
TOPIC = "bench/city"
CHUNK = 10_000  # PUBLISH packets written at once; two chunks at most in flight, so packet ids stay unique


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_broker(folder: Path, port: int) -> subprocess.Popen:
    """mosquitto on loopback, persistence on, no limit on the messages queued for a subscriber."""
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                      f"persistence_location {folder}/\nmax_queued_messages 0\n"
                      f"max_inflight_messages 0\nuser {getpass.getuser()}\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return broker
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def mqtt_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + remaining_length(len(body)) + body


def reading(i: int) -> dict:
    """Reading `i`: one of 1,000 sensors, each a minute after its last."""
    minute, sensor = divmod(i, 1000)
    return {"sensor": f"s{sensor:04d}", "time": f"2024-{1 + minute // 44640:02d}-{1 + minute // 1440 % 31:02d}T"
            f"{minute // 60 % 24:02d}:{minute % 60:02d}:00Z", "property": "pm25", "value": i % 97 / 2}


def payload(i: int, per_message: int) -> bytes:
    """Message `i`: one reading, or a list of `per_message` readings."""
    if per_message == 1:
        return json.dumps(reading(i)).encode()
    return json.dumps([reading(i * per_message + k) for k in range(per_message)]).encode()


def publish(port: int, messages: int, per_message: int) -> None:
    """Every message at QoS 1; exits once the broker has acknowledged them all."""
    topic = mqtt_string(TOPIC)
    packets = [packet(0x32, topic + struct.pack("!H", i % 65535 + 1) + payload(i, per_message))
               for i in range(messages)]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(packet(0x10, mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60)
                        + mqtt_string("bench-publisher")))
    assert sock.recv(4)[:1] == b"\x20", "no CONNACK"
    print("sending", flush=True)  # the timing starts here, once the packets are built and the broker connected
    acked_bytes = 0

    def wait_for_acks(target: int) -> None:
        nonlocal acked_bytes
        while acked_bytes // 4 < target:  # a PUBACK is 4 bytes
            acked_bytes += len(sock.recv(1 << 20))

    for start in range(0, messages, CHUNK):
        sock.sendall(b"".join(packets[start:start + CHUNK]))
        wait_for_acks(start)  # at most two chunks unacknowledged
    wait_for_acks(messages)
    sock.close()


def start_publisher(port: int, messages: int, per_message: int) -> subprocess.Popen:
    """The publisher process, returned once it starts sending."""
    publisher = subprocess.Popen([sys.executable, __file__, "--publish", str(port), "--messages", str(messages),
                                  "--per-message", str(per_message)], stdout=subprocess.PIPE, text=True)
    assert publisher.stdout.readline() == "sending\n"
    return publisher


def bare_paho(port: int, messages: int, per_message: int) -> float:
    """Messages/s into a paho subscriber that only counts them (QoS 1, acknowledged as they arrive)."""
    import paho.mqtt.client as paho

    received = 0
    done = threading.Event()

    def on_message(client, userdata, message):
        nonlocal received
        received += 1
        if received == messages:
            done.set()

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=paho.MQTTv311)
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_connect = lambda c, u, f, r, p: c.subscribe(TOPIC, qos=1)
    client.on_subscribe = lambda c, u, m, r, p: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    subscribed.wait()
    publisher = start_publisher(port, messages, per_message)
    start = time.perf_counter()
    done.wait()
    elapsed = time.perf_counter() - start
    publisher.wait()
    client.disconnect()
    client.loop_stop()
    return messages / elapsed


def into_store(port: int, messages: int, per_message: int, store: Path) -> tuple[float, int, str]:
    """Messages/s end to end into the store, the observations the store holds after, and the tally."""
    from smartcities.sensors.mqtt import Subscriber, Subscription
    from smartcities.sensors.store import connect

    subscriber = Subscriber(Subscription("127.0.0.1", port, TOPIC), store, "bench-store")
    timing = {}

    def publish_when_subscribed():
        subscriber.subscribed.wait()
        publisher = start_publisher(port, messages, per_message)
        timing["start"] = time.perf_counter()
        publisher.wait()

    publisher = threading.Thread(target=publish_when_subscribed)
    publisher.start()
    tally = subscriber.run(count=messages * per_message)
    elapsed = time.perf_counter() - timing["start"]
    publisher.join()
    db = connect(store, read_only=True)
    held = db.execute("select count(*) from observations").fetchone()[0]
    db.close()
    return messages / elapsed, held, tally.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=1, help="readings per message (a JSON list when > 1)")
    parser.add_argument("--publish", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.publish, args.messages, args.per_message)
        return
    if not Path(MOSQUITTO).exists():
        sys.exit(f"{MOSQUITTO} is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    port = free_port()
    broker = start_broker(folder, port)
    try:
        baseline = bare_paho(port, args.messages, args.per_message)
        rate, held, summary = into_store(port, args.messages, args.per_message, folder / "store.duckdb")
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(folder)
    observations = args.messages * args.per_message
    print(f"{args.messages} QoS-1 messages of {args.per_message} reading(s) on loopback")
    print(f"  bare paho subscriber (counts only): {baseline:,.0f} messages/s")
    print(f"  smartcities sensors subscribe:      {rate:,.0f} messages/s end to end "
          f"({rate / baseline:.0%} of bare paho), {rate * args.per_message:,.0f} observations/s")
    print(f"  {summary}; the store holds {held} observations, "
          f"{'none lost' if held == observations else f'{observations - held} LOST'}")


if __name__ == "__main__":
    main()
