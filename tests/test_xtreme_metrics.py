"""XTREME-R metrics against hand-computed numbers, seqeval itself and the official formulas.

References used here (no hub, no faiss at test time):
  * QA: expected numbers worked out by hand from the SQuAD v1.1 / MLQA official scripts'
    formulas (arithmetic in the comments).
  * Tagging: seqeval's own `f1_score` / `precision_score` / `recall_score` and its
    `classification_report` "micro avg", which is exactly what the `evaluate` library's seqeval
    module returns as overall_* (huggingface/evaluate metrics/seqeval/seqeval.py). `evaluate.load`
    needs the hub for its metric scripts (offline it raises FileNotFoundError), so the module
    itself is not loaded here; the same holds for its squad module (whose formula is the SQuAD
    v1.1 script, checked by hand below).
  * Retrieval: hand-computed AP@20 / MRR and cosine rankings.
"""
import math
import warnings

import numpy as np
import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2
from sklearn.exceptions import UndefinedMetricWarning

from hpc_itt.xtreme import metrics as M

EXACT = dict(rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# metric keys and accuracy


def test_every_task_reports_the_metrics_of_evaluate_py():
    from hpc_itt.xtreme.tasks import TASKS

    assert {name: task.metrics for name, task in TASKS.items()} == {
        "xnli": ("accuracy",), "xcopa": ("accuracy",), "udpos": ("f1",), "panx": ("f1",),
        "xquad": ("f1", "exact_match"), "mlqa": ("f1", "exact_match"),
        "tydiqa": ("f1", "exact_match"), "tatoeba": ("accuracy",),
        "lareqa": ("map@20",), "mewslix": ("map@20",)}


def test_accuracy():
    assert M.accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 75.0  # 3 of 4
    assert M.accuracy(np.array([2, 2, 0]), np.array([2, 0, 0])) == pytest.approx(200 / 3, **EXACT)
    assert M.accuracy(["entailment"], ["entailment"]) == 100.0
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        M.accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError):
        M.accuracy([], [])


# ---------------------------------------------------------------------------------------------
# SQuAD v1.1 (XQuAD, TyDiQA-GoldP)


def test_squad_normalisation():
    # lower, ASCII punctuation out, a/an/the -> space, whitespace collapsed
    assert M.normalize_squad_answer("  The Eiffel-Tower, an icon!  ") == "eiffeltower icon"
    # only whole-word articles go: "theatre", "again" keep their letters
    assert M.normalize_squad_answer("A theatre again") == "theatre again"
    # non-ASCII punctuation stays (this is where MLQA differs)
    assert M.normalize_squad_answer("«Paris»。") == "«paris»。"


def test_squad_scores_hand_computed():
    references = {"q1": ["Eiffel tower"], "q2": ["Paris"], "q3": ["Denver Broncos", "Broncos"],
                  "q4": ["Paris"], "q5": ["1889"]}
    predictions = {"q1": "The Eiffel Tower!",       # -> "eiffel tower": EM 1, F1 1
                   "q2": "in the city of Paris",    # 4 tokens, 1 shared: P 1/4, R 1 -> F1 0.4
                   "q3": "Denver",                  # vs "denver broncos": P 1, R 1/2 -> 2/3; vs "broncos": 0
                   "q4": "",                        # empty prediction: EM 0, F1 0
                   "extra": "ignored"}              # q5 missing: counts 0; ids outside references ignored
    with pytest.warns(UserWarning, match="1 of 5 questions have no prediction"):
        scores = M.squad_scores(predictions, references)
    assert scores["exact_match"] == pytest.approx(100 * 1 / 5, **EXACT)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.4 + 2 / 3) / 5, **EXACT)  # 41.333...


def test_squad_max_over_gold_answers_is_per_metric():
    # EM comes from gold 2 ("Denver Broncos" exact), F1 of gold 1 would be lower: max of each.
    scores = M.squad_scores({"q": "the Denver Broncos"},
                            {"q": ["Broncos of Denver team", "Denver Broncos"]})
    assert scores == {"f1": 100.0, "exact_match": 100.0}
    # F1 max from gold 1 (P 2/2, R 2/4 -> 2/3), EM 0 for both
    scores = M.squad_scores({"q": "Denver Broncos."}, {"q": ["Broncos of Denver team", "Broncos"]})
    assert scores["exact_match"] == 0.0
    assert scores["f1"] == pytest.approx(100 * 2 / 3, **EXACT)


