"""Readers for the XTREME-R data: the local files that google-research/xtreme's
`scripts/download_data.sh` leaves in its `download/` folder, and the Hugging Face hub copies.
Both produce the example records described in `hpc_itt.xtreme` (pair, choice, tagging, qa, bitext,
query/candidate, retrieval_pair).

    load(dataset, split, lang, data_dir=None) -> list[dict] | {"queries": [...], "candidates": [...]}

`split` is "train", "dev" or "test"; `lang` an ISO 639-1 code. `LANGS[dataset][split]` lists what
exists. With `data_dir`, the files below are read (paths relative to `data_dir`, the `download/`
folder); with `data_dir=None`, the hub table `HUB` is used through `datasets.load_dataset`.

Local layout (what download_data.sh + utils_preprocess.py write; paths under data_dir):

| dataset         | split      | file(s)                                                              |
|-----------------|------------|----------------------------------------------------------------------|
| mnli            | train      | xnli/train-en.tsv                               (a)                  |
| xnli            | dev, test  | xnli/{split}-{lang}.tsv                         (a)                  |
| siqa            | train, dev | siqa/socialIQa_v1.4_trn.jsonl, siqa/socialIQa_v1.4_dev.jsonl  (b)    |
| copa            | train, dev | xcopa/train-en.jsonl, xcopa/val-en.jsonl        (c)                  |
| xcopa           | dev, test  | xcopa/val-{lang}.jsonl, xcopa/test-{lang}.jsonl (c)                  |
| udpos, panx     | all        | {dataset}/{split}-{lang}.tsv                    (d)                  |
| squad           | train, dev | squad/train-v1.1.json, squad/dev-v1.1.json      (e)                  |
| xquad           | test       | xquad/xquad.{lang}.json                         (e)                  |
| mlqa            | dev, test  | mlqa/MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json (e) |
| tydiqa          | train      | tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json (e, f) |
| tydiqa          | test       | tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json     (e, g) |
| tatoeba         | test       | tatoeba/{lang}-en.{lang} + tatoeba/{lang}-en.en (h)                  |
| lareqa          | test       | lareqa/xquad-r/{l}.json, every l present        (i)                  |
| squad_pairs     | train, dev | squad/{split}-v1.1.json                         (e, j)               |
| mewslix         | dev, test  | mewslix/wikinews_mentions/{split}-{lang}.jsonl, (k)                  |
|                 |            | mewslix/wikinews_labels/{split}-{lang}.json (optional gold),         |
|                 |            | mewslix/candidate_set_entities.jsonl                                 |
| wikipedia_pairs | train, dev | mewslix/wikipedia_pairs-{split}.jsonl           (l)                  |

(a) written by csv.writer(delimiter="\t"): CRLF line ends, quoted fields with doubled quotes;
    sentence1, sentence2, label name (XNLI-MT-1.0 multinli.train.en.tsv / XNLI-1.0 rewritten);
    test rows have no label column.
(b) jsonl: context, question, answerA, answerB, answerC, correct (A/B/C).
(c) jsonl: premise, choice1, choice2, question (cause/effect), label, idx (+ changed in XCOPA);
    COPA is SuperGLUE's; every test label is set to 0 by the download.
(d) token<TAB>tag lines, a blank line between sentences; UPOS tags / IOB2 PER-ORG-LOC tags;
    test files hold the token only; raw AmazonPhotos "lang:token" prefixes are tolerated.
(e) SQuAD v1.1 json; the download replaces XQuAD, MLQA test and TyDiQA dev answers by
    [{"answer_start": 0, "text": ""}].
(f) also accepted: tydiqa.{lang}.train.json, the name scripts/train_qa.sh reads.
(g) XTREME's TyDiQA-GoldP test set is the official dev set.
(h) one sentence a line, row i of both files a pair; preferred when both exist: LASER's aligned
    tatoeba/tatoeba.{iso3}-eng.{iso3} + tatoeba/tatoeba.{iso3}-eng.eng.
(i) XQuAD-R: SQuAD json plus sentence_breaks [[start, end], ...] per paragraph.
(j) sentences are split here (sentence_spans), as the XTREME code splits SQuAD with sb_sed.
(k) jsonl ContextualMentions {context, mentions}; labels {example_id: [entity_id]}; jsonl Entity.
(l) jsonl MentionEntityPair {contextual_mention: {context, mention}, entity}.

Conventions (where the real data leaves a choice):
  * Unlabelled rows (XNLI test without label column, SuperGLUE/XCOPA test placeholders, a file of
    >= 10 test rows whose labels are all 0 - utils_preprocess's XCOPA placeholder) get label -1,
    the `datasets` convention. Unlabelled tagging sentences (token-only lines) get tags == [].
    QA answers stripped by the download ([{"answer_start": 0, "text": ""}]) become empty lists.
    Mewsli-X mentions with an empty entity_id get gold == [].
  * Labels: XNLI/MNLI 0 entailment, 1 neutral, 2 contradiction (names "contradictory" and the
    digits 0-2 are accepted); COPA/XCOPA label as in the file (0 = choice1); SIQA letters A-C or the
    1-based digits 1-3 of the hub and the original label files -> 0-2.
  * XTREME's download sorts tatoeba/{lang}-en.en, which destroys the pairing: a sorted target file of
    >= 10 lines is refused (UserError) unless the aligned LASER files are present.
  * LAReQA follows third_party/utils_lareqa.py: every sentence of every paragraph (all languages
    present) is a candidate, id "{lang}_{paragraph number}_{sentence number}"; a query's id is
    "{question id}_{lang}" and its gold is every candidate, in any language, equal to the sentence
    that holds the answer of that question id. Questions whose answer start lies in no sentence are
    skipped (as upstream). The hub copy has no sentence_breaks: sentences are split by
    `sentence_spans`, so hub candidates approximate the official pool.
  * Mewsli-X query context = the sentence holding the mention (the whole text when it has no
    sentence spans or the mention crosses them); candidates are the shared entity pool
    (text = title, context = description), identical for every language.
  * Record ids: the file's own ids where it has them (QA ids, COPA idx, Mewsli-X example ids,
    entity ids); otherwise "{dataset}-{split}-{lang}-{row index}".
  * Splits: mnli is train only (XNLI's dev/test are "xnli"); siqa and copa have no test (no public
    labels); tydiqa has no dev ("test" is the GoldP dev set); udpos, panx and tydiqa accept train in
    every task language (the download keeps those files), the other training sets are English.

Hub notes: `google/xtreme` `tydiqa` holds every language in one config, rows are kept by their id
prefix; UD-POS lt/pl/uk/wo/ro (UD v2.7) are not in `google/xtreme` and come from the third-party
`izhx/xtreme-r-udpos`; PAN-X qu/pl/uk/az/lt/pa/gu/ro come from `unimelb-nlp/wikiann` (same splits);
`izhx/mewsli-x` documents no schema: nested XTREME rows and flat rows (mention, entity_id,
example_id / entity_id, title, description) are both read; the mteb Tatoeba configs are
"{iso3}-eng" with sentence1 in the language and sentence2 in English.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

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

LANGS: dict[str, dict[str, tuple[str, ...]]] = {
    "mnli": {"train": EN},
    "xnli_mt": {"train": XNLI_LANGS},
    "xnli": {"dev": XNLI_LANGS, "test": XNLI_LANGS},
    "siqa": {"train": EN, "dev": EN},
    "copa": {"train": EN, "dev": EN},
    "xcopa": {"dev": XCOPA_LANGS, "test": XCOPA_LANGS},
    "udpos": {"train": UDPOS_LANGS, "dev": UDPOS_LANGS, "test": UDPOS_LANGS},
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
    splits: dict[str, str]  # our split -> the hub split
    langs: tuple[str, ...] | None = None  # the languages this source serves (None: all of the dataset's)


_TVT = {"train": "train", "dev": "validation", "test": "test"}
_PANX_HUB_XTREME = tuple(sorted(set(PANX_LANGS) - {"qu", "pl", "uk", "az", "lt", "pa", "gu", "ro"}))

# The hub copies (a real user's choice; schemas from the dataset cards / loading scripts).
HUB: dict[str, tuple[HubSource, ...]] = {
    "mnli": (HubSource("nyu-mll/glue", "mnli", {"train": "train"}),),
    # MNLI machine-translated into every XNLI language (XNLI-MT 1.0): a multilingual intermediate task
    "xnli_mt": (HubSource("facebook/xnli", "{lang}", {"train": "train"}),),
    "xnli": (HubSource("facebook/xnli", "{lang}", {"dev": "validation", "test": "test"}),),
    "siqa": (HubSource("allenai/social_i_qa", None, {"train": "train", "dev": "validation"}),),
    "copa": (HubSource("aps/super_glue", "copa", {"train": "train", "dev": "validation"}),),
    "xcopa": (HubSource("cambridgeltl/xcopa", "{lang}", {"dev": "validation", "test": "test"}),),
    "udpos": (HubSource("google/xtreme", "udpos.{name}", _TVT, tuple(UD_NAMES)),
              # UD v2.7 languages XTREME-R added; third-party copy, schema assumed tokens/pos_tags
              HubSource("izhx/xtreme-r-udpos", "{lang}", _TVT, ("lt", "pl", "uk", "wo", "ro"))),
    "panx": (HubSource("google/xtreme", "PAN-X.{lang}", _TVT, _PANX_HUB_XTREME),
             HubSource("unimelb-nlp/wikiann", "{lang}", _TVT)),
    "squad": (HubSource("rajpurkar/squad", None, {"train": "train", "dev": "validation"}),),
    "xquad": (HubSource("google/xquad", "xquad.{lang}", {"test": "validation"}),),
    "mlqa": (HubSource("facebook/mlqa", "mlqa.{lang}.{lang}", {"dev": "validation", "test": "test"}),),
    # one config for all languages; rows are selected by their id prefix ("arabic-...")
    "tydiqa": (HubSource("google/xtreme", "tydiqa", {"train": "train", "test": "validation"}),),
    "tatoeba": (HubSource("mteb/tatoeba-bitext-mining", "{lang3}-eng", {"test": "test"}),),
    # queries from the config of `lang`, candidates from the configs of every LAREQA_LANGS
    "lareqa": (HubSource("google-research-datasets/xquad_r", "{lang}", {"test": "validation"}),),
    "squad_pairs": (HubSource("rajpurkar/squad", None, {"train": "train", "dev": "validation"}),),
    # third-party copy of Mewsli-X (schema not documented on the card: see _hub_mentions)
    "mewslix": (HubSource("izhx/mewsli-x", "{lang}", {"dev": "validation", "test": "test"}),),
    "mewslix:candidates": (HubSource("izhx/mewsli-x", "candidate_entities", {"dev": "test", "test": "test"}),),
    "wikipedia_pairs": (HubSource("izhx/mewsli-x", "wikipedia_pairs", {"train": "train", "dev": "validation"}),),
}

# --------------------------------------------------------------------------------------------- API


def load(dataset: str, split: str, lang: str, data_dir: str | os.PathLike | None = None
         ) -> list[dict] | dict[str, list[dict]]:
    """The records of one dataset/split/language, from the XTREME download folder or the hub."""
    check(dataset, split, lang)
    if data_dir is None:
        return _load_from_hub(dataset, split, lang)
    root = Path(data_dir)
    if not root.is_dir():
        raise UserError(f"XTREME data directory not found: {root} (pass the download/ folder that "
                        f"google-research/xtreme scripts/download_data.sh fills, or data_dir=None for the hub)")
    return _LOCAL[dataset](root, dataset, split, lang)


def check(dataset: str, split: str, lang: str) -> None:
    if dataset not in LANGS:
        raise UserError(f"unknown XTREME dataset {dataset!r} (valid: {', '.join(DATASETS)})")
    if split not in LANGS[dataset]:
        hint = _SPLIT_HINTS.get((dataset, split), "")
        raise UserError(f"dataset {dataset!r} has no split {split!r} (valid: {', '.join(LANGS[dataset])}{hint})")
    if lang not in LANGS[dataset][split]:
        raise UserError(f"dataset {dataset!r} split {split!r} has no language {lang!r} "
                        f"(valid: {choices(LANGS[dataset][split])})")


# ------------------------------------------------------------------------------------- file helpers


def _need(path: Path) -> Path:
    """`path` if it is a file; otherwise a one-line UserError saying what is there instead."""
    if path.is_file():
        return path
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    if folder != path.parent:
        raise UserError(f"XTREME file not found: {path} (directory {path.parent} does not exist; "
                        f"run scripts/download_data.sh into data_dir)")
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    shown = ", ".join(present[:12]) + (f", ... ({len(present)} files)" if len(present) > 12 else "")
    raise UserError(f"XTREME file not found: {path} (present in {folder}: {shown or 'nothing'})")


def _text(path: Path) -> str:
    data = _need(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text ({err.reason})") from None
    return text[1:] if text.startswith("\ufeff") else text


def _lines(path: Path) -> list[str]:
    """Physical lines without their terminator (LF, CRLF or CR-LF mixes); only LF splits lines, so a
    U+2028 inside a token stays a character."""
    return [line[:-1] if line.endswith("\r") else line for line in _text(path).split("\n")]


def _jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{number}: not a JSON line ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None


def _field(obj: dict, key: str, where: str, kind: type | tuple = str) -> Any:
    if key not in obj:
        raise UserError(f"{where}: missing field {key!r} (fields: {', '.join(map(str, obj)) or 'none'})")
    value = obj[key]
    if not isinstance(value, kind):
        raise UserError(f"{where}: field {key!r} should be {getattr(kind, '__name__', 'text')}, "
                        f"got {type(value).__name__}")
    return value


def _rid(dataset: str, split: str, lang: str, index: Any) -> str:
    return f"{dataset}-{split}-{lang}-{index}"


# ------------------------------------------------------------------------------------ label parsing


def nli_label(value: Any, where: str, unlabelled_ok: bool = False) -> int:
    """0 entailment, 1 neutral, 2 contradiction; -1 when unlabelled (None, "", -1)."""
    if value is None or value == "" or value == -1 or value == "-1":
        if unlabelled_ok:
            return -1
        raise UserError(f"{where}: missing label (valid: {', '.join(NLI_LABELS)})")
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int) and 0 <= value <= 2:
        return value
    text = str(value).strip().lower()
    if text in ("0", "1", "2"):
        return int(text)
    if text == "contradictory":
        return 2
    if text in NLI_LABELS:
        return NLI_LABELS.index(text)
    raise UserError(f"{where}: unknown NLI label {value!r} (valid: {', '.join(NLI_LABELS)}, 0, 1, 2)")


def binary_label(value: Any, where: str, unlabelled_ok: bool = False) -> int:
    """COPA/XCOPA: 0 (choice1) or 1 (choice2); -1 when unlabelled."""
    if value is None or value == "" or value == -1 or value == "-1":
        if unlabelled_ok:
            return -1
        raise UserError(f"{where}: missing label (valid: 0, 1)")
    if not isinstance(value, bool) and str(value).strip() in ("0", "1"):
        return int(str(value).strip())
    raise UserError(f"{where}: unknown label {value!r} (valid: 0, 1)")


def siqa_label(value: Any, where: str, unlabelled_ok: bool = False) -> int:
    """SIQA: letters A-C or the 1-based digits 1-3 (hub, original label files) -> 0-2."""
    if value is None or value == "" or value == -1 or value == "-1":
        if unlabelled_ok:
            return -1
        raise UserError(f"{where}: missing label (valid: A, B, C, 1, 2, 3)")
    text = str(value).strip().upper()
    if text in ("A", "B", "C"):
        return "ABC".index(text)
    if not isinstance(value, bool) and text in ("1", "2", "3"):
        return int(text) - 1
    raise UserError(f"{where}: unknown SIQA label {value!r} (valid: A, B, C, 1, 2, 3)")


def _question(value: Any, where: str) -> str:
    text = str(value).strip().lower()
    if text not in ("cause", "effect"):
        raise UserError(f"{where}: unknown COPA question {value!r} (valid: cause, effect)")
    return text


# ------------------------------------------------------------------------------------ local readers


def _nli_rows(path: Path, dataset: str, split: str, lang: str) -> list[dict]:
    # utils_preprocess writes these with csv.writer(delimiter="\t"): CRLF ends, fields with quotes
    # or tabs are quoted and their quotes doubled; csv.reader undoes exactly that.
    text = _text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    records = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{path}:{line}"
            if len(row) not in (2, 3):
                raise UserError(f"{where}: expected 2 or 3 tab-separated fields (sentence1, sentence2, label), "
                                f"got {len(row)}")
            label = nli_label(row[2] if len(row) == 3 else None, where, unlabelled_ok=split == "test")
            records.append({"id": _rid(dataset, split, lang, len(records)), "text_a": row[0], "text_b": row[1],
                            "label": label})
    except csv.Error as err:
        raise UserError(f"{path}:{reader.line_num}: unreadable TSV row ({err})") from None
    return records


def _read_xnli_mt(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    """XNLI-MT 1.0's `multinli/multinli.train.<lang>.tsv` (header `premise hypo label`), kept next
    to the XTREME download (download_data.sh deletes it after extracting English MNLI)."""
    path = root / "XNLI-MT-1.0" / "multinli" / f"multinli.train.{lang}.tsv"
    if lang == "en" and not path.is_file():
        return _nli_rows(root / "xnli" / "train-en.tsv", dataset, split, lang)
    records = []
    for number, line in enumerate(_lines(_need(path)), start=1):
        fields = line.rstrip("\r\n").split("\t")
        if number == 1 and fields[:1] == ["premise"]:
            continue
        if not line.strip():
            continue
        if len(fields) != 3:
            raise UserError(f"{path}:{number}: expected 3 tab-separated fields (premise, hypo, label), got {len(fields)}")
        records.append({"id": _rid(dataset, split, lang, len(records)), "text_a": fields[0], "text_b": fields[1],
                        "label": nli_label(fields[2], f"{path}:{number}")})
    return records


def _read_nli(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    return _nli_rows(root / "xnli" / f"{split}-{lang}.tsv", dataset, split, lang)


def _placeholder_labels(records: list[dict], split: str) -> list[dict]:
    """utils_preprocess sets every XCOPA/COPA test label to 0: that is no gold label."""
    if split == "test" and len(records) >= 10 and all(r["label"] == 0 for r in records):
        for record in records:
            record["label"] = -1
    return records


def _copa_rows(path: Path, dataset: str, split: str, lang: str) -> list[dict]:
    records = []
    for number, obj in _jsonl(path):
        where = f"{path}:{number}"
        index = obj.get("idx", len(records))
        records.append({"id": _rid(dataset, split, lang, index),
                        "context": _field(obj, "premise", where),
                        "question": _question(_field(obj, "question", where), where),
                        "choices": [_field(obj, "choice1", where), _field(obj, "choice2", where)],
                        "label": binary_label(obj.get("label"), where, unlabelled_ok=split == "test")})
    return _placeholder_labels(records, split)


def _read_copa(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    name = {"train": "train", "dev": "val", "test": "test"}[split]
    return _copa_rows(root / "xcopa" / f"{name}-{lang}.jsonl", dataset, split, lang)


def _siqa_rows(path: Path, dataset: str, split: str, lang: str) -> list[dict]:
    records = []
    for number, obj in _jsonl(path):
        where = f"{path}:{number}"
        value = obj["correct"] if "correct" in obj else obj.get("label")
        records.append({"id": _rid(dataset, split, lang, len(records)),
                        "context": _field(obj, "context", where),
                        "question": _field(obj, "question", where),
                        "choices": [_field(obj, key, where) for key in ("answerA", "answerB", "answerC")],
                        "label": siqa_label(value, where, unlabelled_ok=split == "test")})
    return records


def _read_siqa(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    name = {"train": "trn", "dev": "dev", "test": "tst"}[split]
    return _siqa_rows(root / "siqa" / f"socialIQa_v1.4_{name}.jsonl", dataset, split, lang)


def _tag_rows(path: Path, dataset: str, split: str, lang: str) -> list[dict]:
    valid = UPOS_TAGS if dataset == "udpos" else PANX_TAGS
    prefix = f"{lang}:"
    records: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []
    labelled: bool | None = None  # decided by the file's first token line

    def flush():
        if tokens:
            records.append({"id": _rid(dataset, split, lang, len(records)), "tokens": list(tokens),
                            "tags": list(tags) if labelled else []})
            tokens.clear()
            tags.clear()

    for number, line in enumerate(_lines(path), 1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            flush()
            continue
        fields = line.split("\t")
        where = f"{path}:{number}"
        if len(fields) > 2:
            raise UserError(f"{where}: expected 'token<TAB>tag' or 'token', got {len(fields)} tab-separated fields")
        has_tag = len(fields) == 2
        if labelled is None:
            labelled = has_tag
        elif has_tag != labelled:
            raise UserError(f"{where}: {'a tag' if has_tag else 'no tag'} on this line but "
                            f"{'none' if has_tag else 'tags'} on the lines before "
                            f"(a file is all tagged or all untagged)")
        token = fields[0].strip()
        if dataset == "panx" and token.startswith(prefix) and len(token) > len(prefix):
            token = token[len(prefix):]  # the raw AmazonPhotos files prefix every token with "lang:"
        if not token:
            raise UserError(f"{where}: empty token")
        tokens.append(token)
        if has_tag:
            tag = fields[1].strip()
            if tag not in valid:
                raise UserError(f"{where}: unknown {'UPOS' if dataset == 'udpos' else 'NER'} tag {tag!r} "
                                f"(valid: {', '.join(valid)})")
            tags.append(tag)
    flush()
    return records


def _read_tags(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    return _tag_rows(root / dataset / f"{split}-{lang}.tsv", dataset, split, lang)


def _squad_paragraphs(path: Path) -> Iterable[tuple[int, dict]]:
    """(paragraph number from 1, paragraph dict) of a SQuAD-format file, with a one-line error for
    anything that is not SQuAD json."""
    data = _json(path)
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise UserError(f"{path}: not SQuAD json (expected {{\"data\": [{{\"paragraphs\": [...]}}]}})")
    number = 0
    for a, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise UserError(f"{path}: data[{a}] has no 'paragraphs' list (not SQuAD json)")
        for p, paragraph in enumerate(paragraphs):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
                    or not isinstance(paragraph.get("qas"), list):
                raise UserError(f"{path}: data[{a}].paragraphs[{p}] needs a 'context' text and a 'qas' list")
            number += 1
            yield number, paragraph


def _answers(qa: dict, where: str) -> dict:
    raw = qa.get("answers", [])
    if not isinstance(raw, list):
        raise UserError(f"{where}: 'answers' should be a list")
    texts, starts = [], []
    for answer in raw:
        if not isinstance(answer, dict) or not isinstance(answer.get("text"), str) \
                or not isinstance(answer.get("answer_start"), int):
            raise UserError(f"{where}: each answer needs 'text' and an integer 'answer_start'")
        if answer["text"] == "":  # remove_qa_test_annotations' placeholder
            continue
        texts.append(answer["text"])
        starts.append(answer["answer_start"])
    return {"text": texts, "answer_start": starts}


def _qa_rows(path: Path) -> list[dict]:
    records = []
    for _, paragraph in _squad_paragraphs(path):
        for q, qa in enumerate(paragraph["qas"]):
            where = f"{path}: question {qa.get('id', q)!r}" if isinstance(qa, dict) else f"{path}"
            if not isinstance(qa, dict):
                raise UserError(f"{where}: each of 'qas' should be an object")
            records.append({"id": str(_field(qa, "id", where, (str, int))),
                            "context": paragraph["context"],
                            "question": _field(qa, "question", where),
                            "answers": _answers(qa, where)})
    return records


def _read_squad(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    return _qa_rows(root / "squad" / f"{split}-v1.1.json")


def _read_xquad(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    return _qa_rows(root / "xquad" / f"xquad.{lang}.json")


def _read_mlqa(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    return _qa_rows(root / "mlqa" / "MLQA_V1" / split / f"{split}-context-{lang}-question-{lang}.json")


def _read_tydiqa(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    if split == "test":
        return _qa_rows(root / "tydiqa" / "tydiqa-goldp-v1.1-dev" / f"tydiqa.goldp.{lang}.dev.json")
    folder = root / "tydiqa" / "tydiqa-goldp-v1.1-train"
    path = folder / f"tydiqa.goldp.{lang}.train.json"
    alternative = folder / f"tydiqa.{lang}.train.json"  # the name scripts/train_qa.sh expects
    return _qa_rows(alternative if not path.is_file() and alternative.is_file() else path)


def _read_tatoeba(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    folder = root / "tatoeba"
    iso3 = TATOEBA_ISO3[lang]
    laser = (folder / f"tatoeba.{iso3}-eng.{iso3}", folder / f"tatoeba.{iso3}-eng.eng")
    aligned = laser[0].is_file() and laser[1].is_file()
    source_path, target_path = laser if aligned else (folder / f"{lang}-en.{lang}", folder / f"{lang}-en.en")
    sources, targets = _lines(source_path), _lines(target_path)
    while sources and not sources[-1].strip():
        sources.pop()
    while targets and not targets[-1].strip():
        targets.pop()
    if len(sources) != len(targets):
        raise UserError(f"{target_path}: {len(targets)} lines but {source_path.name} has {len(sources)} "
                        f"(the two files must pair line by line)")
    if not aligned and len(targets) >= 10 and targets == sorted(targets):
        raise UserError(f"{target_path}: the English side is sorted, as XTREME's download leaves it, so it no "
                        f"longer pairs with {source_path.name}; put LASER's aligned {laser[0].name} and "
                        f"{laser[1].name} into {folder}, or use the hub (data_dir=None)")
    records = []
    for i, (source, target) in enumerate(zip(sources, targets)):
        if not source.strip() or not target.strip():
            raise UserError(f"{source_path if not source.strip() else target_path}:{i + 1}: empty sentence")
        records.append({"id": _rid(dataset, split, lang, i), "source": source.strip(), "target": target.strip()})
    return records


# LAReQA ------------------------------------------------------------------------------------------


def _lareqa_language(paragraphs: Iterable[tuple[int, dict]], lang: str, where: str,
                     breaks: Callable[[dict, str], list[tuple[int, int]]]) -> tuple[list, list, dict]:
    """(questions [(qid, question, context)], candidates, {qid: [candidate ids]}) of one language."""
    questions, candidates, gold = [], [], {}
    for number, paragraph in paragraphs:
        context = paragraph["context"]
        spans = breaks(paragraph, where)
        sentences = [context[s:e] for s, e in spans]
        ids = [f"{lang}_{number}_{k}" for k in range(len(spans))]
        candidates.extend({"id": cid, "text": text, "context": context} for cid, text in zip(ids, sentences))
        for qa in paragraph["qas"]:
            qwhere = f"{where}: question {qa.get('id')!r}"
            qid = str(_field(qa, "id", qwhere, (str, int)))
            answers = _answers(qa, qwhere)
            if not answers["text"]:
                continue
            start = answers["answer_start"][0]
            holder = next((k for k, (s, e) in enumerate(spans) if s <= start < e), None)
            if holder is None:
                continue  # the answer starts in no sentence: skipped upstream too
            questions.append((qid, _field(qa, "question", qwhere), context))
            known = gold.setdefault(qid, [])
            known.extend(cid for cid, text in zip(ids, sentences) if text == sentences[holder] and cid not in known)
    return questions, candidates, gold


def _file_breaks(paragraph: dict, where: str) -> list[tuple[int, int]]:
    raw = paragraph.get("sentence_breaks")
    if not isinstance(raw, list) or not all(isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) for x in b)
                                            for b in raw):
        raise UserError(f"{where}: a paragraph lacks 'sentence_breaks' [[start, end], ...] (not an XQuAD-R file)")
    return [(s, e) for s, e in raw]


def _inferred_breaks(paragraph: dict, where: str) -> list[tuple[int, int]]:
    return sentence_spans(paragraph["context"])


def _assemble_lareqa(lang: str, per_lang: dict[str, tuple[list, list, dict]]) -> dict[str, list[dict]]:
    candidates = [c for code in sorted(per_lang) for c in per_lang[code][1]]
    gold: dict[str, list[str]] = {}
    for code in sorted(per_lang):
        for qid, ids in per_lang[code][2].items():
            gold.setdefault(qid, []).extend(ids)
    queries = [{"id": f"{qid}_{lang}", "text": question, "context": context, "gold": list(gold.get(qid, []))}
               for qid, question, context in per_lang[lang][0]]
    return {"queries": queries, "candidates": candidates}


def _read_lareqa(root: Path, dataset: str, split: str, lang: str) -> dict[str, list[dict]]:
    folder = root / "lareqa" / "xquad-r"
    _need(folder / f"{lang}.json")
    per_lang = {}
    for path in sorted(folder.glob("*.json")):
        if path.stem in LAREQA_LANGS:
            per_lang[path.stem] = _lareqa_language(_squad_paragraphs(path), path.stem, str(path), _file_breaks)
    return _assemble_lareqa(lang, per_lang)


# SQuAD -> dual-encoder pairs --------------------------------------------------------------------

_ABBREVIATIONS = frozenset("mr mrs ms dr prof st jr sr rev gen col lt sgt capt gov sen rep pres mt ft vs etc "
                           "e.g i.e cf al approx no jan feb mar apr jun jul aug sep sept oct nov dec".split())
_BREAK = re.compile(r"([.!?\u3002\uff01\uff1f\u061f\u0964]+)([\"'\u201d\u2019)\]\u300d\u300f]*)(\s*)")
_FULLWIDTH = set("\u3002\uff01\uff1f")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`: a break after . ! ? (and their Arabic, Devanagari and
    CJK forms) plus closing quotes, when whitespace and a character that is not lower case follow
    (CJK full stops need no whitespace); abbreviations (Mr., e.g., Jan.) and initials do not break.
    Spans exclude the whitespace between sentences. A simple rule in the spirit of XTREME's sb_sed,
    used for SQuAD (squad_pairs) and the hub copy of XQuAD-R, which has no sentence breaks."""
    spans: list[tuple[int, int]] = []
    start = len(text) - len(text.lstrip())
    for match in _BREAK.finditer(text):
        punct, _, space = match.groups()
        nxt = match.end()
        if nxt >= len(text) or nxt <= start:
            continue
        cjk = punct[-1] in _FULLWIDTH
        if not space and not cjk:
            continue
        if text[nxt].islower():
            continue
        if punct == ".":
            word = re.search(r"(\S+)$", text[start:match.start()])
            word = word.group(1).lower().lstrip("(\"'") if word else ""
            if word in _ABBREVIATIONS or "." in word or (len(word) == 1 and word.isalpha()):
                continue
        end = match.end(2)
        spans.append((start, end))
        start = nxt
    end = len(text.rstrip())
    if end > start:
        spans.append((start, end))
    return spans


