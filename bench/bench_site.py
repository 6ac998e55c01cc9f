"""The site at scale: publish a synthetic 10,000-city index, time its ranking page's first paint in Chromium and
the what-if re-rank of every city in the browser, beside the 31-city demo as the baseline.

    .venv/bin/python bench/bench_site.py [--cities 10000] [--repeat 5]
    .venv/bin/python bench/bench_site.py --stages --against OLD/src [--cities 10000] [--repeat 1]

Prints, per index: seconds to build, to make the documents and to write the site; the ranking page's size, its
first contentful paint and the time until its table is drawn (median of `--repeat` loads from file://); and the
what-if script's milliseconds to re-score and re-rank every city (median of 50 weightings), after one slider moves
and from the leaves (as after a change of method), arithmetic and geometric.

With `--stages`: the seconds of each stage of publishing the synthetic index (documents, site, dashboard.html,
report.html) and the dashboard's size, each run in a fresh process, interleaved with another checkout's
(`--against`: a folder holding the smartcities package, run with this interpreter) so both meet the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DOMAINS = 8
PER_DOMAIN = 5
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def synthetic_spec(folder: Path, cities: int, seed: int = 0) -> Path:
    """A COINr-format index of `cities` cities over 8 domains x 5 indicators of lognormal data (3% missing),
    with regions, a peer group and coordinates; the spec path."""
    rng = np.random.default_rng(seed)
    codes = [f"d{d}_{j}" for d in range(DOMAINS) for j in range(PER_DOMAIN)]
    X = rng.lognormal(sigma=0.7, size=(cities, len(codes)))
    X[rng.random(X.shape) < 0.03] = np.nan
    regions = np.array(["Europe", "Asia", "Americas", "Africa", "Oceania"])[rng.integers(0, 5, cities)]
    size = np.array(["S", "M", "L"])[rng.integers(0, 3, cities)]
    lines = ["uName,uCode,Region,Size," + ",".join(codes)]
    for i in range(cities):
        values = ",".join("" if np.isnan(v) else f"{v:.6g}" for v in X[i])
        lines.append(f"City {i:05d},c{i:05d},{regions[i]},{size[i]},{values}")
    (folder / "iData.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = ["Level,iCode,iName,Direction,Weight,Unit,Target,Denominator,Parent,Type"]
    meta += [f"1,{c},Indicator {c},{-1 if c.endswith('_4') else 1},1,score,,,D{c[1]},Indicator" for c in codes]
    meta += [f"2,D{d},Domain {d},1,{1 + d % 3},score,,,Index,Aggregate" for d in range(DOMAINS)]
    meta += ["3,Index,Synthetic index,1,1,score,,,,Aggregate", ",Region,Region,,,,,,,Group", ",Size,Size,,,,,,,Group"]
    (folder / "iMeta.csv").write_text("\n".join(meta) + "\n", encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(f"""name: Synthetic index of {cities:,} cities
data: {{format: coinr, idata: iData.csv, imeta: iMeta.csv}}
pipeline:
  - impute: {{method: mean}}
  - normalise: {{method: minmax, range: [1, 100]}}
  - aggregate: {{method: arithmetic}}
""", encoding="utf-8")
    return spec


def published(spec: Path, out: Path) -> dict[str, float]:
    """Build, make the documents, write the site: seconds of each."""
    from smartcities.build import build
    from smartcities.online.bundle import documents
    from smartcities.online.site import write_site

    t = time.perf_counter()
    result = build(spec)
    times = {"build": time.perf_counter() - t}
    t = time.perf_counter()
    docs = documents(result)
    times["documents"] = time.perf_counter() - t
    t = time.perf_counter()
    write_site(docs, out)
    times["site"] = time.perf_counter() - t
    return times


STAGES = ("documents", "site", "dashboard", "report")


def stage_times(spec: Path, out: Path) -> dict[str, float]:
    """Seconds of each stage of publishing `spec` into `out` (after the build), and dashboard.html's megabytes."""
    from smartcities.build import build
    from smartcities.online.bundle import documents
    from smartcities.online.site import write_dashboard, write_site
    from smartcities.report.html import render_report

    result = build(spec)
    times = {}
    t = time.perf_counter()
    docs = documents(result)
    times["documents"] = time.perf_counter() - t
    t = time.perf_counter()
    write_site(docs, out)
    times["site"] = time.perf_counter() - t
    t = time.perf_counter()
    write_dashboard(docs, out / "dashboard.html")
    times["dashboard"] = time.perf_counter() - t
    t = time.perf_counter()
    (out / "report.html").write_text(render_report(result), encoding="utf-8")
    times["report"] = time.perf_counter() - t
    times["dashboard MB"] = (out / "dashboard.html").stat().st_size / 1e6
    return times


