"""The what-if page of an index aggregated with a method the script cannot recompute (mean-min here): it never
shows its own arithmetic as the published index, and what it recomputes equals Python's."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import ASEM_IDATA, ASEM_IMETA, ASEM_STANDARD, need_shared

from smartcities.online import whatif


def asem_dashboard(folder, pipeline):
    """The dashboard of the ASEM example with its pipeline changed by `pipeline` (a function of the list of
    steps), without its uncertainty analysis: the folder, the documents and the build."""
    from smartcities.build import build
    from smartcities.online.bundle import documents
    from smartcities.online.site import write_dashboard

    need_shared(ASEM_STANDARD, ASEM_IDATA, ASEM_IMETA)
    raw = yaml.safe_load(ASEM_STANDARD.read_text(encoding="utf-8"))
    for key in ("idata", "imeta"):
        raw["data"][key] = str((ASEM_STANDARD.parent / raw["data"][key]).resolve())
    raw.pop("uncertainty", None)
    raw["pipeline"] = pipeline(raw["pipeline"])
    (folder / "spec.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    result = build(folder / "spec.yaml", uncertainty=False)
    docs = documents(result)
    write_dashboard(docs, folder / "dashboard.html")
    return folder, docs, result


@pytest.fixture(scope="module")
def mean_min_site(tmp_path_factory):
    return asem_dashboard(tmp_path_factory.mktemp("mean-min"), lambda steps: [
        {"aggregate": {"method": "mean-min", "alpha": 0.9, "beta": 0.0}} if "aggregate" in e else e for e in steps])


def test_as_published_is_off_and_said_for_a_method_the_script_cannot_recompute(watched, mean_min_site):
    out, docs, _ = mean_min_site
    page = watched.open((out / "dashboard.html").as_uri() + "#tab=whatif")
    assert page.locator('input[name="agg"][value=""]').is_disabled()
    assert page.locator('input[name="agg"][value="arithmetic"]').is_checked()
    assert "cannot recompute" in page.locator("#w-method").inner_text()
    model = docs["model"]
    shown = np.array([np.nan if v is None else v for v in page.evaluate("window.__whatif.scores")], dtype=float)
    expected = whatif.recompute(model, {}, "arithmetic").scores[:, -1]
    np.testing.assert_allclose(shown, expected, rtol=0, atol=1e-9)
    built = whatif.recompute(model).scores[:, -1]
    assert not np.allclose(shown[~np.isnan(built)], built[~np.isnan(built)])
    assert not watched.errors


@pytest.fixture(scope="module")
def pca_site(tmp_path_factory):
    """ASEM weighted by PCA at the indicators and the pillars: Sustainability's Social pillar gets a negative
    weight, as in COINr."""
    def weighed(steps):
        at = next(i for i, e in enumerate(steps) if "aggregate" in e)
        return steps[:at] + [{"weight": {"method": "pca", "levels": [1, 2]}}] + steps[at:]

    return asem_dashboard(tmp_path_factory.mktemp("pca"), weighed)


def test_a_negative_weight_keeps_its_value_on_its_slider(watched, pca_site):
    """The page recomputes the published scores with the negative weight counted (it once skipped every weight
    not above 0, and showed other scores than the build's)."""
    out, docs, result = pca_site
    model = docs["model"]
    social = model["weights"][model["nodes"].index("Social")]
    assert social < 0
    page = watched.open((out / "dashboard.html").as_uri() + "#tab=whatif")
    slider = page.locator('input[type="range"][data-node="Social"]')
    assert float(slider.get_attribute("min")) <= social
    step = float(slider.get_attribute("step"))
    assert abs(float(slider.input_value()) - social) <= step  # shown to the slider's step, not clamped to 0
    shown = np.array([np.nan if v is None else v for v in page.evaluate("window.__whatif.scores")], dtype=float)
    built = whatif.recompute(model).scores[:, -1]
    np.testing.assert_allclose(built, result.stages.scores[0, :, -1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(shown, built, rtol=0, atol=1e-9)
    assert not watched.errors
