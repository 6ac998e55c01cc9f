"""The blend measurement (scripts/blend_embeddings.py): both embeddings' heads fitted inside the same fold."""

from __future__ import annotations

import numpy as np
from conftest import script_module

from smartcities.inventory import coder as C
from smartcities.inventory import train as T
from smartcities.model.codebook import CODED_COLUMNS


def test_fold_probabilities_fit_each_embeddings_heads_on_the_training_rows_only():
    script = script_module("blend_embeddings")
    frame = T.read_training_inventory()
    frame = frame[frame["city"].isin(sorted(set(frame["city"]))[:15])].reset_index(drop=True)
    texts = C.texts_of(frame)
    X = C.static_embedder().embed(texts)
    test = np.flatnonzero(frame["city"].isin(sorted(set(frame["city"]))[:3]))
    train = np.setdiff1d(np.arange(len(frame)), test)
    C_of = {column: 10.0 for column in CODED_COLUMNS}
    got = script.fold_probabilities({"a": X, "b": X.copy()}, frame, texts,
                                    train, test, {"a": C_of, "b": C_of})
    for column in CODED_COLUMNS:
        (head, p_a), (_, p_b) = got["a"][column], got["b"][column]
        assert p_a.shape == (len(test), len(head.classes))
        np.testing.assert_allclose(p_a, p_b)  # the same vectors and C give the same heads
    # a head fitted on the training rows alone: it matches fit_coder on those rows, not on every row
    alone = T.fit_coder(X[train], frame.iloc[train], frame["city"].iloc[train].tolist(),
                        T.TrainingSettings(columns=("service_domain",), fixed_C=10.0), texts=[texts[i] for i in train])
    head = alone.heads["service_domain"]
    F = C.features(X[test], alone.lexicon, [texts[i] for i in test])
    np.testing.assert_allclose(got["a"]["service_domain"][1], head.proba(F), rtol=1e-6)
    whole = T.fit_coder(X, frame, frame["city"].tolist(), T.TrainingSettings(columns=("service_domain",),
                                                                             fixed_C=10.0), texts=texts)
    F_whole = C.features(X[test], whole.lexicon, [texts[i] for i in test])
    assert not np.allclose(whole.heads["service_domain"].proba(F_whole), head.proba(F))
