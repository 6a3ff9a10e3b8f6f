from typing import Any

import numpy as np
import pytest

from sage_llm.errors import InvalidParameterError


def test_vectors_have_384_dims_and_unit_length(embedder: Any) -> None:
    vectors = embedder.embed(["a short text", "another, somewhat longer, text about databases"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: Any) -> None:
    cat, kitten, market = embedder.embed(
        [
            "The cat sits on the mat.",
            "A kitten is resting on a rug.",
            "Stock prices fell sharply today.",
        ]
    )
    assert float(cat @ kitten) > float(cat @ market) + 0.2


def test_batch_order_is_kept_and_matches_single_calls(embedder: Any) -> None:
    texts = ["x" * (i * 7 + 1) + " words" for i in range(10)]
    batch = embedder.embed(texts)
    for i in (0, 4, 9):
        np.testing.assert_allclose(batch[i], embedder.embed([texts[i]])[0], atol=1e-5)


def test_matches_sentence_transformers(embedder: Any) -> None:
    st = pytest.importorskip("sentence_transformers")
    from sage_llm.model_files import default_embedding_model_path

    texts = ["hello world", "a much longer sentence about streaming dataflows and vector search"]
    reference = st.SentenceTransformer(str(default_embedding_model_path()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    np.testing.assert_allclose(embedder.embed(texts), reference, atol=1e-4)


def test_empty_or_non_text_input_names_the_field(embedder: Any) -> None:
    with pytest.raises(InvalidParameterError) as err:
        embedder.embed([])
    assert err.value.field == "texts"
    with pytest.raises(InvalidParameterError) as err:
        embedder.embed(["ok", 3])
    assert err.value.field == "texts[1]"
