"""The framework tree: structure, compiled weight matrices and every structural problem it must refuse."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import hand_framework, hand_nodes

from smartcities.errors import InputError
from smartcities.model.framework import Framework, Node


def problems_of(nodes) -> str:
    with pytest.raises(InputError) as err:
        Framework.from_nodes(nodes, source="fw.yaml")
    return str(err.value)


def test_structure(hand_fw):
    assert hand_fw.level == {"Index": 3, "A": 2, "B": 2, "a1": 1, "a2": 1, "b1": 1, "b2": 1}
    assert hand_fw.n_levels == 3
    assert hand_fw.root() == "Index"
    assert hand_fw.leaves() == ["a1", "a2", "b1", "b2"]
    assert hand_fw.children["A"] == ["a1", "a2"]
    assert hand_fw.ordered() == ["a1", "a2", "b1", "b2", "A", "B", "Index"]


def test_compile(hand_fw):
    c = hand_fw.compile()
    assert c.nodes == ("a1", "a2", "b1", "b2", "A", "B", "Index")
    assert c.n_leaves == 4
    assert list(c.levels) == [1, 1, 1, 1, 2, 2, 3]
    assert list(c.direction) == [1, 1, -1, 1]
    assert c.level_slices == (slice(0, 4), slice(4, 6), slice(6, 7))
    assert np.allclose(c.matrices[0], [[0.25, 0], [0.75, 0], [0, 0.5], [0, 0.5]])
    assert np.allclose(c.matrices[1], [[1 / 3], [2 / 3]])


def test_matrix_columns_sum_to_one():
    rng = np.random.default_rng(1)
    nodes = [Node("I", "I")] + [Node(f"d{k}", "d", "I", weight=float(rng.uniform(0.1, 5))) for k in range(3)]
    nodes += [Node(f"x{k}{j}", "x", f"d{k}", weight=float(rng.uniform(0, 5))) for k in range(3) for j in range(k + 2)]
    c = Framework.from_nodes(nodes).compile()
    for m in c.matrices:
        assert np.allclose(m.sum(axis=0), 1)
        assert (m >= 0).all()
        assert ((m > 0).sum(axis=1) <= 1).all()  # each child has one parent


def test_matrices_for_other_weights(hand_fw):
    c = hand_fw.compile()
    mats = c.matrices_for(np.ones(7))
    assert np.allclose(mats[0], [[0.5, 0], [0.5, 0], [0, 0.5], [0, 0.5]])
    assert np.allclose(mats[1], [[0.5], [0.5]])
    runs = c.matrices_for(np.stack([c.weights, np.ones(7), np.arange(1.0, 8.0)]))
    assert runs[0].shape == (3, 4, 2) and runs[1].shape == (3, 2, 1)
    assert np.allclose(runs[0][0], c.matrices[0])
    assert np.allclose(runs[0][2][:, 0], [1 / 3, 2 / 3, 0, 0])
    for m in runs:
        assert np.allclose(m.sum(axis=-2), 1)


def test_cycle():
    nodes = [Node("I", "I"), Node("a", "a", "b"), Node("b", "b", "a"), Node("x", "x", "I")]
    assert "cycle" in problems_of(nodes)


def test_everything_in_a_cycle_means_no_top():
    msg = problems_of([Node("a", "a", "b"), Node("b", "b", "a")])
    assert "exactly one top node" in msg and "cycle" in msg


def test_unknown_parent_names_node_and_line():
    nodes = [Node("I", "I", line=2), Node("x", "x", "Indx", line=5)]
    msg = problems_of(nodes)
    assert "fw.yaml line 5, column parent: node 'x': unknown parent 'Indx'" in msg


def test_negative_and_bad_weights():
    msg = problems_of([Node("I", "I"), Node("x", "x", "I", weight=-1.0, line=3), Node("y", "y", "I")])
    assert "line 3" in msg and "weight -1.0 must be zero or positive" in msg
    assert "must be zero or positive" in problems_of([Node("I", "I"), Node("x", "x", "I", weight=float("nan"))])
    assert "all children have weight 0" in problems_of([Node("I", "I"), Node("x", "x", "I", weight=0.0)])


def test_bad_direction():
    assert "direction 2 must be 1 or -1" in problems_of([Node("I", "I"), Node("x", "x", "I", direction=2)])


def test_mixed_levels():
    nodes = [Node("I", "I"), Node("D", "D", "I"), Node("x", "x", "D"), Node("y", "y", "I")]
    msg = problems_of(nodes)
    assert "node 'I': children sit at different levels" in msg
    assert "D: 2" in msg and "y: 1" in msg


def test_duplicates_roots_and_empty():
    msg = problems_of([Node("I", "I", line=1), Node("x", "x", "I", line=2), Node("x", "x2", "I", line=3)])
    assert "duplicate id (first on line 2)" in msg
    assert "exactly one top node, found 2: I, J" in problems_of([Node("I", "I"), Node("J", "J")])
    assert "no nodes" in problems_of([])


def test_all_problems_reported_together():
    with pytest.raises(InputError) as err:
        Framework.from_nodes([Node("I", "I"), Node("x", "x", "Q"), Node("y", "y", "I", weight=-2.0)])
    assert len(err.value.problems) == 2


def test_without_removes_subtrees_and_empty_parents(hand_fw):
    fw = hand_fw.without({"a1"})
    assert fw.leaves() == ["a2", "b1", "b2"]
    assert np.allclose(fw.compile().matrices[0][:, 0], [1, 0, 0])
    fw = hand_fw.without({"a1", "a2"})  # A is left empty: removed too
    assert "A" not in fw.by_id and fw.children["Index"] == ["B"]
    fw = hand_fw.without({"B"})
    assert set(fw.by_id) == {"Index", "A", "a1", "a2"}
    assert set(hand_fw.by_id) == {n.id for n in hand_nodes()}  # the original is unchanged


def test_with_weights(hand_fw):
    fw = hand_fw.with_weights({"a2": 1.0, "B": 1.0})
    c = fw.compile()
    assert np.allclose(c.matrices[0][:2, 0], [0.5, 0.5])
    assert np.allclose(c.matrices[1][:, 0], [0.5, 0.5])
    assert hand_fw.by_id["a2"].weight == 3.0
    with pytest.raises(InputError, match="zero or positive"):
        hand_fw.with_weights({"a1": -1.0})


def test_weight_sets_survive_edits():
    fw = hand_framework(weight_sets={"alt": {"a1": 2.0}})
    assert fw.with_weights({"b1": 2.0}).weight_sets == {"alt": {"a1": 2.0}}
    assert fw.without({"b1"}).weight_sets == {"alt": {"a1": 2.0}}


def test_four_level_tree():
    nodes = [Node("I", "I"), Node("D1", "D1", "I"), Node("D2", "D2", "I"), Node("S", "S", "D1"), Node("T", "T", "D2"),
             Node("x", "x", "S"), Node("y", "y", "T")]
    c = Framework.from_nodes(nodes).compile()
    assert list(c.levels) == [1, 1, 2, 2, 3, 3, 4]
    assert [m.shape for m in c.matrices] == [(2, 2), (2, 2), (2, 1)]
