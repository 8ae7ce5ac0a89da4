"""The official XTREME-R metrics, re-implemented without the hub (`evaluate.load` needs it) and
without faiss, on a 0-100 scale like google-research/xtreme `evaluate.py`.

Where each number comes from (google-research/xtreme at 838c13b unless named otherwise):

    xnli, xcopa, tatoeba    `evaluate.py` `accuracy`: correct / number of predictions.
    udpos, panx             `evaluate.py` `f1` = `third_party/run_tag.py`: seqeval's
                            `f1_score` / `precision_score` / `recall_score` in the default
                            (conlleval-like, lenient) mode, micro over the whole language file.
    xquad, tydiqa           `third_party/evaluate_squad.py` (the SQuAD v1.1 script).
    mlqa                    `third_party/evaluate_mlqa.py` = facebookresearch/MLQA
                            `mlqa_evaluation_v1.py`, called with the test file's language.
    lareqa                  `third_party/utils_lareqa.py` `average_precision_at_k`, k=20,
                            averaged over all questions by `mean_avg_prec_at_k`.
    mewslix                 `third_party/utils_mewslix.py` `evaluate`: MRR over the top 20,
                            reported by `evaluate.py` as "map@20" (one gold entity per mention, so
                            AP@20 is the reciprocal rank: `map_at_k` gives the same number).

Conventions worth knowing before reading a score:
  * QA: a question missing from the predictions scores 0 and is counted (the official scripts warn
    on stderr; we `warnings.warn`). F1 is the bag-of-tokens F1 of the normalised strings, maximum
    over the gold answers. Two answers that both normalise to "" are an exact match (EM 1) but have
    F1 0 (no common token): the official quirk, kept.
  * MLQA normalisation depends on the answer language and exists only for MLQA's seven (en es de
    ar hi vi zh); any other language raises, as the official script does. Thai or Japanese QA is
    XQuAD/TyDiQA, i.e. SQuAD normalisation, where an unsegmented answer is one whitespace token.
  * Tagging F1 is seqeval's *chunk* F1 even for UD-POS; see `seqeval_scores` for what that means
    for bare UPOS tags.
  * Retrieval rankings come from cosine similarity with ties broken by candidate order; the
    official scripts use faiss / `argsort`, whose order among exactly equal scores is unspecified.
  * Tatoeba searches from the English side: each target (English) row queries the source rows
    (`evaluate_retrieval.py` puts the source embeddings in the faiss index); see
    `nearest_neighbour_accuracy`.
"""
from __future__ import annotations

import re
import string
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

# Which metric each task reports is in `hpc_itt.xtreme.tasks` (`XtremeTask.metrics`).

# Rows x candidates per similarity block: bounds memory for Mewsli-X's ~1M-entity pool.
_BLOCK_ELEMENTS = 1 << 24


# --------------------------------------------------------------------------------------------
# Classification


def accuracy(predictions, labels) -> float:
    """Percentage of predictions equal to their label (`evaluate.py` `accuracy`).

    The official script asserts equal lengths and divides by the number of predictions; we raise
    ValueError on unequal or empty inputs instead of asserting or dividing by zero."""
    predictions, labels = list(predictions), list(labels)
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    if not labels:
        raise ValueError("accuracy of no examples is undefined")
    correct = sum(int(p == g) for p, g in zip(predictions, labels))
    return 100.0 * correct / len(labels)


# --------------------------------------------------------------------------------------------
# QA: SQuAD v1.1 and MLQA

_SQUAD_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_squad_answer(text: str) -> str:
    """SQuAD v1.1 `normalize_answer` (`third_party/evaluate_squad.py`): lower case, drop ASCII
    punctuation, replace the English articles a/an/the by a space, collapse whitespace.
    Non-ASCII punctuation («», 。, ¿, full-width marks) is kept, so it can cost a match."""
    text = "".join(ch for ch in text.lower() if ch not in _SQUAD_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


# Answer languages of `mlqa_evaluation_v1.py`: article patterns (None: "no formal articles").
_MLQA_ARTICLES: dict[str, re.Pattern | None] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "hi": None,
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    # The official pattern is '\sال^|ال'; its first branch can never match (`^` after two
    # characters), so every "ال" is replaced by a space, inside words too.
    "ar": re.compile("ال"),
    "zh": None,
}
_MLQA_WHITESPACE_LANGS = frozenset({"en", "es", "hi", "vi", "de", "ar"})
_MLQA_CJK = re.compile("[\u4e00-\u9fa5]")  # the official range, not the whole CJK block


