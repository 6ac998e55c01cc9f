"""Speed of the automatic coder: model load time and texts coded per second on CPU.

Prints, measured side by side in this one run:
- load of each embedding with its packaged heads, cold (the static model first, so that it pays for the imports
  both share): the static token table (`--embedding static`, sha256 check included) and a fresh ONNX session +
  tokenizer for the tuned MiniLM encoder (sha256 checks included);
- texts/s for coding the same N initiative texts (embedding + every head) with each, and static / MiniLM as a ratio.

With `--modes`, also how the MiniLM encoder is fed: one text per call on the coder's threads (what the coder does,
so that a text's vector never depends on its neighbours) against padded, length-sorted batches of `--batch` texts
straight through the same single-threaded ONNX session (their vectors shift with the batch), and N texts of which
a share (`--repeat`, default 0.3) repeat earlier ones (identical texts are embedded once).

With `--against MODEL` (another ONNX encoder with the same inputs, e.g. an earlier build of the shipped one),
instead, in one run on the same N texts, both one text per call on the coder's threads, in alternating blocks of
500 texts so that both meet the same load: texts/s of the shipped encoder and of MODEL; the cosine between the two
encoders' vectors of the training inventory's texts (hold-out cities included); and the share of those rows whose
coded service_domain, item_type and lead_actor (the shipped heads) change from one encoder to the other.

Usage: python bench/bench_coder.py [--n 10000] [--threads 2] [--modes] [--batch 16] [--repeat 0.3]
                                   [--against MODEL]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def texts(n: int, seed: int = 0) -> list[str]:
    """n distinct initiative-like texts: the sample inventory's texts, with sentences of different rows recombined
    so that lengths vary as in real inputs (distinct, so that no rate is flattered by embedding a text once)."""
    from smartcities.inventory.coder import texts_of
    from smartcities.inventory.train import DATA, read_training_inventory

    base = texts_of(read_training_inventory(DATA / "sci2022" / "inventory.csv"))  # the demo's sample
    sentences = [s.strip() + "." for t in base for s in t.split(". ") if s.strip()]
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        k = int(rng.integers(1, 5))
        out[" ".join(rng.choice(sentences, size=k))] = None
    return list(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=float, default=0.3)
    parser.add_argument("--modes", action="store_true", help="also compare how the MiniLM encoder is fed")
    parser.add_argument("--against", help="also compare the shipped encoder with this ONNX encoder")
    args = parser.parse_args()
    if args.against:
        compare(args.against, args.n, args.threads)
        return

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

    def timed(items) -> float:
        t = time.perf_counter()
        coder.predict(embed.embed(items), items)
        return len(items) / (time.perf_counter() - t)

    t = time.perf_counter()
    static_coder.predict(static.embed(sample), sample)
    static_rate = args.n / (time.perf_counter() - t)
    rate = timed(sample)
    side = pd.DataFrame([("static (--embedding static)", static_load, static_rate, args.n / static_rate),
                         ("tuned MiniLM int8 ONNX (default)", load, rate, args.n / rate)],
                        columns=["embedding", "load_s", "texts_per_s", f"s_for_{args.n}"])
    print(side.to_string(index=False, float_format=lambda v: f"{v:.2f}" if v < 10 else f"{v:.0f}"))
    print(f"static / MiniLM: {static_rate / rate:.1f}x the texts per second")
    if not args.modes:
        return

    def batched(items) -> float:
        """Padded, length-sorted batches through the same session (not what the coder does)."""
        t = time.perf_counter()
        encodings = embed.tokenizer.encode_batch(items)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(items), args.batch):
            rows = [encodings[i] for i in order[start:start + args.batch]]
            width = max(len(e.ids) for e in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for j, e in enumerate(rows):
                ids[j, :len(e.ids)], mask[j, :len(e.ids)] = e.ids, 1
            embed.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        return len(items) / (time.perf_counter() - t)

    batch_rate = batched(sample)
    rng = np.random.default_rng(1)
    n_new = int(round(args.n * (1 - args.repeat)))
    repeated = sample[:n_new] + [sample[int(i)] for i in rng.integers(0, n_new, size=args.n - n_new)]
    repeat_rate = timed(repeated)
    rows = pd.DataFrame([
        ("one text per call (coder, embedding + heads)", 1, args.n, rate),
        ("length-sorted padded batches (embedding only)", args.batch, args.n, batch_rate),
        (f"one text per call, {args.repeat:.0%} repeated texts", 1, args.n, repeat_rate),
    ], columns=["mode", "batch", "texts", "texts_per_s"])
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"one per call / batches: {rate / batch_rate:.2f}x; with repeats / without: {repeat_rate / rate:.2f}x")


def compare(against: str, n: int, threads: int) -> None:
    """The shipped encoder against `against`: speed, agreement of vectors and of codes."""
    from smartcities.inventory.coder import Embedder, load_coder, texts_of
    from smartcities.inventory.train import INVENTORY_FILE, read_training_inventory

    shipped, other = Embedder(threads=threads), Embedder(threads=threads, model=against)
    sample = texts(n)
    lengths = [len(e.ids) for e in shipped.tokenizer.encode_batch(sample)]
    print(f"{n} distinct texts, {np.mean(lengths):.0f} tokens on average (max {max(lengths)}); threads={threads}")
    encoders = {"shipped encoder": shipped, against: other}
    seconds = dict.fromkeys(encoders, 0.0)
    for embed in encoders.values():
        embed.embed(sample[:64])  # warm-up
    for k, start in enumerate(range(0, n, 500)):  # alternating blocks, so that both see the same load
        for label in list(encoders)[:: 1 if k % 2 == 0 else -1]:
            t = time.perf_counter()
            encoders[label].embed(sample[start:start + 500])
            seconds[label] += time.perf_counter() - t
    rates = [(label, n / s) for label, s in seconds.items()]
    print(pd.DataFrame(rates, columns=["encoder, one text per call", "texts_per_s"]).to_string(
        index=False, float_format="%.1f"))
    print(f"shipped / {against}: {rates[0][1] / rates[1][1]:.2f}x the texts per second")

    inventory = texts_of(read_training_inventory(INVENTORY_FILE))  # hold-out cities included
    a, b = shipped.embed(inventory), other.embed(inventory)
    cosine = (a * b).sum(axis=1)
    print(f"cosine shipped vs {against} over {len(inventory)} inventory texts: min {cosine.min():.4f}, "
          f"mean {cosine.mean():.4f}")
    coder = load_coder()
    pa, pb = coder.predict(a, inventory), coder.predict(b, inventory)
    for column in ("service_domain", "item_type", "lead_actor"):
        changed = np.mean([x != y for x, y in zip(pa[column][0], pb[column][0])])
        print(f"{column}: {changed:.2%} of {len(inventory)} rows coded differently")


if __name__ == "__main__":
    main()