def stages_side_by_side(cities: int, against: Path, repeat: int) -> None:
    """This checkout's stage times beside `against`'s, each a fresh process, the median of `repeat` runs."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = synthetic_spec(Path(tmp), cities)
        runs: dict[str, list[dict]] = {"here": [], str(against): []}
        for k in range(repeat):
            for name, env in (("here", os.environ), (str(against), {**os.environ, "PYTHONPATH": str(against)})):
                out = Path(tmp) / f"out-{len(runs[name])}-{k}-{abs(hash(name))}"
                done = subprocess.run([sys.executable, __file__, "--stage-child", str(spec), str(out)], env=env,
                                      check=True, capture_output=True, text=True)
                runs[name].append(json.loads(done.stdout.splitlines()[-1]))
        there, here = ({k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
                       for name in (str(against), "here"))
    print(f"publishing {cities:,} cities (median of {repeat}): {against} | this checkout | ratio")
    for k in (*STAGES, "dashboard MB"):
        unit = "" if k.endswith("MB") else " s"
        print(f"  {k:<14} {there[k]:8.1f}{unit} | {here[k]:8.1f}{unit} | {there[k] / here[k]:5.1f}x")
    total_there, total_here = (sum(t[k] for k in STAGES) for t in (there, here))
    print(f"  {'total':<14} {total_there:8.1f} s | {total_here:8.1f} s | {total_there / total_here:5.1f}x")


PAINT = """() => {
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {fcp: fcp ? fcp.startTime : null, ready: window.__readyAt};
}"""
WHATIF = """(n) => {
  const model = JSON.parse(document.getElementById('data-model').textContent);
  const domains = model.nodes.filter((_, i) => model.parent[i] === model.nodes.length - 1);
  const median = (t) => t.sort((a, b) => a - b)[t.length >> 1];
  const out = {};
  WhatIf.scores(model, {}, 'geometric');
  for (const agg of ['arithmetic', 'geometric']) {
    const full = [], slider = [];
    for (let k = 0; k < n; k++) {
      const w = {};
      domains.forEach((d, j) => { w[d] = 0.1 + ((k * 7 + j * 13) % 10) / 3; });
      model._prepared.last = null;  // from the leaves, as after a change of method
      let t = performance.now();
      let s = WhatIf.scores(model, w, agg);
      WhatIf.ranks(WhatIf.column(model, s, model.nodes.length - 1));
      full.push(performance.now() - t);
      w[domains[k % domains.length]] += 0.5;  // one slider moved
      t = performance.now();
      s = WhatIf.scores(model, w, agg);
      WhatIf.ranks(WhatIf.column(model, s, model.nodes.length - 1));
      slider.push(performance.now() - t);
    }
    out[agg + '_full'] = median(full);
    out[agg + '_slider'] = median(slider);
  }
  return out;
}"""


def in_browser(site: Path, repeat: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        paints, readies = [], []
        for _ in range(repeat):
            page = browser.new_page()
            page.add_init_script("window.__readyAt = null; new MutationObserver(() => { if (window.__ready && "
                                 "!window.__readyAt) window.__readyAt = performance.now(); }).observe(document, "
                                 "{subtree: true, childList: true});")
            page.goto((site / "index.html").as_uri())
            page.wait_for_function("window.__ready === true")
            page.wait_for_timeout(100)
            got = page.evaluate(PAINT)
            paints.append(got["fcp"])
            readies.append(got["ready"] or page.evaluate("performance.now()"))
            page.close()
        page = browser.new_page()
        page.goto((site / "whatif.html").as_uri())
        page.wait_for_function("window.__ready === true")
        rerank = page.evaluate(WHATIF, 50)
        browser.close()
    return {"paint_ms": statistics.median(paints), "table_ms": statistics.median(readies), **rerank}


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode as Python does by default: timed as users run it
    ap = argparse.ArgumentParser()
    ap.add_argument("--cities", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stages", action="store_true", help="time the publishing stages against --against")
    ap.add_argument("--against", type=Path, help="with --stages: another checkout's folder holding smartcities")
    ap.add_argument("--stage-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage_child:
        print(json.dumps(stage_times(*args.stage_child)))
        return
    if args.stages:
        if args.against is None:
            ap.error("--stages needs --against OLD/src")
        stages_side_by_side(args.cities, args.against, args.repeat)
        return
    from smartcities.cli.build import DEMO_SPEC

    print(f"{'index':<34} {'build':>7} {'docs':>7} {'site':>7} {'page MB':>8} {'paint ms':>9} {'table ms':>9} "
          f"{'re-rank ms: slider arith':>25} {'geo':>6} {'from leaves arith':>18} {'geo':>6}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("demo (31 cities)", DEMO_SPEC)]
        folder = Path(tmp) / "synthetic"
        folder.mkdir()
        cases.append((f"synthetic ({args.cities:,} cities)", synthetic_spec(folder, args.cities)))
        for name, spec in cases:
            out = Path(tmp) / f"out-{len(rows)}"
            times = published(spec, out)
            site = out / "site"
            measured = in_browser(site, args.repeat)
            size = (site / "index.html").stat().st_size / 1e6
            rows[name] = measured
            print(f"{name:<34} {times['build']:6.1f}s {times['documents']:6.1f}s {times['site']:6.1f}s {size:8.2f} "
                  f"{measured['paint_ms']:9.0f} {measured['table_ms']:9.0f} {measured['arithmetic_slider']:25.2f} "
                  f"{measured['geometric_slider']:6.2f} {measured['arithmetic_full']:18.2f} "
                  f"{measured['geometric_full']:6.2f}", flush=True)
    base, big = rows["demo (31 cities)"], rows[f"synthetic ({args.cities:,} cities)"]
    print(f"ratio synthetic / demo: first paint {big['paint_ms'] / base['paint_ms']:.1f}x, table drawn "
          f"{big['table_ms'] / base['table_ms']:.1f}x, slider re-rank "
          f"{big['arithmetic_slider'] / max(base['arithmetic_slider'], 0.1):.0f}x (the demo's is below the browser's "
          "0.1 ms timer under file://)")
    print(f"targets: ranking page paints in < 1000 ms ({big['table_ms']:.0f} ms to the drawn table); "
          f"re-rank <= 10 ms ({big['arithmetic_slider']:.2f} ms for a slider, arithmetic)")
    sys.exit(0)


if __name__ == "__main__":
    main()
