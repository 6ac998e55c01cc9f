"""The automatic coder: embedding, heads, coding a frame, training and grouped evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smartcities.errors import InputError
from smartcities.inventory import coder as C
from smartcities.inventory import train as T
from smartcities.model.codebook import CODED_COLUMNS, COLUMN_BY_NAME

SHARED_CDP = Path(__file__).parents[2] / "shared" / "data" / "cdp_city_actions_2012_2017" / T.DEFAULT_CDP.name


@pytest.fixture(scope="module")
def embed():
    return C.embedder()


def test_text_joins_name_and_description():
    assert C.text_of("Smart bins", "Sensors report fill levels.") == "Smart bins. Sensors report fill levels."
    assert C.text_of("Why smart?", "Targets.") == "Why smart? Targets."
    assert C.text_of("Only a name", None) == "Only a name"
    assert C.text_of("Only a name", "  ") == "Only a name"


def test_embeddings_are_unit_vectors_and_independent_of_their_neighbours(embed):
    texts = ["Real-time bus arrival information app", "A city park", "Flood warning sensors along the river " * 5,
             "Open data portal publishing municipal datasets", ""]
    X = embed.embed(texts)
    assert X.shape == (5, C.EMBEDDING_DIM) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    one_by_one = np.vstack([embed.embed([t]) for t in texts])
    reversed_order = embed.embed(texts[::-1])[::-1]
    # the encoder's activations are quantised per call: a text's vector must not depend on the other texts
    assert np.array_equal(one_by_one, X) and np.array_equal(reversed_order, X)
    assert embed.embed([]).shape == (0, C.EMBEDDING_DIM)


def test_identical_texts_are_embedded_once_and_get_the_same_vector(embed):
    texts = ["Smart parking sensors", "Flood warning app", "Smart parking sensors", "", "Flood warning app", ""]
    calls = []
    X = embed.embed(texts, progress=calls.append)
    assert X.shape == (6, C.EMBEDDING_DIM)
    assert np.array_equal(X[0], X[2]) and np.array_equal(X[1], X[4]) and np.array_equal(X[3], X[5])
    assert calls[-1] == len(texts)  # progress counts every input text, duplicates included


def test_embedder_settings_and_checksum(tmp_path):
    assert C.MAX_TOKENS == 128 and C.THREADS == 2
    shipped = C.embedder()
    assert shipped.model_sha256 == C.ENCODER_SHA256
    training = T.read_training_inventory()
    assert shipped.tuned_on == {C.text_digest(t) for t in C.texts_of(training)}  # every training row, no other
    copy = tmp_path / "other.onnx"
    copy.write_bytes(C.ENCODER_FILE.read_bytes())
    other = C.Embedder(model=copy)  # another encoder file: used as it is, not taken for the tuned one
    assert other.tuned_on == frozenset()
    assert np.array_equal(other.embed(["Smart bins"]), shipped.embed(["Smart bins"]))
    with pytest.raises(RuntimeError, match="missing"):
        C.Embedder(model=tmp_path / "absent.onnx")


def test_the_encoder_gives_every_x86_cpu_the_same_vectors(embed):
    # Without VNNI, onnxruntime multiplies 8-bit activations by the weights in pairs summed into 16 bits, which
    # saturates for full 8-bit weights. Weights within 7 bits cannot overflow, so the default kernels must equal
    # the 16-bit ones (which never saturate) exactly, on whatever CPU this runs.
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(C.ENCODER_FILE))
    weights = [numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(weights) >= 12 and max(int(np.abs(w.astype(int)).max()) for w in weights) <= 64
    options = ort.SessionOptions()
    options.add_session_config_entry("session.x64quantprecision", "1")  # int8 products promoted to int16
    exact = C.Embedder()
    exact.session = ort.InferenceSession(str(C.ENCODER_FILE), options, providers=["CPUExecutionProvider"])
    texts = C.texts_of(T.read_training_inventory())[:64]
    assert np.array_equal(exact.embed(texts), embed.embed(texts))


def test_embeddings_carry_meaning(embed):
    bus, tram, budget = embed.embed(["Bus arrival times on your phone", "Live tram departure times app",
                                     "Citizens vote on how to spend part of the municipal budget"])
    assert bus @ tram > bus @ budget


def test_packaged_heads_cover_every_coded_column_with_codebook_classes():
    coder = C.load_coder()
    assert set(coder.heads) == set(CODED_COLUMNS)
    for column, head in coder.heads.items():
        allowed = set(COLUMN_BY_NAME[column].values)
        assert set(head.classes) <= allowed, column
        assert head.coef.shape == (1 if len(head.classes) == 2 and head.kind == "single" else len(head.classes),
                                   C.EMBEDDING_DIM + len(coder.lexicon.terms))
    assert coder.heads["technologies"].kind == "multi"
    assert len(coder.lexicon.terms) > 10_000 and "open data" in coder.lexicon.terms  # words and word pairs
    manifest = json.loads((C.CODER_DIR / C.head_files()[0]).read_text())
    assert manifest["embedding"]["tokenizer_sha256"] == C.TOKENIZER_SHA256
    assert manifest["training"]["rows"] == 2370 and manifest["training"]["sha256"] == T._file_sha256(T.INVENTORY_FILE)
    assert manifest["training"]["holdout_cities"] == list(T.holdout_cities())
    # temperature-scaled, as train-coder does by default: lead_actor's over-confident head is softened
    assert "temperature" in manifest["training"] and coder.heads["technologies"].temperature == 1.0
    assert coder.heads["lead_actor"].temperature > 1.0


def test_training_inventory_leaves_out_the_holdout_cities():
    assert T.holdout_cities() == ("Ljubljana", "Tampere", "Glasgow", "Calgary", "Pittsburgh", "Curitiba",
                                  "Kuala Lumpur", "Daejeon", "Nairobi", "Adelaide")
    frame = T.read_training_inventory()
    assert len(frame) == 2370 and frame["city"].nunique() == 114
    assert not set(frame["city"]) & set(T.holdout_cities())
    whole = pd.read_csv(T.INVENTORY_FILE)
    assert T.is_holdout(whole).sum() == 154 == len(whole) - len(frame)


def test_evaluate_holdout_tests_only_on_the_holdout_rows():
    # Clean clusters: a hold-out row is coded right exactly when its domain occurs in the training cities.
    rng = np.random.default_rng(0)
    domains = ["transport", "education", "administration", "health_welfare"]
    frame = pd.DataFrame([{"id": f"{city}-{i}", "city": f"city{city}", "service_domain": domains[city % 4]}
                          for city in range(8) for i in range(5)])
    X = np.vstack([np.eye(4)[domains.index(d)] + 0.05 * rng.normal(size=4) for d in frame["service_domain"]])
    holdout = frame["city"].isin(["city0", "city1"]).to_numpy()
    ev = T.evaluate_holdout(X, frame, holdout, T.TrainingSettings(columns=("service_domain",), fixed_C=10.0))
    assert ev.rows == 10 and ev.confusion.sum() == 10
    assert ev.scores["service_domain"]["accuracy"] == 1.0  # city4 (transport) and city5 (education) train
    no_transport = frame["service_domain"].ne("transport").to_numpy() | holdout
    ev = T.evaluate_holdout(X[no_transport], frame[no_transport].reset_index(drop=True), holdout[no_transport],
                            T.TrainingSettings(columns=("service_domain",), fixed_C=10.0))
    assert ev.scores["service_domain"]["accuracy"] == 0.5  # city0's transport rows now have nothing to learn from


def test_packaged_heads_code_clear_cases(embed):
    frame = pd.DataFrame({
        "name": ["Real-time bus arrival app", "District heating from waste heat", "Online tax filing portal"],
        "description": ["A mobile app shows when the next bus and tram arrive at each stop.",
                        "A heat network reuses waste heat from data centres to warm homes and cut emissions.",
                        "Residents file and pay local taxes online without visiting a city office."],
    })
    coded = C.code_frame(frame, embed=embed)
    assert list(coded["service_domain"]) == ["transport", "environment_energy", "administration"]
    assert coded.loc[1, "energy_environment"] == "direct"
    assert "mobile" in coded.loc[0, "technologies"]
    for column in CODED_COLUMNS:
        conf = coded[f"{column}_confidence"]
        assert conf.between(0, 1).all(), column


def test_code_frame_keeps_what_a_person_coded_unless_overwrite():
    frame = pd.DataFrame({"name": ["a", "b"], "description": ["x", "y"],
                          "service_domain": ["education", None], "inclusive": pd.array([True, None], "boolean")})
    X = np.eye(2, C.EMBEDDING_DIM, dtype=np.float32)
    kept = C.code_frame(frame, vectors=X)
    assert kept.loc[0, "service_domain"] == "education" and math.isnan(kept.loc[0, "service_domain_confidence"])
    assert kept.loc[0, "inclusive"] == True  # noqa: E712
    assert kept.loc[1, "service_domain"] in COLUMN_BY_NAME["service_domain"].values
    assert 0 <= kept.loc[1, "service_domain_confidence"] <= 1
    replaced = C.code_frame(frame, vectors=X, overwrite=True)
    assert not math.isnan(replaced.loc[0, "service_domain_confidence"])
    # coded columns sit in codebook order, each followed by its confidence
    cols = list(kept.columns)
    assert cols.index("item_type") < cols.index("item_type_confidence") < cols.index("service_domain")


def test_recoding_an_earlier_output_keeps_its_values_and_confidences():
    frame = pd.DataFrame({"name": ["a", "b"], "description": ["x", "y"], "item_type": ["project", "strategy"],
                          "item_type_confidence": [0.42, float("nan")]})
    coded = C.code_frame(frame, vectors=np.eye(2, C.EMBEDDING_DIM, dtype=np.float32))
    assert list(coded["item_type"]) == ["project", "strategy"]
    assert coded.loc[0, "item_type_confidence"] == 0.42 and math.isnan(coded.loc[1, "item_type_confidence"])
    assert len([c for c in coded.columns if c == "item_type_confidence"]) == 1


def test_review_lists_low_confidence_values_lowest_first():
    coded = pd.DataFrame({"id": ["a", "b"], "name": ["A", "B"], "_line": [2, 3],
                          "item_type": ["project", "strategy"], "item_type_confidence": [0.9, 0.3],
                          "service_domain": ["other", "transport"], "service_domain_confidence": [0.2, float("nan")]})
    review = C.review_rows(coded, 0.5, columns=("item_type", "service_domain"))
    assert review[["id", "column", "confidence"]].values.tolist() == [["a", "service_domain", 0.2],
                                                                      ["b", "item_type", 0.3]]
    assert list(review["line"]) == [2, 3]


def test_multi_label_decision_never_pairs_none_with_a_technology():
    head = C.Head("technologies", "multi", ("ai", "iot", "none"), np.zeros((3, 2)), np.zeros(3))
    # row 0: "none" (0.6) is dropped next to "ai", so its decision counts as a 0.4 "no"
    values, conf = C.decide(head, np.array([[0.9, 0.2, 0.6], [0.1, 0.2, 0.3], [0.7, 0.8, 0.1]]))
    assert values == [("ai",), ("none",), ("ai", "iot")]
    assert conf[0] == pytest.approx(0.4) and conf[1] == pytest.approx(0.3) and conf[2] == pytest.approx(0.7)


def _toy(n_per=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 8))
    X = np.vstack([c + 0.3 * rng.normal(size=(n_per, 8)) for c in centres])
    y = np.repeat(["administration", "education", "transport"], n_per)
    return X, y


def test_heads_round_trip_through_npz_and_json(tmp_path):
    X, y = _toy()
    tech = [("ai",) if lab == "education" else ("iot", "mobile") if lab == "transport" else ("none",) for lab in y]
    heads = {"service_domain": T.fit_head(X, list(y), "service_domain", C=1.0),
             "technologies": T.fit_head(X, tech, "technologies", C=1.0),
             "inclusive": T.fit_head(X, ["true" if lab == "education" else "false" for lab in y], "inclusive")}
    C.save_coder(C.Coder(heads, {"format": 1}), tmp_path)
    assert not list(tmp_path.glob("*.tmp"))
    loaded = C.load_coder(tmp_path)
    for column, head in heads.items():
        assert np.allclose(loaded.heads[column].proba(X.astype(np.float32)), head.proba(X), atol=1e-3), column
    values, _ = C.decide(loaded.heads["service_domain"], loaded.heads["service_domain"].proba(X))
    assert list(values) == list(y)
    assert loaded.heads["technologies"].classes == ("iot", "ai", "mobile", "none")  # codebook order


def test_grouped_evaluation_never_tests_on_a_training_city():
    # Each city has a service domain of its own: if a city's rows leaked into training, the domain would be
    # learnt and predicted; held out, it can never be predicted, so accuracy is exactly 0.
    rng = np.random.default_rng(1)
    domains = ["administration", "transport", "education", "health_welfare", "culture_tourism"]
    rows = []
    for city, domain in enumerate(domains):
        for _ in range(6):
            rows.append({"id": f"c{city}-{len(rows)}", "city": f"city{city}", "service_domain": domain})
    frame = pd.DataFrame(rows)
    X = np.vstack([np.eye(5)[domains.index(r["service_domain"])] + 0.05 * rng.normal(size=5) for r in rows])
    ev = T.evaluate_inventory(X, frame, T.TrainingSettings(columns=("service_domain",), fixed_C=10.0))
    assert ev.folds == 5
    assert ev.scores["service_domain"]["accuracy"] == 0.0
    assert ev.confusion.trace() == 0 and ev.confusion.sum() == 30
    # the same data with ungrouped folds would be easy: a sanity check that the features do carry the label
    head = T.fit_head(X, frame["service_domain"].tolist(), "service_domain", C=10.0)
    assert (np.array(C.decide(head, head.proba(X))[0]) == frame["service_domain"]).all()


def test_choose_C_picks_from_the_grid():
    X, y = _toy()
    groups = np.tile(np.arange(5), len(y) // 5)
    assert T.choose_C(X, list(y), groups, "service_domain", grid=(0.1, 1.0)) in (0.1, 1.0)


def test_score_multi_label_is_exact_set_accuracy_and_label_macro_f1():
    s = T.score("technologies", [("ai",), ("iot", "mobile"), ("none",)], [("ai",), ("iot",), ("none",)])
    assert s["accuracy"] == pytest.approx(2 / 3)
    # per label F1: ai 1, iot 1, mobile 0, none 1
    assert s["macro_f1"] == pytest.approx(0.75)


def test_score_of_a_flag_gives_the_f1_of_true():
    truth = ["true", "true", "false", "false", "false"]
    predicted = ["true", "false", "true", "false", "false"]
    s = T.score("inclusive", truth, predicted)
    # true: precision 1/2, recall 1/2; false: precision 2/3, recall 2/3
    assert s["true_f1"] == pytest.approx(0.5)
    assert s["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert "true_f1" not in T.score("lead_actor", ["public", "private"], ["public", "public"])


def test_each_column_is_judged_by_the_figure_its_target_is_set_in():
    scores = {"accuracy": 0.1, "macro_f1": 0.2, "micro_f1": 0.3, "true_f1": 0.4}
    assert T.headline("item_type", scores) == 0.1
    assert T.headline("service_domain", scores) == 0.2
    assert T.headline("lead_actor", scores) == 0.2
    assert T.headline("technologies", scores) == 0.3
    assert T.headline("inclusive", scores) == 0.4
    assert [T.HEADLINE_NAMES[T.headline_key(c)] for c in ("item_type", "technologies", "inclusive")] == [
        "accuracy", "micro-F1", "F1 of true"]


def test_cdp_mapping_targets_codebook_domains_only():
    assert set(T.CDP_TO_SERVICE_DOMAIN.values()) <= set(COLUMN_BY_NAME["service_domain"].values)
    assert set(T.CDP_TO_SERVICE_DOMAIN) <= set(T.CDP_SECTORS.values())


def test_read_cdp_normalises_sectors_and_groups_by_account(tmp_path):
    path = tmp_path / "cdp.csv"
    pd.DataFrame({
        "Account number": ["1", "1", "2", "3", "4"],
        "Sector": ["Mass Transit", "Waste ", "Other: Tree Planting", "Outdoor Lighting", "Education"],
        "Action description": ["New tram line", "Compost collection", "Trees", "LED street lights", ""],
    }).to_csv(path, index=False)
    frame = T.read_cdp(path)
    assert frame["sector"].tolist() == ["transport", "waste", "outdoor_lighting"]
    assert frame["service_domain"].tolist()[:2] == ["transport", "environment_energy"]
    assert pd.isna(frame["service_domain"].iloc[2])
    with pytest.raises(InputError, match="missing column 'Sector'"):
        bad = tmp_path / "bad.csv"
        bad.write_text("Account number,Action description\n1,x\n")
        T.read_cdp(bad)


def test_real_cdp_file_reads_when_shared_data_is_present():
    if not SHARED_CDP.exists():
        pytest.skip("shared CDP data not available")
    frame = T.read_cdp(SHARED_CDP)
    assert len(frame) > 9000 and frame["city"].nunique() > 300
    assert set(frame["sector"]) <= set(T.CDP_SECTORS.values())


def test_read_initiatives_checks_none_valued_columns(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("name,description,technologies,energy_environment\n"
                    "A,x,none,none\nB,y,iot;ai,\nC,z,,indirekt\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        C.read_initiatives(path)
    (problem,) = err.value.problems
    assert (problem.line, problem.column) == (4, "energy_environment") and "indirect" in problem.message
    path.write_text("name,description,technologies,energy_environment\nA,x,none,none\nB,y,iot;ai,\n")
    frame = C.read_initiatives(path)
    assert frame["technologies"].tolist() == [("none",), ("iot", "ai")]
    assert frame["energy_environment"].tolist() == ["none", None]


# --- the static embedding ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def static():
    return C.static_embedder()


def test_static_model_ships_in_the_package_within_its_size_budget():
    files = {p.name for p in C.STATIC_DIR.iterdir()}
    assert {"model.safetensors", "tokenizer.json", "config.json", "PROVENANCE.md", "NOTICE"} <= files
    assert sum(p.stat().st_size for p in C.STATIC_DIR.iterdir()) <= 20 * 1024 * 1024


def test_static_embedder_loads_offline_and_gives_unit_vectors(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embed = C.StaticEmbedder()  # a fresh load from the package folder, checksum verified
    assert embed.name == "static" and embed.dim == C.STATIC_DIM
    assert embed.model_sha256 == C.STATIC_SHA256
    texts = ["Real-time bus arrival information app", "A city park", "Flood warning sensors " * 300, "",
             "Open data portal publishing municipal datasets", "Real-time bus arrival information app"]
    X = embed.embed(texts, batch_size=2)
    assert X.shape == (6, C.STATIC_DIM) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X[[0, 1, 2, 4, 5]], axis=1), 1.0, atol=1e-4)
    assert not X[3].any()  # an empty text has no tokens: the zero vector
    assert np.array_equal(X[0], X[5])
    assert np.allclose(embed.embed(texts, batch_size=1024), X, atol=1e-3)  # batching changes nothing
    assert embed.embed([]).shape == (0, C.STATIC_DIM)


def test_static_embeddings_carry_meaning(static):
    bus, tram, budget = static.embed(["Bus arrival times on your phone", "Live tram departure times app",
                                      "Citizens vote on how to spend part of the municipal budget"])
    assert bus @ tram > bus @ budget


def test_packaged_static_heads_match_the_static_embedding():
    coder = C.load_coder(embedding="static")
    assert coder.embedding == "static" and C.load_coder().embedding == "minilm"
    assert set(coder.heads) == set(CODED_COLUMNS)
    for column, head in coder.heads.items():
        assert set(head.classes) <= set(COLUMN_BY_NAME[column].values), column
        assert head.coef.shape[1] == C.STATIC_DIM + len(coder.lexicon.terms), column
    assert coder.manifest["embedding"]["sha256"] == C.STATIC_SHA256
    assert coder.manifest["training"]["rows"] == 2370


def test_static_embedding_codes_a_tiny_frame(static):
    frame = pd.DataFrame({
        "name": ["Real-time bus arrival app", "District heating from waste heat", "Online tax filing portal"],
        "description": ["A mobile app shows when the next bus and tram arrive at each stop.",
                        "A heat network reuses waste heat from data centres to warm homes and cut emissions.",
                        "Residents file and pay local taxes online without visiting a city office."],
        "lead_actor": ["public", None, None],
    })
    coded = C.code_frame(frame, embedding="static")
    assert coded.loc[0, "service_domain"] == "transport"
    assert coded.loc[0, "lead_actor"] == "public" and math.isnan(coded.loc[0, "lead_actor_confidence"])
    for column in CODED_COLUMNS:
        values = coded[column]
        assert values.notna().all(), column
        conf = coded[f"{column}_confidence"].dropna()
        assert conf.between(0, 1).all(), column
    # the same through an explicitly given embedder and heads
    again = C.code_frame(frame, coder=C.packaged_coder("static"), embed=static)
    assert list(again["service_domain"]) == list(coded["service_domain"])


def test_heads_and_embedder_must_agree(static):
    frame = pd.DataFrame({"name": ["a"], "description": ["b"]})
    with pytest.raises(ValueError, match="static"):
        C.code_frame(frame, coder=C.packaged_coder("minilm"), embed=static)
    with pytest.raises(InputError, match="minilm, static"):
        C.embedder_for("glove")
    assert C.head_files("minilm") == ("manifest.json", "heads.npz")
    assert C.head_files("static") == ("manifest_static.json", "heads_static.npz")


def test_static_heads_round_trip_beside_the_minilm_ones(tmp_path):
    X, y = _toy()
    heads = {"service_domain": T.fit_head(X, list(y), "service_domain", C=1.0)}
    C.save_coder(C.Coder(heads, {"format": 1, "embedding": {"name": "static"}}), tmp_path)
    C.save_coder(C.Coder(heads, {"format": 1}), tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"manifest.json", "heads.npz", "manifest_static.json",
                                                     "heads_static.npz"}
    assert C.load_coder(tmp_path, embedding="static").embedding == "static"
    assert C.load_coder(tmp_path).embedding == "minilm"


def test_the_lexicon_weighs_a_texts_words_and_word_pairs_by_that_text_alone(tmp_path):
    texts = ["Smart parking sensors downtown", "Parking app for residents", "Open data portal for residents",
             "Open data on parking"]
    lexicon = C.Lexicon.fit(texts)
    assert {"parking", "residents", "open data", "open", "data"} <= set(lexicon.terms)
    assert "smart" not in lexicon.terms  # in one training text only (min_df 2)
    alone = lexicon.transform(["Open data on parking"]).toarray()
    among = lexicon.transform(["Parking app for residents", "Open data on parking", ""]).toarray()
    assert np.array_equal(alone[0], among[1]) and not among[2].any()
    assert np.linalg.norm(alone[0]) == pytest.approx(1.0, rel=1e-6)
    # sublinear tf times idf: "open data" (in 2 of 4 texts) weighs what "open" does, "parking" (3 of 4) less
    row = dict(zip(lexicon.terms, alone[0]))
    assert row["open data"] == pytest.approx(row["open"]) and row["parking"] < row["open"]
    X = np.eye(4, 3)
    heads = {"service_domain": T.fit_head(C.features(X, lexicon, texts), ["transport", "transport", "administration",
                                                                         "administration"], "service_domain")}
    coder = C.Coder(heads, {"format": 1}, lexicon)
    C.save_coder(coder, tmp_path)
    loaded = C.load_coder(tmp_path)
    assert loaded.lexicon.terms == lexicon.terms and np.allclose(loaded.lexicon.idf, lexicon.idf)
    assert loaded.predict(X, texts)["service_domain"][0] == coder.predict(X, texts)["service_domain"][0]
    with pytest.raises(ValueError, match="3 texts for 4 vectors"):
        C.features(X, lexicon, texts[:3])
