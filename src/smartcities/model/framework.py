"""The framework tree (index → domains → indicators) and its compiled, array-ready form.

A framework is read from a nested YAML/JSON tree, from a flat table with `parent` (COINr's iMeta shape) or
from a built-in preset. Compiling it gives what the engine needs: the leaves in a fixed order, and for each
aggregation level a child→parent weight matrix with weights rescaled to sum to 1 within each parent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Real
from typing import Any

import numpy as np

from ..errors import InputError, Problem


@dataclass(frozen=True)
class Node:
    """One node: an aggregate (has children) or an indicator (a leaf)."""

    id: str
    name: str
    parent: str | None = None
    weight: float = 1.0
    direction: int = 1
    unit: str | None = None
    description: str | None = None
    target: float | None = None
    goalposts: tuple[float, float] | None = None
    denominator: str | None = None
    derive: dict[str, Any] | None = None
    # what a published framework says of the node, kept so a preset carries its source's facts
    code: str | None = None  # the source's own code, e.g. U4SSC's "EC: ICT: ICT: 1C"
    source: str | None = None  # where the indicator's data come from, or where the node is defined
    tier: str | None = None  # "core" or "advanced", where the source grades its indicators
    sdg: tuple[int, ...] = ()  # the UN Sustainable Development Goals the source links the indicator to
    stage: str | None = None  # the source's input / output / outcome / impact class
    direction_basis: str | None = None  # how `direction` was set: "source", "wording" or "unstated"
    line: int | None = None  # where the node was declared, for error messages


@dataclass(frozen=True)
class Framework:
    """A validated tree of nodes. Build with `Framework.from_nodes` (which checks it)."""

    nodes: tuple[Node, ...]
    source: str = "<framework>"
    weight_sets: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_nodes(cls, nodes: list[Node], source: str = "<framework>", weight_sets=None) -> Framework:
        problems = _check(nodes, source)
        if problems:
            raise InputError(problems)
        return cls(tuple(nodes), source, dict(weight_sets or {}))

    # --- structure -------------------------------------------------------------------------------------
    @cached_property
    def by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @cached_property
    def children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            if n.parent is not None:
                kids[n.parent].append(n.id)
        return kids

    @cached_property
    def level(self) -> dict[str, int]:
        """Level of every node: 1 for indicators, one more than its children for aggregates."""
        levels: dict[str, int] = {}

        def visit(node_id: str) -> int:
            if node_id not in levels:
                kids = self.children[node_id]
                levels[node_id] = 1 if not kids else 1 + max(visit(k) for k in kids)
            return levels[node_id]

        for n in self.nodes:
            visit(n.id)
        return levels

    def leaves(self) -> list[str]:
        return [n.id for n in self.nodes if not self.children[n.id]]

    def root(self) -> str:
        return next(n.id for n in self.nodes if n.parent is None)

    @property
    def n_levels(self) -> int:
        return max(self.level.values())

    def ordered(self) -> list[str]:
        """All node ids, by level then declaration order: the column order of every score array."""
        return sorted((n.id for n in self.nodes), key=lambda i: self.level[i])

    def weight_faults(self, weights: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(node id, what is wrong) for `weights` overriding the nodes' own, by the rule the framework's own
        weights follow: each finite and zero or positive, and not every child of a parent 0. Ids the framework
        lacks are left to the caller."""
        faults = [(node, fault) for node, w in weights.items() if node in self.by_id and (fault := weight_fault(w))]
        if faults:
            return faults
        weight = {n.id: float(weights.get(n.id, n.weight)) for n in self.nodes}
        return [(parent, "all children have weight 0") for parent, kids in self.children.items()
                if kids and sum(weight[k] for k in kids) == 0]

    def with_weights(self, weights: dict[str, float]) -> Framework:
        """The same tree with some weights replaced (a named alternative set, or a what-if)."""
        nodes = [Node(**{**n.__dict__, "weight": float(weights.get(n.id, n.weight))}) for n in self.nodes]
        return Framework.from_nodes(nodes, self.source, self.weight_sets)

    def without(self, node_ids: set[str]) -> Framework:
        """The tree with some nodes (and their subtrees) removed; parents left empty are removed too."""
        drop = set(node_ids)
        changed = True
        while changed:
            changed = False
            for n in self.nodes:
                if n.id not in drop and (n.parent in drop or (self.children[n.id] and all(
                        k in drop for k in self.children[n.id]))):
                    drop.add(n.id)
                    changed = True
        return Framework.from_nodes([n for n in self.nodes if n.id not in drop], self.source, self.weight_sets)

    def compile(self) -> CompiledFramework:
        return CompiledFramework.of(self)


