"""Charts as HTML fragments: a figure dict as plotly's Figure would send it to plotly.js, and the fragment
plotly.io.to_html writes for it, without plotly's figure machinery; plotly.js itself, inlined once per page.

plotly.io.to_html imports plotly's validators (and narwhals with them) even when asked not to validate: more
than the rest of a small report costs. The fragment is simple: a div, and a script calling `Plotly.newPlot`
with the figure's data, layout and config as JSON, numpy arrays in it sent as plotly.js typed arrays
(`{dtype, bdata, shape}`, the bytes in base64). Written here to plotly's format, character for character; the
tests hold it to plotly's own function on every chart the report draws.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from functools import cache
from pathlib import Path

import numpy as np
import plotly

TYPED = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
         "float32": "f4", "float64": "f8"}  # the dtypes plotly.js reads from bytes
UNTYPED_KEYS = ("geojson", "layer", "layers", "range")  # arrays plotly.js wants as lists there
SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("/", "\\u002f"))  # so no string can close the script tag
PLOTLY_DATA = Path(plotly.__file__).parent / "package_data"
CARTESIAN_JS = Path(__file__).parent / "assets" / "plotly-cartesian.min.js"
CARTESIAN_TRACES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
                              "image", "pie", "scatter", "scatterternary", "violin"})
"""The trace types of the cartesian bundle (see assets/PROVENANCE.md): all the report draws."""
CHART_CONFIG = {"displaylogo": False, "responsive": True}


def typed_arrays(obj) -> None:
    """Replace, in place, every numpy array in nested dicts and lists by its typed-array spec (those of a dtype
    plotly.js cannot read from bytes stay arrays, written out as lists)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in UNTYPED_KEYS:
                continue
            if hasattr(value, "__array__") and np.ndim(value) > 0:
                obj[key] = typed_array(np.asarray(value))
            else:
                typed_arrays(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            typed_arrays(value)


def typed_array(v: np.ndarray) -> dict | np.ndarray:
    """`{"dtype": "f8", "bdata": …, "shape": "2, 3"}` (shape only for more than one dimension); 64-bit integers
    as the narrowest integer type that holds them, since plotly.js reads no 64-bit integers."""
    v = np.array(v, order="C")
    if v.size == 0:
        return v
    if v.dtype.kind in "iu" and v.dtype.itemsize == 8:
        narrower = [t for t in (("int8", "int16", "int32") if v.dtype.kind == "i" else ("uint8", "uint16", "uint32"))
                    if np.iinfo(t).min <= v.min() and v.max() <= np.iinfo(t).max]
        if not narrower:
            return v
        v = v.astype(narrower[0])
    if str(v.dtype) not in TYPED:
        return v
    spec = {"dtype": TYPED[str(v.dtype)], "bdata": base64.b64encode(v).decode("ascii")}
    if v.ndim > 1:
        spec["shape"] = str(v.shape)[1:-1]
    return spec


def _plain(value):
    """What JSON cannot write itself: numpy arrays and scalars as Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a chart holds a {type(value).__name__}, which cannot be written as JSON")


def to_json(obj) -> str:
    """Compact JSON with NaN and ±Infinity as null (strict JSON, as plotly writes it) and <, > and / escaped."""
    text = json.dumps(obj, separators=(",", ":"), default=_plain)
    if "NaN" in text or "Infinity" in text:  # may be inside a string: then the round trip changes nothing
        text = json.dumps(json.loads(text, parse_constant=lambda _: None), separators=(",", ":"))
    for unsafe, safe in SAFE:
        text = text.replace(unsafe, safe)
    return text


def _css_size(value) -> str:
    try:
        float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value}px"


def figure_div(fig: dict, config: dict, div_id: str | None = None) -> str:
    """The fragment for a figure dict whose arrays are typed already: what `plotly.io.to_html(fig,
    full_html=False, include_plotlyjs=False, config=config)` writes (a fresh random id unless `div_id`)."""
    div_id = div_id or str(uuid.uuid4())
    layout = fig.get("layout", {})
    template = layout.get("template", {}).get("layout", {})
    width = _css_size(layout.get("width", template.get("width", "100%")))
    height = _css_size(layout.get("height", template.get("height", "100%")))
    config = dict(config)
    config.setdefault("responsive", True)
    if not config.get("showSendToCloud", False):
        config.pop("plotlyServerURL", None)
    script = (f'{" " * 16}if (document.getElementById("{div_id}")) {{{" " * 20}Plotly.newPlot({" " * 24}'
              f'"{div_id}",{" " * 24}{to_json(fig.get("data", []))},{" " * 24}{to_json(layout)},{" " * 24}'
              f'{json.dumps(config)}{" " * 20}){" " * 16}}}')
    return (f'<div style="height:{height}; width:{width};">{" " * 28}<div id="{div_id}" class="plotly-graph-div" '
            f'style="height:100%; width:100%;"></div>{" " * 12}<script>{" " * 16}window.PLOTLYENV=window.PLOTLYENV '
            f'|| {{}};{" " * 16}{script};{" " * 12}</script>{" " * 8}</div>')


@cache
def plotly_js(cartesian: bool = False) -> str:
    """plotly.js for a page to inline once: as the plotly package ships it, or with `cartesian` its cartesian
    bundle (CARTESIAN_TRACES only), a third of the size, which a page of such charts loads in half the time."""
    return (CARTESIAN_JS if cartesian else PLOTLY_DATA / "plotly.min.js").read_text(encoding="utf-8")


@cache
def _template(name: str) -> dict:
    """A plotly template as plotly puts it in a figure's layout (data first, then layout)."""
    template = json.loads((PLOTLY_DATA / "templates" / f"{name}.json").read_text(encoding="utf-8"))
    return {"data": template["data"], "layout": template["layout"]}


def colorscale(colours: list[str]) -> list[list]:
    """Colours as evenly spaced colour-scale stops, what plotly makes of a scale's name."""
    return [[i / (len(colours) - 1), c] for i, c in enumerate(colours)]


def diverging_scale() -> list[list]:
    """Plotly's RdBu scale, as its name becomes in a figure: the report's diverging heatmaps."""
    from plotly.colors import diverging

    return colorscale(diverging.RdBu)


def plotly_figure(fig: dict) -> dict:
    """A figure dict as plotly's Figure would send it to plotly.js: the template written out and arrays as
    base64 typed arrays."""
    layout = dict(fig["layout"])
    out = {"data": copy.deepcopy(fig["data"]),
           "layout": {"template": _template(layout.pop("template", "plotly")), **layout}}
    typed_arrays(out["data"])
    return out


def figure_html(fig) -> str:
    """A chart (a figure dict, or a plotly Figure) as an HTML fragment; the plotly script itself is inlined once
    in the page head. Written as plotly.io.to_html writes it, without importing plotly's figure machinery."""
    return figure_div(plotly_figure(fig) if isinstance(fig, dict) else fig.to_dict(), CHART_CONFIG)
