"""Readers for the XTREME-R data: the local files that google-research/xtreme's
`scripts/download_data.sh` leaves in its `download/` folder, and the Hugging Face hub copies.
(Modules: `spec` what exists, `files` + `local` + `retrieval` the download folder, `hub` the hub
copies, `labels` raw labels.)
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
    every task language that has one (the download keeps those files; udpos: LANG_SPLITS), the other
    training sets are English.

Hub notes (the recorded schemas, revisions and their sources: tests/hub_contract/*.json):
`google/xtreme` is pinned to the commit that deleted its loading script (datasets >= 4 refuses scripts);
its `tydiqa` holds every language in one config, rows are kept by their id prefix; MLQA comes from its
`MLQA.{l}.{l}` configs (`facebook/mlqa` is script-only) and SIQA from `lighteval/siqa` (`allenai/social_i_qa`
is script-only; labels "1"-"3"); UD-POS lt/pl/uk/wo/ro (UD v2.7) are not in `google/xtreme` and come from the
third-party `izhx/xtreme-r-udpos`, test only; PAN-X qu/pl/uk/az/lt/pa/gu/ro come from `unimelb-nlp/wikiann`
(same splits); XQuAD-R is read from its parquet export (revision refs/convert/parquet, data_dir <lang>);
`izhx/mewsli-x` documents no schema: nested XTREME rows and flat rows (mention, entity_id, example_id /
entity_id, title, description) are both read; mteb's Tatoeba (at mteb's pinned revision) is one `default`
config of every pair, rows are kept by their `lang` column ("{iso3}-eng"), sentence1 in the language and
sentence2 in English.
Per-language split gaps live in one table, `LANG_SPLITS` (UD v2.5 Tagalog/Thai/Yoruba: test only; Kazakh:
train + test): `LANGS` leaves those languages out of the splits they lack and `check` names the splits they
have; a hub copy with fewer splits than the data (izhx/xtreme-r-udpos) says so through `HubSource.splits`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from hpc_itt.errors import UserError
from hpc_itt.xtreme.formats.hub import _load_from_hub
from hpc_itt.xtreme.formats.local import (
    _nli_rows, _read_copa, _read_mlqa, _read_nli, _read_siqa, _read_squad, _read_tags, _read_tatoeba,
    _read_tydiqa, _read_xnli_mt, _read_xquad,
)
from hpc_itt.xtreme.formats.retrieval import _read_lareqa, _read_mewslix, _read_squad_pairs, _read_wikipedia_pairs
from hpc_itt.xtreme.formats.spec import check

from hpc_itt.xtreme.formats.hub import convert_hub_rows, hub_config, hub_data_dir, hub_source
from hpc_itt.xtreme.formats.labels import binary_label, nli_label, siqa_label
from hpc_itt.xtreme.formats.retrieval import sentence_spans
from hpc_itt.xtreme.formats.spec import (
    DATASETS, HUB, LANG_SPLITS, LANGS, NLI_LABELS, PANX_TAGS, SCRIPT_ONLY, SPLITS, UPOS_TAGS, HubSource, lang_splits,
)

__all__ = ["load", "check", "DATASETS", "SPLITS", "LANGS", "LANG_SPLITS", "lang_splits", "HUB", "HubSource",
           "SCRIPT_ONLY", "NLI_LABELS", "UPOS_TAGS", "PANX_TAGS", "hub_source", "hub_config", "hub_data_dir",
           "convert_hub_rows", "sentence_spans", "nli_label", "binary_label", "siqa_label"]


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




_LOCAL: dict[str, Callable[[Path, str, str, str], Any]] = {
    "mnli": lambda root, d, s, l: _nli_rows(root / "xnli" / "train-en.tsv", d, s, l),
    "xnli_mt": lambda root, d, s, l: _read_xnli_mt(root, d, s, l),
    "xnli": _read_nli, "siqa": _read_siqa, "copa": _read_copa, "xcopa": _read_copa,
    "udpos": _read_tags, "panx": _read_tags, "squad": _read_squad, "xquad": _read_xquad, "mlqa": _read_mlqa,
    "tydiqa": _read_tydiqa, "tatoeba": _read_tatoeba, "lareqa": _read_lareqa, "squad_pairs": _read_squad_pairs,
    "mewslix": _read_mewslix, "wikipedia_pairs": _read_wikipedia_pairs,
}
