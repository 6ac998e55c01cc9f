"""Live ingest from an MQTT broker into the sensor store, with nothing lost when the process or the broker stops.

The client keeps a persistent session (a fixed client id, MQTT 3.1.1 with `clean_session` off), so the broker queues
QoS-1 messages while the client is away. Messages are stored in batches, one transaction each, and
acknowledged only after their batch is committed: a message whose batch never committed is sent again by the broker,
and the store's (datastream, time) key turns the repeat into a duplicate that adds nothing. A malformed message is
counted and reported with its topic and reason, then acknowledged (sending it again would change nothing).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import paho.mqtt.client as paho
import pandas as pd

from ..errors import InputError
from .store import connect

BATCH_MESSAGES = 5000
BATCH_SECONDS = 0.5
# A broker sends a bounded number of unacknowledged messages (mosquitto: 20 unless max_inflight_messages says more),
# then waits for acknowledgements: a batch is also committed once nothing has arrived for this long.
IDLE_SECONDS = 0.02
POLL_SECONDS = 0.005
RECONNECT_MIN_SECONDS = 0.25
RECONNECT_MAX_SECONDS = 16
DEFAULT_PORT = 1883
STA_TOPIC = re.compile(r"(?:^|/)Datastreams\((\d+)\)/Observations$")


@dataclass(frozen=True)
class Subscription:
    """Where to listen: a broker and a topic filter (MQTT wildcards `+` and `#` allowed)."""

    host: str
    port: int
    topic: str


def parse_url(url: str) -> Subscription:
    """`mqtt://HOST[:PORT]/TOPIC`; the topic is the rest of the path, so it may hold `/`, `+` and `#` (`%23`)."""
    parts = urlsplit(url)
    where = "the subscription URL"
    if parts.scheme != "mqtt":
        raise InputError.single(where, f"{url!r} does not start with mqtt:// (expected mqtt://HOST:PORT/TOPIC)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise InputError.single(where, f"{url!r} has a port that is not a number from 1 to 65535") from None
    topic = unquote(parts.path[1:] + (f"#{parts.fragment}" if "#" in url else ""))
    if not parts.hostname:
        raise InputError.single(where, f"{url!r} names no broker host (expected mqtt://HOST:PORT/TOPIC)")
    if not topic:
        raise InputError.single(where, f"{url!r} names no topic (expected mqtt://HOST:PORT/TOPIC)")
    if any(("#" in level and level != "#") or ("+" in level and level != "+") for level in topic.split("/")) \
            or "#" in topic[:-1]:
        raise InputError.single(where, f"topic {topic!r}: a wildcard + or # must fill a whole level, # only the last")
    return Subscription(parts.hostname, port, topic)


# --- payloads ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """One observation of a named sensor, as its message gave it; `datastream_id` set for the SensorThings form."""

    time: datetime
    value: float
    sensor: str | None = None
    property: str | None = None
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    datastream_id: int | None = None


def parse_message(topic: str, payload: bytes) -> list[Reading]:
    """The readings one message holds; ValueError with the reason when any of them is malformed."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"payload is not JSON ({err})") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValueError("payload is an empty list")
    sta = STA_TOPIC.search(topic)
    if sta:
        return [sta_reading(item, int(sta.group(1))) for item in items]
    return [sensor_reading(item) for item in items]


def sensor_reading(item) -> Reading:
    """`{"sensor", "time", "property", "value"[, "unit", "lat", "lon"]}`."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object with sensor, time, property and value, got {short(item)}")
    missing = [key for key in ("sensor", "time", "property", "value") if key not in item]
    if missing:
        raise ValueError(f"missing {', '.join(missing)} (expected sensor, time, property, value)")
    sensor, prop, unit = item["sensor"], item["property"], item.get("unit")
    if not isinstance(sensor, str | int) or isinstance(sensor, bool) or str(sensor) == "":
        raise ValueError(f"sensor {short(sensor)} is not a name")
    if not isinstance(prop, str) or prop == "":
        raise ValueError(f"property {short(prop)} is not a name")
    if unit is not None and not isinstance(unit, str):
        raise ValueError(f"unit {short(unit)} is not text")
    lat, lon = item.get("lat"), item.get("lon")
    if (lat is None) != (lon is None):
        raise ValueError("lat and lon go together: give both or neither")
    if lat is not None:
        lat, lon = number(lat, "lat"), number(lon, "lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"lat {lat}, lon {lon} is not a place on Earth")
    return Reading(utc_time(item["time"], "time"), number(item["value"], "value"), str(sensor), prop, unit, lat, lon)


def sta_reading(item, datastream_id: int) -> Reading:
    """A SensorThings Observation, `{"phenomenonTime", "result"}`, of the datastream its topic names."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a SensorThings Observation object, got {short(item)}")
    missing = [key for key in ("phenomenonTime", "result") if key not in item]
    if missing:
        raise ValueError(f"missing {', '.join(missing)} (expected a SensorThings Observation)")
    return Reading(utc_time(item["phenomenonTime"], "phenomenonTime"), number(item["result"], "result"),
                   datastream_id=datastream_id)