def test_squad_empty_after_normalisation_is_exact_match_with_zero_f1():
    # official quirk: "the" and "a" both normalise to "" -> EM true, no common token -> F1 0
    assert M.squad_scores({"q": "the"}, {"q": ["a"]}) == {"f1": 0.0, "exact_match": 100.0}
    assert M.squad_scores({"q": ""}, {"q": ["Paris"]}) == {"f1": 0.0, "exact_match": 0.0}


def test_squad_repeated_tokens_are_counted_with_multiplicity():
    # pred "paris paris" vs gold "paris": common = min(2, 1) = 1; P 1/2, R 1 -> F1 2/3
    assert M.squad_scores({"q": "Paris Paris"}, {"q": ["Paris"]})["f1"] == pytest.approx(200 / 3, **EXACT)


def test_squad_unsegmented_scripts_are_single_tokens():
    # XQuAD th uses the SQuAD script: a Thai answer without spaces is one token, all or nothing
    assert M.squad_scores({"q": "กรุงเทพมหานคร"}, {"q": ["กรุงเทพ"]}) == {"f1": 0.0, "exact_match": 0.0}
    # with a space: 2 tokens, 1 shared -> P 1/2, R 1 -> 2/3
    assert M.squad_scores({"q": "กรุงเทพ มหานคร"}, {"q": ["กรุงเทพ"]})["f1"] == pytest.approx(200 / 3, **EXACT)
    # and Chinese too (XQuAD zh is scored by the SQuAD script, not MLQA's)
    assert M.squad_scores({"q": "位于北京"}, {"q": ["北京"]})["f1"] == 0.0


def test_squad_all_missing_and_invalid_input():
    with pytest.warns(UserWarning):
        assert M.squad_scores({}, {"a": ["x"], "b": ["y"]}) == {"f1": 0.0, "exact_match": 0.0}
    with pytest.raises(ValueError):
        M.squad_scores({}, {})
    with pytest.raises(ValueError, match="no gold answer"):
        M.squad_scores({"a": "x"}, {"a": []})


# ---------------------------------------------------------------------------------------------
# MLQA


def test_mlqa_chinese_mixed_segmentation():
    # every CJK character is a token; other runs split on whitespace; 。 is punctuation
    assert M.normalize_mlqa_answer("2008年 Beijing奥运会。", "zh") == "2008 年 beijing 奥 运 会"
    # pred 位 于 北 京 vs gold 北 京: 2 shared, P 2/4, R 1 -> F1 2/3 (SQuAD: 0, see above)
    scores = M.mlqa_scores({"q": "位于北京"}, {"q": ["北京"]}, "zh")
    assert scores["f1"] == pytest.approx(200 / 3, **EXACT) and scores["exact_match"] == 0.0
    # spacing does not matter, full stop removed: EM 1 (SQuAD: EM 0, F1 0)
    assert M.mlqa_scores({"q": "北京 大学"}, {"q": ["北京大学。"]}, "zh") == {"f1": 100.0, "exact_match": 100.0}
    assert M.squad_scores({"q": "北京 大学"}, {"q": ["北京大学。"]}) == {"f1": 0.0, "exact_match": 0.0}


def test_mlqa_has_no_rule_for_thai_or_japanese():
    # the official script raises 'Unknown Language' for anything outside en es hi vi de ar zh
    for lang in ("th", "ja", "ko", "fr"):
        with pytest.raises(ValueError, match="no normalisation for language"):
            M.mlqa_scores({"q": "กรุงเทพ"}, {"q": ["กรุงเทพ"]}, lang)
        with pytest.raises(ValueError):
            M.mlqa_scores({}, {"q": ["x"]}, lang)  # even with nothing to normalise