def _is_mlqa_punct(ch: str) -> bool:
    """MLQA's PUNCT set: every Unicode category P* character plus `string.punctuation` (which adds
    the ASCII symbols $ + < = > ^ ` | ~). Other symbols (S*: ＄, ¥, €) are not punctuation."""
    return ch in _SQUAD_PUNCT or unicodedata.category(ch).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA `mixed_segmentation` for zh: each character in U+4E00..U+9FA5 (or punctuation) is a
    token of its own; runs of other characters are split on whitespace."""
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _MLQA_CJK.match(ch) or _is_mlqa_punct(ch):
            tokens.extend(run.split())
            tokens.append(ch)
            run = ""
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def _check_mlqa_lang(lang: str) -> None:
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA evaluation has no normalisation for language {lang!r}; "
                         f"it knows {sorted(_MLQA_ARTICLES)}")


def normalize_mlqa_answer(text: str, lang: str) -> str:
    """MLQA `normalize_answer(s, lang)`: lower case, drop Unicode punctuation, remove the answer
    language's articles, then whitespace tokenisation (en es hi vi de ar) or mixed segmentation
    (zh), joined by single spaces. Any other language raises ValueError, as the official script
    raises 'Unknown Language' (it has no rule for th, ja, ...)."""
    _check_mlqa_lang(lang)
    text = "".join(ch for ch in text.lower() if not _is_mlqa_punct(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = text.split() if lang in _MLQA_WHITESPACE_LANGS else _mixed_segmentation(text)
    return " ".join(t for t in tokens if t.strip())


def _token_f1(prediction: str, gold: str) -> float:
    """Bag-of-tokens F1 of two normalised answers (both official scripts' `f1_score`): 0 when no
    token is shared, which includes two empty answers."""
    pred_tokens, gold_tokens = prediction.split(), gold.split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _qa_scores(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]],
               normalize: Callable[[str], str]) -> dict[str, float]:
    """The `evaluate` loop shared by the SQuAD and MLQA scripts: every reference question counts;
    per question the maximum EM and F1 over its gold answers; missing predictions score 0."""
    if not references:
        raise ValueError("QA scores of no questions are undefined")
    exact = f1 = 0.0
    missing = []
    for qid, golds in references.items():
        if not golds:
            raise ValueError(f"question {qid!r} has no gold answer")
        if qid not in predictions:
            missing.append(qid)
            continue
        pred = normalize(predictions[qid])
        normalized_golds = [normalize(g) for g in golds]
        exact += max(float(pred == g) for g in normalized_golds)
        f1 += max(_token_f1(pred, g) for g in normalized_golds)
    if missing:
        warnings.warn(f"{len(missing)} of {len(references)} questions have no prediction and "
                      f"score 0 (e.g. {missing[:3]})", stacklevel=3)
    total = len(references)
    return {"f1": 100.0 * f1 / total, "exact_match": 100.0 * exact / total}


def squad_scores(predictions: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """F1 and exact match as the SQuAD v1.1 script (`third_party/evaluate_squad.py`), which XTREME
    uses for XQuAD and TyDiQA-GoldP. `references` maps each question id to its gold answer
    texts; predictions for ids not in `references` are ignored."""
    return _qa_scores(predictions, references, normalize_squad_answer)


def mlqa_scores(predictions: dict[str, str], references: dict[str, list[str]],
                lang: str) -> dict[str, float]:
    """F1 and exact match as MLQA's `mlqa_evaluation_v1.py` (= XTREME's
    `third_party/evaluate_mlqa.py`) with answer language `lang`; see `normalize_mlqa_answer`.
    XTREME passes the language of the test file (context = question = answer language)."""
    _check_mlqa_lang(lang)  # fail on an unknown language even when every id is missing
    return _qa_scores(predictions, references, lambda text: normalize_mlqa_answer(text, lang))


def qa_scores(task: str, lang: str, predictions, references) -> dict[str, float]:
    """The official QA script of each task, as `evaluate.py`'s METRIC_FUNCTION: MLQA's own script
    for mlqa, the SQuAD v1.1 script (language-blind) for xquad, tydiqa and squad."""
    if task == "mlqa":
        return mlqa_scores(predictions, references, lang)
    if task in ("xquad", "tydiqa", "squad"):
        return squad_scores(predictions, references)
    raise ValueError(f"no QA metric for task {task!r}")


# --------------------------------------------------------------------------------------------
# Tagging


def seqeval_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Micro chunk F1 / precision / recall from seqeval in its default mode, as XTREME's
    `evaluate.py` `f1` and `third_party/run_tag.py`, for PAN-X (IOB2) and UD-POS alike.

    Default mode is lenient (conlleval-like): an I- tag without a preceding B- opens an entity.
    Sentences are joined with an "O" between them, so no entity crosses a sentence boundary.

    UD-POS quirk (we reproduce XTREME's convention, which is not token accuracy): seqeval reads a
    bare tag's first letter as the chunk prefix and the rest as the type (seqeval >= 0.0.16, e.g.
    the installed 1.2.2), so NOUN is prefix "N", type "OUN". Consequences:
      * a run of identical tags is ONE chunk: gold NOUN NOUN vs predicted NOUN VERB scores no hit
        at all, although one token of two is right;
      * tags starting with S (SCONJ, SYM) are single-token chunks, I (INTJ) continues a run;
      * CCONJ and SCONJ share the type "CONJ": predicting CCONJ for a gold SCONJ token is a hit,
        and a CCONJ directly before an SCONJ is dropped from the chunk list.
    seqeval <= 0.0.15 (0.0.12 when XTREME was released; `install_tools.sh` does not pin it) took
    the whole tag as the type, so CCONJ/SCONJ differed there; no other UPOS tag is affected.

    seqeval warns "... seems not to be NE tag." for bare tags, and when there are no gold or no
    predicted chunks (e.g. all "O") it warns UndefinedMetricWarning and scores 0: both kept.
    Unequal numbers of sentences or tokens raise ValueError."""
    from seqeval.metrics import f1_score, precision_score, recall_score  # imports scikit-learn

    gold, pred = [list(s) for s in gold], [list(s) for s in pred]
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted sentences")
    if not gold:
        raise ValueError("seqeval scores of no sentences are undefined")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")
    return {"f1": 100.0 * float(f1_score(gold, pred)),
            "precision": 100.0 * float(precision_score(gold, pred)),
            "recall": 100.0 * float(recall_score(gold, pred))}