def utc_time(text, key: str) -> datetime:
    """An ISO-8601 instant with its UTC offset, as a naive UTC datetime (the store's times are UTC)."""
    expected = "expected ISO-8601 with its offset, e.g. 2024-05-01T12:00:00Z"
    if not isinstance(text, str):
        raise ValueError(f"{key} {short(text)} is not text ({expected})")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key} {text!r} is not a time ({expected})") from None
    if moment.tzinfo is None:
        raise ValueError(f"{key} {text!r} has no UTC offset ({expected})")
    return moment.astimezone(UTC).replace(tzinfo=None)


def number(value, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} {short(value)} is not a finite number")
    return float(value)


def short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- the store -----------------------------------------------------------------------------------------------------

@dataclass
class Stored:
    observations: int
    duplicates: int


def unknown_datastreams(db: duckdb.DuckDBPyConnection, ids: set[int]) -> set[int]:
    """The datastream ids a SensorThings topic named that the store does not hold."""
    if not ids:
        return set()
    known = db.execute("select datastream_id from datastreams where datastream_id in (select unnest(?))",
                       [sorted(ids)]).fetchall()
    return ids - {row[0] for row in known}


def store_readings(db: duckdb.DuckDBPyConnection, readings: list[Reading]) -> Stored:
    """Insert the readings in one statement per table (things, sensors, properties and datastreams created as they
    first appear); a reading whose (datastream, time) is already stored, or repeated here, is a duplicate."""
    named = [r for r in readings if r.datastream_id is None]
    frame = pd.DataFrame({
        "datastream_id": pd.array([r.datastream_id for r in readings], dtype="Int64"),
        "sensor": [r.sensor for r in readings], "property": [r.property for r in readings],
        "unit": [r.unit for r in readings], "lat": [r.lat for r in readings], "lon": [r.lon for r in readings],
        "time": pd.DatetimeIndex([r.time for r in readings]), "value": [r.value for r in readings],
        "arrival": range(len(readings))})
    db.register("mqtt_batch", frame)
    try:
        if named:
            create_datastreams(db)
        # the store keeps (datastream, time) unique by what each writer adds: the batch's first of a repeat, and
        # nothing already stored
        inserted = db.execute("""
            insert into observations
            select f.datastream_id, f.time, f.value from (
                select datastream_id, time, value from (
                    select coalesce(b.datastream_id, d.datastream_id) as datastream_id, b.time, b.value, b.arrival
                    from mqtt_batch b left join datastreams d
                      on b.datastream_id is null and d.thing_id = b.sensor and d.sensor_id = b.sensor
                     and d.property = b.property)
                qualify row_number() over (partition by datastream_id, time order by arrival) = 1) f
            anti join (select datastream_id, time from observations  -- the batch's time range: zone maps skip the rest
                       where time between (select min(time) from mqtt_batch) and (select max(time) from mqtt_batch)) o
              on o.datastream_id = f.datastream_id and o.time = f.time""").fetchone()[0]
    finally:
        db.unregister("mqtt_batch")
    return Stored(inserted, len(readings) - inserted)


def create_datastreams(db: duckdb.DuckDBPyConnection) -> None:
    """Things (each sensor is its own thing), their first location, sensors, properties and datastreams that the
    batch names and the store lacks; a datastream keeps the unit it first came with."""
    db.execute("""
        insert into things select sensor, sensor, '', '{}' from mqtt_batch
        where datastream_id is null group by sensor on conflict do nothing""")
    db.execute("""
        insert into locations select sensor, first(lat order by time), first(lon order by time), '' from mqtt_batch
        where datastream_id is null and lat is not null group by sensor on conflict do nothing""")
    db.execute("""
        insert into sensors select sensor, sensor, '' from mqtt_batch
        where datastream_id is null group by sensor on conflict do nothing""")
    db.execute("""
        insert into observed_properties select property, property, '', first(unit order by time) from mqtt_batch
        where datastream_id is null group by property on conflict do nothing""")
    db.execute("""
        insert into datastreams
        select (select coalesce(max(datastream_id), 0) from datastreams)
               + row_number() over (order by n.sensor, n.property), n.sensor, n.sensor, n.property, n.unit
        from (select sensor, property, first(unit order by time) as unit from mqtt_batch
              where datastream_id is null group by sensor, property) n
        anti join datastreams d on d.thing_id = n.sensor and d.sensor_id = n.sensor and d.property = n.property""")


# --- the subscriber ------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """What a subscription did: messages received and malformed, observations stored and duplicated."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"received {self.received} messages: {self.stored} observations stored, "
                f"{self.duplicates} duplicates, {self.malformed} malformed")


@dataclass(frozen=True)
class Received:
    """A message waiting for its batch, with the connection it came on (an ack belongs to that connection)."""

    connection: int
    topic: str
    payload: bytes
    mid: int
    qos: int


