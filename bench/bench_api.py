"""The REST API under a fixed load: `smartcities serve` on loopback, a steady rate of requests (200/s for 60 s by
default) mixing every kind of endpoint, what-if and scoring included.

The demo is published into a temporary folder and served by a real `smartcities serve` process (its own core).
The client is a small asyncio HTTP/1.1 client over kept-alive connections, every request encoded before the run:
it sends each at its scheduled time (open loop: a slow answer never delays the next request), with at most
`--in-flight` outstanding, and times each from its scheduled start, so any queueing counts.
Each kind is printed with its errors and p50/p95/p99 beside the baseline measured in the same run: the same
server handing out a static file of the site (site/api/v1/ranking.json), which involves no API code at all.

    .venv/bin/python bench/bench_api.py [--rate 200 --seconds 60 --in-flight 256]
"""

from __future__ import annotations  # noqa: I001 (smartcities before NumPy: its kernels)

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import smartcities  # noqa: F401 (first, so NumPy runs the kernels a smartcities process runs)
import numpy as np

from smartcities.build import build
from smartcities.cli.build import DEMO_SPEC
from smartcities.online.bundle import documents, write_documents

BASELINE = "static file"


def publish(folder: Path) -> dict:
    docs = documents(build(DEMO_SPEC))
    write_documents(docs, folder)
    return docs


def request_mix(docs: dict, rng: np.random.Generator):
    """An endless stream of (kind, method, path, params, body), in fixed shares of the load."""
    cities = [c["city"] for c in docs["cities"]]
    nodes = docs["model"]["nodes"]
    domains = docs["index"]["domains"]
    regions = sorted({c["region"] for c in docs["cities"]})
    indicators = docs["model"]["indicators"]
    raw = docs["model"]["raw"]
    kinds = [
        (0.10, lambda: (BASELINE, "GET", "/api/v1/ranking.json", None, None)),
        (0.05, lambda: ("health", "GET", "/api/v1/health", None, None)),
        (0.20, lambda: ("ranking", "GET", "/api/v1/ranking", {"node": str(rng.choice(nodes)),
                                                              "region": str(rng.choice(regions)), "limit": 20}, None)),
        (0.05, lambda: ("ranking csv", "GET", "/api/v1/ranking", {"format": "csv"}, None)),
        (0.10, lambda: ("city", "GET", f"/api/v1/cities/{rng.choice(cities)}", None, None)),
        (0.10, lambda: ("profile", "GET", f"/api/v1/cities/{rng.choice(cities)}/profile", None, None)),
        (0.05, lambda: ("scores", "GET", "/api/v1/scores", {"city": str(rng.choice(cities))}, None)),
        (0.05, lambda: ("indicators", "GET", "/api/v1/indicators", {"indicator": str(rng.choice(indicators))}, None)),
        (0.20, lambda: ("whatif", "POST", "/api/v1/whatif", None, {
            "weights": {d: float(rng.uniform(0, 5)) for d in domains},
            "aggregation": str(rng.choice(["arithmetic", "geometric"]))})),
        (0.05, lambda: ("score new", "POST", "/api/v1/score", None, {
            "values": dict(zip(indicators, raw[int(rng.integers(len(raw)))]))})),
        (0.05, lambda: ("score change", "POST", "/api/v1/score", None, changed())),
    ]

    def changed() -> dict:
        """A city of the build with one indicator set to another city's value."""
        j = int(rng.integers(len(indicators)))
        return {"city": str(rng.choice(cities)), "values": {indicators[j]: raw[int(rng.integers(len(raw)))][j]}}

    shares = np.array([k[0] for k in kinds])
    makers = [k[1] for k in kinds]
    while True:
        yield makers[int(rng.choice(len(makers), p=shares / shares.sum()))]()


def encoded(method: str, path: str, params: dict | None, body: dict | None) -> bytes:
    """One HTTP/1.1 request as bytes, made before the run so the client spends nothing on it while timing."""
    target = path + ("?" + urlencode(params) if params else "")
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return (head + "\r\n").encode() + data