@dataclass(frozen=True)
class CompiledFramework:
    """Arrays for the engine. Column j of a score array is node `nodes[j]`; the first `n_leaves` are leaves.

    `matrices[k]` maps the columns of level k+1 to those of level k+2: shape (n_children, n_parents), each
    column holding the child weights of one parent rescaled to sum to 1.
    """

    nodes: tuple[str, ...]
    levels: np.ndarray  # (N,) level of each node
    direction: np.ndarray  # (n_leaves,) +1/-1
    weights: np.ndarray  # (N,) raw weight of each node as declared
    level_slices: tuple[slice, ...]  # columns of each level, level 1 first
    matrices: tuple[np.ndarray, ...]
    links: tuple[np.ndarray, ...]  # per level: True where a child belongs to a parent, whatever its weight

    @property
    def n_leaves(self) -> int:
        return self.level_slices[0].stop

    @classmethod
    def of(cls, fw: Framework) -> CompiledFramework:
        order = fw.ordered()
        index = {nid: j for j, nid in enumerate(order)}
        levels = np.array([fw.level[n] for n in order])
        slices = []
        for lev in range(1, fw.n_levels + 1):
            cols = np.flatnonzero(levels == lev)
            slices.append(slice(int(cols[0]), int(cols[-1]) + 1))
        weights = np.array([fw.by_id[n].weight for n in order], dtype=float)
        links = []
        for lev in range(2, fw.n_levels + 1):
            child_sl, parent_sl = slices[lev - 2], slices[lev - 1]
            link = np.zeros((child_sl.stop - child_sl.start, parent_sl.stop - parent_sl.start), dtype=bool)
            for p in range(parent_sl.start, parent_sl.stop):
                kids = [index[k] - child_sl.start for k in fw.children[order[p]]]
                link[kids, p - parent_sl.start] = True
            links.append(link)
        direction = np.array([fw.by_id[n].direction for n in order[: slices[0].stop]], dtype=float)
        compiled = cls(tuple(order), levels, direction, weights, tuple(slices), (), tuple(links))
        return cls(tuple(order), levels, direction, weights, tuple(slices), compiled.matrices_for(weights),
                   tuple(links))

    def matrices_for(self, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        """Aggregation matrices for other node weights, shape (..., N): a leading run axis is kept."""
        out = []
        for link, child_sl in zip(self.links, self.level_slices):
            w = weights[..., child_sl, None] * link
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(w / w.sum(axis=-2, keepdims=True))
        return tuple(out)


def _check(nodes: list[Node], source: str) -> list[Problem]:
    """Every structural problem: duplicate ids, unknown parents, cycles, several roots, bad weights, mixed levels."""
    problems: list[Problem] = []

    def problem(node: Node, message: str, column: str | None = None):
        problems.append(Problem(source, f"node {node.id!r}: {message}", node.line, column))

    if not nodes:
        return [Problem(source, "framework has no nodes")]
    ids: dict[str, Node] = {}
    for n in nodes:
        if n.id in ids:
            problem(n, "duplicate id" + (f" (first on line {ids[n.id].line})" if ids[n.id].line else ""), "id")
        ids.setdefault(n.id, n)
        if fault := weight_fault(n.weight):
            problem(n, fault, "weight")
        if n.direction not in (1, -1):
            problem(n, f"direction {n.direction!r} must be 1 or -1", "direction")
    for n in nodes:
        if n.parent is not None and n.parent not in ids:
            problem(n, f"unknown parent {n.parent!r}", "parent")
    roots = [n.id for n in nodes if n.parent is None]
    if len(roots) != 1 and not problems:
        problems.append(Problem(source, f"framework needs exactly one top node, found {len(roots)}: "
                                        f"{', '.join(roots) or 'none (every node has a parent: a cycle)'}"))
    if problems:
        return problems
    # cycles: walk up from each node
    for n in nodes:
        seen = [n.id]
        parent = n.parent
        while parent is not None:
            if parent in seen:
                problem(n, "is part of a cycle: " + " → ".join(seen + [parent]), "parent")
                return problems
            seen.append(parent)
            parent = ids[parent].parent
    fw = Framework(tuple(nodes), source)
    for n in nodes:
        kids = fw.children[n.id]
        if kids and len({fw.level[k] for k in kids}) > 1:
            problem(n, "children sit at different levels (" + ", ".join(f"{k}: {fw.level[k]}" for k in kids)
                    + "); every child of a node must be at the same level")
    for node, fault in fw.weight_faults({}):
        problem(ids[node], fault, "weight")
    return problems


def weight_fault(weight: Any) -> str | None:
    """What is wrong with one weight, if anything: it must be a finite number, zero or positive."""
    if isinstance(weight, bool) or not isinstance(weight, Real):
        return f"weight {weight!r} is not a number"
    if not math.isfinite(weight) or weight < 0:
        return f"weight {weight!r} must be zero or positive"
    return None