def test_mlqa_unicode_punctuation_where_squad_differs():
    # es: ¿ ? removed, article "el" removed ("del" kept): EM 1 under MLQA
    assert M.mlqa_scores({"q": "¿el Museo del Prado?"}, {"q": ["Museo del Prado"]}, "es")["exact_match"] == 100.0
    # SQuAD keeps ¿: tokens ¿el museo del prado vs museo del prado: P 3/4, R 1 -> F1 6/7
    squad = M.squad_scores({"q": "¿el Museo del Prado?"}, {"q": ["Museo del Prado"]})
    assert squad["exact_match"] == 0.0 and squad["f1"] == pytest.approx(600 / 7, **EXACT)
    # de: «» removed, "die" is an article: EM 1; SQuAD: «die zeit» vs zeit share nothing
    assert M.mlqa_scores({"q": "«die Zeit»"}, {"q": ["Zeit"]}, "de")["exact_match"] == 100.0
    assert M.squad_scores({"q": "«die Zeit»"}, {"q": ["Zeit"]})["f1"] == 0.0
    # full-width ！ (category Po) is punctuation, full-width ＄ (Sc) is not, ASCII $ is
    assert M.normalize_mlqa_answer("Ｐａｒｉｓ！", "en") == "ｐａｒｉｓ"
    assert M.normalize_mlqa_answer("＄5 $5", "en") == "＄5 5"
    assert M.normalize_squad_answer("Ｐａｒｉｓ！") == "ｐａｒｉｓ！"


def test_mlqa_per_language_articles():
    # vi: "của" is in the official list; SQuAD sees 5 vs 4 tokens: P 4/5, R 1 -> F1 8/9
    assert M.mlqa_scores({"q": "thủ đô của Việt Nam"}, {"q": ["thủ đô Việt Nam"]}, "vi")["exact_match"] == 100.0
    assert M.squad_scores({"q": "thủ đô của Việt Nam"}, {"q": ["thủ đô Việt Nam"]})["f1"] == pytest.approx(800 / 9, **EXACT)
    # de articles, es articles, and "the" is not an article in es
    assert M.normalize_mlqa_answer("des Kaisers", "de") == "kaisers"
    assert M.normalize_mlqa_answer("Los Angeles", "es") == "angeles"
    assert M.normalize_mlqa_answer("the band", "es") == "the band"
    # hi and zh: no articles
    assert M.normalize_mlqa_answer("the भारत", "hi") == "the भारत"
    # ar: every "ال" becomes a space, inside words too (سؤال "question" loses its end)
    assert M.normalize_mlqa_answer("المدينة", "ar") == "مدينة"
    assert M.normalize_mlqa_answer("سؤال", "ar") == "سؤ"
    assert M.mlqa_scores({"q": "المدينة"}, {"q": ["مدينة"]}, "ar")["exact_match"] == 100.0
    assert M.squad_scores({"q": "المدينة"}, {"q": ["مدينة"]})["exact_match"] == 0.0


def test_mlqa_aggregate_and_missing_prediction():
    references = {"a": ["北京"], "b": ["上海"], "c": ["广州"]}
    predictions = {"a": "北京", "b": "在上海市"}  # a: 1/1; b: 2 of 4 tokens, R 1 -> 2/3; c missing
    with pytest.warns(UserWarning, match="1 of 3"):
        scores = M.mlqa_scores(predictions, references, "zh")
    assert scores["exact_match"] == pytest.approx(100 / 3, **EXACT)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3, **EXACT)


def test_qa_scores_dispatch():
    preds, refs = {"q": "«die Zeit»"}, {"q": ["Zeit"]}
    assert M.qa_scores("mlqa", "de", preds, refs)["exact_match"] == 100.0
    for task in ("xquad", "tydiqa", "squad"):
        assert M.qa_scores(task, "de", preds, refs) == {"f1": 0.0, "exact_match": 0.0}
    assert M.qa_scores("xquad", "th", {"q": "x"}, {"q": ["x"]})["f1"] == 100.0  # lang is not used
    with pytest.raises(ValueError, match="no QA metric"):
        M.qa_scores("xnli", "en", preds, refs)


# ---------------------------------------------------------------------------------------------
# seqeval (PAN-X, UD-POS)


def _seqeval_reference(gold, pred):
    """seqeval's functions directly, and the `evaluate` seqeval module's overall_* (micro avg of
    classification_report), on a 0-100 scale."""
    micro = classification_report(gold, pred, output_dict=True, zero_division=0)["micro avg"]
    direct = {"f1": 100 * f1_score(gold, pred), "precision": 100 * precision_score(gold, pred),
              "recall": 100 * recall_score(gold, pred)}
    via_report = {"f1": 100 * micro["f1-score"], "precision": 100 * micro["precision"],
                  "recall": 100 * micro["recall"]}
    return direct, via_report


def _assert_scores(scores, f1, precision, recall):
    assert scores["f1"] == pytest.approx(f1, **EXACT)
    assert scores["precision"] == pytest.approx(precision, **EXACT)
    assert scores["recall"] == pytest.approx(recall, **EXACT)
    assert all(type(v) is float for v in scores.values())