async def exchange(connection, request: bytes) -> int:
    """Send one request on a kept-alive connection and read the whole answer; its status."""
    reader, writer = connection
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def load(port: int, docs: dict, rate: float, seconds: float, in_flight: int, seed: int) -> tuple[list, float]:
    """Send rate × seconds requests at fixed times over kept-alive connections (a new one only when every open
    one is busy, at most `in_flight`); (kind, status or error, seconds from its scheduled time) for each."""
    rng = np.random.default_rng(seed)
    mix = request_mix(docs, rng)
    planned = [(kind, encoded(*rest)) for kind, *rest in (next(mix) for _ in range(int(rate * seconds)))]
    results: list[tuple[str, str, float]] = []
    idle: list = []
    opened = 0

    async def one(kind: str, request: bytes, due: float) -> None:
        nonlocal opened
        connection = idle.pop() if idle else None
        try:
            if connection is not None:
                try:
                    outcome = str(await exchange(connection, request))
                except (OSError, asyncio.IncompleteReadError, IndexError):
                    # the server closes a connection idle past its keep-alive time: send again on a new one, as
                    # every HTTP client does
                    opened -= 1
                    connection = None
            if connection is None:
                opened += 1
                connection = await asyncio.open_connection("127.0.0.1", port)
                outcome = str(await exchange(connection, request))
            idle.append(connection)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as err:
            outcome = type(err).__name__
            opened -= 1
        results.append((kind, outcome, time.perf_counter() - due))

    tasks = []
    start = time.perf_counter()
    for i, (kind, request) in enumerate(planned):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle and opened >= in_flight:
            results.append((kind, "refused: too many in flight", 0.0))
            continue
        tasks.append(asyncio.create_task(one(kind, request, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return results, elapsed


def report(results: list, elapsed: float, rate: float) -> int:
    kinds = sorted({k for k, _, _ in results}, key=lambda k: (k != BASELINE, k))
    base = np.array([t for k, s, t in results if k == BASELINE and s == "200"]) * 1000
    base50 = float(np.percentile(base, 50)) if base.size else float("nan")
    print(f"{'kind':<14}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p50 / static':>14}")
    errors = 0
    for kind in [*kinds, "all"]:
        rows = [(s, t) for k, s, t in results if kind in ("all", k)]
        bad = sum(s not in ("200", "304") for s, _ in rows)
        if kind != "all":
            errors += bad
        t = np.array([t for _, t in rows]) * 1000
        p50, p95, p99 = np.percentile(t, [50, 95, 99])
        print(f"{kind:<14}{len(rows):>9}{bad:>8}{p50:>9.2f}{p95:>9.2f}{p99:>9.2f}{p50 / base50:>13.2f}x")
    print(f"achieved {len(results) / elapsed:.1f} requests/s of {rate:.0f} asked, over {elapsed:.1f} s; "
          f"{errors} errors")
    for outcome in sorted({s for _, s, _ in results if s not in ("200", "304")}):
        print(f"  {outcome}: {sum(s == outcome for _, s, _ in results)}")
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to keep the rate")
    parser.add_argument("--in-flight", type=int, default=256, help="requests outstanding at most")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        docs = publish(folder)
        server = subprocess.Popen([sys.executable, "-m", "smartcities", "serve", str(folder), "--port", "0"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline().split(" at ")[1].split()[0].rstrip("/").rsplit(":", 1)[1])
            warm = asyncio.run(load(port, docs, args.rate, 2.0, args.in_flight, args.seed + 1))
            print(f"warm-up: {len(warm[0])} requests")
            results, elapsed = asyncio.run(load(port, docs, args.rate, args.seconds, args.in_flight, args.seed))
        finally:
            server.terminate()
            server.wait(timeout=20)
    sys.exit(1 if report(results, elapsed, args.rate) else 0)


if __name__ == "__main__":
    main()
