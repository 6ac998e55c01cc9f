/* What-if: the index recomputed in the browser from the published `model` document.
 *
 * The same arithmetic as smartcities.online.whatif: each parent is the weighted (arithmetic or geometric) mean of
 * its present children, the weights renormalised over the children present; a parent whose share of present
 * children is below min_share is missing; ranks put 1 on the best score, tied scores share the lowest rank and a
 * missing score is never ranked. A classic script (no modules), so it runs from file:// as well as from a host.
 */
var WhatIf = (function () {
  "use strict";

  /* Children of every node and the leaves as one flat Float64Array (NaN for missing), made once per model. */
  function prepare(model) {
    if (model._prepared) return model._prepared;
    var n = model.nodes.length, k = model.indicators.length, c = model.cities.length;
    var children = [];
    for (var i = 0; i < n; i++) children.push([]);
    model.parent.forEach(function (p, i) { if (p >= 0) children[p].push(i); });
    var leaves = new Float64Array(c * k);
    for (var u = 0; u < c; u++) {
      var row = model.leaves[u];
      for (var j = 0; j < k; j++) leaves[u * k + j] = row[j] === null ? NaN : row[j];
    }
    var parents = [];
    for (i = 0; i < n; i++) if (children[i].length) parents.push(i);
    model._prepared = { n: n, k: k, c: c, children: children, parents: parents, leaves: leaves,
                        parentOf: model.parent };
    return model._prepared;
  }

  /* Each weight as a share of its siblings' total (w / the sum of the parent's children's weights, summed in
   * order), the engine's aggregation matrix: the same rounding, so tied cities tie here as in Python. */
  function shares(P, w) {
    var total = new Float64Array(P.n), out = new Float64Array(P.n), i;
    P.parents.forEach(function (p) { P.children[p].forEach(function (c) { total[p] += w[c]; }); });
    for (i = 0; i < P.n; i++) out[i] = P.parentOf[i] >= 0 ? w[i] / total[P.parentOf[i]] : w[i];
    return out;
  }

  /* Weight of every node: the model's, with the nodes named in `overrides` ({node id: weight}) replaced. */
  function weights(model, overrides) {
    var w = Float64Array.from(model.weights);
    Object.keys(overrides || {}).forEach(function (node) {
      var i = model.nodes.indexOf(node);
      if (i < 0) throw new Error("what-if: unknown node " + JSON.stringify(node));
      var v = Number(overrides[node]);
      if (!(v >= 0) || !isFinite(v)) throw new Error("what-if: weight of " + node + " must be a number >= 0, got " + overrides[node]);
      w[i] = v;
    });
    return w;
  }

  /* Aggregation method of every node: the model's, or one method for all levels. */
  /* The published methods the script can recompute; a build that aggregates otherwise (mpi, harmonic, ...) is
     recomputed here only with arithmetic or geometric chosen, never shown as if it were its own method. */
  function recomputable(model) {
    return model.methods.every(function (m) { return m === null || m === "arithmetic" || m === "geometric"; });
  }

  function methods(model, aggregation) {
    if (!aggregation) {
      if (!recomputable(model))
        throw new Error("what-if: the index aggregates with " + model.methods.filter(function (m) {
          return m !== null && m !== "arithmetic" && m !== "geometric"; })[0] + ", which the what-if cannot recompute; choose arithmetic or geometric");
      return model.methods;
    }
    if (aggregation !== "arithmetic" && aggregation !== "geometric")
      throw new Error("what-if: aggregation must be arithmetic or geometric, got " + JSON.stringify(aggregation));
    return model.nodes.map(function () { return aggregation; });
  }

  /* One city's values at the parents `todo` (bottom-up), written into out[base + node]; out holds its leaves.
   * `lg` (same layout) holds the logs a geometric mean reads: of the leaves, and each geometric mean's log as
   * computed, so a geometric parent of a geometric node never takes exp and then log again. */
  function aggregateInto(out, lg, base, todo, P, w, geo, minShare) {
    var children = P.children, parent = P.parentOf;
    for (var q = 0; q < todo.length; q++) {
      var p = todo[q], kids = children[p], g = geo[p], num = 0, den = 0, present = 0, links = 0;
      for (var j = 0; j < kids.length; j++) {
        var i = kids[j], wi = w[i];
        if (wi === 0 || wi !== wi) continue;  // weight 0 leaves a child out; a negative one (PCA's) counts
        if (wi > 0) links++;  // the children min_share counts are those of positive weight, as in Python
        var y = out[base + i];
        if (y !== y) continue;
        if (wi > 0) present++;
        num += wi * (g ? lg[base + i] : y);
        den += wi;
      }
      var v = den > 0 ? num / den : NaN;
      if (minShare > 0 && !(present / links >= minShare - 1e-12)) v = NaN;
      var up = parent[p];
      if (g) { lg[base + p] = v; out[base + p] = Math.exp(v); }
      else { out[base + p] = v; if (up >= 0 && geo[up]) lg[base + p] = Math.log(v); }
    }
    return out;
  }

  function geometric(model, aggregation) {
    return methods(model, aggregation).map(function (m) { return m === "geometric"; });
  }

  /* Logs of the leaves, taken once per model: the weights change, the leaves do not. */
  function leafLogs(P) {
    if (!P.logs) P.logs = P.leaves.map(Math.log);
    return P.logs;
  }

  function same(a, b) {
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return a.length === b.length;
  }

  /* The parents whose value changes when the weights go from `before` to `w`: those with a child whose weight or
   * value changed (bottom-up, so a child is decided before its parent). */
  function changedParents(P, before, w) {
    var dirty = new Uint8Array(P.n), out = [];
    P.parents.forEach(function (p) {
      var kids = P.children[p];
      for (var j = 0; j < kids.length; j++) {
        if (w[kids[j]] !== before[kids[j]] || dirty[kids[j]]) { dirty[p] = 1; out.push(p); return; }
      }
    });
    return out;
  }

  /* Scores of every city at every node: a Float64Array of cities x nodes (row-major); do not change it.
   * Moving a slider changes a few weights: the last result is kept, and only the parents above a changed
   * weight are recomputed (the same arithmetic, so the same numbers as from the leaves). A change of method
   * recomputes every level from the leaves. */
  function scores(model, overrides, aggregation) {
    var P = prepare(model), w = shares(P, weights(model, overrides)), geo = geometric(model, aggregation);
    var n = P.n, k = P.k, c = P.c, last = P.last, minShare = model.min_share || 0, out, lg, todo;
    if (last && same(last.geo, geo)) {
      todo = changedParents(P, last.w, w);
      out = last.out.slice();
      lg = last.lg && todo.length ? last.lg.slice() : last.lg;
    } else {
      todo = P.parents;
      out = new Float64Array(c * n);
      lg = geo.some(function (g) { return g; }) ? new Float64Array(c * n) : null;
      var L = P.leaves, logs = lg ? leafLogs(P) : null;
      for (var u = 0; u < c; u++) {
        for (var j = 0; j < k; j++) out[u * n + j] = L[u * k + j];
        if (logs) for (j = 0; j < k; j++) lg[u * n + j] = logs[u * k + j];
      }
    }
    if (todo.length) for (var v = 0; v < c; v++) aggregateInto(out, lg, v * n, todo, P, w, geo, minShare);
    P.last = { w: w, geo: geo, out: out, lg: lg };
    return out;
  }

  /* Ranks of `values` (1 = highest; ties share the lowest rank; NaN never ranked, left NaN): one plus the number
   * of values above, counted by binary search in the sorted values (a typed-array sort is the fast one). */
  function ranks(values) {
    var n = values.length, sorted = new Float64Array(n), m = 0, out = new Float64Array(n), i;
    for (i = 0; i < n; i++) if (values[i] === values[i]) sorted[m++] = values[i];
    sorted = sorted.subarray(0, m).sort();
    for (i = 0; i < n; i++) {
      var v = values[i];
      if (v !== v) { out[i] = NaN; continue; }
      var lo = 0, hi = m;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (sorted[mid] <= v) lo = mid + 1; else hi = mid; }
      out[i] = m - lo + 1;
    }
    return out;
  }

  /* The column of one node out of a cities x nodes score matrix. */
  function column(model, matrix, node) {
    var P = prepare(model), j = typeof node === "number" ? node : model.nodes.indexOf(node);
    var out = new Float64Array(P.c);
    for (var u = 0; u < P.c; u++) out[u] = matrix[u * P.n + j];
    return out;
  }

  /* --- the frozen steps: one city's raw values to the leaves the aggregation sees (online/whatif.py's
   * frozen_leaves). `own` is the city's own build values at each step (NaN for a new city), left out of any
   * placing, so a city is never ranked against itself. */
  function val(list, j) { var v = list[j]; return v === null || v === undefined ? NaN : v; }
  function searchsorted(ref, v, right) {
    var lo = 0, hi = ref.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (right ? ref[mid] <= v : ref[mid] < v) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function applyStep(e, x, own, extra) {
    var k = x.length, y = new Float64Array(k), j, dropped = false, d;
    switch (e.kind) {
      case "identity": y.set(x); break;
      case "divide":
        for (j = 0; j < k; j++) y[j] = e.denominator[j] ? x[j] / extra.denominators[e.denominator[j]] * e.scale : x[j];
        break;
      case "fill": for (j = 0; j < k; j++) y[j] = x[j] !== x[j] ? val(e.fill, j) : x[j]; break;
      case "group-fill":
        var g = e.labels.indexOf(extra.group);
        for (j = 0; j < k; j++) y[j] = x[j] !== x[j] ? (g < 0 ? NaN : val(e.fill[g], j)) : x[j];
        break;
      case "screen":
        var present = 0;
        for (j = 0; j < k; j++) if (x[j] === x[j] && !(e.zeros_missing && x[j] === 0)) present++;
        dropped = !(present / k >= e.min_coverage - 1e-12);
        y.set(x);
        break;
      case "transform":
        for (j = 0; j < k; j++) {
          var lo = val(e.lower, j), hi = val(e.upper, j), op = e.op[j], v = x[j];
          if (op === "clip") y[j] = Math.min(Math.max(v, lo === lo ? lo : -Infinity), hi === hi ? hi : Infinity);
          else if (op === "log") y[j] = Math.log(v - lo + 0.01 * (hi - lo));
          else if (op === "boxcox") y[j] = e.lam === 0 ? Math.log(v - lo + 1) : (Math.pow(v - lo + 1, e.lam) - 1) / e.lam;
          else y[j] = v;
          if (v !== v) y[j] = NaN;
        }
        break;
      default:
        for (j = 0; j < k; j++) {
          d = e.direction[j];
          var z = x[j] * d;
          if (e.kind === "minmax") {
            var mn = val(e.min, j), mx = val(e.max, j);
            z -= mn; z /= mx - mn; z *= e.range[1] - e.range[0]; z += e.range[0];
          } else if (e.kind === "zscore") z = (z - val(e.mean, j)) / val(e.sd, j) * e.to_sd + e.to_mean;
          else if (e.kind === "distance-to-max") z = (1 - (val(e.max, j) - z) / (val(e.max, j) - val(e.min, j))) * e.scale;
          else if (e.kind === "goalposts") {
            var gl = val(e.lower, j), gh = val(e.upper, j);
            z = d > 0 ? (x[j] - gl) / (gh - gl) : (gh - x[j]) / (gh - gl);
            if (e.truncate) z = Math.min(Math.max(z, 0), 1);
            z *= e.scale;
          } else if (e.kind === "distance-to-target") {
            var t = val(e.target, j), tn = val(e.min, j), tx = val(e.max, j);
            z = d > 0 ? (x[j] - tn) / (t - tn) : (tx - x[j]) / (tx - t);
            if (e.cap) z = Math.min(z, 1);
            z *= e.scale;
          } else if (e.kind === "rank" || e.kind === "borda" || e.kind === "percentile") {
            var ref = e.values[j], o = own[j] * d;
            var below = searchsorted(ref, z, false) - (o < z ? 1 : 0);
            var equal = searchsorted(ref, z, true) - searchsorted(ref, z, false) - (o === z ? 1 : 0);
            var others = ref.length - (o === o ? 1 : 0);
            z = z !== z ? NaN : e.kind === "rank" ? below + 1 : e.kind === "borda" ? below : (below + equal / 2) / others;
          } else throw new Error("what-if: unknown frozen step " + e.kind);
          y[j] = z;
        }
    }
    for (j = 0; j < k; j++) if (!e.kept[j] || dropped) y[j] = NaN;
    return { values: y, dropped: dropped };
  }

  /* What a step needs besides the values: the build's denominators and group label for a city of the build,
   * those given (`context`: {denominators: {name: v}, groups: {name: label}}) for a new one. */
  function stepContext(model, e, at, context) {
    var extra = {}, given = context || {};
    (e.denominator || []).forEach(function (name) {
      if (!name) return;
      var mine = given.denominators && given.denominators[name];
      var v = mine !== undefined && mine !== null && mine !== "" ? Number(mine) : at !== null ? model.frozen.denominators[name][at] : null;
      if (v === null || v === undefined) throw new Error("denominator " + name + " is needed: the build divides indicators by it");
      extra.denominators = extra.denominators || {};
      extra.denominators[name] = v === null ? NaN : v;
    });
    if (e.group) {
      var label = given.groups && given.groups[e.group] ? given.groups[e.group] : at !== null ? model.frozen.groups[e.group][at] : null;
      if (label === null || label === undefined) throw new Error("group " + e.group + " is needed: missing values are filled within it");
      extra.group = String(label);
    }
    return extra;
  }

  /* One city's leaves from its raw values ({indicator: value}, raw as in the data), `at` its row in the build or
   * null for a new city. */
  function leavesFrom(model, raw, at, context) {
    var k = model.indicators.length, x = new Float64Array(k), own = new Float64Array(k), any = false, j;
    for (j = 0; j < k; j++) {
      var v = raw[model.indicators[j]];
      x[j] = v === null || v === undefined || v === "" || isNaN(Number(v)) || !model.frozen.measured[j] ? NaN : Number(v);
      own[j] = at === null ? NaN : val(model.raw[at], j);
      if (x[j] === x[j]) any = true;
    }
    if (!any) throw new Error("the city has no indicator value at all; give at least one");
    model.frozen.steps.forEach(function (e) {
      if (e.reason) throw new Error("step " + e.step + " (" + e.method + ") has no frozen form: " + e.reason);
      var out = applyStep(e, x, own, stepContext(model, e, at, context));
      if (out.dropped) throw new Error("the screening step drops the city: too few indicator values");
      if (at !== null) own = applyStep(e, own, own, stepContext(model, e, at, {})).values;
      x = out.values;
    });
    return x;
  }

  /* Scores and ranks at every node of one city given its raw values, placed among the other cities as built (or
   * re-weighted): `city` is the build's city being changed, or null for a new one. A score within TIE (relative)
   * of another city's ties with it: the browser's log and exp may differ from Python's in the last bit, and a city
   * with another's values must share its rank. */
  var TIE = 1e-12;
  function scoreCity(model, raw, city, overrides, aggregation, context) {
    var P = prepare(model), w = shares(P, weights(model, overrides)), at = city === null || city === undefined ? null : model.cities.indexOf(city);
    if (at !== null && at < 0) throw new Error("what-if: unknown city " + city);
    var leaves = leavesFrom(model, raw, at, context), mine = new Float64Array(P.n), lg = new Float64Array(P.n);
    mine.set(leaves);
    lg.set(leaves.map(Math.log));
    aggregateInto(mine, lg, 0, P.parents, P, w, geometric(model, aggregation), model.min_share || 0);
    var all = scores(model, overrides, aggregation), rank = new Float64Array(P.n), ranked = new Float64Array(P.n);
    for (var j = 0; j < P.n; j++) {
      var v = mine[j], better = 0, counted = 0;
      for (var u = 0; u < P.c; u++) {
        if (u === at) continue;
        var s = all[u * P.n + j];
        if (s === s) { counted++; if (s > v + TIE * Math.max(1, Math.abs(v))) better++; }
      }
      rank[j] = v === v ? better + 1 : NaN;
      ranked[j] = counted + (v === v ? 1 : 0);
    }
    return { leaves: leaves, scores: mine, ranks: rank, ranked: ranked };
  }

  return { prepare: prepare, recomputable: recomputable, weights: weights, scores: scores, ranks: ranks, column: column,
           leavesFrom: leavesFrom, scoreCity: scoreCity };
})();
