"""Speed of the automatic coder: model load time and texts coded per second on CPU.

Prints, measured side by side in this one run:
- load of each embedding with its packaged heads, cold (the static model first, so that it pays for the imports
  both share): the static token table (`--embedding static`, sha256 check included) and a fresh ONNX session +
  tokenizer for MiniLM (sha256 checks included);
- texts/s for coding the same N initiative texts (embedding + every head) with each, and static / MiniLM as a ratio.

With `--modes`, also the MiniLM batching comparison: the same texts in arrival order (naive batching) and one text
at a time (on a subset), and N texts of which a share (`--repeat`, default 0.3) repeat earlier ones (identical
texts are embedded once).

Usage: python bench/bench_coder.py [--n 10000] [--threads 2] [--batch 16] [--modes] [--repeat 0.3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def texts(n: int, seed: int = 0) -> list[str]:
    """n initiative-like texts: the sample inventory's texts, with sentences of different rows recombined so that
    lengths vary as in real inputs."""
    from smartcities.inventory.coder import texts_of
    from smartcities.inventory.train import read_training_inventory

    base = texts_of(read_training_inventory())
    sentences = [s.strip() + "." for t in base for s in t.split(". ") if s.strip()]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 5))
        out.append(" ".join(rng.choice(sentences, size=k)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=float, default=0.3)
    parser.add_argument("--modes", action="store_true", help="also compare MiniLM batching modes (slow)")
    args = parser.parse_args()

    start = time.perf_counter()
    from smartcities.inventory.coder import Embedder, StaticEmbedder, load_coder

    imported = time.perf_counter() - start
    start = time.perf_counter()
    static = StaticEmbedder()
    static_coder = load_coder(embedding="static")
    static_load = time.perf_counter() - start
    start = time.perf_counter()
    embed = Embedder(threads=args.threads)
    coder = load_coder()
    load = time.perf_counter() - start
    print(f"import {imported:.2f} s; model + heads load: static {static_load:.2f} s, MiniLM {load:.2f} s "
          f"(threads={args.threads})")

    sample = texts(args.n)
    lengths = [len(e.ids) for e in embed.tokenizer.encode_batch(sample)]
    print(f"{args.n} texts, {np.mean(lengths):.0f} tokens on average (max {max(lengths)})")
    embed.embed(sample[:64])  # warm-up
    static.embed(sample[:64])

    def timed(items, **kwargs) -> float:
        t = time.perf_counter()
        coder.predict(embed.embed(items, **kwargs))
        return len(items) / (time.perf_counter() - t)

    t = time.perf_counter()
    static_coder.predict(static.embed(sample))
    static_rate = args.n / (time.perf_counter() - t)
    sorted_rate = timed(sample, batch_size=args.batch, sort=True)
    side = pd.DataFrame([("static (--embedding static)", static_load, static_rate, args.n / static_rate),
                         ("MiniLM int8 ONNX (default)", load, sorted_rate, args.n / sorted_rate)],
                        columns=["embedding", "load_s", "texts_per_s", f"s_for_{args.n}"])
    print(side.to_string(index=False, float_format=lambda v: f"{v:.2f}" if v < 10 else f"{v:.0f}"))
    print(f"static / MiniLM: {static_rate / sorted_rate:.1f}x the texts per second")
    if not args.modes:
        return

    naive_rate = timed(sample, batch_size=args.batch, sort=False)
    subset = sample[: max(50, args.n // 20)]
    single_rate = timed(subset, batch_size=1, sort=False)
    rng = np.random.default_rng(1)
    n_new = int(round(args.n * (1 - args.repeat)))
    repeated = sample[:n_new] + [sample[int(i)] for i in rng.integers(0, n_new, size=args.n - n_new)]
    repeat_rate = timed(repeated, batch_size=args.batch, sort=True)
    rows = pd.DataFrame([
        ("length-sorted batches (coder)", args.batch, args.n, sorted_rate),
        ("arrival-order batches", args.batch, args.n, naive_rate),
        ("one text at a time", 1, len(subset), single_rate),
        (f"length-sorted, {args.repeat:.0%} repeated texts", args.batch, args.n, repeat_rate),
    ], columns=["mode", "batch", "texts", "texts_per_s"])
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"sorted / arrival-order: {sorted_rate / naive_rate:.2f}x; sorted / one at a time: "
          f"{sorted_rate / single_rate:.2f}x; with repeats / one at a time: {repeat_rate / single_rate:.2f}x")
    print(f"{args.n} texts take {args.n / sorted_rate:.1f} s coded the coder's way")


if __name__ == "__main__":
    main()
