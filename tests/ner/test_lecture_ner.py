"""The formulas docs/lecture.md states about the tagger (sections 9 and 10), each checked on a real model."""

from __future__ import annotations

import numpy as np

from tests.ner._trained import binary_model, multiclass_model
from window_ner.autodiff import no_grad


def test_x_is_the_word_block_then_each_feature_block() -> None:
    tagger = multiclass_model().load()
    model = tagger.model
    data = tagger.encoder.encode([["Angela", "Merkel", "flew", "to", "Paris", "."]])
    words, features = data.inputs(slice(0, 6))
    with no_grad():
        x = model.window_input(words, features).data
    table, caps = model.words.weight.data, model.features["caps"].weight.data
    d, f = table.shape[1], caps.shape[1]
    assert x.shape == (6, 5 * (d + f)) == (6, model.config.input_dim)
    for i in range(6):
        expected = np.concatenate([*(table[words[i, k]] for k in range(5)),
                                   *(caps[features["caps"][i, k]] for k in range(5))])
        np.testing.assert_array_equal(x[i], expected)
        # the centre word's vector sits at slot 2 of the word block, its caps vector at slot 2 of the caps block
        np.testing.assert_array_equal(x[i, 2 * d:3 * d], table[words[i, 2]])
        np.testing.assert_array_equal(x[i, 5 * d + 2 * f:5 * d + 3 * f], caps[features["caps"][i, 2]])
    assert model.layers[0].W.shape == (model.config.hidden[0], 5 * (d + f))


def test_the_binary_score_is_u_dot_h_and_J_is_sigma_s() -> None:
    tagger = binary_model().load()
    model = tagger.model
    data = tagger.encoder.encode([["He", "flew", "to", "Paris", "."]])
    with no_grad():
        h = model.hidden(model.window_input(*data.inputs(slice(0, 5)))).data
        s = model(*data.inputs(slice(0, 5))).data
    np.testing.assert_allclose(s, h @ model.head.u.data, rtol=1e-6)
    log_probs = tagger.log_probs(data)
    np.testing.assert_allclose(np.exp(log_probs[:, 1]), 1 / (1 + np.exp(-s)), rtol=1e-5)
    # tagged as the type exactly where sigma(s) > 0.5, i.e. s > 0
    assert [tag != "O" for tag in tagger.predict([["He", "flew", "to", "Paris", "."]])[0]] == list(s > 0)
