"""What the XTREME-R data has: datasets, splits, languages per split, label sets, and where
the hub copies live (`HUB`)."""
from __future__ import annotations

from typing import NamedTuple

from hpc_itt.errors import UserError, choices


DATASETS = ("mnli", "xnli_mt", "xnli", "siqa", "copa", "xcopa", "udpos", "panx", "squad", "xquad", "mlqa", "tydiqa",
            "tatoeba", "lareqa", "squad_pairs", "mewslix", "wikipedia_pairs")
SPLITS = ("train", "dev", "test")

# The languages of each task in XTREME-R (google-research/xtreme evaluate.py, XTREME_R_TASK2LANGS).
XNLI_LANGS = tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
XCOPA_LANGS = tuple("et ht id it qu sw ta th tr vi zh".split())
UDPOS_LANGS = tuple("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur "
                    "vi yo zh lt pl uk wo ro".split())
PANX_LANGS = tuple("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th "
                   "sw yo my zh kk tr et fi hu qu pl uk az lt pa gu ro".split())
XQUAD_LANGS = tuple("en es de el ru tr ar vi th zh hi ro".split())
MLQA_LANGS = tuple("en es de ar hi vi zh".split())
TYDIQA_LANGS = tuple("en ar bn fi id ko ru sw te".split())
TATOEBA_LANGS = tuple("ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw "
                      "zh kk tr et fi hu az lt pl uk ro".split())
LAREQA_LANGS = tuple("ar de el en es hi ru th tr vi zh".split())
MEWSLIX_LANGS = tuple("ar de en es fa ja pl ro ta tr uk".split())
EN = ("en",)

# Languages whose data lacks some of their dataset's splits: dataset -> language -> the splits it has. The one
# table for per-language split gaps: LANGS below leaves these languages out of the splits they lack, and check()
# names the splits they have. UD v2.5 has no training or development treebank for Tagalog, Thai and Yoruba, and
# no development one for Kazakh (huggingface/datasets xtreme.py UdposParser.split_generators; google/xtreme
# udpos.Tagalog/Thai/Yoruba hold only test, udpos.Kazakh train + test).
LANG_SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "udpos": {"kk": ("train", "test"), "tl": ("test",), "th": ("test",), "yo": ("test",)},
}


def _having(dataset: str, split: str, langs: tuple[str, ...]) -> tuple[str, ...]:
    gaps = LANG_SPLITS.get(dataset, {})
    return tuple(l for l in langs if l not in gaps or split in gaps[l])


LANGS: dict[str, dict[str, tuple[str, ...]]] = {
    "mnli": {"train": EN},
    "xnli_mt": {"train": XNLI_LANGS},
    "xnli": {"dev": XNLI_LANGS, "test": XNLI_LANGS},
    "siqa": {"train": EN, "dev": EN},
    "copa": {"train": EN, "dev": EN},
    "xcopa": {"dev": XCOPA_LANGS, "test": XCOPA_LANGS},
    "udpos": {split: _having("udpos", split, UDPOS_LANGS) for split in SPLITS},
    "panx": {"train": PANX_LANGS, "dev": PANX_LANGS, "test": PANX_LANGS},
    "squad": {"train": EN, "dev": EN},
    "xquad": {"test": XQUAD_LANGS},
    "mlqa": {"dev": MLQA_LANGS, "test": MLQA_LANGS},
    "tydiqa": {"train": TYDIQA_LANGS, "test": TYDIQA_LANGS},
    "tatoeba": {"test": TATOEBA_LANGS},
    "lareqa": {"test": LAREQA_LANGS},
    "squad_pairs": {"train": EN, "dev": EN},
    "mewslix": {"dev": MEWSLIX_LANGS, "test": MEWSLIX_LANGS},
    "wikipedia_pairs": {"train": EN, "dev": EN},
}
_SPLIT_HINTS = {("xnli", "train"): "; train on 'mnli'", ("xcopa", "train"): "; train on 'siqa' then 'copa'",
                ("xquad", "train"): "; train on 'squad'", ("mlqa", "train"): "; train on 'squad'",
                ("lareqa", "train"): "; train on 'squad_pairs'", ("mewslix", "train"): "; train on 'wikipedia_pairs'",
                ("tydiqa", "dev"): "; XTREME evaluates on the TyDiQA-GoldP dev set, which is 'test' here"}

NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
             "SCONJ", "SYM", "VERB", "X")
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

# UD language names of google/xtreme's `udpos.<Name>` configs (UD v2.5, the 33 XTREME languages).
UD_NAMES = {"af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
            "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
            "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
            "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
            "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
            "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese"}
# LASER / mteb Tatoeba codes (utils_preprocess.py tatoeba_preprocess).
TATOEBA_ISO3 = {"af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa",
                "et": "est", "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin",
                "hu": "hun", "id": "ind", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz",
                "ko": "kor", "ml": "mal", "mr": "mar", "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh",
                "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl", "tr": "tur", "ur": "urd", "vi": "vie",
                "zh": "cmn", "az": "aze", "lt": "lit", "pl": "pol", "uk": "ukr", "ro": "ron"}
# TyDiQA ids start with the language name ("arabic-1234-0").
TYDIQA_PREFIX = {"arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id",
                 "korean": "ko", "russian": "ru", "swahili": "sw", "telugu": "te"}


class HubSource(NamedTuple):
    repo: str
    config: str | None  # formatted with lang, name (UD_NAMES), lang3 (TATOEBA_ISO3)
    splits: dict[str, str]  # our split -> the hub split: the splits this copy has for every language it serves
    langs: tuple[str, ...] | None = None  # the languages this source serves (None: all of the dataset's)
    revision: str | None = None  # the hub commit (or ref, e.g. refs/convert/parquet) to load; None: main
    data_dir: str | None = None  # a folder inside the repository, formatted like config (the parquet export's)
    where: tuple[str, str] | None = None  # (column, value template): keep only the rows whose column has that value


_TVT = {"train": "train", "dev": "validation", "test": "test"}
_PANX_HUB_XTREME = tuple(sorted(set(PANX_LANGS) - {"qu", "pl", "uk", "az", "lt", "pa", "gu", "ro"}))
# google/xtreme at the commit that deleted xtreme.py (the parquet conversion, refs/pr/9): datasets >= 4 refuses
# loading scripts, so no revision that still holds the script may be used.
_XTREME = "21f88c0ff5bf413a83c854eb00050e75d245161f"