# --------------------------------------------------------------------------------------------
# Retrieval


def average_precision_at_k(ranked_ids: list[str], gold_ids: Collection[str], k: int = 20) -> float:
    """AP@k in 0..1 as LAReQA's `average_precision_at_k` (`third_party/utils_lareqa.py`).

    The ranking is cut to its first k entries; each new relevant id at (1-based) position i adds
    hits_so_far / i; the sum is divided by min(k, number of relevant ids), so relevant items that
    cannot fit in the top k do not lower the score. An id repeated in the ranking counts once; the
    repeat still takes its position (the official loop indexes positions of the cut list)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if isinstance(gold_ids, str) or isinstance(ranked_ids, str):
        raise TypeError("pass collections of ids, not a single id string")
    gold = set(gold_ids)
    if not gold:
        raise ValueError("average precision needs at least one relevant id")
    seen: set[str] = set()
    hits, total = 0, 0.0
    for position, cid in enumerate(list(ranked_ids)[:k], start=1):
        if cid in gold and cid not in seen:
            hits += 1
            total += hits / position
        seen.add(cid)
    return total / min(k, len(gold))


def map_at_k(rankings: list[list[str]], golds: list[Collection[str]], k: int = 20) -> float:
    """Mean AP@k over queries, 0..100: LAReQA's `mean_avg_prec_at_k` (one mean over all questions
    of all languages) and, with one gold id per query, Mewsli-X's MRR@20 ("map@20")."""
    rankings, golds = list(rankings), list(golds)
    if len(rankings) != len(golds):
        raise ValueError(f"{len(rankings)} rankings for {len(golds)} gold sets")
    if not golds:
        raise ValueError("mAP of no queries is undefined")
    return 100.0 * float(np.mean([average_precision_at_k(r, g, k) for r, g in zip(rankings, golds)]))


