"""Live MQTT ingest against a real mosquitto: every QoS-1 message stored exactly once, duplicates adding nothing,
malformed messages counted and reported, the SensorThings topic form, and nothing lost across a broker restart."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.sensors.mqtt import Subscriber, Subscription, default_client_id, parse_message, parse_url, subscribe
from smartcities.sensors.store import connect

MOSQUITTO = Path("/usr/sbin/mosquitto")
pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")
runner = CliRunner()


class Broker:
    """mosquitto on a free loopback port, persisting to a temp folder so queued messages survive a restart."""

    def __init__(self, folder: Path, max_inflight: int = 0):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                               f"persistence_location {folder}/\nmax_queued_messages 0\n"
                      f"max_inflight_messages {max_inflight}\nuser {getpass.getuser()}\n")
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file before it exits."""
        self.process.terminate()
        self.process.wait(timeout=10)

    def url(self, topic: str) -> str:
        return f"mqtt://127.0.0.1:{self.port}/{topic}"


@pytest.fixture
def broker(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    running = Broker(folder)
    yield running
    if running.process.poll() is None:
        running.stop()


def publish(broker: Broker, messages: list[tuple[str, str | bytes]]) -> None:
    """Each (topic, payload) at QoS 1, returning once the broker has acknowledged them all."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    sent = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in sent:
        info.wait_for_publish(timeout=30)
        assert info.is_published()
    client.disconnect()
    client.loop_stop()


def reading(i: int, sensor: str = "s1", **extra) -> str:
    return json.dumps({"sensor": sensor, "time": f"2024-05-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                       "property": "pm25", "value": i, **extra})


class Running:
    """A subscriber working in a thread, stopped when it has received a number of messages."""

    def __init__(self, broker: Broker, store: Path, topic: str = "city/#", **batching):
        self.subscriber = Subscriber(Subscription("127.0.0.1", broker.port, topic), store, "test-subscriber",
                                     report=lambda topic, reason: self.reports.append((topic, reason)), **batching)
        self.reports: list[tuple[str, str]] = []
        self.thread = threading.Thread(target=self.subscriber.run)
        self.thread.start()
        assert self.subscriber.subscribed.wait(10)

    def stop_after(self, received: int, timeout: float = 60):
        end = time.monotonic() + timeout
        while self.subscriber.tally.received < received and time.monotonic() < end:
            time.sleep(0.02)
        self.subscriber.stop()
        self.thread.join(timeout=10)
        return self.subscriber.tally


def observations(store: Path) -> list[tuple]:
    db = connect(store, read_only=True)
    try:
        return db.execute("select d.thing_id, d.property, o.time, o.value from observations o "
                          "join datastreams d using (datastream_id) order by o.time, d.thing_id").fetchall()
    finally:
        db.close()


def test_parse_url_reads_host_port_and_topic_and_refuses_bad_ones():
    assert parse_url("mqtt://broker.example:1884/city/+/air") == Subscription("broker.example", 1884, "city/+/air")
    assert parse_url("mqtt://localhost/city/#") == Subscription("localhost", 1883, "city/#")
    assert parse_url("mqtt://localhost/city/%23").topic == "city/#"
    for bad, reason in [("http://h/t", "does not start with mqtt://"), ("mqtt://h:99999/t", "port"),
                        ("mqtt://h:1883/", "names no topic"), ("mqtt:///t", "names no broker host"),
                        ("mqtt://h/a/#/b", "wildcard"), ("mqtt://h/a+/b", "wildcard")]:
        with pytest.raises(InputError, match=reason):
            parse_url(bad)


def test_each_store_resumes_its_own_broker_session(tmp_path):
    assert default_client_id(tmp_path / "a.duckdb") == default_client_id(tmp_path / "x" / ".." / "a.duckdb")
    assert default_client_id(tmp_path / "a.duckdb") != default_client_id(tmp_path / "b.duckdb")
    assert default_client_id(tmp_path / "a.duckdb").startswith("smartcities-")


def test_parse_message_reads_objects_lists_and_sensorthings_and_says_why_it_refuses():
    [one] = parse_message("city/a", reading(5, unit="µg/m³", lat=45.5, lon=-73.6).encode())
    assert (one.sensor, one.property, one.unit, one.value, one.lat, one.lon) == ("s1", "pm25", "µg/m³", 5.0, 45.5,
                                                                                 -73.6)
    assert one.time == datetime(2024, 5, 1, 0, 0, 5)
    assert len(parse_message("city/a", f"[{reading(1)}, {reading(2)}]".encode())) == 2
    [sta] = parse_message("v1.1/Datastreams(7)/Observations",
                          b'{"phenomenonTime": "2024-05-01T02:00:00+02:00", "result": 3.5}')
    assert (sta.datastream_id, sta.time, sta.value) == (7, datetime(2024, 5, 1), 3.5)
    for payload, reason in [(b"{oops", "not JSON"), (b"[]", "empty list"),
                            (b'{"sensor": "a", "time": "2024-05-01T00:00:00Z"}', "missing property, value"),
                            (reading(1).replace("Z", "").encode(), "no UTC offset"),
                            (reading(1).replace("2024-05-01", "May 1").encode(), "is not a time"),
                            (json.dumps({"sensor": "a", "time": "2024-05-01T00:00:00Z", "property": "pm25",
                                         "value": "high"}).encode(), 'value "high" is not a finite number'),
                            (reading(1, lat=45.0).encode(), "lat and lon go together"),
                            (f"[{reading(1)}, 3]".encode(), "expected a JSON object")]:
        with pytest.raises(ValueError, match=reason):
            parse_message("city/a", payload)


def test_every_message_published_at_qos1_is_stored_exactly_once(broker, tmp_path):
    store = tmp_path / "store.duckdb"
    running = Running(broker, store, batch_messages=300)
    publish(broker, [(f"city/{i % 3}", reading(i, sensor=f"s{i % 3}")) for i in range(3000)])
    tally = running.stop_after(3000)
    assert (tally.received, tally.stored, tally.duplicates, tally.malformed) == (3000, 3000, 0, 0)
    stored = observations(store)
    assert len(stored) == 3000 and sorted(row[3] for row in stored) == list(range(3000))
    db = connect(store, read_only=True)
    assert db.execute("select thing_id, sensor_id, property from datastreams order by 1").fetchall() == [
        ("s0", "s0", "pm25"), ("s1", "s1", "pm25"), ("s2", "s2", "pm25")]
    db.close()


def test_duplicates_add_nothing_and_the_first_value_stays(broker, tmp_path):
    store = tmp_path / "store.duckdb"
    running = Running(broker, store)
    first = [("city/a", reading(i)) for i in range(100)]
    again = [("city/a", reading(i).replace(f'"value": {i}', '"value": -1')) for i in range(50)]
    publish(broker, first + first + again + [("city/a", f"[{reading(200)}, {reading(200)}]")])
    tally = running.stop_after(251)
    assert (tally.received, tally.stored, tally.duplicates, tally.malformed) == (251, 101, 151, 0)
    assert sorted(row[3] for row in observations(store)) == [*range(100), 200]


def test_malformed_messages_are_counted_and_reported_and_the_rest_stored(broker, tmp_path):
    store = tmp_path / "store.duckdb"
    running = Running(broker, store, topic="#")
    publish(broker, [("city/a", reading(1)), ("city/bad", b"\xff\xfe"), ("city/bad", reading(2).replace("Z", "")),
                     ("v1.1/Datastreams(9)/Observations", b'{"phenomenonTime": "2024-05-01T00:00:00Z", "result": 1}'),
                     ("city/a", reading(3))])
    tally = running.stop_after(5)
    assert (tally.received, tally.stored, tally.malformed) == (5, 2, 3)
    assert running.reports == tally.problems
    assert [topic for topic, _ in tally.problems] == ["city/bad", "city/bad", "v1.1/Datastreams(9)/Observations"]
    reasons = [reason for _, reason in tally.problems]
    assert "not JSON" in reasons[0] and "no UTC offset" in reasons[1]
    assert "Datastream 9 is not in the store" in reasons[2]
    assert [row[3] for row in observations(store)] == [1.0, 3.0]


def test_sensorthings_topic_adds_to_an_existing_datastream(broker, tmp_path):
    store = tmp_path / "store.duckdb"
    running = Running(broker, store, topic="#")
    publish(broker, [("city/a", reading(0, sensor="pole-7"))])
    assert running.stop_after(1).stored == 1
    running = Running(broker, store, topic="#")
    publish(broker, [("v1.1/Datastreams(1)/Observations",
                      '[{"phenomenonTime": "2024-05-01T03:00:00+01:00", "result": 12.5},'
                      ' {"phenomenonTime": "2024-05-01T04:00:00+01:00", "result": 13}]')])
    tally = running.stop_after(1)
    assert (tally.stored, tally.malformed) == (2, 0)
    assert observations(store) == [("pole-7", "pm25", datetime(2024, 5, 1, 0, 0), 0.0),
                                   ("pole-7", "pm25", datetime(2024, 5, 1, 2, 0), 12.5),
                                   ("pole-7", "pm25", datetime(2024, 5, 1, 3, 0), 13.0)]


def test_a_broker_sending_twenty_unacknowledged_at_a_time_is_kept_going(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder, max_inflight=20)  # mosquitto's default
    try:
        running = Running(broker, tmp_path / "store.duckdb", batch_seconds=5)
        publish(broker, [("city/a", reading(i)) for i in range(400)])
        start = time.monotonic()
        tally = running.stop_after(400, timeout=30)
        assert tally.stored == 400 and time.monotonic() - start < 5  # not one 5-s batch per 20 messages
    finally:
        broker.stop()


def test_no_message_is_lost_across_a_broker_restart(broker, tmp_path):
    store = tmp_path / "store.duckdb"
    running = Running(broker, store, batch_messages=10_000, batch_seconds=5, idle_seconds=5)  # outlive the broker
    publish(broker, [("city/a", reading(i)) for i in range(1500)])
    broker.stop()  # messages received but not yet committed were never acknowledged: the broker keeps them
    time.sleep(0.5)
    broker.start()
    publish(broker, [("city/a", reading(i)) for i in range(1500, 3000)])
    end = time.monotonic() + 60
    while running.subscriber.tally.stored < 3000 and time.monotonic() < end:
        time.sleep(0.05)
    tally = running.stop_after(0)
    assert (tally.stored, tally.malformed, tally.duplicates) == (3000, 0, tally.received - 3000)  # redelivered
    assert sorted(row[3] for row in observations(store)) == list(range(3000))


def test_a_subscriber_away_gets_what_was_queued_meanwhile_through_the_command(broker, tmp_path):
    store = tmp_path / "store.duckdb"
    subscribe(broker.url("city/#"), store, client_id="away", seconds=0.5)  # opens the session, then leaves
    publish(broker, [("city/b", b"nope")] + [("city/a", reading(i)) for i in range(20)])
    result = runner.invoke(app, ["sensors", "subscribe", broker.url("city/%23"), "--store", str(store),
                                 "--client-id", "away", "--count", "20"])
    assert result.exit_code == 0, result.output
    assert "20 observations stored, 0 duplicates, 1 malformed" in result.stdout
    assert "malformed message on city/b: payload is not JSON" in result.stderr
    assert len(observations(store)) == 20


def test_the_command_refuses_a_bad_url_and_an_unreachable_broker(tmp_path):
    result = runner.invoke(app, ["sensors", "subscribe", "http://localhost/city", "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "does not start with mqtt://" in result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = runner.invoke(app, ["sensors", "subscribe", f"mqtt://127.0.0.1:{closed}/city",
                                 "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "cannot reach the broker" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no new store