# The hub copies (a real user's choice). Schemas, revisions and their public sources: tests/hub_contract/*.json.
HUB: dict[str, tuple[HubSource, ...]] = {
    "mnli": (HubSource("nyu-mll/glue", "mnli", {"train": "train"}),),
    # MNLI machine-translated into every XNLI language (XNLI-MT 1.0): a multilingual intermediate task
    "xnli_mt": (HubSource("facebook/xnli", "{lang}", {"train": "train"}),),
    "xnli": (HubSource("facebook/xnli", "{lang}", {"dev": "validation", "test": "test"}),),
    # allenai/social_i_qa is script-only on main; lighteval/siqa is its parquet copy (lm-evaluation-harness uses it)
    "siqa": (HubSource("lighteval/siqa", None, {"train": "train", "dev": "validation"},
                       revision="54c6a1f8cb6daf4f5abf24a601852612fb35eb25"),),
    "copa": (HubSource("aps/super_glue", "copa", {"train": "train", "dev": "validation"}),),
    "xcopa": (HubSource("cambridgeltl/xcopa", "{lang}", {"dev": "validation", "test": "test"}),),
    "udpos": (HubSource("google/xtreme", "udpos.{name}", _TVT, tuple(UD_NAMES), revision=_XTREME),
              # UD v2.7 languages XTREME-R added; third-party copy whose every language but en is test only
              HubSource("izhx/xtreme-r-udpos", "{lang}", {"test": "test"}, ("lt", "pl", "uk", "wo", "ro"),
                        revision="d0863a53a290c35d469310234e97461ea025287a")),
    "panx": (HubSource("google/xtreme", "PAN-X.{lang}", _TVT, _PANX_HUB_XTREME, revision=_XTREME),
             HubSource("unimelb-nlp/wikiann", "{lang}", _TVT)),
    "squad": (HubSource("rajpurkar/squad", None, {"train": "train", "dev": "validation"}),),
    "xquad": (HubSource("google/xquad", "xquad.{lang}", {"test": "validation"}),),
    # facebook/mlqa is script-only on main; google/xtreme holds the same MLQA_V1 files
    "mlqa": (HubSource("google/xtreme", "MLQA.{lang}.{lang}", {"dev": "validation", "test": "test"},
                       revision=_XTREME),),
    # one config for all languages; rows are selected by their id prefix ("arabic-...")
    "tydiqa": (HubSource("google/xtreme", "tydiqa", {"train": "train", "test": "validation"}, revision=_XTREME),),
    # one `default` config of every pair (mteb's pinned revision); rows are selected by their `lang` column
    "tatoeba": (HubSource("mteb/tatoeba-bitext-mining", None, {"test": "test"},
                          revision="69e8f12da6e31d59addadda9a9c8a2e601a0e282", where=("lang", "{lang3}-eng")),),
    # queries from the folder of `lang`, candidates from those of every LAREQA_LANGS; the parquet export, as main
    # may still hold xquad_r.py
    "lareqa": (HubSource("google-research-datasets/xquad_r", None, {"test": "validation"},
                         revision="refs/convert/parquet", data_dir="{lang}"),),
    "squad_pairs": (HubSource("rajpurkar/squad", None, {"train": "train", "dev": "validation"}),),
    # third-party copy of Mewsli-X (flat rows: mention / entity / entity_id / description; see _hub_mentions)
    "mewslix": (HubSource("izhx/mewsli-x", "{lang}", {"dev": "validation", "test": "test"},
                          revision="7e3723faa15c6d84cfd56d66cf6cd347be8ad00e"),),
    "mewslix:candidates": (HubSource("izhx/mewsli-x", "candidate_entities", {"dev": "test", "test": "test"},
                                     revision="7e3723faa15c6d84cfd56d66cf6cd347be8ad00e"),),
    "wikipedia_pairs": (HubSource("izhx/mewsli-x", "wikipedia_pairs", {"train": "train", "dev": "validation"},
                                  revision="7e3723faa15c6d84cfd56d66cf6cd347be8ad00e"),),
}

# Hub ids that hold only a loading script (datasets >= 4 refuses them) -> what to use instead.
SCRIPT_ONLY = {
    "allenai/social_i_qa": "use lighteval/siqa (its parquet copy) or revision='refs/pr/3'",
    "facebook/mlqa": "use google/xtreme config MLQA.<lang>.<lang>",
    "google-research-datasets/xquad_r": "use revision='refs/convert/parquet' with data_dir='<lang>'",
}


def lang_splits(dataset: str, lang: str) -> tuple[str, ...]:
    """The splits `dataset` has in `lang` (LANGS, with the per-language gaps of LANG_SPLITS)."""
    return tuple(split for split, langs in LANGS.get(dataset, {}).items() if lang in langs)


def check(dataset: str, split: str, lang: str) -> None:
    if dataset not in LANGS:
        raise UserError(f"unknown XTREME dataset {dataset!r} (valid: {', '.join(DATASETS)})")
    if split not in LANGS[dataset]:
        hint = _SPLIT_HINTS.get((dataset, split), "")
        raise UserError(f"dataset {dataset!r} has no split {split!r} (valid: {', '.join(LANGS[dataset])}{hint})")
    if lang not in LANGS[dataset][split]:
        has = lang_splits(dataset, lang)
        if has:
            raise UserError(f"dataset {dataset!r} language {lang!r} has no split {split!r} "
                            f"({lang} has: {', '.join(has)})")
        raise UserError(f"dataset {dataset!r} split {split!r} has no language {lang!r} "
                        f"(valid: {choices(LANGS[dataset][split])})")