class Subscriber:
    """A persistent-session client that hands messages to a queue; `run` stores and acknowledges them in batches."""

    def __init__(self, subscription: Subscription, store: str | Path, client_id: str,
                 report: Callable[[str, str], None] | None = None,
                 batch_messages: int = BATCH_MESSAGES, batch_seconds: float = BATCH_SECONDS,
                 idle_seconds: float = IDLE_SECONDS):
        self.subscription = subscription
        self.store = Path(store)
        self.report = report or (lambda topic, reason: None)
        self.batch_messages = batch_messages
        self.batch_seconds = batch_seconds
        self.idle_seconds = idle_seconds
        self.tally = Tally()
        self.waiting: deque[Received] = deque()
        self.connection = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  protocol=paho.MQTTv311, manual_ack=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS)
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_message = self.on_message
        self.client.on_subscribe = lambda client, userdata, mid, reason_codes, properties: self.subscribed.set()

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        self.connection += 1
        client.subscribe(self.subscription.topic, qos=1)
        self.connected.set()

    def on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()

    def on_message(self, client, userdata, message) -> None:
        self.waiting.append(Received(self.connection, message.topic, message.payload, message.mid, message.qos))

    def run(self, count: int | None = None, seconds: float | None = None) -> Tally:
        """Store messages until `count` observations are stored, `seconds` have passed, `stop()` or Ctrl-C; what is
        batched is committed before returning."""
        try:  # the broker first: an unreachable one leaves no new store behind
            self.client.connect(self.subscription.host, self.subscription.port, keepalive=30)
        except OSError as err:
            raise InputError.single(f"mqtt://{self.subscription.host}:{self.subscription.port}",
                                    f"cannot reach the broker: {err}") from None
        try:
            db = connect(self.store)
        except BaseException:
            self.client.disconnect()
            raise
        self.client.loop_start()
        end = None if seconds is None else time.monotonic() + seconds
        try:
            first_waiting = last_arrival = time.monotonic()
            last_size = 0
            while not self.stopping.is_set():
                if count is not None and self.tally.stored >= count:
                    break
                time.sleep(POLL_SECONDS)
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                size = len(self.waiting)
                if size > last_size:
                    first_waiting = now if last_size == 0 else first_waiting
                    last_arrival = now
                last_size = size
                if size and (size >= self.batch_messages or now - first_waiting >= self.batch_seconds
                             or now - last_arrival >= self.idle_seconds):
                    self.flush(db)
                    last_size = len(self.waiting)
                    first_waiting = last_arrival = time.monotonic()
        except KeyboardInterrupt:
            pass
        finally:
            try:
                self.flush(db)
            finally:
                self.client.disconnect()
                self.client.loop_stop()
                db.close()
        return self.tally

    def stop(self) -> None:
        self.stopping.set()

    def flush(self, db: duckdb.DuckDBPyConnection) -> None:
        """Store the waiting messages in one transaction, then acknowledge those whose connection is still open."""
        batch = [self.waiting.popleft() for _ in range(min(len(self.waiting), self.batch_messages))]
        if not batch:
            return
        parsed: list[tuple[Received, list[Reading]]] = []
        for message in batch:
            try:
                parsed.append((message, parse_message(message.topic, message.payload)))
            except ValueError as err:
                self.malformed(message, str(err))
        missing = unknown_datastreams(db, {readings[0].datastream_id for _, readings in parsed
                                           if readings[0].datastream_id is not None})
        readings = []
        for message, message_readings in parsed:
            if message_readings[0].datastream_id in missing:
                self.malformed(message, f"Datastream {message_readings[0].datastream_id} is not in the store")
            else:
                readings.extend(message_readings)
        db.begin()
        try:
            stored = store_readings(db, readings) if readings else Stored(0, 0)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        self.tally.received += len(batch)
        self.tally.stored += stored.observations
        self.tally.duplicates += stored.duplicates
        for message in batch:
            if message.connection == self.connection and self.connected.is_set():
                self.client.ack(message.mid, message.qos)

    def malformed(self, message: Received, reason: str) -> None:
        self.tally.malformed += 1
        self.tally.problems.append((message.topic, reason))
        self.report(message.topic, reason)


def default_client_id(store: str | Path) -> str:
    """The same store resumes the same broker session, so a restarted command gets what was queued meanwhile."""
    return "smartcities-" + hashlib.sha256(str(Path(store).resolve()).encode()).hexdigest()[:16]


def subscribe(url: str, store: str | Path, client_id: str | None = None, count: int | None = None,
              seconds: float | None = None, report: Callable[[str, str], None] | None = None) -> Tally:
    """Store the observations published under `mqtt://HOST:PORT/TOPIC` until `count` are stored or `seconds` pass."""
    subscriber = Subscriber(parse_url(url), store, client_id or default_client_id(store), report)
    return subscriber.run(count, seconds)
