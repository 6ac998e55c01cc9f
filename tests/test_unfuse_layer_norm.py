"""The encoder's layer-normalisation step (scripts/unfuse_layer_norm.py): the plain operators it writes compute what
onnxruntime's fused kernel computes, onnxruntime keeps them apart at load, and the shipped encoder is its output."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import script_module

from smartcities.inventory import coder as C
from smartcities.inventory import train as T

onnx = pytest.importorskip("onnx")  # a build-time tool, not a dependency of the package
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

WIDTH = 384


@pytest.fixture(scope="module")
def script():
    return script_module("unfuse_layer_norm")


def refused(model):
    """The shipped encoder with each unfused chain put back into one `SkipLayerNormalization` (the model the step
    was run on)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    chains: dict[str, dict] = {}
    for n in model.graph.node:
        if "/unfused_" in n.name:
            prefix, step = n.name.split("/unfused_")
            chains.setdefault(prefix, {})[step] = n
    epsilons = {t.name: float(numpy_helper.to_array(t)) for t in model.graph.initializer if "/unfused_" in t.name}
    nodes = []
    for n in model.graph.node:
        if "/unfused_" not in n.name:
            nodes.append(n)
        elif n.name.endswith("/unfused_add_bias"):
            steps = chains[n.name.split("/unfused_")[0]]
            nodes.append(helper.make_node(
                "SkipLayerNormalization",
                [n.input[0], steps["add_skip"].input[1], steps["scaled"].input[1], steps["add_beta"].input[1],
                 n.input[1]], list(steps["add_beta"].output), name=n.name.split("/unfused_")[0],
                domain="com.microsoft", epsilon=epsilons[steps["add_epsilon"].input[1]]))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    kept = [t for t in model.graph.initializer if "/unfused_" not in t.name]
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    return out


def test_plain_operators_compute_the_fused_layer_normalisation(script):
    rng = np.random.default_rng(0)
    gamma, beta, bias = (rng.standard_normal(WIDTH).astype(np.float32) for _ in range(3))
    tensor = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"], ["y"], name="ln",
                          domain="com.microsoft", epsilon=1e-12)], "ln",
        [tensor("x", TensorProto.FLOAT, [1, None, WIDTH]), tensor("skip", TensorProto.FLOAT, [1, None, WIDTH])],
        [tensor("y", TensorProto.FLOAT, [1, None, WIDTH])],
        [numpy_helper.from_array(v, k) for k, v in (("gamma", gamma), ("beta", beta), ("bias", bias))])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    fused = helper.make_model(graph, opset_imports=opsets)
    plain = script.unfuse(fused)
    assert {n.op_type for n in plain.graph.node} == {"Add", "ReduceMean", "Sub", "Mul", "Sqrt", "Div"}
    inputs = {"x": 3 * rng.standard_normal((1, 57, WIDTH)).astype(np.float32),
              "skip": rng.standard_normal((1, 57, WIDTH)).astype(np.float32)}
    run = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
           for m in (fused, plain)]
    assert np.allclose(run[0], run[1], atol=1e-5)
    u = inputs["x"] + bias + inputs["skip"]
    by_hand = (u - u.mean(-1, keepdims=True)) / np.sqrt(u.var(-1, keepdims=True) + 1e-12) * gamma + beta
    assert np.allclose(run[1], by_hand, atol=1e-5)


def test_shipped_encoder_is_the_step_s_output_and_codes_as_the_fused_one(script, tmp_path):
    shipped = onnx.load(str(C.ENCODER_FILE))
    assert not any(n.op_type == "SkipLayerNormalization" for n in shipped.graph.node)
    assert script.fused_at_load(C.ENCODER_FILE) == 0  # onnxruntime keeps the plain operators apart
    source = refused(shipped)
    assert sum(n.op_type == "SkipLayerNormalization" for n in source.graph.node) == 12  # 6 layers x 2
    fused_path = tmp_path / "fused.onnx"
    onnx.save(source, str(fused_path))
    assert script.fused_at_load(fused_path) == 12

    rebuilt = tmp_path / "rebuilt.onnx"
    onnx.save(script.unfuse(onnx.load(str(fused_path))), str(rebuilt))
    assert hashlib.sha256(rebuilt.read_bytes()).hexdigest() == C.ENCODER_SHA256  # same input, same bytes

    texts = C.texts_of(T.read_training_inventory())[:48]
    plain = C.embedder().embed(texts)
    fused = C.Embedder(model=fused_path).embed(texts)
    assert (plain * fused).sum(axis=1).min() > 0.99