def _squad_pair_records(paragraphs: Iterable[tuple[str, list[dict]]], where: str) -> list[dict]:
    records = []
    for context, qas in paragraphs:
        spans = sentence_spans(context)
        for qa in qas:
            answers = qa["answers"]
            if not answers["text"]:
                continue
            start = answers["answer_start"][0]
            holder = next(((s, e) for s, e in spans if s <= start < e), None)
            if holder is None:
                continue
            records.append({"id": qa["id"], "query": qa["question"], "query_context": "",
                            "candidate": context[holder[0]:holder[1]], "candidate_context": context})
    return records


def _read_squad_pairs(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    path = root / "squad" / f"{split}-v1.1.json"
    by_context: dict[str, list[dict]] = {}
    for record in _qa_rows(path):
        by_context.setdefault(record["context"], []).append(record)
    return _squad_pair_records(by_context.items(), str(path))


# Mewsli-X ---------------------------------------------------------------------------------------


def _span(obj: Any, where: str) -> tuple[int, int]:
    if not isinstance(obj, dict) or not isinstance(obj.get("start"), int) or not isinstance(obj.get("end"), int):
        raise UserError(f"{where}: a span needs integer 'start' and 'end'")
    return obj["start"], obj["end"]


def _mention_sentence(context: dict, start: int, end: int, where: str) -> str:
    text = _field(context, "text", where)
    for raw in context.get("sentence_spans") or []:
        s, e = _span(raw, where)
        if s <= start < e and s < end <= e:
            return text[s:e]
    return text


def _mention_query(context: dict, mention: dict, where: str, gold: dict[str, list[str]] | None = None) -> dict:
    example_id = str(_field(mention, "example_id", where))
    span = _field(mention, "mention_span", where, dict)
    start, end = _span(span, where)
    entity = mention.get("entity_id") or ""
    if not entity and gold:
        entity = (gold.get(example_id) or [""])[0]
    return {"id": example_id, "text": _field(span, "text", where),
            "context": _mention_sentence(context, start, end, where), "gold": [entity] if entity else []}


def _entity_record(obj: dict, where: str) -> dict:
    return {"id": str(_field(obj, "entity_id", where)), "text": _field(obj, "title", where),
            "context": _field(obj, "description", where)}


@functools.lru_cache(maxsize=2)
def _entities(path: str, size: int, mtime: int) -> tuple[dict, ...]:
    return tuple(_entity_record(obj, f"{path}:{number}") for number, obj in _jsonl(Path(path)))


def _read_mewslix(root: Path, dataset: str, split: str, lang: str) -> dict[str, list[dict]]:
    folder = root / "mewslix"
    mentions = folder / "wikinews_mentions" / f"{split}-{lang}.jsonl"
    labels_path = folder / "wikinews_labels" / f"{split}-{lang}.json"
    gold = _json(labels_path) if labels_path.is_file() else {}
    if not isinstance(gold, dict):
        raise UserError(f"{labels_path}: expected {{example_id: [entity_id]}}")
    queries = []
    for number, obj in _jsonl(_need(mentions)):
        where = f"{mentions}:{number}"
        context = _field(obj, "context", where, dict)
        for mention in _field(obj, "mentions", where, list):
            queries.append(_mention_query(context, _field({"m": mention}, "m", where, dict), where, gold))
    pool = _need(folder / "candidate_set_entities.jsonl")
    stat = pool.stat()
    return {"queries": queries, "candidates": list(_entities(str(pool), stat.st_size, stat.st_mtime_ns))}


def _pair_record(obj: dict, where: str) -> dict:
    cm = _field(obj, "contextual_mention", where, dict)
    query = _mention_query(_field(cm, "context", where, dict), _field(cm, "mention", where, dict), where)
    entity = _entity_record(_field(obj, "entity", where, dict), where)
    return {"id": query["id"], "query": query["text"], "query_context": query["context"],
            "candidate": entity["text"], "candidate_context": entity["context"]}


def _read_wikipedia_pairs(root: Path, dataset: str, split: str, lang: str) -> list[dict]:
    path = root / "mewslix" / f"wikipedia_pairs-{split}.jsonl"
    return [_pair_record(obj, f"{path}:{number}") for number, obj in _jsonl(path)]


_LOCAL: dict[str, Callable[[Path, str, str, str], Any]] = {
    "mnli": lambda root, d, s, l: _nli_rows(root / "xnli" / "train-en.tsv", d, s, l),
    "xnli_mt": lambda root, d, s, l: _read_xnli_mt(root, d, s, l),
    "xnli": _read_nli, "siqa": _read_siqa, "copa": _read_copa, "xcopa": _read_copa,
    "udpos": _read_tags, "panx": _read_tags, "squad": _read_squad, "xquad": _read_xquad, "mlqa": _read_mlqa,
    "tydiqa": _read_tydiqa, "tatoeba": _read_tatoeba, "lareqa": _read_lareqa, "squad_pairs": _read_squad_pairs,
    "mewslix": _read_mewslix, "wikipedia_pairs": _read_wikipedia_pairs,
}

# -------------------------------------------------------------------------------------------- hub


def hub_source(dataset: str, lang: str) -> HubSource:
    for source in HUB[dataset]:
        if source.langs is None or lang in source.langs:
            return source
    raise UserError(f"dataset {dataset!r} language {lang!r} has no hub copy (hub languages: "
                    f"{choices(l for s in HUB[dataset] for l in (s.langs or ()))}); pass data_dir")


def hub_config(source: HubSource, lang: str) -> str | None:
    if source.config is None:
        return None
    return source.config.format(lang=lang, name=UD_NAMES.get(lang, lang), lang3=TATOEBA_ISO3.get(lang, lang))


def _hub_dataset(dataset: str, split: str, lang: str, key: str | None = None, config_lang: str | None = None):
    source = hub_source(key or dataset, config_lang or lang)
    config = hub_config(source, config_lang or lang)
    hub_split = source.splits[split]
    try:
        import datasets

        return datasets.load_dataset(source.repo, config, split=hub_split)
    except Exception as err:  # hub, network, cache and script errors: all the user can fix is the source
        first = (str(err).strip().splitlines() or [""])[0][:300]
        where = source.repo + (f" config {config}" if config else "") + f" split {hub_split}"
        raise UserError(f"cannot load {dataset} {split}/{lang} from the Hugging Face hub ({where}): "
                        f"{type(err).__name__}: {first}; pass data_dir=<XTREME download folder> to read "
                        f"local files instead") from None


def _load_from_hub(dataset: str, split: str, lang: str):
    if dataset == "lareqa":
        rows = {code: _hub_rows(_hub_dataset(dataset, split, lang, config_lang=code)) for code in LAREQA_LANGS}
        return convert_hub_rows(dataset, split, lang, rows)
    if dataset == "mewslix":
        rows = {"mentions": _hub_rows(_hub_dataset(dataset, split, lang)),
                "candidates": _hub_rows(_hub_dataset(dataset, split, lang, "mewslix:candidates"))}
        return convert_hub_rows(dataset, split, lang, rows)
    table = _hub_dataset(dataset, split, lang)
    return convert_hub_rows(dataset, split, lang, _hub_rows(table), getattr(table, "features", None))


def _hub_rows(table) -> list[dict]:
    return list(table)


def _names(features: Any, column: str) -> list[str] | None:
    """The ClassLabel names of `column` (or of its sequence's items) in `datasets` features."""
    if not features or column not in features:
        return None
    feature = features[column]
    for candidate in (feature, getattr(feature, "feature", None)):
        names = getattr(candidate, "names", None)
        if names:
            return list(names)
    if isinstance(feature, list) and feature and getattr(feature[0], "names", None):
        return list(feature[0].names)
    return None


def _tag_names(values: list, names: list[str] | None, default: tuple[str, ...], valid: tuple[str, ...],
               where: str) -> list[str]:
    out = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            table = names or list(default)
            if not 0 <= value < len(table):
                raise UserError(f"{where}: tag id {value} out of range (0-{len(table) - 1})")
            value = table[value]
        if value not in valid:
            raise UserError(f"{where}: unknown tag {value!r} (valid: {', '.join(valid)})")
        out.append(value)
    return out


def _first(row: dict, keys: tuple[str, ...], where: str) -> Any:
    for key in keys:
        if key in row:
            return row[key]
    raise UserError(f"{where}: missing column {keys[0]!r} (columns: {', '.join(row)})")


def _hub_answers(raw: Any, where: str) -> dict:
    if isinstance(raw, dict):
        texts, starts = list(raw.get("text") or []), list(raw.get("answer_start") or [])
    elif isinstance(raw, list):  # a list of {"text", "answer_start"}
        texts = [a.get("text", "") for a in raw]
        starts = [a.get("answer_start", -1) for a in raw]
    else:
        raise UserError(f"{where}: 'answers' should be {{'text': [...], 'answer_start': [...]}}")
    if len(texts) != len(starts):
        raise UserError(f"{where}: answers have {len(texts)} texts but {len(starts)} starts")
    keep = [(t, int(s)) for t, s in zip(texts, starts) if t != ""]
    return {"text": [t for t, _ in keep], "answer_start": [s for _, s in keep]}


def _parse_marked_mention(query: str) -> tuple[str, str]:
    """utils_mewslix.preprocess_mention writes "mention: left { mention } right"; split it back."""
    match = re.match(r"^(.*?): (.*?)\{ (.*?) \}(.*)$", query, re.S)
    if not match or match.group(1) != match.group(3):
        return query, query
    left, mention, right = match.group(2), match.group(3), match.group(4)
    return mention, (left + mention + right).replace("  ", " ").strip()


def _hub_mentions(rows: list[dict], split: str, lang: str) -> list[dict]:
    queries = []
    for i, row in enumerate(rows):
        where = f"izhx/mewsli-x {lang} row {i}"
        if isinstance(row.get("context"), dict) and isinstance(row.get("mentions"), list):
            queries.extend(_mention_query(row["context"], m, where) for m in row["mentions"])
        elif isinstance(row.get("context"), dict) and isinstance(row.get("mention"), dict):
            queries.append(_mention_query(row["context"], row["mention"], where))
        else:  # a flat row: mention (possibly marked-up text), entity_id, example_id / id
            text, context = _parse_marked_mention(str(_first(row, ("mention", "text"), where)))
            if isinstance(row.get("context"), str) and row["context"]:
                context = row["context"]
            entity = str(row.get("entity_id") or "")
            queries.append({"id": str(row.get("example_id", row.get("id", _rid("mewslix", split, lang, i)))),
                            "text": text, "context": context, "gold": [entity] if entity else []})
    return queries


def _hub_entity(row: dict, where: str) -> dict:
    return {"id": str(_first(row, ("entity_id", "id"), where)), "text": str(row.get("title") or ""),
            "context": str(_first(row, ("description", "text"), where))}


def convert_hub_rows(dataset: str, split: str, lang: str, rows: Any, features: Any = None):
    """Rows of the hub dataset in `HUB` (plain dicts, as iterating a `datasets.Dataset` yields) ->
    records. `rows` is a list, except for lareqa ({lang: rows} of every language) and mewslix
    ({"mentions": rows, "candidates": rows}). `features` (the Dataset's) names ClassLabel ids."""
    check(dataset, split, lang)
    source = hub_source("mewslix:candidates" if dataset == "mewslix" else dataset, lang)
    name = source.repo

    if dataset == "lareqa":
        per_lang = {}
        for code, code_rows in rows.items():
            by_context: dict[str, dict] = {}
            for row in code_rows:
                paragraph = by_context.setdefault(row["context"], {"context": row["context"], "qas": []})
                answers = _hub_answers(row["answers"], f"{name} {code}")
                paragraph["qas"].append({"id": row["id"], "question": row["question"],
                                         "answers": [{"text": t, "answer_start": s} for t, s in
                                                     zip(answers["text"], answers["answer_start"])]})
            numbered = list(enumerate(by_context.values(), 1))
            per_lang[code] = _lareqa_language(numbered, code, f"{name} {code}", _inferred_breaks)
        if lang not in per_lang:
            raise UserError(f"{name}: no rows for language {lang!r} (have: {choices(per_lang)})")
        return _assemble_lareqa(lang, per_lang)
    if dataset == "mewslix":
        return {"queries": _hub_mentions(list(rows["mentions"]), split, lang),
                "candidates": [_hub_entity(r, f"{name} candidate_entities row {i}")
                               for i, r in enumerate(rows["candidates"])]}

    records = []
    for i, row in enumerate(rows):
        where = f"{name} {split}/{lang} row {i}"
        rid = _rid(dataset, split, lang, row.get("idx", i) if isinstance(row, dict) else i)
        if dataset in ("mnli", "xnli_mt", "xnli"):
            label = row.get("label", row.get("gold_label"))
            names = _names(features, "label")
            if names and isinstance(label, int) and 0 <= label < len(names):
                label = names[label]
            records.append({"id": rid, "text_a": _first(row, ("premise", "sentence1"), where),
                            "text_b": _first(row, ("hypothesis", "sentence2"), where),
                            "label": nli_label(label, where, unlabelled_ok=True)})
        elif dataset in ("copa", "xcopa"):
            records.append({"id": rid, "context": _first(row, ("premise",), where),
                            "question": _question(_first(row, ("question",), where), where),
                            "choices": [_first(row, ("choice1",), where), _first(row, ("choice2",), where)],
                            "label": binary_label(row.get("label"), where, unlabelled_ok=True)})
        elif dataset == "siqa":
            records.append({"id": rid, "context": _first(row, ("context",), where),
                            "question": _first(row, ("question",), where),
                            "choices": [_first(row, (k,), where) for k in ("answerA", "answerB", "answerC")],
                            "label": siqa_label(row.get("label", row.get("correct")), where, unlabelled_ok=True)})
        elif dataset in ("udpos", "panx"):
            column = "pos_tags" if dataset == "udpos" else "ner_tags"
            default = UPOS_TAGS if dataset == "udpos" else PANX_TAGS
            tokens = list(_first(row, ("tokens", "words"), where))
            tags = _tag_names(list(_first(row, (column, "tags", "ner", "pos"), where)), _names(features, column),
                              default, default, where)
            if tags and len(tags) != len(tokens):
                raise UserError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
            records.append({"id": rid, "tokens": tokens, "tags": tags})
        elif dataset in ("squad", "xquad", "mlqa", "tydiqa"):
            qid = str(_first(row, ("id",), where))
            if dataset == "tydiqa":
                prefix = qid.split("-", 1)[0].lower()
                if TYDIQA_PREFIX.get(prefix) != lang:
                    continue
            records.append({"id": qid, "context": _first(row, ("context",), where),
                            "question": _first(row, ("question",), where),
                            "answers": _hub_answers(_first(row, ("answers",), where), where)})
        elif dataset == "tatoeba":
            records.append({"id": _rid(dataset, split, lang, i),
                            "source": str(_first(row, ("sentence1", "source_sentence"), where)).strip(),
                            "target": str(_first(row, ("sentence2", "target_sentence"), where)).strip()})
        elif dataset == "squad_pairs":
            records.append({"id": str(_first(row, ("id",), where)), "context": _first(row, ("context",), where),
                            "question": _first(row, ("question",), where),
                            "answers": _hub_answers(_first(row, ("answers",), where), where)})
        elif dataset == "wikipedia_pairs":
            if isinstance(row.get("contextual_mention"), dict):
                records.append(_pair_record(row, where))
            else:  # flat: mention (marked-up query text), entity (description text), entity_id, title
                text, context = _parse_marked_mention(str(_first(row, ("mention",), where)))
                records.append({"id": str(row.get("example_id", row.get("id", rid))), "query": text,
                                "query_context": context, "candidate": str(row.get("title") or ""),
                                "candidate_context": str(_first(row, ("entity", "description"), where))})
        else:  # pragma: no cover - check() guards the names
            raise UserError(f"unknown XTREME dataset {dataset!r}")
    if dataset == "squad_pairs":
        by_context: dict[str, list[dict]] = {}
        for record in records:
            by_context.setdefault(record["context"], []).append(record)
        return _squad_pair_records(by_context.items(), name)
    return records
