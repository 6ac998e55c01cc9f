"""Spell out the coder's encoder's fused layer normalisations as plain ONNX operators.

Why: each transformer layer of the encoder ends its attention and its feed-forward block with onnxruntime's fused
`SkipLayerNormalization` (12 nodes). On the two-core machines the package is measured on, that one kernel is slower
than the same arithmetic written as ordinary element-wise and reduction operators, which onnxruntime runs with its
vectorised kernels: the encoder embeds 1.17x as many texts per second without it (docs/coder.md, Speed).

How: every `SkipLayerNormalization(x, skip, gamma, beta, bias)` becomes, over the last axis and with the node's own
epsilon,

    u = (x + bias) + skip;  c = u - mean(u);  y = c / sqrt(mean(c * c) + epsilon) * gamma + beta

The square is a `Mul`, not a `Pow`: onnxruntime recognises the `Pow` form as a layer normalisation and would fuse it
back when it loads the model (`main` checks that it does not). Nothing else changes: the int8 weights, the dynamic
quantisation of the activations, the inputs and the `sentence_embedding` output. The vectors move a little, since
the int8 rounding of the next matrix product amplifies float differences in the normalised values (cosine with
the fused model's vectors 0.999 on average).

When: a build-time step on the dynamically quantised int8 encoder. `scripts/tune_encoder.py` runs it as the last
part of its export; run alone, it rewrites an existing encoder (by default the shipped
`src/smartcities/data/coder/encoder/model.onnx`, in place; a file without fused layer normalisations is written
back unchanged). It needs the `onnx` package, which the package itself does not use. Same input, same bytes: node
and tensor names derive from the fused nodes' own. Prints the file's sha256, which
`smartcities.inventory.coder.ENCODER_SHA256` records.

Usage: python scripts/unfuse_layer_norm.py [--model PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

ENCODER = Path(__file__).resolve().parents[1] / "src" / "smartcities" / "data" / "coder" / "encoder" / "model.onnx"
FUSED = ("SkipLayerNormalization", "LayerNormalization", "SimplifiedLayerNormalization")


def unfuse(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` with every `SkipLayerNormalization` written as plain operators."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes, epsilons = [], []
    for n in model.graph.node:
        if n.op_type != "SkipLayerNormalization":
            nodes.append(n)
            continue
        x, skip, gamma, beta, bias = n.input
        epsilon = next(a.f for a in n.attribute if a.name == "epsilon")
        p = n.name + "/unfused_"
        epsilons.append(numpy_helper.from_array(np.array(epsilon, dtype=np.float32), p + "epsilon"))
        steps = [("Add", [x, bias], "add_bias"), ("Add", [p + "add_bias", skip], "add_skip"),
                 ("ReduceMean", [p + "add_skip"], "mean"), ("Sub", [p + "add_skip", p + "mean"], "centred"),
                 ("Mul", [p + "centred", p + "centred"], "square"), ("ReduceMean", [p + "square"], "variance"),
                 ("Add", [p + "variance", p + "epsilon"], "add_epsilon"), ("Sqrt", [p + "add_epsilon"], "deviation"),
                 ("Div", [p + "centred", p + "deviation"], "normalised"), ("Mul", [p + "normalised", gamma], "scaled"),
                 ("Add", [p + "scaled", beta], "add_beta")]
        for op, inputs, step in steps:
            output = n.output[0] if step == "add_beta" else p + step
            axes = {"axes": [-1], "keepdims": 1} if op == "ReduceMean" else {}
            nodes.append(helper.make_node(op, inputs, [output], name=p + step, **axes))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    out.graph.initializer.extend(epsilons)
    onnx.checker.check_model(out)
    return out


def fused_at_load(path: Path) -> int:
    """How many layer normalisation nodes onnxruntime's graph optimiser leaves in `path` when it loads it as the
    package does (every optimisation on)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(Path(tmp, "optimised.onnx"))
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        optimised = onnx.load(options.optimized_model_filepath)
    return sum(n.op_type in FUSED for n in optimised.graph.node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ENCODER, help="the int8 encoder to rewrite")
    parser.add_argument("--out", type=Path, help="where to write it (default: over --model)")
    args = parser.parse_args()
    out = args.out or args.model

    onnx.save(unfuse(onnx.load(str(args.model))), str(out))
    if fused_at_load(out):
        raise RuntimeError(f"onnxruntime fuses layer normalisations back into {out}")
    print(f"{out}: sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