def _unit_rows(x: np.ndarray, dtype) -> np.ndarray:
    """Rows scaled to unit L2 norm (cosine = dot product); an all-zero row stays zero."""
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D matrix of embeddings, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("embeddings contain NaN or infinity")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


def _cosine_blocks(queries: np.ndarray, keys: np.ndarray):
    """Yield (first row, cosine block of queries x keys), a few rows at a time."""
    dtype = np.result_type(np.asarray(queries).dtype, np.asarray(keys).dtype, np.float32)
    q, c = _unit_rows(queries, dtype), _unit_rows(keys, dtype)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"embedding sizes differ: {q.shape[1]} vs {c.shape[1]}")
    rows = max(1, _BLOCK_ELEMENTS // max(1, c.shape[0]))
    for start in range(0, q.shape[0], rows):
        yield start, q[start:start + rows] @ c.T


def _top_unique(scores: np.ndarray, candidate_ids: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids in the order (score descending, candidate index ascending).

    Sorts only the m best scores (all ties of the m-th included, so the prefix is exact), and
    doubles m when duplicated ids leave fewer than k distinct ones."""
    n = scores.shape[0]
    m = min(n, k)
    while True:
        if m < n:
            threshold = np.partition(scores, n - m)[n - m]
            idx = np.flatnonzero(scores >= threshold)
        else:
            idx = np.arange(n)
        order = idx[np.lexsort((idx, -scores[idx]))]
        ranked: list[str] = []
        seen: set[str] = set()
        for i in order:
            cid = candidate_ids[i]
            if cid not in seen:
                seen.add(cid)
                ranked.append(cid)
                if len(ranked) == k:
                    return ranked
        if m >= n:
            return ranked
        m = min(n, 2 * m)


def rank_by_cosine(queries: np.ndarray, candidates: np.ndarray, candidate_ids: list[str],
                   k: int) -> list[list[str]]:
    """Top-k candidate ids per query by cosine similarity (LAReQA: dot product of L2-normalised
    encodings, `utils_lareqa.mean_avg_prec_at_k`; Mewsli-X: faiss IndexFlatIP over normalised
    candidates, `evaluate_retrieval.py`; both rankings equal cosine order).

    Exactly equal scores keep candidate order (the official `argsort` / faiss order there is
    unspecified). A duplicated candidate id appears once, at its best rank, and the next distinct
    id moves up; fewer than k ids come back only when there are fewer distinct ids."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    candidate_ids = list(candidate_ids)
    if len(candidate_ids) != np.asarray(candidates).shape[0]:
        raise ValueError(f"{len(candidate_ids)} candidate ids for "
                         f"{np.asarray(candidates).shape[0]} candidate embeddings")
    rankings: list[list[str]] = []
    for _, block in _cosine_blocks(queries, candidates):
        rankings.extend(_top_unique(row, candidate_ids, k) for row in block)
    return rankings


def nearest_neighbour_accuracy(source: np.ndarray, target: np.ndarray) -> float:
    """Tatoeba accuracy as XTREME (`evaluate_retrieval.py` tatoeba branch + `similarity_search`
    in `utils_retrieve.py`, then `evaluate.py` `accuracy`), 0..100.

    Direction, as the official code: the index holds the SOURCE sentences (the non-English side)
    and every TARGET (English) row j is a query; j is correct iff its most cosine-similar source
    row is row j. Correctness is by index only: if two source rows are identical, the query whose
    gold is the later one retrieves the earlier one (ties go to the lowest index) and counts wrong,
    even though the text is the same."""
    source, target = np.asarray(source), np.asarray(target)
    if source.shape[0] != target.shape[0]:
        raise ValueError(f"{source.shape[0]} source rows but {target.shape[0]} target rows")
    if source.shape[0] == 0:
        raise ValueError("accuracy of no sentence pairs is undefined")
    correct = 0
    for start, block in _cosine_blocks(target, source):
        nearest = block.argmax(axis=1)
        correct += int(np.sum(nearest == np.arange(start, start + block.shape[0])))
    return 100.0 * correct / source.shape[0]
