/* The views of the site and the dashboard, drawn from the data inlined in the page.
 *
 * A classic script, no modules and no fetch, so every page works from file:// too. All text from the data goes
 * through esc() (or textContent) before it reaches the page; links are kept only when they are http(s).
 * The view lives in the URL hash (tab, node, filters, weights, selection), so a shared link restores it.
 */
(function () {
  "use strict";

  var D = {};
  document.querySelectorAll('script[type="application/json"][id^="data-"]').forEach(function (el) {
    D[el.id.slice(5)] = JSON.parse(el.textContent);
  });
  var META = D.meta, PAGE = document.body.dataset.page, DASH = META.mode === "dashboard";
  var ROOT = PAGE === "city" ? "../" : "";
  var NODES = {}, CHILDREN = {};
  META.framework.forEach(function (n) {
    NODES[n.id] = n;
    if (n.parent) (CHILDREN[n.parent] = CHILDREN[n.parent] || []).push(n.id);
  });
  var CITIES = D.cities || [], CITY = {}, POS = {};
  CITIES.forEach(function (c, i) { CITY[c.city] = c; POS[c.city] = i; });
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6a3d9a", "#8c6d31",
                 "#000000", "#999999"];
  var SEQ = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];
  window.__ready = false;

  // --- helpers ---------------------------------------------------------------------------------------------------
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function num(x) { return x === null || x === undefined || x !== x ? null : Number(x); }
  function fmt(x, d) {
    x = num(x);
    return x === null ? "—" : x.toLocaleString("en", { minimumFractionDigits: d === undefined ? 1 : d,
                                                        maximumFractionDigits: d === undefined ? 1 : d, useGrouping: d !== 0 });
  }
  /* A rank bound of the uncertainty runs (a percentile, so possibly fractional) as a whole place. */
  function place(x) { x = num(x); return x === null ? "—" : String(Math.round(x)); }
  function nodeName(id) { return NODES[id] ? NODES[id].name || id : id; }
  function cityName(id) { return CITY[id] ? CITY[id].name : (D.card && D.card.city === id ? D.card.name : id); }
  function safeUrl(u) { return typeof u === "string" && /^https?:\/\//i.test(u) ? u : null; }
  function cityHref(id) {
    if (DASH) return "#tab=city&city=" + encodeURIComponent(id);
    return ROOT + "city/" + encodeURIComponent(String(id).replace(/[\/\\]/g, "_")) + ".html";
  }
  function cityLink(id, name) {
    return '<a href="' + esc(cityHref(id)) + '">' + esc(name || cityName(id)) + "</a>";
  }
  function link(url, text) {
    var u = safeUrl(url);
    return u ? '<a href="' + esc(u) + '" rel="noopener">' + esc(text || u) + "</a>" : esc(text || url || "");
  }
  function $(id) { return document.getElementById(id); }
  function children(node) { return CHILDREN[node] || []; }
  function root() { return META.root; }
  function domains() { return META.domains && META.domains.length ? META.domains : children(root()); }

  function readHash() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) return;
      var i = part.indexOf("="), k = i < 0 ? part : part.slice(0, i);
      out[decodeURIComponent(k)] = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
    });
    return out;
  }
  var STATE = readHash();
  function writeHash(changes) {
    Object.keys(changes).forEach(function (k) {
      if (changes[k] === null || changes[k] === undefined || changes[k] === "") delete STATE[k];
      else STATE[k] = String(changes[k]);
    });
    var text = Object.keys(STATE).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(STATE[k]).replace(/%2C/g, ",").replace(/%3A/g, ":");
    }).join("&");
    history.replaceState(null, "", text ? "#" + text : location.pathname + location.search);
  }

  function csv(rows, columns) {
    function cell(v) {
      if (v === null || v === undefined) return "";
      var s = String(v);
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }
    return [columns.join(",")].concat(rows.map(function (r) {
      return columns.map(function (c) { return cell(r[c]); }).join(",");
    })).join("\n") + "\n";
  }
  function save(filename, text, type) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: type }));
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }
  function metadata(extra) {
    var m = { index: META.name, spec_sha256: META.spec_sha256 };
    Object.keys(extra || {}).forEach(function (k) { m[k] = extra[k]; });
    return m;
  }
  function nodeMeta(id) {
    var n = NODES[id] || {};
    return { node: id, name: n.name, level: n.level, weight: n.weight, unit: n.unit, direction: n.direction,
             source: n.source };
  }
  /* Two buttons that download `rows()` as CSV and as JSON with metadata. */
  function downloadButtons(el, stem, rows, columns, meta) {
    el.innerHTML = '<span class="dl-label">Download these rows:</span> ' +
      '<button type="button" class="btn small" data-f="csv">CSV</button> ' +
      '<button type="button" class="btn small" data-f="json">JSON</button>';
    el.querySelector('[data-f="csv"]').onclick = function () { save(stem + ".csv", csv(rows(), columns()), "text/csv"); };
    el.querySelector('[data-f="json"]').onclick = function () {
      save(stem + ".json", JSON.stringify({ metadata: metadata(meta()), rows: rows() }, null, 1), "application/json");
    };
  }

  /* A plotly chart with PNG and SVG downloads under it. */
  function chart(el, data, layout, stem) {
    if (typeof Plotly === "undefined") return;
    layout = Object.assign({ margin: { l: 40, r: 20, t: 20, b: 40 }, font: { family: "system-ui, sans-serif", size: 13 },
                             paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" }, layout);
    Plotly.newPlot(el, data, layout, { displaylogo: false, responsive: true });
    var bar = document.createElement("div");
    bar.className = "chart-dl";
    bar.innerHTML = '<span class="dl-label">Download chart:</span> <button type="button" class="btn small">PNG</button> ' +
                    '<button type="button" class="btn small">SVG</button>';
    var b = bar.querySelectorAll("button");
    b[0].onclick = function () { Plotly.downloadImage(el, { format: "png", filename: stem, width: 1000, height: 600 }); };
    b[1].onclick = function () { Plotly.downloadImage(el, { format: "svg", filename: stem, width: 1000, height: 600 }); };
    el.parentNode.insertBefore(bar, el.nextSibling);
  }

  function rankBar(rank, p05, p95, n) {
    if (num(rank) === null) return "";
    var lo = num(p05), hi = num(p95), span = Math.max(n - 1, 1);
    var pos = function (r) { return ((r - 1) / span * 100).toFixed(2) + "%"; };
    var band = lo === null || hi === null ? "" : '<span class="band" style="left:' + pos(lo) + ";width:" +
      ((hi - lo) / span * 100).toFixed(2) + '%"></span>';
    var label = lo === null ? "rank " + rank : "rank " + rank + ", 90% of runs between " + place(lo) + " and " + place(hi);
    return '<span class="rankbar" role="img" aria-label="' + esc(label) + '">' + band +
           '<span class="dot" style="left:' + pos(rank) + '"></span></span>' +
           (lo === null ? "" : '<span class="interval">' + place(lo) + "–" + place(hi) + "</span>");
  }

  function field(node, name, i) {
    var col = D.ranking && D.ranking[node] && D.ranking[node][name];
    return col ? col[i] : null;
  }

  // --- editions: where the build has them, every view that ranks shows one edition, the latest unless chosen ----
  var ED = D.editions || null, EPOS = {};
  if (ED) ED.cities.forEach(function (c, i) { EPOS[c.city] = i; });
  function latestEdition() { return ED ? ED.editions[ED.editions.length - 1] : null; }
  function shownEdition() { return ED && ED.editions.indexOf(STATE.edition) >= 0 ? STATE.edition : latestEdition(); }
  /* One edition's cities and their fields at a node. The latest edition is the published ranking itself (D.ranking
   * over CITIES, with its rating and best and worst rank); an earlier one is read from D.editions. */
  function editionSource(label) {
    if (!ED || label === latestEdition()) return { label: label, cities: CITIES, pos: POS, get: field,
      columns: function (node) { return D.ranking[node]; } };
    var data = ED.data[label] || {};
    return { label: label, cities: ED.cities, pos: EPOS,
      columns: function (node) { return data[node]; },
      get: function (node, f, i) { var col = data[node] && data[node][f]; return col ? col[i] : null; } };
  }
  function editionControl(id) {
    if (!ED) return "";
    var i = ED.editions.indexOf(shownEdition());
    return '<label>Edition <span class="edition-pick"><input type="range" id="' + id + '" min="0" max="' +
      (ED.editions.length - 1) + '" step="1" value="' + i + '" aria-valuetext="' + esc(ED.editions[i]) + '">' +
      '<output id="' + id + '-out" for="' + id + '">' + esc(ED.editions[i]) + "</output></span></label>";
  }
  /* The edition a control shows (its label written beside it and into the hash). */
  function pickedEdition(id) {
    var el = $(id);
    if (!el) return latestEdition();
    var label = ED.editions[Number(el.value)];
    $(id + "-out").textContent = label;
    el.setAttribute("aria-valuetext", label);
    return label;
  }
  function signed(x) { x = Math.round(num(x)); return x > 0 ? "+" + x : x < 0 ? "−" + (-x) : "0"; }
  /* A rank change (previous edition's rank minus this one) as an arrow, marked * when its 90% interval excludes 0. */
  function changeHtml(r, label) {
    var d = num(r.rank_change);
    if (d === null) return label === META.editions.editions[0] ? "—" : '<span class="new">new</span>';
    var sig = r.significant === true, iv = num(r.change_p05) !== null ?
      "90% interval " + signed(r.change_p05) + " to " + signed(r.change_p95) : "";
    var words = (d > 0 ? "up " + d : d < 0 ? "down " + (-d) : "no change") + (iv ? ", " + iv : "") +
      (sig ? ", significant" : "");
    return '<span class="' + (d > 0 ? "up" : d < 0 ? "down" : "same") + (sig ? " significant" : "") + '" title="' +
      esc(words) + '"><span aria-hidden="true">' + (d > 0 ? "▲ " + d : d < 0 ? "▼ " + (-d) : "=") +
      (sig ? '<b class="sig">*</b>' : "") + '</span><span class="sr-only">' + esc(words) + "</span></span>";
  }
  function changeNote() {
    return META.editions ? '<p class="muted note">Change: the rank in the previous edition minus this one (▲ climbed). ' +
      (META.editions && META.editions.target ? "* significant: its 90% interval over the uncertainty runs excludes 0." :
       "The build ran no uncertainty analysis, so changes have no intervals.") + "</p>" + smoothNote() : "";
  }
  /* The smoothing weights of a build with `editions: smooth` (editions.csv has smoothed ranks), or null. */
  var SMOOTH = META.editions && META.editions.smooth ? META.editions.smooth.weights : null;
  var SMOOTH_FIELDS = SMOOTH ? ["smoothed_score", "smoothed_rank"] : [];
  function smoothNote() {
    return SMOOTH ? '<p class="muted note smooth-note">Smoothed rank: the rank of the score averaged with weights ' +
      esc(SMOOTH.join(", ")) + " over the latest editions (this edition first; an edition the city lacks is " +
      "skipped), as editions.csv gives it.</p>" : "";
  }

  function nodeOptions(selected) {
    var out = [], walk = function (id, depth) {
      out.push('<option value="' + esc(id) + '"' + (id === selected ? " selected" : "") + ">" +
               "\u00a0\u00a0".repeat(depth) + esc(nodeName(id)) + "</option>");
      children(id).forEach(function (c) { walk(c, depth + 1); });
    };
    walk(root(), 0);
    return out.join("");
  }

  // --- ranking ---------------------------------------------------------------------------------------------------
  function rankingView() {
    var el = $("ranking");
    if (!el || !D.ranking) return;
    var peerCols = META.peer_columns;
    el.innerHTML =
      '<form class="controls" role="search" onsubmit="return false">' + editionControl("r-edition") +
      '<label>Show <select id="r-node">' + nodeOptions(STATE.node || root()) + "</select></label>" +
      '<label>Region <select id="r-region"><option value="">All regions</option>' +
      META.regions.map(function (r) { return '<option value="' + esc(r) + '">' + esc(r) + "</option>"; }).join("") +
      "</select></label>" +
      (peerCols.length ? '<label>Peer group <select id="r-peer"><option value="">All cities</option>' +
        peerCols.map(function (c) {
          var values = Array.from(new Set(CITIES.map(function (x) { return x[c]; }).filter(function (v) {
            return v !== null && v !== undefined && v !== "";
          }))).sort();
          return '<optgroup label="' + esc(c) + '">' + values.map(function (v) {
            return '<option value="' + esc(c + ":" + v) + '">' + esc(v) + "</option>";
          }).join("") + "</optgroup>";
        }).join("") + "</select></label>" : "") +
      '<label>Search <input id="r-q" type="search" placeholder="City name" autocomplete="off"></label>' +
      "</form>" +
      '<div class="table-head"><p id="r-count" class="count" aria-live="polite"></p><div id="r-dl" class="dl"></div></div>' +
      '<div class="table-wrap"><table id="r-table" class="data"></table></div><div id="r-more"></div>' + changeNote();
    $("r-region").value = STATE.region || "";
    if ($("r-peer")) $("r-peer").value = STATE.peer || "";
    $("r-q").value = STATE.q || "";
    var limit = 500, sortKey = STATE.sort || "rank", sortDir = STATE.dir === "desc" ? -1 : 1, shown = [];
    var FIELDS = ["score", "rank", "grade", "rating", "median_rank", "p05", "p95", "best_rank", "worst_rank"].concat(
      ED ? ["rank_change", "change_p05", "change_p95", "significant"] : [], SMOOTH_FIELDS);
    function source() { return editionSource(pickedEdition("r-edition")); }

    function columns(node) {
      var src = source(), at = src.columns(node) || {};
      var cols = [{ key: "rank", label: "Rank", num: true }];
      if (ED) cols.push({ key: "change", label: "Change", sortAs: "rank_change" });
      if (SMOOTH) cols.push({ key: "smoothed", label: "Smoothed rank", num: true, sortAs: "smoothed_rank" });
      cols.push({ key: "name", label: "City" }, { key: "country", label: "Country" },
                { key: "score", label: "Score", num: true }, { key: "interval", label: "Rank, 5–95% of runs", sortAs: "p05" });
      if (at.grade) cols.push({ key: "grade", label: "Grade", num: true });
      if (at.rating) cols.push({ key: "rating", label: "Rating" });
      if (at.best_rank) cols.push({ key: "range", label: "Best–worst rank", sortAs: "best_rank" });
      children(node).forEach(function (c) {
        if (src.columns(c)) cols.push({ key: "c:" + c, label: nodeName(c), num: true, child: c });
      });
      return cols;
    }
    function rows() {
      var node = $("r-node").value, region = $("r-region").value, peer = $("r-peer") ? $("r-peer").value : "";
      var src = source(), earlier = ED && src.label !== latestEdition();
      var q = $("r-q").value.trim().toLowerCase(), kids = children(node).filter(function (c) { return src.columns(c); });
      var pc = peer ? peer.slice(0, peer.indexOf(":")) : "", pv = peer ? peer.slice(peer.indexOf(":") + 1) : "";
      var out = [];
      for (var i = 0; i < src.cities.length; i++) {
        var c = src.cities[i], known = CITY[c.city] || c;
        if (earlier && src.get(node, "score", i) === null) continue;  // not in that edition
        if (region && c.region !== region) continue;
        if (pc && String(known[pc]) !== pv) continue;
        if (q && String(c.name).toLowerCase().indexOf(q) < 0) continue;
        var r = { city: c.city, name: c.name, country: c.country, region: c.region, node: node,
                  node_name: nodeName(node) };
        if (ED) r.edition = src.label;
        FIELDS.forEach(function (f) { r[f] = src.get(node, f, i); });
        kids.forEach(function (k) { r[k] = src.get(k, "score", i); });
        out.push(r);
      }
      var key = sortKey.indexOf("c:") === 0 ? sortKey.slice(2) : sortKey;
      out.sort(function (a, b) {
        var x = a[key], y = b[key];
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        if (typeof x === "string") return sortDir * x.localeCompare(y);
        return sortDir * (x - y) || (a.rank || 0) - (b.rank || 0);
      });
      return out;
    }
    function draw() {
      var node = $("r-node").value, cols = columns(node), label = pickedEdition("r-edition");
      shown = rows();
      var n = CITIES.length;
      if (ED) {
        var src = source(), ranked = 0;
        for (var k = 0; k < src.cities.length; k++) if (src.get(node, "rank", k) !== null) ranked++;
        n = ranked;
      }
      var head = "<caption class=\"sr-only\">" + esc(nodeName(node)) + ": cities ranked" + (ED ? ", edition " + esc(label) : "") +
        "</caption><thead><tr>" +
        cols.map(function (c) {
          var key = c.sortAs || c.key, active = sortKey === key || sortKey === c.key;
          return '<th scope="col"' + (c.num ? ' class="num"' : "") + (active ? ' aria-sort="' +
                 (sortDir === 1 ? "ascending" : "descending") + '"' : "") + '><button type="button" data-sort="' +
                 esc(key) + '">' + esc(c.label) + (active ? (sortDir === 1 ? " ▲" : " ▼") : "") + "</button></th>";
        }).join("") + "</tr></thead>";
      var body = [], upto = Math.min(shown.length, limit);
      for (var i = 0; i < upto; i++) {
        var r = shown[i];
        body.push("<tr>" + cols.map(function (c) {
          switch (c.key) {
            case "rank": return '<td class="num strong">' + (r.rank === null ? "—" : r.rank) + "</td>";
            case "change": return '<td class="chg">' + changeHtml(r, label) + "</td>";
            case "smoothed": return '<td class="num smoothed">' + (r.smoothed_rank === null ? "—" : r.smoothed_rank) + "</td>";
            case "name": return '<th scope="row">' + (CITY[r.city] ? cityLink(r.city, r.name) : esc(r.name)) + "</th>";
            case "country": return "<td>" + esc(r.country) + "</td>";
            case "score": return '<td class="num">' + fmt(r.score) + "</td>";
            case "interval": return '<td class="bar">' + rankBar(r.rank, r.p05, r.p95, n) + "</td>";
            case "grade": return '<td class="num"><span class="grade g' + esc(r.grade) + '">' + esc(r.grade === null ? "—" : r.grade) + "</span></td>";
            case "rating": return "<td>" + esc(r.rating || "—") + "</td>";
            case "range": return '<td class="num">' + (r.best_rank === null ? "—" : r.best_rank + "–" + r.worst_rank) + "</td>";
            default: return '<td class="num">' + fmt(r[c.child]) + "</td>";
          }
        }).join("") + "</tr>");
      }
      $("r-table").innerHTML = head + "<tbody>" + body.join("") + "</tbody>";
      $("r-count").textContent = (ED ? label + ": " : "") + shown.length.toLocaleString("en") + " of " + n.toLocaleString("en") + " cities" +
        (shown.length > upto ? ", the first " + upto.toLocaleString("en") + " shown" : "");
      $("r-more").innerHTML = shown.length > upto ? '<button type="button" class="btn" id="r-all">Show all ' +
        shown.length.toLocaleString("en") + " rows</button>" : "";
      if ($("r-all")) $("r-all").onclick = function () { limit = Infinity; draw(); };
      $("r-table").querySelectorAll("th button").forEach(function (b) {
        b.onclick = function () {
          var k = b.dataset.sort;
          sortDir = sortKey === k ? -sortDir : (k === "name" || k === "country" || k === "rank" ||
                                                 k === "p05" || k === "best_rank" || k === "smoothed_rank" ? 1 : -1);
          sortKey = k;
          writeHash({ sort: k === "rank" && sortDir === 1 ? null : k, dir: sortDir === 1 ? null : "desc" });
          draw();
          var again = $("r-table").querySelector('th button[data-sort="' + k + '"]');
          if (again) again.focus();
        };
      });
    }
    function changed() {
      var label = pickedEdition("r-edition");
      writeHash({ node: $("r-node").value === root() ? null : $("r-node").value, region: $("r-region").value,
                  peer: $("r-peer") ? $("r-peer").value : null, q: $("r-q").value,
                  edition: ED && label !== latestEdition() ? label : null });
      draw();
    }
    ["r-node", "r-region", "r-peer"].forEach(function (id) { if ($(id)) $(id).onchange = changed; });
    if ($("r-edition")) $("r-edition").oninput = changed;
    $("r-q").oninput = changed;
    downloadButtons($("r-dl"), "ranking", function () { return shown; }, function () {
      var node = $("r-node").value;
      return (ED ? ["edition"] : []).concat(["city", "name", "country", "region", "node", "score", "rank", "grade", "rating",
              "median_rank", "p05", "p95", "best_rank", "worst_rank"], ED ? ["rank_change", "change_p05", "change_p95", "significant"] : [],
              SMOOTH_FIELDS).concat(children(node).filter(function (c) { return D.ranking[c]; }));
    }, function () {
      var node = $("r-node").value;
      return { shown: "displayed rows", node: nodeMeta(node), columns: children(node).map(nodeMeta),
               filters: { region: $("r-region").value, peer_group: $("r-peer") ? $("r-peer").value : "",
                          search: $("r-q").value } };
    });
    draw();
  }

  // --- map -------------------------------------------------------------------------------------------------------
  function mix(a, b, t) {
    var pa = parseInt(a.slice(1), 16), pb = parseInt(b.slice(1), 16), out = "#";
    [16, 8, 0].forEach(function (s) {
      var v = Math.round(((pa >> s) & 255) * (1 - t) + ((pb >> s) & 255) * t);
      out += (v < 16 ? "0" : "") + v.toString(16);
    });
    return out;
  }
  function seq(t) {
    t = Math.max(0, Math.min(1, t)) * (SEQ.length - 1);
    var i = Math.min(Math.floor(t), SEQ.length - 2);
    return mix(SEQ[i], SEQ[i + 1], t - i);
  }
  function bestDomain(i, get) {
    var best = null, top = -Infinity;
    domains().forEach(function (d) { var s = num((get || field)(d, "score", i)); if (s !== null && s > top) { top = s; best = d; } });
    return best;
  }
  /* Zoom and pan by changing the SVG's viewBox (buttons, wheel, drag, keys); the dots shrink in map units as the map
   * grows, so they keep their size on screen and crowded places come apart. The view lives in the hash as `zoom`. */
  function zoomable(svg, radius) {
    var full = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number), W = full[2], H = full[3], MAX = 64;
    var view = { x: 0, y: 0, w: W }, dots = $("dots"), fig = svg.parentNode;
    var bar = document.createElement("div");
    bar.className = "zoom";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Zoom the map");
    bar.innerHTML = '<button type="button" class="zbtn" data-zoom="in" aria-label="Zoom in" title="Zoom in (+)">' +
      '<span aria-hidden="true">+</span></button><button type="button" class="zbtn" data-zoom="out" aria-label="Zoom out" ' +
      'title="Zoom out (−)"><span aria-hidden="true">−</span></button><button type="button" class="zbtn reset" data-zoom="reset" ' +
      'aria-label="Reset zoom" title="Show the whole world (0)">Reset</button><output class="zlevel" aria-live="polite"></output>';
    fig.insertBefore(bar, svg);
    var hint = document.createElement("p");
    hint.className = "zoom-hint";
    hint.textContent = "Scroll or press + and − to zoom, drag or use the arrow keys to move, 0 to reset.";
    fig.appendChild(hint);
    var saved = (STATE.zoom || "").split(",").map(Number);
    if (saved.length === 3 && saved.every(isFinite)) view = { x: saved[1] - W / saved[0] / 2, y: saved[2] - H / saved[0] / 2, w: W / saved[0] };
    // Resizing 10,000 dots costs a few frames, so a large index resizes them once the view settles; a wheel or a
    // drag asks for at most one new view per frame.
    var settle = null, frame = null, many = svg.classList.contains("many");
    function apply() {
      if (frame === null) frame = requestAnimationFrame(show);
    }
    function show() {
      frame = null;
      view.w = Math.max(W / MAX, Math.min(W, view.w));
      var k = W / view.w, h = H / k;
      view.x = Math.max(0, Math.min(W - view.w, view.x));
      view.y = Math.max(0, Math.min(H - h, view.y));
      svg.setAttribute("viewBox", [view.x, view.y, view.w, h].map(function (v) { return +v.toFixed(2); }).join(" "));
      if (!many) dots.style.setProperty("--r", radius / k + "px");
      svg.classList.toggle("zoomed", k > 1.001);
      $("map-tip").hidden = true;
      var times = k < 10 ? k.toFixed(1) : String(Math.round(k));
      bar.querySelector("output").innerHTML = k > 1.001 ? '<span aria-hidden="true">×' + times + '</span><span class="sr-only">Zoomed ' +
        times + " times</span>" : "";
      clearTimeout(settle);  // the hash follows once the view settles, not on every wheel step
      settle = setTimeout(function () {
        if (many) dots.style.setProperty("--r", radius / k + "px");
        writeHash({ zoom: k > 1.001 ? [+k.toFixed(3), +(view.x + view.w / 2).toFixed(1), +(view.y + h / 2).toFixed(1)].join(",") : null });
      }, 200);
    }
    /* Zoomed by `factor` about the map point (ux, uy), which stays where it is on screen. */
    function zoomBy(factor, ux, uy) {
      var k = W / view.w, h = H / k;
      if (ux === undefined) { ux = view.x + view.w / 2; uy = view.y + h / 2; }
      var w = Math.max(W / MAX, Math.min(W, view.w / factor)), t = w / view.w;
      view = { x: ux - (ux - view.x) * t, y: uy - (uy - view.y) * t, w: w };
      apply();
    }
    function mapPoint(ev) {
      var box = svg.getBoundingClientRect(), per = view.w / box.width;
      return [view.x + (ev.clientX - box.left) * per, view.y + (ev.clientY - box.top) * per, per];
    }
    function pan(dx, dy) { view.x += dx; view.y += dy; apply(); }
    function act(what) {
      if (what === "in") zoomBy(2);
      else if (what === "out") zoomBy(0.5);
      else { view = { x: 0, y: 0, w: W }; apply(); }
    }
    bar.addEventListener("click", function (ev) {
      var b = ev.target.closest("button");
      if (b) act(b.dataset.zoom);
    });
    svg.addEventListener("wheel", function (ev) {
      if (ev.deltaY > 0 && view.w >= W) return;  // nothing to zoom out of: the page scrolls on
      ev.preventDefault();
      var p = mapPoint(ev), step = ev.deltaMode === 1 ? ev.deltaY * 33 : ev.deltaY;
      zoomBy(Math.exp(-step * 0.002), p[0], p[1]);
    }, { passive: false });
    var drag = null, moved = false;
    svg.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, id: ev.pointerId, view: Object.assign({}, view) };
      moved = false;
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag || ev.pointerId !== drag.id) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!moved) { moved = true; svg.setPointerCapture(ev.pointerId); svg.classList.add("dragging"); }
      var per = view.w / svg.getBoundingClientRect().width;
      view.x = drag.view.x - dx * per;
      view.y = drag.view.y - dy * per;
      apply();
    });
    function drop() { drag = null; svg.classList.remove("dragging"); }
    svg.addEventListener("pointerup", drop);
    svg.addEventListener("pointercancel", drop);
    svg.addEventListener("click", function (ev) {  // the end of a drag is not a click on a dot
      if (moved) { ev.preventDefault(); ev.stopPropagation(); moved = false; }
    }, true);
    svg.addEventListener("dragstart", function (ev) { ev.preventDefault(); });
    fig.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.target.tagName === "SELECT") return;
      var step = view.w / 8, keys = { "+": "in", "=": "in", "-": "out", "_": "out", "0": "reset" };
      var arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (keys[ev.key]) act(keys[ev.key]);
      else if (arrows[ev.key]) pan(arrows[ev.key][0], arrows[ev.key][1]);
      else return;
      ev.preventDefault();
    });
    svg.addEventListener("focusin", function (ev) {  // a dot reached by Tab outside the view is brought into it
      var c = ev.target.closest && ev.target.closest("#dots a") && ev.target.querySelector("circle");
      if (!c) return;
      var x = c.cx.baseVal.value, y = c.cy.baseVal.value, h = H * view.w / W;
      if (x < view.x || x > view.x + view.w || y < view.y || y > view.y + h) { view.x = x - view.w / 2; view.y = y - h / 2; apply(); }
    }, true);  // before the tooltip places itself
    dots.style.setProperty("--r", radius + "px");
    show();
  }
  function mapView() {
    var svg = $("world");
    if (!svg || !D.map) return;
    var doms = domains(), n = CITIES.length;
    $("map-controls").innerHTML = '<form class="controls" onsubmit="return false">' + editionControl("m-edition") +
      '<label>Colour by <select id="m-colour">' +
      '<option value="score">Index score</option><option value="best">Best domain</option></select></label></form>';
    $("m-colour").value = STATE.colour === "best" ? "best" : "score";
    var scores, best, ranks, smoothedRanks, lo, hi;
    /* The scores, ranks (smoothed too, where the build smooths) and best domains of the edition shown, for the
       cities of the map (CITIES). */
    function values() {
      var src = editionSource(pickedEdition("m-edition"));
      var at = CITIES.map(function (c) { return src.pos[c.city]; });
      var get = function (node, f, i) { return at[i] === undefined ? null : src.get(node, f, at[i]); };
      scores = CITIES.map(function (c, i) { return num(get(root(), "score", i)); });
      ranks = CITIES.map(function (c, i) { return get(root(), "rank", i); });
      smoothedRanks = CITIES.map(function (c, i) { return SMOOTH ? get(root(), "smoothed_rank", i) : null; });
      best = CITIES.map(function (c, i) { return bestDomain(i, get); });
      var present = scores.filter(function (s) { return s !== null; });
      lo = Math.min.apply(null, present); hi = Math.max.apply(null, present);
    }
    values();
    // A large index gets small dots (in map units at full view); above 2,000 they lose their outline, which costs a
    // third of each frame of a zoom, and the palest colours, which would vanish without it.
    var r = n > 2000 ? 1.6 : n > 300 ? 3 : 6, floor = n > 2000 ? 0.25 : 0;
    function ramp(t) { return seq(floor + (1 - floor) * t); }
    svg.classList.toggle("dense", n > 300);
    svg.classList.toggle("many", n > 2000);
    function draw() {
      values();
      var mode = $("m-colour").value, dots = [], order = [];
      CITIES.forEach(function (c, i) { if (D.map.points[c.city] && (!ED || scores[i] !== null)) order.push(i); });
      // Drawn from the lowest value up, so the leaders of what the colour shows sit on top where dots overlap.
      var key = order.map(function (i) {
        return num(mode === "best" ? (best[i] ? field(best[i], "score", i) : null) : scores[i]);
      });
      order = order.map(function (i, k) { return [key[k] === null ? -Infinity : key[k], i]; })
        .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; }).map(function (x) { return x[1]; });
      order.forEach(function (i) {
        var c = CITIES[i], p = D.map.points[c.city];
        var s = scores[i], b = best[i];
        var colour = mode === "best" ? (b ? PALETTE[doms.indexOf(b) % PALETTE.length] : "#999") :
          s === null ? "#999" : ramp(hi > lo ? (s - lo) / (hi - lo) : 0.5);
        var label = c.name + ": score " + fmt(s) + ", rank " + (ranks[i] || "—") +
          (SMOOTH ? ", smoothed rank " + (smoothedRanks[i] || "—") : "") + (b ? ", best domain " + nodeName(b) : "");
        dots.push('<a href="' + esc(cityHref(c.city)) + '" data-i="' + i + '" aria-label="' + esc(label) + '">' +
                  '<circle cx="' + p[0] + '" cy="' + p[1] + '" r="' + r + '" fill="' + colour + '"></circle></a>');
      });
      $("dots").innerHTML = dots.join("");
      $("map-legend").innerHTML = mode === "best" ? '<ul class="legend">' + doms.map(function (d, k) {
        return '<li><span class="swatch" style="background:' + PALETTE[k % PALETTE.length] + '"></span>' + esc(nodeName(d)) + "</li>";
      }).join("") + "</ul>" : '<span class="scale"><span>' + fmt(lo) + '</span><span class="ramp" style="background:linear-gradient(90deg,' +
        [0, 0.25, 0.5, 0.75, 1].map(ramp).join(",") + ')"></span><span>' + fmt(hi) + "</span></span> " + esc(nodeName(root())) + " score" +
        (ED ? ", " + esc(pickedEdition("m-edition")) : "");
      var label = pickedEdition("m-edition");
      writeHash({ colour: mode === "best" ? "best" : null, edition: ED && label !== latestEdition() ? label : null });
      tableOf();
    }
    var tip = $("map-tip");
    function show(ev) {
      var a = ev.target.closest && ev.target.closest("#dots a");
      if (!a) { tip.hidden = true; return; }
      var i = Number(a.dataset.i), c = CITIES[i], b = best[i];
      tip.innerHTML = "<strong>" + esc(c.name) + "</strong><br>" + (c.country ? esc(c.country) + "<br>" : "") + "Score " +
        fmt(scores[i]) + " · rank " + esc(ranks[i] || "—") +
        (SMOOTH ? " · smoothed rank " + esc(smoothedRanks[i] || "—") : "") + (b ? "<br>Best: " + esc(nodeName(b)) : "");
      var box = svg.getBoundingClientRect(), circle = a.firstChild.getBoundingClientRect();
      tip.style.left = (circle.left - box.left + circle.width / 2 + 10) + "px";
      tip.style.top = (circle.top - box.top - 10) + "px";
      tip.hidden = false;
    }
    svg.addEventListener("mouseover", show);
    svg.addEventListener("focusin", show);
    svg.addEventListener("mouseleave", function () { tip.hidden = true; });
    function tableOf() {
      var open = $("map-table").querySelector("details[open]") !== null;
      $("map-table").innerHTML = '<details' + (open ? " open" : "") + '><summary>The map as a table</summary><div class="table-wrap"><table class="data">' +
        '<caption class="sr-only">Cities on the map</caption><thead><tr><th scope="col">City</th><th scope="col">Country</th>' +
        '<th scope="col" class="num">Score</th><th scope="col" class="num">Rank</th>' +
        (SMOOTH ? '<th scope="col" class="num">Smoothed rank</th>' : "") + '<th scope="col">Best domain</th></tr></thead><tbody>' +
        CITIES.map(function (c, i) {
          return '<tr><th scope="row">' + cityLink(c.city, c.name) + "</th><td>" + esc(c.country) + '</td><td class="num">' +
            fmt(scores[i]) + '</td><td class="num">' + esc(ranks[i] || "—") + "</td>" +
            (SMOOTH ? '<td class="num smoothed">' + esc(smoothedRanks[i] || "—") + "</td>" : "") + "<td>" +
            esc(best[i] ? nodeName(best[i]) : "—") + "</td></tr>";
        }).join("") + "</tbody></table></div>" + smoothNote() + "</details>";
    }
    $("m-colour").onchange = draw;
    if ($("m-edition")) $("m-edition").oninput = draw;
    draw();
    zoomable(svg, r);
  }

  // --- sensors: the city map of a build whose spec has a `sensors:` block ------------------------------------------
  /* The districts coloured by one indicator of the sensor rules in one period (quantile classes the build computed),
   * the network's lines and the sensors as dots; districts that are units of the index link to their page. */
  var SENSORS = D.sensors || null;
  function sensorValue(v) {
    v = num(v);
    return v === null ? "no value" : v.toLocaleString("en", { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 3 });
  }
  function compact(v) { return Number(v).toLocaleString("en", { notation: "compact", maximumSignificantDigits: 3 }); }
  function periodName(p) { return p ? p : "whole range"; }
  function sensorsHref() { return DASH ? "#tab=sensors" : ROOT + "sensors.html"; }
  function sensorsView() {
    var svg = $("sensor-map");
    if (!svg || !SENSORS) return;
    var doc = SENSORS, names = Object.keys(doc.indicators), b = doc.bounds;
    var k = Math.cos((b[1] + b[3]) / 2 * Math.PI / 180);  // local equirectangular: east-west scaled by latitude
    var W = Math.max((b[2] - b[0]) * k, 1e-6), H = Math.max(b[3] - b[1], 1e-6), pad = 0.03 * Math.max(W, H);
    function xy(p) { return ((p[0] - b[0]) * k).toFixed(6) + "," + (b[3] - p[1]).toFixed(6); }
    svg.setAttribute("viewBox", [-pad, -pad, W + 2 * pad, H + 2 * pad].join(" "));
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    var chosen = names.indexOf(STATE.indicator) >= 0 ? STATE.indicator : doc.indicator;
    $("sensor-controls").innerHTML = '<form class="controls" onsubmit="return false">' +
      (names.length > 1 ? '<label>Indicator <select id="s-indicator">' + names.map(function (n) {
        return '<option value="' + esc(n) + '"' + (n === chosen ? " selected" : "") + ">" + esc(nodeName(n)) + "</option>";
      }).join("") + "</select></label>" : "") +
      '<label id="s-period-control">Period <span class="period-pick"><input type="range" id="s-period" min="0" step="1">' +
      '<output id="s-period-out" for="s-period"></output></span></label></form>';
    $("s-districts").innerHTML = doc.districts.map(function (d, i) {
      var path = '<path class="district" fill-rule="evenodd" data-id="' + esc(d.id) + '" data-i="' + i + '" d="' +
        d.rings.map(function (ring) { return "M" + ring.map(xy).join("L") + "Z"; }).join("") + '"><title></title></path>';
      return CITY[d.id] ? '<a href="' + esc(cityHref(d.id)) + '">' + path + "</a>" : path;
    }).join("");
    $("s-network").innerHTML = doc.network.map(function (line) {
      return '<polyline class="line" points="' + line.map(xy).join(" ") + '"></polyline>';
    }).join("");
    var r = 0.006 * Math.max(W, H);
    $("s-sensors").innerHTML = doc.sensors.map(function (s) {
      var at = xy([s.lon, s.lat]).split(","), label = s.name + (s.properties ? " — " + s.properties : "");
      return '<circle class="sensor" tabindex="0" role="img" cx="' + at[0] + '" cy="' + at[1] + '" r="' + r.toFixed(6) +
        '" data-id="' + esc(s.id) + '" aria-label="' + esc("Sensor " + label) + '"><title>' + esc(label) + "</title></circle>";
    }).join("");
    var shapes = Array.prototype.slice.call(svg.querySelectorAll("path.district"));
    var slider = $("s-period"), series, classes;
    function label(id) { return CITY[id] ? CITY[id].name : id; }
    function colourOf(v) {  // class i holds values from breaks[i] to breaks[i + 1]
      var breaks = series.breaks, i = 0;
      while (i < breaks.length - 2 && v >= breaks[i + 1]) i++;
      return classes[i];
    }
    function choose(name) {
      series = doc.indicators[name] || { periods: [], values: {}, breaks: [] };
      var n = Math.max(series.breaks.length - 1, 1);
      classes = [];
      for (var i = 0; i < n; i++) classes.push(seq(0.12 + 0.88 * (n > 1 ? i / (n - 1) : 1)));
      var at = series.periods.indexOf(STATE.period);
      slider.max = String(Math.max(series.periods.length - 1, 0));
      slider.value = String(at >= 0 ? at : series.periods.length - 1);
      $("s-period-control").hidden = series.periods.length < 2;
    }
    function draw() {
      var name = $("s-indicator") ? $("s-indicator").value : chosen, period = series.periods[Number(slider.value)];
      period = period === undefined ? "" : period;
      var byDistrict = series.values[period] || {}, what = name ? nodeName(name) : "";
      $("s-period-out").textContent = periodName(period);
      slider.setAttribute("aria-valuetext", periodName(period));
      shapes.forEach(function (node) {
        var id = node.dataset.id, v = num(byDistrict[id]), text = label(id) + ": " + (what ? what + " " + sensorValue(v) +
          " (" + periodName(period) + ")" : "no indicator");
        node.style.fill = v === null ? "" : colourOf(v);
        node.setAttribute("data-value", v === null ? "" : String(v));
        node.firstChild.textContent = text;
        if (node.parentNode.tagName.toLowerCase() === "a") node.parentNode.setAttribute("aria-label", text + ", open its page");
      });
      var breaks = series.breaks;
      $("sensor-legend").innerHTML = name && breaks.length ? esc(what) + ", " + esc(periodName(period)) + ':<ul class="classes">' +
        classes.map(function (c, i) {
          return '<li title="' + esc(sensorValue(breaks[i]) + " to " + sensorValue(breaks[i + 1])) + '"><span class="box" style="background:' +
            c + '"></span>' + esc(compact(breaks[i])) + "</li>";
        }).join("") + '<li><span class="box none"></span>no value</li></ul> up to ' + esc(compact(breaks[breaks.length - 1])) +
        " (quantile classes over every period). " + doc.sensors.length + " sensors, " + doc.network.length + " network lines." :
        doc.sensors.length + " sensors" + (doc.districts.length ? "" : " (the rules compute no district values)") + ", " +
        doc.network.length + " network lines.";
      var open = $("sensor-table").querySelector("details[open]") !== null;
      $("sensor-table").innerHTML = doc.districts.length ? "<details" + (open ? " open" : "") + "><summary>The map as a table</summary>" +
        table(doc.districts, [
          { label: "District", html: function (d) { return CITY[d.id] ? cityLink(d.id) : esc(d.id); } },
          { label: what + " (" + periodName(period) + ")", num: true, html: function (d) { return esc(sensorValue(byDistrict[d.id])); } },
        ], "Districts on the map: " + what + ", " + periodName(period)) + "</details>" : "";
      writeHash({ indicator: name && name !== doc.indicator ? name : null,
                  period: period && Number(slider.value) !== series.periods.length - 1 ? period : null });
    }
    var tip = $("sensor-tip");
    function showTip(ev) {
      var t = ev.target.closest && ev.target.closest("path.district, circle.sensor");
      if (!t) { tip.hidden = true; return; }
      tip.textContent = t.querySelector("title").textContent;
      var box = svg.parentNode.getBoundingClientRect(), at = t.getBoundingClientRect();
      tip.style.left = (at.left - box.left + at.width / 2 + 10) + "px";
      tip.style.top = (at.top - box.top + at.height / 2 - 10) + "px";
      tip.hidden = false;
    }
    svg.addEventListener("mouseover", showTip);
    svg.addEventListener("focusin", showTip);
    svg.addEventListener("mouseleave", function () { tip.hidden = true; });
    svg.addEventListener("focusout", function () { tip.hidden = true; });
    slider.oninput = draw;
    if ($("s-indicator")) $("s-indicator").onchange = function () { STATE.period = null; choose(this.value); draw(); };
    choose(chosen);
    draw();
  }
  function citySensorsHtml(rows) {
    if (!rows || !rows.length) return "";
    return '<h2 id="city-sensors">Sensors</h2>' + table(rows, [
      { label: "Indicator", html: function (r) { return esc(nodeName(r.indicator)); } },
      { label: "Latest period", html: function (r) { return esc(periodName(r.period)); } },
      { label: "Value", num: true, html: function (r) { return esc(sensorValue(r.value)); } },
    ], "The latest value of each indicator computed from the sensors in this district") +
      '<p><a href="' + esc(sensorsHref()) + '">See every district on the sensors map</a></p>';
  }

  // --- what-if ---------------------------------------------------------------------------------------------------
  function parseWeights(text) {
    var out = {};
    (text || "").split(",").forEach(function (pair) {
      var i = pair.lastIndexOf(":");
      if (i > 0 && D.model.nodes.indexOf(pair.slice(0, i)) >= 0 && Number(pair.slice(i + 1)) >= 0)
        out[pair.slice(0, i)] = Number(pair.slice(i + 1));
    });
    return out;
  }
  var WHAT = null;  // the live what-if weights and aggregation, shared with the simulation
  /* The what-if model of an edition: the latest's is the published model, an earlier one's in D.models. */
  function modelOf(label) { return !ED || label === latestEdition() ? D.model : (D.models || {})[label]; }
  function whatifView() {
    var el = $("whatif");
    if (!el || !D.model) return;
    var label = D.models ? shownEdition() : latestEdition(), model = modelOf(label) || D.model, published = {};
    var src = editionSource(label), latest = label === latestEdition();
    model.nodes.forEach(function (id, i) { published[id] = model.weights[i]; });
    WHAT = { weights: Object.assign({}, published, parseWeights(STATE.w)),
             agg: STATE.agg === "arithmetic" || STATE.agg === "geometric" ? STATE.agg :
               WhatIf.recomputable(model) ? "" : "arithmetic" };
    var limit = 500;
    // the arrows compare like with like: this script's ranks under the published weights (Python's published
    // ranks can break a tie closer than 1e-9 the other way)
    var idx = model.cities.map(function (c) { return src.pos[c]; });
    var before = WhatIf.recomputable(model) ?
      WhatIf.ranks(WhatIf.column(model, WhatIf.scores(model, {}, null), model.nodes.length - 1)) :
      idx.map(function (i) { return i === undefined ? NaN : src.get(root(), "rank", i); });  // the build's own ranks
    function sliders(parent, depth) {
      var kids = children(parent).filter(function (k) { return published[k] !== undefined; });
      var maxw = Math.max.apply(null, kids.map(function (k) { return published[k]; }).concat([1e-9]));
      var minw = Math.min.apply(null, kids.map(function (k) { return published[k]; }).concat([0]));  // a PCA weight may be negative
      return '<ul class="sliders">' + kids.map(function (k) {
        var id = "w-" + k.replace(/[^A-Za-z0-9_-]/g, "_"), sub = children(k).length && depth < 2 ?
          '<details class="sub"><summary>Weights of ' + esc(nodeName(k)) + "'s parts</summary>" + sliders(k, depth + 1) + "</details>" : "";
        return '<li><label for="' + id + '">' + esc(nodeName(k)) + '</label><input type="range" id="' + id + '" data-node="' +
          esc(k) + '" min="' + (2 * minw) + '" max="' + (4 * maxw) + '" step="' + (maxw / 100) + '" value="' + WHAT.weights[k] +
          '"><output for="' + id + '" id="' + id + '-out"></output>' + sub + "</li>";
      }).join("") + "</ul>";
    }
    var sets = Object.keys(META.weight_sets || {}).filter(function (s) { return s !== "equal" && s !== "framework"; });
    el.innerHTML = '<div class="whatif"><form class="panel" onsubmit="return false" aria-label="Weights">' +
      (D.models ? '<div class="controls">' + editionControl("w-edition") + "</div>" : "") +
      '<div class="presets" role="group" aria-label="Presets"><button type="button" class="btn" data-preset="published">Published weights</button> ' +
      '<button type="button" class="btn" data-preset="equal">Equal weights</button>' +
      sets.map(function (s) {
        var label = s.replace(/_/g, " ");
        return ' <button type="button" class="btn" data-preset="set:' + esc(s) + '">' + esc(label.charAt(0).toUpperCase() + label.slice(1)) +
          " weights</button>";
      }).join("") +
      "</div>" +
      '<fieldset class="agg"><legend>Aggregation</legend>' +
      [["", "As published"], ["arithmetic", "Arithmetic"], ["geometric", "Geometric"]].map(function (o) {
        var off = o[0] === "" && !WhatIf.recomputable(model);
        return '<label><input type="radio" name="agg" value="' + o[0] + '"' + (WHAT.agg === o[0] ? " checked" : "") +
          (off ? " disabled" : "") + "> " + o[1] + "</label>";
      }).join("") + (WhatIf.recomputable(model) ? "" : '<p class="warn" id="w-method">The index aggregates with a method ' +
        "the what-if cannot recompute; your ranking uses the aggregation chosen here, not the published one.</p>") +
      "</fieldset>" +
      "<h2 class=\"h3\">Domain weights</h2>" + sliders(root(), 0) + '<p id="w-warn" class="warn" role="status"></p></form>' +
      '<div class="results"><div class="table-head"><p id="w-time" class="count" aria-live="polite"></p><div id="w-dl" class="dl"></div></div>' +
      '<div class="table-wrap"><table class="data" id="w-table"></table></div><div id="w-more"></div></div></div>';
    var shown = [];
    function recompute() {
      var t0 = performance.now();
      var overrides = {};
      Object.keys(WHAT.weights).forEach(function (k) { if (WHAT.weights[k] !== published[k]) overrides[k] = WHAT.weights[k]; });
      var m = WhatIf.scores(model, overrides, WHAT.agg || null);
      var index = WhatIf.column(model, m, model.nodes.length - 1), rank = WhatIf.ranks(index);
      var ms = performance.now() - t0;
      window.__whatif = { ms: ms, scores: Array.from(index), ranks: Array.from(rank), cities: model.cities };
      var rows = model.cities.map(function (c, u) {
        var i = idx[u];
        return { city: c, name: cityName(c), score: num(index[u]), rank: num(rank[u]), change: num(before[u]) === null ||
                 num(rank[u]) === null ? null : before[u] - rank[u],
                 published_rank: i === undefined ? null : src.get(root(), "rank", i),
                 best_rank: i === undefined || !latest ? null : field(root(), "best_rank", i),
                 worst_rank: i === undefined || !latest ? null : field(root(), "worst_rank", i) };
      });
      rows.sort(function (a, b) { return (a.rank === null) - (b.rank === null) || a.rank - b.rank; });
      shown = rows;
      var upto = Math.min(rows.length, limit), body = [];
      for (var j = 0; j < upto; j++) {
        var r = rows[j], d = r.change || 0;
        var arrow = d > 0 ? '<span class="up" aria-label="up ' + d + '">▲ ' + d + "</span>" :
          d < 0 ? '<span class="down" aria-label="down ' + (-d) + '">▼ ' + (-d) + "</span>" : '<span class="same" aria-label="no change">=</span>';
        body.push('<tr><td class="num strong">' + (r.rank === null ? "—" : r.rank) + '</td><td class="chg">' + arrow +
          '</td><th scope="row">' + cityLink(r.city, r.name) + '</th><td class="num">' + fmt(r.score) + '</td><td class="num">' +
          (r.published_rank === null ? "—" : r.published_rank) + '</td><td class="num">' +
          (r.best_rank === null ? "—" : r.best_rank + "–" + r.worst_rank) + "</td></tr>");
      }
      $("w-table").innerHTML = '<caption class="sr-only">Ranking under your weights' + (ED ? ", edition " + esc(label) : "") +
        "</caption><thead><tr>" +
        '<th scope="col" class="num">Your rank</th><th scope="col">Change</th><th scope="col">City</th><th scope="col" class="num">Score</th>' +
        '<th scope="col" class="num">Published rank</th><th scope="col" class="num">Best–worst rank</th></tr></thead><tbody>' + body.join("") + "</tbody>";
      $("w-more").innerHTML = rows.length > upto ? '<button type="button" class="btn" id="w-all">Show all ' + rows.length.toLocaleString("en") + " rows</button>" : "";
      if ($("w-all")) $("w-all").onclick = function () { limit = Infinity; recompute(); };
      $("w-time").textContent = model.cities.length.toLocaleString("en") + " cities" + (ED ? " of " + label : "") +
        " re-ranked in " + ms.toFixed(1) + " ms";
      el.querySelectorAll('input[type="range"][data-node]').forEach(function (s) {
        var k = s.dataset.node, sib = children(NODES[k].parent).reduce(function (t, x) { return t + (WHAT.weights[x] || 0); }, 0);
        $(s.id + "-out").textContent = sib > 0 ? Math.round(100 * WHAT.weights[k] / sib) + "%" : "0%";
      });
      var zero = domains().filter(function (d) { return WHAT.weights[d] === 0; });
      $("w-warn").textContent = zero.length ? "Weight 0 leaves out: " + zero.map(nodeName).join(", ") + "." : "";
      var w = Object.keys(overrides).map(function (k) { return k + ":" + +overrides[k].toPrecision(6); }).join(",");
      writeHash({ w: w, agg: WHAT.agg });
      if (typeof simulateRefresh === "function") simulateRefresh();
    }
    var pending = false, box = el.firstChild;  // made anew with each view, so its listeners go with it
    box.addEventListener("input", function (ev) {
      if (ev.target.id === "w-edition") {  // another edition's model: the view again, the weights kept
        var picked = pickedEdition("w-edition");
        writeHash({ edition: picked !== latestEdition() ? picked : null });
        return whatifView();
      }
      if (ev.target.type === "range") WHAT.weights[ev.target.dataset.node] = Number(ev.target.value);
      if (ev.target.name === "agg") WHAT.agg = ev.target.value;
      if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; recompute(); }); }
    });
    box.addEventListener("change", function (ev) { if (ev.target.name === "agg") { WHAT.agg = ev.target.value; recompute(); } });
    el.querySelectorAll("[data-preset]").forEach(function (b) {
      b.onclick = function () {
        var p = b.dataset.preset;
        WHAT.weights = Object.assign({}, published);
        if (p === "equal") model.nodes.forEach(function (k) { WHAT.weights[k] = 1; });
        if (p.indexOf("set:") === 0) Object.assign(WHAT.weights, META.weight_sets[p.slice(4)]);
        el.querySelectorAll('input[type="range"][data-node]').forEach(function (s) { s.value = WHAT.weights[s.dataset.node]; });
        recompute();
      };
    });
    downloadButtons($("w-dl"), "whatif-ranking", function () { return shown; }, function () {
      return ["city", "name", "score", "rank", "change", "published_rank", "best_rank", "worst_rank"];
    }, function () { return { shown: "displayed rows", weights: WHAT.weights, aggregation: WHAT.agg || "as published" }; });
    recompute();
  }

  // --- simulation: change a city's indicators or add a city --------------------------------------------------------
  var simulateRefresh = null;
  function simulateView() {
    var el = $("simulate");
    if (!el || !D.model) return;
    var model = D.model;
    var needs = { denominators: [], groups: [] };
    (model.frozen.steps || []).forEach(function (e) {
      (e.denominator || []).forEach(function (d) { if (d && needs.denominators.indexOf(d) < 0) needs.denominators.push(d); });
      if (e.group && needs.groups.indexOf(e.group) < 0) needs.groups.push(e.group);
    });
    el.innerHTML = '<form class="controls" onsubmit="return false"><label>Start from <select id="s-base"><option value="">A new city (from the median values)</option>' +
      model.cities.map(function (c) { return '<option value="' + esc(c) + '">' + esc(cityName(c)) + "</option>"; }).join("") +
      '</select></label> <label>Name <input id="s-name" value="My city" autocomplete="off"></label>' +
      needs.denominators.map(function (d) { return '<label>' + esc(d) + ' <input class="numin" data-den="' + esc(d) + '" inputmode="decimal"></label>'; }).join("") +
      needs.groups.map(function (g) {
        var labels = Array.from(new Set(model.frozen.groups[g])).sort();
        return '<label>' + esc(g) + ' <select data-group="' + esc(g) + '">' + labels.map(function (v) {
          return '<option value="' + esc(v) + '">' + esc(v) + "</option>"; }).join("") + "</select></label>";
      }).join("") + "</form>" +
      '<div class="sim"><div class="table-wrap"><table class="data" id="s-inputs"></table></div><div id="s-out" aria-live="polite"></div></div>';
    if (STATE.sim && model.cities.indexOf(STATE.sim) >= 0) $("s-base").value = STATE.sim;
    var medians = model.indicators.map(function (k, j) {  // a new city starts from the median city
      var v = model.raw.map(function (r) { return r[j]; }).filter(function (x) { return x !== null; }).sort(function (a, b) { return a - b; });
      return v.length ? (v[(v.length - 1) >> 1] + v[v.length >> 1]) / 2 : null;
    });
    function fill() {
      var base = $("s-base").value, at = model.cities.indexOf(base), values = at >= 0 ? model.raw[at] : medians;
      $("s-inputs").innerHTML = '<caption>Indicator values, raw as in the data (change any)</caption><thead><tr><th scope="col">Indicator</th>' +
        '<th scope="col">Unit</th><th scope="col" class="num">Value</th><th scope="col" class="num">Normalised</th></tr></thead><tbody>' +
        model.indicators.map(function (k, j) {
          var v = values[j], id = "s-" + j;
          return '<tr><th scope="row"><label for="' + id + '">' + esc(nodeName(k)) + "</label>" +
            (NODES[k] && NODES[k].direction === -1 ? ' <span class="muted">(lower is better)</span>' : "") + "</th><td>" +
            esc(NODES[k] && NODES[k].unit || "") + '</td><td class="num"><input class="numin" id="' + id + '" data-k="' + esc(k) +
            '" inputmode="decimal" value="' + esc(v === null || v === undefined ? "" : v) + '"></td><td class="num" id="' + id + '-n"></td></tr>';
        }).join("") + "</tbody>";
      el.querySelectorAll("[data-den],[data-group]").forEach(function (x) { x.closest("label").hidden = !!base; });
      $("s-name").value = base ? cityName(base) + " (changed)" : "My city";
      writeHash({ sim: base });
      score();
    }
    function score() {
      var base = $("s-base").value || null, raw = {}, context = { denominators: {}, groups: {} };
      model.indicators.forEach(function (k, j) { raw[k] = $("s-" + j).value.trim(); });
      el.querySelectorAll("[data-den]").forEach(function (x) { context.denominators[x.dataset.den] = x.value; });
      el.querySelectorAll("[data-group]").forEach(function (x) { context.groups[x.dataset.group] = x.value; });
      var overrides = {}, pub = {};
      model.nodes.forEach(function (id, i) { pub[id] = model.weights[i]; });
      if (WHAT) Object.keys(WHAT.weights).forEach(function (k) { if (WHAT.weights[k] !== pub[k]) overrides[k] = WHAT.weights[k]; });
      var res;
      try { res = WhatIf.scoreCity(model, raw, base, overrides, WHAT && WHAT.agg || null, context); }
      catch (err) { $("s-out").innerHTML = '<p class="warn">' + esc(err.message) + "</p>"; window.__simulated = { error: err.message }; return; }
      model.indicators.forEach(function (k, j) { $("s-" + j + "-n").textContent = fmt(res.leaves[j]); });
      var show = [root()].concat(domains());
      $("s-out").innerHTML = '<table class="data"><caption>' + esc($("s-name").value) + ': scores and ranks among the other cities</caption>' +
        '<thead><tr><th scope="col">Node</th><th scope="col" class="num">Score</th><th scope="col" class="num">Rank</th></tr></thead><tbody>' +
        show.map(function (k) {
          var j = model.nodes.indexOf(k);
          return '<tr><th scope="row"' + (k === root() ? ' class="strong"' : "") + ">" + esc(nodeName(k)) + '</th><td class="num">' +
            fmt(res.scores[j]) + '</td><td class="num">' + (res.ranks[j] === res.ranks[j] ? res.ranks[j] + ' <span class="muted">of ' +
            res.ranked[j] + "</span>" : "—") + "</td></tr>";
        }).join("") + "</tbody></table>";
      window.__simulated = { scores: Array.from(res.scores), ranks: Array.from(res.ranks), ranked: Array.from(res.ranked) };
    }
    $("s-base").onchange = fill;
    el.addEventListener("input", function (ev) { if (ev.target.id !== "s-base") score(); });
    simulateRefresh = score;
    fill();
  }

  // --- compare ---------------------------------------------------------------------------------------------------
  function compareView() {
    var el = $("compare");
    if (!el || !D.ranking) return;
    var byName = {};
    CITIES.forEach(function (c) { byName[c.name] = c.city; });
    var chosen = (STATE.cities || "").split(",").filter(function (c) { return CITY[c]; }).slice(0, 4);
    if (!chosen.length) chosen = CITIES.slice().sort(function (a, b) {
      return (field(root(), "rank", POS[a.city]) || 1e9) - (field(root(), "rank", POS[b.city]) || 1e9);
    }).slice(0, 3).map(function (c) { return c.city; });
    el.innerHTML = '<form class="controls" id="c-form">' + editionControl("c-edition") +
      '<label>Add a city <input id="c-add" list="c-names" autocomplete="off"></label>' +
      '<datalist id="c-names">' + CITIES.map(function (c) { return '<option value="' + esc(c.name) + '">'; }).join("") + "</datalist>" +
      '<button type="submit" class="btn">Add</button><ul id="c-chips" class="chips" aria-label="Chosen cities"></ul></form>' +
      '<p id="c-msg" class="warn" role="status"></p><div class="chart" id="c-chart"></div><div class="table-head"><span></span><div id="c-dl" class="dl"></div></div>' +
      '<div class="table-wrap"><table class="data" id="c-table"></table></div>';
    var shown = [];
    function draw() {
      var src = editionSource(pickedEdition("c-edition"));  // a city the edition lacks shows no score
      var get = function (node, f, c) { return src.pos[c] === undefined ? null : src.get(node, f, src.pos[c]); };
      writeHash({ cities: chosen.join(","), edition: ED && src.label !== latestEdition() ? src.label : null });
      $("c-chips").innerHTML = chosen.map(function (c) {
        return '<li>' + esc(cityName(c)) + ' <button type="button" class="x" data-c="' + esc(c) + '" aria-label="Remove ' +
          esc(cityName(c)) + '">×</button></li>';
      }).join("");
      $("c-msg").textContent = chosen.length < 2 ? "Choose at least two cities." : "";
      var nodes = [root()].concat(domains());
      shown = nodes.map(function (k) {
        var r = { node: k, name: nodeName(k) };
        chosen.forEach(function (c) {
          r[cityName(c)] = get(k, "score", c);
          r[cityName(c) + " rank"] = get(k, "rank", c);
        });
        return r;
      });
      $("c-table").innerHTML = '<caption class="sr-only">Scores side by side</caption><thead><tr><th scope="col">Domain</th>' +
        chosen.map(function (c) { return '<th scope="col" class="num">' + cityLink(c) + "</th>"; }).join("") + "</tr></thead><tbody>" +
        shown.map(function (r) {
          return '<tr><th scope="row"' + (r.node === root() ? ' class="strong"' : "") + ">" + esc(r.name) + "</th>" + chosen.map(function (c) {
            return '<td class="num">' + fmt(r[cityName(c)]) + ' <span class="muted">#' + esc(r[cityName(c) + " rank"] || "—") + "</span></td>";
          }).join("") + "</tr>";
        }).join("") + "</tbody>";
      var doms = domains(), labels = doms.map(nodeName);
      var chartEl = $("c-chart");
      if (typeof Plotly !== "undefined") {
        var next = chartEl.nextSibling;
        if (next && next.className === "chart-dl") next.remove();
        chart(chartEl, chosen.map(function (c, k) {
          var r = doms.map(function (d) { return get(d, "score", c); });
          return { type: "scatterpolar", r: r.concat([r[0]]), theta: labels.concat([labels[0]]), name: cityName(c),
                   fill: "toself", opacity: 0.55, line: { color: PALETTE[k] } };
        }), { height: 460, polar: { radialaxis: { visible: true } }, legend: { orientation: "h" }, margin: { l: 80, r: 80, t: 30, b: 30 } }, "compare");
      }
    }
    $("c-form").onsubmit = function (ev) {
      ev.preventDefault();
      var c = byName[$("c-add").value];
      if (c && chosen.indexOf(c) < 0) {
        if (chosen.length >= 4) { $("c-msg").textContent = "At most four cities: remove one first."; return; }
        chosen.push(c);
        $("c-add").value = "";
        draw();
      }
    };
    if ($("c-edition")) $("c-edition").oninput = draw;
    $("c-chips").onclick = function (ev) {
      var c = ev.target.dataset && ev.target.dataset.c;
      if (c) { chosen = chosen.filter(function (x) { return x !== c; }); draw(); }
    };
    downloadButtons($("c-dl"), "compare", function () { return shown; }, function () {
      return ["node", "name"].concat(chosen.reduce(function (a, c) { return a.concat([cityName(c), cityName(c) + " rank"]); }, []));
    }, function () { return { shown: "displayed rows", cities: chosen.map(function (c) { return { city: c, name: cityName(c) }; }) }; });
    draw();
  }

  // --- city page -------------------------------------------------------------------------------------------------
  function table(rows, columns, caption) {
    if (!rows || !rows.length) return '<p class="muted">None recorded.</p>';
    return '<div class="table-wrap"><table class="data"><caption' + (caption ? "" : ' class="sr-only"') + ">" + esc(caption || "Table") +
      "</caption><thead><tr>" + columns.map(function (c) { return '<th scope="col"' + (c.num ? ' class="num"' : "") + ">" + esc(c.label) + "</th>"; }).join("") +
      "</tr></thead><tbody>" + rows.map(function (r) {
        return "<tr>" + columns.map(function (c) {
          var v = c.html ? c.html(r) : c.num ? fmt(r[c.key], c.digits) : esc(r[c.key] === null || r[c.key] === undefined ? "" : r[c.key]);
          return "<td" + (c.num ? ' class="num"' : "") + ">" + v + "</td>";
        }).join("") + "</tr>";
      }).join("") + "</tbody></table></div>";
  }
  function cityView(id) {
    var el = $("city");
    if (!el) return;
    var data = DASH ? D.profiles && D.profiles[id] : D.city;
    if (!data || !data.card) { el.innerHTML = '<p>Choose a city in the <a href="#tab=ranking">ranking</a>.</p>'; return; }
    var info = data.card.city, profile = data.profile || {}, st = data.standing || {}, cid = info.city;
    var scores = {};
    (data.card.scores || []).forEach(function (s) { scores[s.node] = s; });
    var idx = scores[root()] || {}, doms = profile.domains || [];
    $("h-city").textContent = info.name || cid;
    document.title = (info.name || cid) + " · " + META.name;
    var card = function (k, v, sub) {
      return '<div class="card"><span class="k">' + esc(k) + '</span><span class="v">' + esc(v) + "</span>" +
        (sub ? '<span class="s">' + esc(sub) + "</span>" : "") + "</div>";
    };
    el.innerHTML =
      '<p class="lede">' + esc([info.country, info.region].filter(Boolean).join(" · ")) +
      (num(info.population) !== null ? " · population " + Number(info.population).toLocaleString("en") : "") + "</p>" +
      '<div class="cards">' + card(nodeName(root()), fmt(idx.score)) +
      card("Rank", idx.rank === undefined || idx.rank === null ? "—" : idx.rank,
           num(st.p05) !== null ? "90% of runs: " + place(st.p05) + "–" + place(st.p95) : "") +
      card("Grade", idx.grade === undefined || idx.grade === null ? "—" : idx.grade, "1 best, 5 last") +
      (st.rating ? card("Rating", st.rating, "within its peer group") : "") +
      (num(st.best_rank) !== null ? card("Best–worst rank", st.best_rank + "–" + st.worst_rank, "over all domain weightings") : "") +
      "</div>" + cityEditionsHtml(data.card.editions) + citySensorsHtml(data.card.sensors) +
      '<h2>Domains against the median and the peers</h2><div class="chart" id="city-chart"></div>' +
      '<h2>Strengths and weaknesses</h2>' + table(doms, [
        { label: "Domain", html: function (r) { return esc(r.name || nodeName(r.domain)); } },
        { label: "Score", key: "score", num: true }, { label: "Median", key: "median", num: true },
        { label: "Verdict", html: function (r) { return r.verdict ? '<span class="verdict ' + esc(r.verdict) + '">' + esc(r.verdict === "no-score" ? "no score" : r.verdict) + "</span>" : "—"; } },
        { label: "Rank (5–95%)", html: function (r) { return esc(r.rank === null || r.rank === undefined ? "—" : r.rank) +
          (num(r.p05) !== null ? ' <span class="muted">(' + place(r.p05) + "–" + place(r.p95) + ")</span>" : ""); } },
        { label: "Leader", html: function (r) { return r.leader ? cityLink(r.leader, r.leader_name) : "—"; } },
        { label: "Gap to leader", key: "gap_to_leader", num: true },
      ], "Each domain: score, median of all cities, rank with its 5–95% interval, the leader and the gap to it") +
      "<h2>Peers</h2>" + peersHtml(profile.peers) +
      "<h2>What to learn from whom</h2>" + table(profile.learn_from, [
        { label: "Domain", html: function (r) { return esc(r.domain_name || nodeName(r.domain)); } },
        { label: "City", html: function (r) { return r.city ? cityLink(r.city, r.name) : ""; } },
        { label: "Initiative", html: function (r) { return link(r.source_url, r.initiative); } },
        { label: "What it is", key: "description" },
      ], "Initiatives of the cities that lead the domains where this city is weaker") +
      '<h2>Initiatives</h2><div id="city-inits"></div>' +
      "<h2>Trends</h2>" + table(profile.trends, [
        { label: "Trend", html: function (r) { return esc(String(r.trend || "").replace(/_/g, " ")); } },
        { label: "Period", key: "period" }, { label: "Initiatives", key: "n", num: true, digits: 0 },
        { label: "With the trend", key: "count", num: true, digits: 0 },
        { label: "Share", html: function (r) { return num(r.share) === null ? "—" : Math.round(100 * r.share) + "%"; } },
        { label: "95% interval", html: function (r) { return num(r.ci_low) === null ? "—" : Math.round(100 * r.ci_low) + "–" + Math.round(100 * r.ci_high) + "%"; } },
      ], "Share of the city's initiatives that follow each trend");
    initiatives($("city-inits"), profile.initiatives || []);
    cityEditionsChart(data.card.editions, info.name || cid, cid);
    if (typeof Plotly !== "undefined" && doms.length) {
      var labels = doms.map(function (d) { return d.name || nodeName(d.domain); });
      var traces = [{ type: "bar", orientation: "h", y: labels, x: doms.map(function (d) { return d.score; }), name: info.name || cid,
                      marker: { color: "#6f9fd8" } },
                    { type: "scatter", mode: "markers", y: labels, x: doms.map(function (d) { return d.median; }), name: "Median",
                      marker: { color: "#b45f06", size: 14, symbol: "line-ns-open", line: { width: 3, color: "#b45f06" } } }];
      var peers = Object.keys(data.peer_scores || {});
      if (peers.length) traces.push({ type: "scatter", mode: "markers", y: labels, name: "Peers (mean)",
        x: doms.map(function (d) {
          var v = peers.map(function (p) { return num(data.peer_scores[p][d.domain]); }).filter(function (x) { return x !== null; });
          return v.length ? v.reduce(function (a, b) { return a + b; }, 0) / v.length : null;
        }), marker: { color: "#009E73", size: 10, symbol: "diamond" } });
      chart($("city-chart"), traces, { height: 90 + 36 * doms.length, margin: { l: 210, r: 20, t: 10, b: 40 },
                                       yaxis: { autorange: "reversed" }, xaxis: { title: { text: "score" } },
                                       legend: { orientation: "h", y: 1.08 } }, "city-" + cid);
    }
  }
  /* The city's rows of the editions document: its index rank in each edition (a table and a chart) and its domains'
   * ranks side by side; nothing without editions. */
  function editionRows(rows, node) {
    var order = (META.editions && META.editions.editions) || [];
    return (rows || []).filter(function (r) { return r.node === node; }).sort(function (a, b) {
      return order.indexOf(a.edition) - order.indexOf(b.edition); });
  }
  function cityEditionsHtml(rows) {
    if (!rows || !rows.length || !META.editions) return "";
    var labels = META.editions.editions, top = editionRows(rows, root()), at = {};
    rows.forEach(function (r) { (at[r.node] = at[r.node] || {})[r.edition] = r; });
    var doms = domains().filter(function (d) { return at[d]; });
    return '<h2 id="city-editions">Over the editions</h2><div class="chart" id="city-editions-chart"></div>' +
      table(top, [{ label: "Edition", key: "edition" }, { label: "Score", key: "score", num: true },
                  { label: "Rank", key: "rank", num: true, digits: 0 },
                  { label: "Change", html: function (r) { return changeHtml(r, r.edition); } },
                  { label: "Change, 90% interval", html: function (r) { return num(r.change_p05) === null ? "—" : signed(r.change_p05) + " to " + signed(r.change_p95); } },
                  { label: "Rank, 5–95% of runs", html: function (r) { return num(r.p05) === null ? "—" : place(r.p05) + "–" + place(r.p95); } }]
                  .concat(SMOOTH ? [{ label: "Smoothed rank", key: "smoothed_rank", num: true, digits: 0 }] : []),
            nodeName(root()) + ": score and rank in each edition, and the change from the previous edition") +
      (doms.length ? table(doms, [{ label: "Domain", html: function (d) { return esc(nodeName(d)); } }].concat(labels.map(function (l) {
        return { label: l, num: true, html: function (d) { var r = at[d][l]; return r && num(r.rank) !== null ? esc(r.rank) : "—"; } };
      })), "Rank of each domain in each edition") : "") + changeNote();
  }
  function cityEditionsChart(rows, name, cid) {
    var el = $("city-editions-chart");
    if (!el || typeof Plotly === "undefined") return;
    var top = editionRows(rows, root());
    chart(el, [{ type: "scatter", mode: "lines+markers", x: top.map(function (r) { return r.edition; }),
                 y: top.map(function (r) { return r.rank; }), name: name, line: { color: PALETTE[0] },
                 hovertemplate: "%{x}: rank %{y}<extra></extra>" }],
          { height: 300, xaxis: { type: "category", title: { text: "edition" } },
            yaxis: { autorange: "reversed", title: { text: "rank" } } }, "city-" + cid + "-editions");
  }
  function peersHtml(peers) {
    if (!peers || !peers.length) return '<p class="muted">No peer group recorded.</p>';
    return '<ul class="peers">' + peers.map(function (p) {
      if (typeof p !== "object") return "<li>" + cityLink(p) + "</li>";
      return "<li>" + cityLink(p.city, p.name) + (p.rank !== undefined ? ' <span class="muted">rank ' + esc(p.rank) + "</span>" : "") + "</li>";
    }).join("") + "</ul>";
  }
  function genericTable(rows, caption) {
    if (!rows || !rows.length) return '<p class="muted">None recorded.</p>';
    var cols = Object.keys(rows[0]).filter(function (k) { return typeof rows[0][k] !== "object" || rows[0][k] === null; });
    return table(rows, cols.map(function (k) {
      var isNum = rows.every(function (r) { return r[k] === null || typeof r[k] === "number"; });
      return { label: k.replace(/_/g, " "), key: k, num: isNum, digits: isNum && rows.every(function (r) {
        return r[k] === null || Number.isInteger(r[k]); }) ? 0 : 2,
        html: /url$/.test(k) ? function (r) { return link(r[k]); } : null };
    }), caption);
  }
  var INITIATIVE_COLUMNS = [["name", "Initiative"], ["item_type", "Type"], ["service_domain", "Service domain"],
                            ["start_year", "Start"], ["lead_actor", "Lead"], ["description", "Description"]];
  function initiatives(el, rows) {
    if (!rows.length) { el.innerHTML = '<p class="muted">No initiatives recorded.</p>'; return; }
    var keys = Object.keys(rows[0]), dk = ["service_domain", "domain", "item_type"].filter(function (k) { return keys.indexOf(k) >= 0; })[0];
    var cols = INITIATIVE_COLUMNS.filter(function (c) { return keys.indexOf(c[0]) >= 0; }).map(function (c) {
      if (c[0] === "name") return { label: c[1], html: function (r) { return link(r.source_url || r.url, r.name); } };
      if (c[0] === "start_year") return { label: c[1], key: c[0], num: true, digits: 0 };
      return { label: c[1], html: function (r) { return esc(String(r[c[0]] === null || r[c[0]] === undefined ? "" : r[c[0]]).replace(/_/g, " ")); } };
    });
    var values = dk ? Array.from(new Set(rows.map(function (r) { return r[dk]; }))).filter(Boolean).sort() : [];
    el.innerHTML = '<form class="controls" onsubmit="return false"><label>Filter <input type="search" id="i-q" autocomplete="off"></label>' +
      (dk ? '<label>' + esc(dk.replace(/_/g, " ")) + ' <select id="i-d"><option value="">All</option>' + values.map(function (v) {
        return '<option value="' + esc(v) + '">' + esc(String(v).replace(/_/g, " ")) + "</option>"; }).join("") + "</select></label>" : "") +
      '</form><p class="count" id="i-count" aria-live="polite"></p><div id="i-table"></div>';
    function draw() {
      var q = $("i-q").value.toLowerCase(), d = $("i-d") ? $("i-d").value : "";
      var keep = rows.filter(function (r) {
        return (!d || r[dk] === d) && (!q || JSON.stringify(r).toLowerCase().indexOf(q) >= 0);
      });
      $("i-count").textContent = keep.length + " of " + rows.length + " initiatives";
      $("i-table").innerHTML = table(keep, cols, "The city's initiatives");
    }
    $("i-q").oninput = draw;
    if ($("i-d")) $("i-d").onchange = draw;
    draw();
  }

  // --- methodology -----------------------------------------------------------------------------------------------
  function methodologyView() {
    var el = $("methodology"), M = D.methodology;
    if (!el || !M) return;
    var share = {};
    (function walk(id, s) {
      share[id] = s;
      var kids = children(id), total = kids.reduce(function (t, k) { return t + (NODES[k].weight || 0); }, 0);
      kids.forEach(function (k) { walk(k, total > 0 ? s * (NODES[k].weight || 0) / total : 0); });
    })(root(), 1);
    var fw = META.framework.filter(function (n) { return share[n.id] !== undefined; });
    el.innerHTML = '<nav class="toc" aria-label="On this page"><a href="#m-framework">Framework</a> <a href="#m-steps">Steps</a> ' +
      '<a href="#m-processing">Processing log</a> <a href="#m-audit">Audit</a> <a href="#m-sobol">Sensitivity</a></nav>' +
      '<h2 id="m-framework">Framework and weights</h2><div class="chart" id="m-sunburst"></div>' +
      table(fw, [{ label: "Node", html: function (r) { return "\u00a0\u00a0".repeat(Math.max(0, (NODES[root()].level || 1) - r.level)) + esc(r.name); } },
                 { label: "Level", key: "level", num: true, digits: 0 }, { label: "Weight", key: "weight", num: true, digits: 3 },
                 { label: "Share of index", html: function (r) { return (100 * share[r.id]).toFixed(1) + "%"; } },
                 { label: "Unit", key: "unit" }, { label: "Direction", html: function (r) { return r.direction === -1 ? "lower is better" : r.direction === 1 ? "higher is better" : ""; } },
                 { label: "Source", html: function (r) { return link(r.source, r.source); } }],
            "Every node of the framework with its weight and its share of the index") +
      "<p>" + aggregationText(META.aggregation) + "</p>" +
      '<h2 id="m-steps">Steps and parameters</h2>' + stepsHtml(M.steps) +
      '<h2 id="m-processing">Processing log</h2>' + summaryHtml(M.processing_summary) +
      ((M.processing || []).length ? '<details><summary>All ' + M.processing.length.toLocaleString("en") + " processing rows</summary>" +
        genericTable(M.processing.slice(0, 1000), "Processing rows (first 1,000; the full log is in the downloads)") + "</details>" :
        '<p class="muted">The build dropped, filled and clipped nothing.</p>') +
      '<h2 id="m-audit">Audit</h2>' + auditHtml(M.audit) +
      '<h2 id="m-sobol">Sensitivity (Sobol indices)</h2><p>How much of the variance of the index each uncertain choice ' +
      'explains, alone (S1) and with its interactions (ST).</p><div class="chart" id="m-sobol-chart"></div>' +
      table(sobolRows(M.sensitivity), [{ label: "Factor", key: "factor" }, { label: "S1", key: "S1", num: true, digits: 3 },
        { label: "S1 ± (95%)", key: "S1_conf", num: true, digits: 3 }, { label: "ST", key: "ST", num: true, digits: 3 },
        { label: "ST ± (95%)", key: "ST_conf", num: true, digits: 3 }], "Sobol indices of the index, all cities together");
    if (typeof Plotly !== "undefined") {
      chart($("m-sunburst"), [{ type: "sunburst", ids: fw.map(function (n) { return n.id; }), labels: fw.map(function (n) { return n.name; }),
        parents: fw.map(function (n) { return n.id === root() ? "" : n.parent; }), values: fw.map(function (n) { return share[n.id]; }),
        branchvalues: "total", hovertemplate: "%{label}: %{value:.1%} of the index<extra></extra>" }],
        { height: 520, margin: { l: 0, r: 0, t: 0, b: 0 } }, "framework");
      var S = sobolRows(M.sensitivity);
      if (S.length) chart($("m-sobol-chart"), [["S1", "First order (S1)"], ["ST", "Total (ST)"]].map(function (k, j) {
        return { type: "bar", name: k[1], x: S.map(function (r) { return String(r.factor).replace(/_/g, " "); }),
                 y: S.map(function (r) { return r[k[0]]; }), marker: { color: PALETTE[j] },
                 error_y: { type: "data", array: S.map(function (r) { return r[k[0] + "_conf"]; }), visible: true } };
      }), { barmode: "group", height: 360, yaxis: { title: { text: "share of the variance of the index" } } }, "sensitivity");
    }
  }
  function aggregationText(a) {
    if (!a || !a.method) return "";
    var out = "Aggregation: the weighted <strong>" + esc(a.method) + "</strong> mean of the children present, at every level";
    Object.keys(a.by_level || {}).forEach(function (l) { out += "; level " + esc(l) + ": " + esc(a.by_level[l]); });
    Object.keys(a.by_node || {}).forEach(function (n) { out += "; " + esc(nodeName(n)) + ": " + esc(a.by_node[n]); });
    return out + (a.min_share ? "; a node needs at least " + Math.round(100 * a.min_share) + "% of its children present." : ".");
  }
  var AUDIT_TABLES = [["flags", "Flags"], ["cronbach", "Cronbach's alpha of each node"],
                      ["effective_weights", "Effective weights: each indicator's share of the index's variance"],
                      ["stats", "Indicator statistics at every stage"]];
  function auditHtml(a) {
    if (!a) return '<p class="muted">Not recorded.</p>';
    return (a.summary ? "<pre>" + esc(a.summary) + "</pre>" : "") + AUDIT_TABLES.filter(function (t) { return a[t[0]]; }).map(function (t) {
      var rows = a[t[0]];
      return "<details><summary>" + esc(t[1]) + " (" + rows.length + " rows)</summary>" + genericTable(rows, t[1]) + "</details>";
    }).join("");
  }
  function sobolRows(rows) {
    return (rows || []).filter(function (r) { return r.node === root() && !r.city; });
  }
  function stepsHtml(steps) {
    if (!steps || !steps.length) return '<p class="muted">No steps recorded.</p>';
    return '<ol class="steps">' + steps.map(function (s) {
      var keys = Object.keys(s), name = keys.length === 1 ? keys[0] : s.step, params = keys.length === 1 ? s[name] : s;
      params = params && typeof params === "object" ? params : { value: params };
      return "<li><strong>" + esc(name) + "</strong>" + (params.method ? " — " + esc(params.method) : "") + '<dl class="kv">' +
        Object.keys(params).filter(function (k) { return k !== "method" && k !== "step"; }).map(function (k) {
          var v = params[k];
          return "<dt>" + esc(k.replace(/_/g, " ")) + "</dt><dd>" + esc(typeof v === "object" ? JSON.stringify(v) : v) + "</dd>";
        }).join("") + "</dl></li>";
    }).join("") + "</ol>";
  }
  function summaryHtml(p) {
    if (!p) return "";
    var out = "";
    if (typeof p.notes === "number" || typeof p.warnings === "number")
      out += "<p>" + esc(p.notes || 0) + " notes and " + esc(p.warnings || 0) + " warnings: every value the build dropped, " +
             "filled or clipped is a row of the log.</p>";
    ["notes", "warnings"].forEach(function (k) {
      var v = p[k];
      if (Array.isArray(v) && v.length) out += "<h3>" + esc(k) + "</h3><ul>" + v.map(function (x) {
        return "<li>" + esc(typeof x === "object" ? JSON.stringify(x) : x) + "</li>"; }).join("") + "</ul>";
    });
    if (p.summary && p.summary.length) out += anyHtml(p.summary);
    return out;
  }
  function anyHtml(v) {
    if (v === null || v === undefined) return '<p class="muted">Not recorded.</p>';
    if (Array.isArray(v)) return v.length && typeof v[0] === "object" ? genericTable(v, "Table") : "<ul>" + v.map(function (x) { return "<li>" + esc(x) + "</li>"; }).join("") + "</ul>";
    if (typeof v === "object") return '<dl class="kv">' + Object.keys(v).map(function (k) {
      var x = v[k];
      return "<dt>" + esc(k.replace(/_/g, " ")) + "</dt><dd>" + (typeof x === "object" && x !== null ? anyHtml(x) : esc(typeof x === "number" ? fmt(x, 3) : x)) + "</dd>";
    }).join("") + "</dl>";
    return "<pre>" + esc(v) + "</pre>";
  }

  // --- downloads -------------------------------------------------------------------------------------------------
  var DOCUMENTS = {
    index: "the index: name, framework tree with weights, weight sets, aggregation, every step, versions",
    ranking: "every city at every node: score, rank, grade, rating, rank interval, best and worst rank",
    cities: "every city: name, country, region, coordinates, population, peer groups",
    scores: "score, rank and grade of every city at every node (scores.csv)",
    indicators: "every raw indicator value with its unit, direction, weight and normalised value",
    sensitivity: "Sobol indices of each uncertain choice",
    processing: "the processing log: every value dropped, filled or clipped",
    audit: "the statistical audit: summary, flags, Cronbach's alpha, effective weights, statistics",
    model: "the what-if model: framework shape, weights, normalised leaves, frozen normalisation",
    editions: "every city at every node in every edition: score, rank, grade, rank interval, the rank change from " +
              "the previous edition with its 90% interval and significance (editions.csv)",
    edition_trends: "the trend of every city's score at every node over the editions: CAGR and prc_change (edition_trends.csv)",
    rank_decomposition: "each rank change of the index split into performance, method and sample (rank_decomposition.csv)",
    sensors: "the sensors' city map: every sensor, the district outlines, each sensor indicator's values by period and " +
             "district with its colour classes, the network's lines",
  };
  function downloadsView() {
    var el = $("downloads");
    if (!el) return;
    var leaves = META.framework.map(function (n) {
      return { node: n.id, name: n.name, parent: n.parent, level: n.level, weight: n.weight, unit: n.unit,
               direction: n.direction, source: n.source };
    });
    var html = "<p>Everything the index publishes, with its metadata: unit, direction, weight and source of each indicator.</p>" +
      '<h2>Framework and indicator metadata</h2><p>Every node: its parent, level, weight, unit, direction and source.</p>' +
      '<div id="d-meta" class="dl"></div>';
    if (D.files) {
      html += "<h2>All data (the API's files)</h2>" + table(D.files, [
        { label: "Document", html: function (r) { return "<strong>" + esc(r.key) + '</strong><br><span class="muted">' + esc(DOCUMENTS[r.key] || "") + "</span>"; } },
        { label: "JSON", html: function (r) { return '<a href="api/v1/' + esc(r.key) + '.json">' + esc(r.key) + ".json</a>"; } },
        { label: "CSV", html: function (r) { return r.table ? '<a href="api/v1/' + esc(r.key) + '.csv">' + esc(r.key) + ".csv</a>" : "—"; } },
      ], "Files under api/v1/, the same as the REST API serves") +
        '<p>Each city also has <code>api/v1/cities/&lt;id&gt;.json</code> (its row and its scores at every node) and ' +
        "<code>api/v1/cities/&lt;id&gt;/profile.json</code> (domains against the median, peers, what to learn from whom, " +
        "initiatives, trends).</p>";
    } else {
      html += '<h2>All data</h2><p>Every score of every city at every node, with the framework\'s metadata.</p><div id="d-all" class="dl"></div>' +
        '<h2>Cities</h2><div id="d-cities" class="dl"></div><h2>What-if model</h2><div id="d-model" class="dl"></div>';
    }
    el.innerHTML = html;
    downloadButtons($("d-meta"), "framework", function () { return leaves; }, function () {
      return ["node", "name", "parent", "level", "weight", "unit", "direction", "source"]; }, function () { return { table: "framework" }; });
    if (!D.files) {
      var all = function () {
        var out = [];
        Object.keys(D.ranking).forEach(function (node) {
          CITIES.forEach(function (c, i) {
            var r = { city: c.city, name: c.name, node: node, node_name: nodeName(node) };
            Object.keys(D.ranking[node]).forEach(function (f) { r[f] = D.ranking[node][f][i]; });
            out.push(r);
          });
        });
        return out;
      };
      downloadButtons($("d-all"), "ranking-all", all, function () {
        return ["city", "name", "node", "node_name", "score", "rank", "grade", "rating", "median_rank", "p05", "p95", "best_rank", "worst_rank"];
      }, function () { return { table: "ranking, every node", framework: leaves }; });
      downloadButtons($("d-cities"), "cities", function () { return CITIES; }, function () {
        return Object.keys(CITIES[0] || {}); }, function () { return { table: "cities" }; });
      $("d-model").innerHTML = '<button type="button" class="btn small">model.json</button>';
      $("d-model").firstChild.onclick = function () { save("model.json", JSON.stringify(D.model), "application/json"); };
    }
  }

  // --- router ----------------------------------------------------------------------------------------------------
  var drawn = {};
  var VIEWS = { ranking: rankingView, map: mapView, whatif: function () { whatifView(); simulateView(); },
                compare: compareView, methodology: methodologyView, downloads: downloadsView };
  if (SENSORS) VIEWS.sensors = sensorsView;
  function showTab() {
    STATE = readHash();
    var tab = STATE.tab && (VIEWS[STATE.tab] || STATE.tab === "city") ? STATE.tab : "ranking";
    document.querySelectorAll(".view").forEach(function (v) { v.hidden = v.id !== "view-" + tab; });
    document.querySelectorAll("nav [data-tab]").forEach(function (a) {
      if (a.dataset.tab === tab) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (tab === "city") { cityView(STATE.city); window.scrollTo(0, 0); }
    else if (!drawn[tab]) { drawn[tab] = true; VIEWS[tab](); }
    document.title = (tab === "city" ? cityName(STATE.city) : tab.charAt(0).toUpperCase() + tab.slice(1)) + " · " + META.name;
  }
  if (DASH) {
    window.addEventListener("hashchange", function () {
      var before = STATE.tab, after = readHash().tab;
      if (after !== before || after === "city") showTab();
    });
    document.querySelectorAll("nav [data-tab]").forEach(function (a) {
      a.addEventListener("click", function (ev) { ev.preventDefault(); location.hash = "tab=" + a.dataset.tab; });
    });
    showTab();
  } else if (PAGE === "city") {
    cityView();
  } else {
    (PAGE === "whatif" ? VIEWS.whatif : VIEWS[PAGE] || function () {})();
  }
  window.__ready = true;
})();