def test_seqeval_panx_hand_counts_and_boundary_errors():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O", "O"]]
    # gold: PER(0-1) LOC(3) ORG(0-2); pred: PER(0-1) ORG(3) ORG(0-1) (boundary error) -> 1 hit
    scores = M.seqeval_scores(gold, pred)
    _assert_scores(scores, 100 / 3, 100 / 3, 100 / 3)
    for reference in _seqeval_reference(gold, pred):
        assert scores == pytest.approx(reference, **EXACT)


def test_seqeval_default_mode_is_lenient():
    gold, pred = [["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]
    # default (conlleval) mode: an I- opens an entity, so PER(0-1) matches
    _assert_scores(M.seqeval_scores(gold, pred), 100.0, 100.0, 100.0)
    assert f1_score(gold, pred, mode="strict", scheme=IOB2) == 0.0  # not what XTREME uses


def test_seqeval_sentences_do_not_merge():
    # sentences are joined with an "O": gold has PER(1) and PER(3), not one PER(1-2)
    gold, pred = [["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["O", "O"]]
    _assert_scores(M.seqeval_scores(gold, pred), 200 / 3, 100.0, 50.0)  # P 1/1, R 1/2


def test_seqeval_all_o_scores_zero_and_warns():
    with pytest.warns(UndefinedMetricWarning):
        scores = M.seqeval_scores([["O", "O"], ["O"]], [["O", "O"], ["O"]])
    _assert_scores(scores, 0.0, 0.0, 0.0)
    with pytest.warns(UndefinedMetricWarning):  # gold all O, one predicted entity: P 0/1, R 0/0
        _assert_scores(M.seqeval_scores([["O", "O"]], [["B-LOC", "O"]]), 0.0, 0.0, 0.0)
    with pytest.warns(UndefinedMetricWarning):  # predictions all O: P 0/0, R 0/1
        _assert_scores(M.seqeval_scores([["B-LOC", "O"]], [["O", "O"]]), 0.0, 0.0, 0.0)


def test_seqeval_udpos_bare_tags_are_chunked():
    # seqeval: prefix = first letter, type = the rest (NOUN -> "OUN"); runs of one tag merge
    with pytest.warns(UserWarning, match="seems not to be NE tag"):
        assert get_entities(["NOUN", "NOUN", "VERB", "SYM", "SYM"]) == [
            ("OUN", 0, 1), ("ERB", 2, 2), ("YM", 3, 3), ("YM", 4, 4)]
        # CCONJ and SCONJ share type "CONJ"; a CCONJ right before an SCONJ is dropped
        assert get_entities(["CCONJ", "SCONJ"]) == [("CONJ", 1, 1)]

        gold, pred = [["DET", "NOUN", "VERB", "PUNCT"]], [["DET", "NOUN", "NOUN", "PUNCT"]]
        # gold chunks ET(0) OUN(1) ERB(2) UNCT(3); pred ET(0) OUN(1-2) UNCT(3) -> 2 hits
        # P 2/3, R 2/4, F1 = 2*(2/3)(1/2)/(2/3+1/2) = 4/7 -- token accuracy would be 75
        scores = M.seqeval_scores(gold, pred)
        _assert_scores(scores, 400 / 7, 200 / 3, 50.0)
        for reference in _seqeval_reference(gold, pred):
            assert scores == pytest.approx(reference, **EXACT)

        # one right token of two, but the gold chunk is NOUN NOUN: no hit at all
        _assert_scores(M.seqeval_scores([["NOUN", "NOUN"]], [["NOUN", "VERB"]]), 0.0, 0.0, 0.0)
        # wrong tag, same type "CONJ": counted correct
        _assert_scores(M.seqeval_scores([["SCONJ"]], [["CCONJ"]]), 100.0, 100.0, 100.0)


def test_seqeval_length_mismatch_raises():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted tags"):
        M.seqeval_scores([["O"], ["B-PER", "O"]], [["O"], ["B-PER"]])
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        M.seqeval_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError):
        M.seqeval_scores([], [])


def test_seqeval_accepts_tuples():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about here
        _assert_scores(M.seqeval_scores([("B-PER", "O")], [("B-PER", "O")]), 100.0, 100.0, 100.0)


# ---------------------------------------------------------------------------------------------
# Retrieval: AP@k, mAP@20, ranking, Tatoeba


def _ranking_with(relevant_at: dict[int, str], length: int) -> list[str]:
    return [relevant_at.get(pos, f"other{pos}") for pos in range(1, length + 1)]


def test_average_precision_hand_computed():
    gold = {"a", "b", "c", "d", "e"}  # 5 relevant; e is never retrieved
    ranking = _ranking_with({1: "a", 3: "b", 6: "c", 22: "d"}, 25)
    # hits at 1, 3, 6 within the top 20: (1/1 + 2/3 + 3/6) / min(20, 5)
    assert M.average_precision_at_k(ranking, gold) == pytest.approx((1 + 2 / 3 + 3 / 6) / 5, **EXACT)
    # k = 25 reaches d at 22: + 4/22
    assert M.average_precision_at_k(ranking, gold, k=25) == pytest.approx(
        (1 + 2 / 3 + 3 / 6 + 4 / 22) / 5, **EXACT)
    # k = 2: only a; divisor min(2, 5) = 2
    assert M.average_precision_at_k(ranking, gold, k=2) == pytest.approx(0.5, **EXACT)


def test_average_precision_divides_by_min_k_and_relevant():
    gold = {f"g{i}" for i in range(30)}
    ranking = [f"g{i}" for i in range(30)]
    # 20 relevant in the top 20: sum 20, divisor min(20, 30) = 20 -> 1 (not 20/30)
    assert M.average_precision_at_k(ranking, gold, k=20) == 1.0


def test_average_precision_duplicated_candidates_count_once():
    # official: the repeat of a is no hit but still takes rank 2, so b is at rank 3
    # (1/1 + 2/3) / 2 = 5/6
    assert M.average_precision_at_k(["a", "a", "b"], {"a", "b"}) == pytest.approx(5 / 6, **EXACT)
    # repeats within the cut push a relevant id beyond k
    ranking = ["a"] * 20 + ["b"]
    assert M.average_precision_at_k(ranking, ["a", "b", "b"]) == pytest.approx(1 / 2, **EXACT)
    assert M.average_precision_at_k(["x", "y"], {"a"}) == 0.0
    with pytest.raises(ValueError):
        M.average_precision_at_k(["a"], set())
    with pytest.raises(ValueError):
        M.average_precision_at_k(["a"], {"a"}, k=0)


def test_map_at_20():
    rankings = [_ranking_with({1: "a", 3: "b", 6: "c", 22: "d"}, 25), ["x", "y", "g"]]
    golds = [{"a", "b", "c", "d", "e"}, ["g"]]
    # AP 13/30 (= 2.1666/5) and 1/3 -> mean 0.38333 -> 38.333
    assert M.map_at_k(rankings, golds) == pytest.approx(100 * ((1 + 2 / 3 + 0.5) / 5 + 1 / 3) / 2, **EXACT)
    with pytest.raises(ValueError):
        M.map_at_k([["a"]], [])
    with pytest.raises(ValueError):
        M.map_at_k([], [])


def test_map_with_one_gold_is_mewslix_mrr():
    # Mewsli-X "map@20" is MRR over the top 20: 1/rank of the gold entity, 0 beyond 20
    rankings = [["Q2", "Q1"], ["Q9", "Q9", "Q7", "Q1"], _ranking_with({21: "Q1"}, 21)]
    golds = [["Q1"], ["Q1"], ["Q1"]]
    assert M.map_at_k(rankings, golds) == pytest.approx(100 * (1 / 2 + 1 / 4 + 0) / 3, **EXACT)


def test_rank_by_cosine_order_ties_and_duplicates():
    query = np.array([[1.0, 0.0]])
    candidates = np.array([[0.0, 1.0],    # c0: cos 0
                           [1.0, 1.0],    # c1: cos 0.707
                           [2.0, 0.0],    # c2: cos 1 (length does not matter)
                           [1.0, 1.0],    # c3: same vector as c1: tie, c1 first
                           [-1.0, 0.0]])  # c4: cos -1
    assert M.rank_by_cosine(query, candidates, ["c0", "c1", "c2", "c3", "c4"], k=3) == [["c2", "c1", "c3"]]
    # duplicated ids collapse to their best rank; the next distinct id moves up
    ids = ["e0", "e1", "e2", "e1", "e3"]
    assert M.rank_by_cosine(query, candidates, ids, k=3) == [["e2", "e1", "e0"]]
    assert M.rank_by_cosine(query, candidates, ids, k=10) == [["e2", "e1", "e0", "e3"]]
    # several queries, float32 input, a zero query scores 0 everywhere: pure candidate order
    queries = np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    assert M.rank_by_cosine(queries, candidates.astype(np.float32), ids, k=2) == [["e0", "e1"], ["e0", "e1"]]


def test_rank_by_cosine_then_map_at_20_with_duplicated_candidates():
    # LAReQA-like: the same answer sentence id appears twice in the pool
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(1, 8))
    others = rng.normal(size=(30, 8))
    others -= np.outer(others @ queries[0], queries[0]) / (queries[0] @ queries[0])  # cos 0
    candidates = np.vstack([queries * 0.5 + others[0] * 0.01, others, queries])  # gold at rows 0 and 31
    ids = ["gold"] + [f"o{i}" for i in range(30)] + ["gold"]
    ranking = M.rank_by_cosine(queries, candidates, ids, k=20)[0]
    assert ranking[0] == "gold" and ranking.count("gold") == 1 and len(ranking) == 20
    assert M.map_at_k([ranking], [{"gold"}]) == 100.0


def test_rank_by_cosine_rejects_bad_input():
    with pytest.raises(ValueError, match="2 candidate ids for 3"):
        M.rank_by_cosine(np.ones((1, 2)), np.ones((3, 2)), ["a", "b"], k=1)
    with pytest.raises(ValueError, match="embedding sizes differ"):
        M.rank_by_cosine(np.ones((1, 3)), np.ones((2, 2)), ["a", "b"], k=1)
    with pytest.raises(ValueError, match="NaN"):
        M.rank_by_cosine(np.array([[np.nan, 1.0]]), np.ones((2, 2)), ["a", "b"], k=1)


def test_nearest_neighbour_accuracy_hand_made():
    source = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    target = np.array([[1.0, 0.1],    # nearest source 0: right
                       [0.1, 1.0],    # nearest source 1: right
                       [1.0, -0.2]])  # nearest source 0, gold 2: wrong
    assert M.nearest_neighbour_accuracy(source, target) == pytest.approx(200 / 3, **EXACT)


def test_nearest_neighbour_accuracy_direction_is_target_to_source():
    # XTREME indexes the source side and queries with each English target row.
    source = np.array([[1.0, 0.0], [0.6, 0.8]])
    target = np.array([[1.0, 0.1], [1.0, 0.2]])
    # t0: cos(s0) = 0.995 > cos(s1) = 0.677 -> right; t1: cos(s0) = 0.981 > 0.745 -> wrong
    assert M.nearest_neighbour_accuracy(source, target) == 50.0
    # the other direction would find s0 -> t0 and s1 -> t1: 100
    assert M.nearest_neighbour_accuracy(target, source) == 100.0


def test_nearest_neighbour_accuracy_duplicates_are_judged_by_index():
    # two identical source sentences: target 1 ties between sources 0 and 1, the lower index wins
    source = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert M.nearest_neighbour_accuracy(source, source.copy()) == pytest.approx(200 / 3, **EXACT)
    # two identical English targets: both retrieve source 0, only one can be right
    source = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    target = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert M.nearest_neighbour_accuracy(source, target) == pytest.approx(200 / 3, **EXACT)


def test_nearest_neighbour_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="3 source rows but 2 target rows"):
        M.nearest_neighbour_accuracy(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError):
        M.nearest_neighbour_accuracy(np.ones((0, 2)), np.ones((0, 2)))


def test_similarity_blocks_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(1)
    source = rng.normal(size=(40, 6))
    target = source + rng.normal(scale=0.8, size=(40, 6))
    ids = [f"c{i % 25}" for i in range(40)]
    whole = (M.nearest_neighbour_accuracy(source, target), M.rank_by_cosine(target, source, ids, 20))
    monkeypatch.setattr(M, "_BLOCK_ELEMENTS", 7)  # one query row per block
    assert (M.nearest_neighbour_accuracy(source, target), M.rank_by_cosine(target, source, ids, 20)) == whole
    assert not math.isclose(whole[0], 100.0)  # the case is not trivial


def test_average_precision_rejects_a_bare_id_string():
    with pytest.raises(TypeError):
        M.average_precision_at_k(["Q1"], "Q1")
