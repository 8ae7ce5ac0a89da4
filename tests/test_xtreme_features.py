"""hpc_itt.xtreme.features on the real tiny-bert (WordPiece), tiny-roberta (byte-level BPE) and
tiny-xlnet (sentencepiece, left padding, CLS last) tokenizers.

Every case is built so that a plausible wrong implementation gives a different answer: labelling
every or the last subword, truncating long sentences instead of splitting them, an off-by-one
``word_start``, QA answers that only a later window contains, answers crossing a window boundary,
the best span chosen by score across windows, ``max_answer_length``, ``end < start``, CLS labels,
and character offsets that must give back the exact gold substring (Chinese, Arabic, Thai).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpc_itt.errors import UserError
from hpc_itt.xtreme import features as F

TOKENIZERS = ("tiny-bert", "tiny-roberta", "tiny-xlnet")


def _load(name: str, **kwargs):
    from transformers import AutoTokenizer

    from hpc_itt.assets import model_asset

    return AutoTokenizer.from_pretrained(model_asset(name), local_files_only=True, **kwargs)


@pytest.fixture(scope="module")
def toks() -> dict:
    return {name: _load(name) for name in TOKENIZERS}


@pytest.fixture(scope="module", params=TOKENIZERS)
def tok(request, toks):
    return toks[request.param]


def _rows(columns: dict) -> list[dict]:
    keys = list(columns)
    return [dict(zip(keys, values)) for values in zip(*(columns[k] for k in keys))]


# --------------------------------------------------------------------------- tagging

TAGS = ["NOUN", "VERB", "ADJ", "ADP", "PROPN", "PUNCT", "X"]
LABEL2ID = {t: i for i, t in enumerate(TAGS)}
ID2LABEL = {i: t for t, i in LABEL2ID.items()}

# multi-subword words, non-Latin words, words that tokenize to nothing (zero-width space, empty,
# lone combining accent), and one word far longer than a 16-token budget
LONG = (
    "Unbelievably the antidisestablishmentarianism committee reconvened \u200b in Reykjavík , "
    "北京 and القاهرة with กรุงเทพมหานคร delegates ; nevertheless"
).split(" ")
LONG = LONG[:5] + [""] + LONG[5:9] + ["\u0301"] + LONG[9:]
LONG = LONG + ["pneumonoultramicroscopicsilicovolcanoconiosis"] + LONG + ["finally", "ends", "here"]
LONG_TAGS = [TAGS[(i * 3 + 1) % len(TAGS)] for i in range(len(LONG))]
LONG_TAGS[-3:] = ["VERB", "ADJ", "PROPN"]  # none of them is label 0 (the fallback)


def _first_subword_positions(tokenizer, words: list[str]) -> list[int]:
    """Independent reference: each word's first subword, from the tokenizer's own word_ids()."""
    ref = _load("tiny-roberta", add_prefix_space=True) if "Roberta" in type(tokenizer).__name__ else tokenizer
    enc = ref(words, is_split_into_words=True)
    firsts, seen = [], set()
    for pos, w in enumerate(enc.word_ids()):
        if w is not None and w not in seen:
            seen.add(w)
            firsts.append(pos)
    assert len(firsts) == len(words)
    return firsts


def test_bert_labels_exactly_the_first_subword(toks):
    bert = toks["tiny-bert"]
    words = ["Unbelievably", "long", "antidisestablishmentarianism"]
    out = F.encode_tagging({"id": ["s"], "tokens": [words], "tags": [["ADJ", "NOUN", "X"]]}, bert, LABEL2ID, 64)
    pieces = bert.convert_ids_to_tokens(out["input_ids"][0])
    assert pieces == ["[CLS]", "un", "##bel", "##ie", "##va", "##bly", "long",
                      "anti", "##dis", "##est", "##ab", "##lish", "##ment", "##arian", "##ism", "[SEP]"]
    x = -100
    assert out["labels"][0] == [x, 2, x, x, x, x, 0, 6, x, x, x, x, x, x, x, x]
    assert out["token_type_ids"][0] == [0] * 16
    assert (out["example_id"], out["word_start"], out["num_words"]) == (["s"], [0], [3])


def test_labels_on_first_subword_only(tok):
    words = ["Unbelievably", "antidisestablishmentarianism", "Reykjavík", "北京", "القاهرة", "ends"]
    tags = ["ADJ", "NOUN", "PROPN", "PROPN", "PROPN", "VERB"]
    out = F.encode_tagging({"id": [7], "tokens": [words], "tags": [tags]}, tok, LABEL2ID, max_length=128)
    assert len(out["input_ids"]) == 1 and out["example_id"] == ["7"]
    labels = out["labels"][0]
    firsts = _first_subword_positions(tok, words)
    assert [labels[p] for p in firsts] == [LABEL2ID[t] for t in tags]
    assert sum(label != -100 for label in labels) == len(words)  # not every subword, not the last one
    # the words really have several subwords, so the first and last subword differ
    assert all(b - a > 1 for a, b in zip(firsts[:2], firsts[1:3]))
    special = set(tok.all_special_ids)
    assert all(label == -100 for i, label in zip(out["input_ids"][0], labels) if i in special)


def test_roberta_words_get_a_prefix_space_without_changing_the_tokenizer(toks):
    roberta = toks["tiny-roberta"]
    words = ["Hello", "world", "北京", "again"]
    out = F.encode_tagging({"id": ["r"], "tokens": [words], "tags": [["X"] * 4]}, roberta, LABEL2ID, max_length=32)
    reference = _load("tiny-roberta", add_prefix_space=True)
    assert out["input_ids"][0] == reference(words, is_split_into_words=True)["input_ids"]
    assert roberta.convert_ids_to_tokens(out["input_ids"][0])[1:3] == ["ĠHello", "Ġworld"]
    # a tokenizer already loaded with add_prefix_space=True gets no second space
    again = F.encode_tagging({"id": ["r"], "tokens": [words], "tags": [["X"] * 4]}, reference, LABEL2ID, max_length=32)
    assert again["input_ids"] == out["input_ids"]
    assert "token_type_ids" not in out
    assert roberta("a b")["input_ids"] == _load("tiny-roberta")("a b")["input_ids"]  # caller's tokenizer untouched


def test_long_sentence_is_split_at_word_boundaries_not_truncated(tok):
    max_length = 16
    out = F.encode_tagging({"id": ["long"], "tokens": [LONG], "tags": [LONG_TAGS]}, tok, LABEL2ID, max_length)
    n = len(out["input_ids"])
    assert n >= 4
    assert all(len(ids) <= max_length for ids in out["input_ids"])
    # chunks tile the sentence: each starts where the previous one ended (no off-by-one, no gap)
    starts, counts = out["word_start"], out["num_words"]
    assert starts[0] == 0 and all(starts[k + 1] == starts[k] + counts[k] for k in range(n - 1))
    assert starts[-1] + counts[-1] == len(LONG)
    # the labelled positions, chunk after chunk, are the gold tags of the whole sentence in order
    flat = [label for labels in out["labels"] for label in labels if label != -100]
    assert flat == [LABEL2ID[t] for t in LONG_TAGS]
    for labels, c in zip(out["labels"], counts):
        assert sum(label != -100 for label in labels) == c
    # greedy: a chunk is closed only when the next word would not fit the budget
    budget = max_length - tok.num_special_tokens_to_add(pair=False)
    word_sizes = []  # per chunk, subwords of each of its words (labelled position to the next one)
    for ids, labels in zip(out["input_ids"], out["labels"]):
        firsts = [p for p, label in enumerate(labels) if label != -100]
        content_end = len(ids) - (tok.num_special_tokens_to_add(pair=False) - firsts[0])
        word_sizes.append([b - a for a, b in zip(firsts, firsts[1:] + [content_end])])
    for k in range(n):
        assert sum(word_sizes[k]) <= budget
        if k + 1 < n:
            assert sum(word_sizes[k]) + word_sizes[k + 1][0] > budget or word_sizes[k + 1][0] == budget


def test_a_word_longer_than_the_budget_keeps_its_first_subwords(tok):
    giant = "pneumonoultramicroscopicsilicovolcanoconiosis"
    words = ["short", giant, "after"]
    out = F.encode_tagging({"id": ["g"], "tokens": [words], "tags": [["NOUN", "X", "VERB"]]}, tok, LABEL2ID, 10)
    assert out["word_start"] == [0, 1, 2] and out["num_words"] == [1, 1, 1]
    assert len(out["input_ids"][1]) == 10  # the giant word alone, cut to the budget
    assert [[x for x in labels if x != -100] for labels in out["labels"]] == [[0], [6], [1]]


def test_words_that_tokenize_to_nothing_keep_their_position(tok):
    words = ["a", "\u200b", "b", "", "c", "\u0301", "\ufeff", "d"]
    tags = ["NOUN", "VERB", "ADJ", "ADP", "PROPN", "PUNCT", "X", "NOUN"]
    out = F.encode_tagging({"id": ["z"], "tokens": [words], "tags": [tags]}, tok, LABEL2ID, 64)
    assert [x for x in out["labels"][0] if x != -100] == [LABEL2ID[t] for t in tags]
    assert out["num_words"] == [len(words)]


def test_unknown_tag_missing_tags_and_empty_sentences(toks):
    bert = toks["tiny-bert"]
    with pytest.raises(UserError, match="B-MISC"):
        F.encode_tagging({"id": ["u"], "tokens": [["x"]], "tags": [["B-MISC"]]}, bert, LABEL2ID, 16)
    out = F.encode_tagging({"id": ["p", "e"], "tokens": [["Unbelievably", "x"], []]}, bert, LABEL2ID, 16)
    assert out["example_id"] == ["p"]  # an empty sentence has no feature
    assert [x for x in out["labels"][0] if x != -100] == [0, 0]  # unlabelled: dummy label on first subwords
    decoded = F.decode_tagging(out, [np.zeros((len(out["input_ids"][0]), len(TAGS)))], ID2LABEL,
                               [{"id": "p", "tokens": ["Unbelievably", "x"]}, {"id": "e", "tokens": []}])
    assert decoded == {"p": ["NOUN", "NOUN"], "e": []}


def _tagging_logits(out: dict, gold_by_example: dict, padding_side: str, pad: int = 3) -> list[np.ndarray]:
    """Gold label on each word's first subword; a decoy label (and a larger score) everywhere else,
    so that reading any other subword, or a shifted word, gives a different tag."""
    result = []
    for labels, eid, start in zip(out["labels"], out["example_id"], out["word_start"]):
        gold = gold_by_example[eid]
        logits = np.zeros((len(labels), len(TAGS)), dtype=np.float32)
        word = start
        for pos, label in enumerate(labels):
            if label == -100:
                logits[pos, (pos * 5 + 3) % len(TAGS)] = 9.0
            else:
                logits[pos, LABEL2ID[gold[word]]] = 5.0
                word += 1
        padding = np.full((pad, len(TAGS)), 50.0, dtype=np.float32)  # garbage in padding
        result.append(np.concatenate([padding, logits] if padding_side == "left" else [logits, padding]))
    return result


def test_tagging_round_trip_reassembles_chunks(tok):
    examples = [
        {"id": "long", "tokens": LONG, "tags": LONG_TAGS},
        {"id": "short", "tokens": ["Reykjavík", "ends"], "tags": ["PROPN", "VERB"]},
        {"id": "empty", "tokens": [], "tags": []},
    ]
    batch = {k: [ex[k] for ex in examples] for k in ("id", "tokens", "tags")}
    out = F.encode_tagging(batch, tok, LABEL2ID, max_length=16)
    assert out["example_id"].count("long") >= 4
    logits = _tagging_logits(out, {ex["id"]: ex["tags"] for ex in examples}, tok.padding_side)
    # features in reverse order: reassembly must use word_start, not arrival order
    rows = _rows(out)[::-1]
    decoded = F.decode_tagging(rows, logits[::-1], ID2LABEL, examples, padding_side=tok.padding_side)
    assert decoded == {ex["id"]: ex["tags"] for ex in examples}
    assert len(decoded["long"]) == len(LONG)


def test_tagging_through_datasets_map(toks):
    from datasets import Dataset

    xlnet = toks["tiny-xlnet"]
    examples = Dataset.from_list([{"id": f"s{i}", "tokens": LONG[i:], "tags": LONG_TAGS[i:]} for i in range(3)])
    feats = examples.map(F.encode_tagging, batched=True, batch_size=2, remove_columns=examples.column_names,
                         fn_kwargs=dict(tokenizer=xlnet, label2id=LABEL2ID, max_length=20))
    assert len(feats) > len(examples)
    assert set(feats.column_names) == {
        "input_ids", "attention_mask", "labels", "example_id", "word_start", "num_words"}
    gold = {ex["id"]: ex["tags"] for ex in examples}
    logits = _tagging_logits(feats.to_dict(), gold, "left")
    id2label = {str(k): v for k, v in ID2LABEL.items()}  # as a config.json gives it back
    assert F.decode_tagging(feats, logits, id2label, examples, padding_side="left") == gold


def test_decode_tagging_rejects_inconsistent_features(toks):
    batch = {"id": ["a"], "tokens": [["x", "y"]], "tags": [["X", "X"]]}
    out = F.encode_tagging(batch, toks["tiny-bert"], LABEL2ID, 16)
    rows = _rows(out)
    rows[0]["num_words"] = 3
    with pytest.raises(ValueError, match="labelled positions"):
        F.decode_tagging(rows, [np.zeros((4, len(TAGS)))], ID2LABEL, [{"id": "a", "tokens": ["x", "y", "z"]}])


# --------------------------------------------------------------------------- QA

QA_MAX, QA_STRIDE = 48, 16


def _filler(n: int, offset: int = 0) -> str:
    return " ".join(f"token{i + offset}" for i in range(n))


def _qa(eid: str, context: str, question: str, answer: str, occurrence: int = 0) -> dict:
    start = -1
    for _ in range(occurrence + 1):
        start = context.index(answer, start + 1)
    answers = {"text": [answer], "answer_start": [start]}
    return {"id": eid, "context": context, "question": question, "answers": answers}


def _batch(examples: list[dict]) -> dict:
    return {k: [ex[k] for ex in examples] for k in examples[0]}


def _context_offsets(window_offsets) -> list[tuple[int, int]]:
    return [tuple(o) for o in window_offsets if o[0] >= 0]


def test_windows_start_doc_stride_tokens_apart_and_cover_the_context(tok):
    context = _filler(70)
    ex = _qa("w", context, "Which token comes here?", "token50")
    ev = F.encode_qa_eval(_batch([ex]), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    full = [tuple(o) for o in tok(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
    windows = [_context_offsets(o) for o in ev["offsets"]]
    assert len(windows) >= 3
    for k, window in enumerate(windows):
        assert window == full[k * QA_STRIDE : k * QA_STRIDE + len(window)]  # starts k * doc_stride tokens in
    assert windows[-1][-1] == full[-1]
    assert all(len(ids) <= QA_MAX for ids in ev["input_ids"])
    assert all(len(ids) == QA_MAX for ids in ev["input_ids"][:-1])
    assert set(ev["example_id"]) == {"w"}


def _check_train_labels(tok, examples, tr, ev):
    """Every window: either CLS/CLS and the gold answer is not entirely inside, or the span's
    offsets give back exactly the gold text. Returns, per example, the windows that hold it."""
    holders: dict[str, list[int]] = {}
    for k, (eid, offsets, ids) in enumerate(zip(ev["example_id"], ev["offsets"], ev["input_ids"])):
        ex = next(e for e in examples if e["id"] == eid)
        gold, a = ex["answers"]["text"][0], ex["answers"]["answer_start"][0]
        s, e = tr["start_positions"][k], tr["end_positions"][k]
        assert tr["input_ids"][k] == ids
        ctx = _context_offsets(offsets)
        inside = ctx[0][0] <= a and a + len(gold) <= ctx[-1][1]
        if inside:
            assert offsets[s][0] >= 0 and offsets[e][0] >= 0 and s <= e
            assert ex["context"][offsets[s][0] : offsets[e][1]] == gold
            holders.setdefault(eid, []).append(k)
        else:
            assert s == e and ids[s] == tok.cls_token_id
            assert s == (len(ids) - 1 if tok.padding_side == "left" else 0)
    return holders


def test_answer_only_in_a_later_window(tok):
    context = _filler(90)
    ex = _qa("late", context, "Where is it?", "token80 token81")
    tr = F.encode_qa_train(_batch([ex]), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    ev = F.encode_qa_eval(_batch([ex]), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    holders = _check_train_labels(tok, [ex], tr, ev)["late"]
    assert 0 not in holders and 1 not in holders and holders  # only the 3rd window onward hold it
    cls = tr["start_positions"][0]
    assert tr["end_positions"][0] == cls and ev["input_ids"][0][cls] == tok.cls_token_id


def test_answer_crossing_a_window_boundary_is_labelled_in_a_later_window(tok):
    context = _filler(60)
    probe = F.encode_qa_eval(_batch([_qa("b", context, "Where?", "token0")]), tok, QA_MAX, QA_STRIDE)
    end0 = _context_offsets(probe["offsets"][0])[-1][1]  # where window 0's context stops
    a = context.rindex(" ", 0, end0 - 3) + 1  # a word that starts inside window 0 ...
    b = context.index(" ", end0 + 1)  # ... and an answer that ends after it
    ex = _qa("b", context, "Where?", context[a:b])
    assert ex["answers"]["answer_start"] == [a]
    tr = F.encode_qa_train(_batch([ex]), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    ev = F.encode_qa_eval(_batch([ex]), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    holders = _check_train_labels(tok, [ex], tr, ev)["b"]
    assert holders and holders[0] >= 1
    assert tr["start_positions"][0] == tr["end_positions"][0]  # window 0 has only part of it: CLS, not a cut span


NON_LATIN = [
    ("zh", "北京是中国的首都，人口众多。" * 3 + "长江是亚洲最长的河流，流经上海。" + "黄河在北方。" * 4, "上海"),
    ("ar", "القاهرة هي عاصمة مصر وأكبر مدنها . " * 3 + "يمر نهر النيل عبر المدينة من الجنوب . "
     + "الجو حار في الصيف . " * 3, "النيل"),
    ("th", "กรุงเทพมหานคร เป็น เมืองหลวง ของ ประเทศไทย " * 3 + "แม่น้ำ เจ้าพระยา ไหล ผ่าน เมือง "
     + "อากาศ ร้อน มาก " * 4, "เจ้าพระยา"),
    ("mix", "Café naïve résumé — " * 4 + "the river Pegnitz flows through Nürnberg . " + "ok " * 20, "Nürnberg"),
]


@pytest.mark.parametrize("name", ["tiny-roberta", "tiny-bert"])
def test_offsets_give_back_the_exact_non_latin_answer(toks, name):
    tok = toks[name]
    examples = [_qa(lang, ctx, "Which one is it?", ans) for lang, ctx, ans in NON_LATIN]
    examples.append(_qa("zh2", NON_LATIN[0][1], "哪个城市?", "首都", occurrence=2))
    tr = F.encode_qa_train(_batch(examples), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    ev = F.encode_qa_eval(_batch(examples), tok, max_length=QA_MAX, doc_stride=QA_STRIDE)
    assert len(ev["input_ids"]) > 2 * len(examples)  # several windows per example
    holders = _check_train_labels(tok, examples, tr, ev)
    assert set(holders) == {ex["id"] for ex in examples}
    # and the decoder turns the labelled token span back into the gold string
    start_logits, end_logits = [], []
    for k, ids in enumerate(ev["input_ids"]):
        s, e = np.zeros(len(ids)), np.zeros(len(ids))
        if any(k in v for v in holders.values()):
            s[tr["start_positions"][k]] = 10.0
            e[tr["end_positions"][k]] = 10.0
        start_logits.append(s)
        end_logits.append(e)
    gold = {ex["id"]: ex["answers"]["text"][0] for ex in examples}
    assert F.decode_qa(examples, ev, start_logits, end_logits) == gold


def test_xlnet_puts_the_context_first_and_cls_last(toks):
    xlnet = toks["tiny-xlnet"]
    ex = _qa("x", _filler(40), "Where is it?", "token30")
    ev = F.encode_qa_eval(_batch([ex]), xlnet, max_length=QA_MAX, doc_stride=QA_STRIDE)
    for ids, offsets in zip(ev["input_ids"], ev["offsets"]):
        assert ids[-1] == xlnet.cls_token_id and offsets[0][0] >= 0 and offsets[-1] == [-1, -1]


def test_long_questions_are_cut_to_max_query_length(tok):
    ex = _qa("q", _filler(30), _filler(50, offset=1000), "token20")
    ev = F.encode_qa_eval(_batch([ex]), tok, max_length=64, doc_stride=16, max_query_length=8)
    ids, offsets = ev["input_ids"][0], ev["offsets"][0]
    question_tokens = len(ids) - len(_context_offsets(offsets)) - tok.num_special_tokens_to_add(pair=True)
    assert question_tokens == 8
    with pytest.raises(UserError, match="no room"):
        F.encode_qa_eval(_batch([ex]), tok, max_length=12, doc_stride=4, max_query_length=12)


def test_unanswerable_rows_get_cls_everywhere(toks):
    bert = toks["tiny-bert"]
    ex = {"id": "n", "context": _filler(60), "question": "?", "answers": {"text": [], "answer_start": []}}
    tr = F.encode_qa_train(_batch([ex]), bert, max_length=QA_MAX, doc_stride=QA_STRIDE)
    assert set(tr["start_positions"]) == set(tr["end_positions"]) == {0}


# ----- decoding with synthetic logits


@pytest.fixture(scope="module")
def qa_case(toks):
    """One example over three windows (tiny-bert), plus helpers to place logits on words."""
    bert = toks["tiny-bert"]
    context = _filler(70)
    ex = _qa("d", context, "Which token?", "token5")
    ev = F.encode_qa_eval(_batch([ex]), bert, max_length=QA_MAX, doc_stride=QA_STRIDE)
    assert len(ev["input_ids"]) >= 3

    def token_of(window: int, word: str, last: bool = False) -> int:
        a = context.index(word + " ") if word + " " in context else context.index(word)
        b = a + len(word)
        offsets = ev["offsets"][window]
        hits = [t for t, o in enumerate(offsets) if o[0] >= 0 and a <= o[0] < b]
        assert hits, (window, word)
        return hits[-1] if last else hits[0]

    def logits(spans: dict) -> tuple[list, list]:
        """spans: window -> list of (word_start, word_end, start_score, end_score)."""
        starts = [np.full(len(ids), -5.0) for ids in ev["input_ids"]]
        ends = [np.full(len(ids), -5.0) for ids in ev["input_ids"]]
        for w, items in spans.items():
            for ws, we, ss, es in items:
                starts[w][token_of(w, ws)] = ss
                ends[w][token_of(w, we, last=True)] = es
        return starts, ends

    return ex, ev, logits, token_of


def test_decode_picks_the_best_span_across_windows(qa_case):
    ex, ev, logits, _ = qa_case
    # window 0: start 9 but weak end; window 1: the best pair (16); window 2: a decent pair
    starts, ends = logits({0: [("token3", "token4", 9.0, 1.0)], 1: [("token20", "token21", 8.0, 8.0)],
                           2: [("token34", "token34", 6.0, 6.0)]})
    assert F.decode_qa([ex], ev, starts, ends) == {"d": "token20 token21"}
    starts, ends = logits({0: [("token3", "token4", 9.0, 1.0)], 1: [("token20", "token21", 8.0, 8.0)],
                           2: [("token34", "token34", 9.0, 9.0)]})
    assert F.decode_qa([ex], ev, starts, ends) == {"d": "token34"}


def test_decode_respects_max_answer_length(qa_case):
    ex, ev, logits, token_of = qa_case
    # window 1 holds token8..token28; a strong 4-word span and a weaker 2-word one
    starts, ends = logits({1: [("token16", "token19", 10.0, 10.0), ("token22", "token23", 4.0, 4.0)]})
    long_len = token_of(1, "token19", last=True) - token_of(1, "token16") + 1
    assert F.decode_qa([ex], ev, starts, ends, max_answer_length=long_len) == {"d": "token16 token17 token18 token19"}
    # one token shorter: the strong span (and token16..token23) is too long; token22..token23 wins
    assert F.decode_qa([ex], ev, starts, ends, max_answer_length=long_len - 1) == {"d": "token22 token23"}


def test_decode_never_ends_before_it_starts(qa_case):
    ex, ev, logits, token_of = qa_case
    # window 2 holds token16..token36; the best start (token30) lies after the best end (token24)
    starts, ends = logits({2: [("token30", "token24", 10.0, 10.0), ("token20", "token31", 3.0, 2.0)]})
    only_2 = [_rows(ev)[2]]  # (in the other windows, ties would give a valid 1-token span)
    assert F.decode_qa([ex], only_2, starts[2:3], ends[2:3], n_best=1) == {"d": ""}
    decoded = F.decode_qa([ex], only_2, starts[2:3], ends[2:3], n_best=2)
    assert decoded == {"d": "token20 token21 token22 token23 token24"}
    # n_best=2: (token30, token24) scores 20 but is reversed; (token20, token24) = 13 beats (token30, token31) = 12
    assert F.decode_qa([ex], ev, starts, ends, n_best=2) == {"d": "token20 token21 token22 token23 token24"}


def test_decode_ignores_question_and_special_tokens(qa_case):
    ex, ev, logits, _ = qa_case
    starts, ends = logits({0: [("token2", "token2", 4.0, 4.0)]})
    for w in range(len(starts)):  # huge scores on CLS and the question tokens of every window
        outside = [t for t, o in enumerate(ev["offsets"][w]) if o[0] < 0]
        starts[w][outside] = 100.0
        ends[w][outside] = 100.0
    assert F.decode_qa([ex], ev, starts, ends) == {"d": "token2"}


def test_decode_qa_handles_padding_side(toks):
    xlnet = toks["tiny-xlnet"]
    context = _filler(40)
    ex = _qa("p", context, "Which token?", "token33 token34")
    tr = F.encode_qa_train(_batch([ex]), xlnet, max_length=QA_MAX, doc_stride=QA_STRIDE)
    ev = F.encode_qa_eval(_batch([ex]), xlnet, max_length=QA_MAX, doc_stride=QA_STRIDE)
    width = max(len(ids) for ids in ev["input_ids"]) + 5
    starts, ends = [], []
    for k, ids in enumerate(ev["input_ids"]):
        s, e = np.zeros(width), np.zeros(width)
        s[: width - len(ids)] = e[: width - len(ids)] = 99.0  # left padding carries garbage
        if tr["start_positions"][k] != len(ids) - 1:
            s[width - len(ids) + tr["start_positions"][k]] = 20.0
            e[width - len(ids) + tr["end_positions"][k]] = 20.0
        starts.append(s)
        ends.append(e)
    assert F.decode_qa([ex], ev, starts, ends, padding_side="left") == {"p": "token33 token34"}


def test_qa_eval_through_datasets_map(toks):
    from datasets import Dataset

    roberta = toks["tiny-roberta"]
    examples = Dataset.from_list([_qa(lang, ctx, "Which?", ans) for lang, ctx, ans in NON_LATIN])
    feats = examples.map(F.encode_qa_eval, batched=True, batch_size=3, remove_columns=examples.column_names,
                         fn_kwargs=dict(tokenizer=roberta, max_length=QA_MAX, doc_stride=QA_STRIDE))
    assert len(feats) > len(examples)
    assert set(feats.column_names) == {"input_ids", "attention_mask", "example_id", "offsets"}
    first = feats[0]["offsets"]
    assert all(len(o) == 2 for o in first) and [-1, -1] in first
    zeros = [np.zeros(len(f["input_ids"])) for f in feats]
    assert F.decode_qa(examples, feats, zeros, zeros, max_answer_length=1)["zh"] != ""  # any 1-token answer


# --------------------------------------------------------------------------- multiple choice

COPA = {"id": ["c1", "s1"], "context": ["The man broke his toe.", "Tracy went to the store."],
        "question": ["cause", "Why did Tracy do this?"],
        "choices": [["He dropped a hammer on his foot.", "He got a hole in his sock."],
                    ["to buy food", "to sleep", "to swim there"]],
        "label": [0, 2]}


def test_encode_choice_templates(toks):
    bert = toks["tiny-bert"]
    out = F.encode_choice({k: [v[0]] for k, v in COPA.items()}, bert, max_length=64)
    assert out["label"] == [0] and len(out["input_ids"][0]) == 2
    text = bert.decode(out["input_ids"][0][0], skip_special_tokens=False)
    assert text == "[CLS] the man broke his toe. what was the cause? [SEP] he dropped a hammer on his foot. [SEP]"
    assert out["token_type_ids"][0][0][-3:] == [1, 1, 1]
    assert out["length"] == [max(len(x) for x in out["input_ids"][0])]
    siqa = F.encode_choice({k: [v[1]] for k, v in COPA.items()}, bert, max_length=64)
    text = bert.decode(siqa["input_ids"][0][2])
    assert text == "[CLS] tracy went to the store. why did tracy do this? [SEP] to swim there [SEP]"
    batch = {"id": ["e"], "context": ["It rained."], "question": ["effect"], "choices": [["a", "b"]], "label": [1]}
    effect = F.encode_choice(batch, bert, max_length=64)
    assert "what was the effect?" in bert.decode(effect["input_ids"][0][1])
    short = F.encode_choice({k: [v[0]] for k, v in COPA.items()}, bert, max_length=10)
    assert all(len(x) == 10 for x in short["input_ids"][0])


def test_collate_choice_pads_on_the_tokenizer_side(tok):
    two = {"id": ["c1", "c2"], "context": ["The man broke his toe.", "It rained."], "question": ["cause", "effect"],
           "choices": [COPA["choices"][0], ["The grass got wet.", "Nothing"]], "label": [0, 1]}
    rows = _rows(F.encode_choice(two, tok, max_length=64))
    batch = F.collate_choice(rows, tok)
    lengths = [[len(x) for x in r["input_ids"]] for r in rows]
    width = max(max(x) for x in lengths)
    assert batch["input_ids"].shape == (2, 2, width) and batch["attention_mask"].shape == (2, 2, width)
    assert batch["labels"].tolist() == [0, 1] and batch["labels"].dtype == torch.long
    assert ("token_type_ids" in batch) == ("token_type_ids" in rows[0])
    for b, r in enumerate(rows):
        for c, ids in enumerate(r["input_ids"]):
            pad = width - len(ids)
            got = batch["input_ids"][b, c].tolist()
            mask = batch["attention_mask"][b, c].tolist()
            if tok.padding_side == "left":
                assert got == [tok.pad_token_id] * pad + ids and mask == [0] * pad + [1] * len(ids)
            else:
                assert got == ids + [tok.pad_token_id] * pad and mask == [1] * len(ids) + [0] * pad
    assert min(min(x) for x in lengths) < width  # something was actually padded
    with pytest.raises(ValueError, match="numbers of choices"):
        F.collate_choice(_rows(F.encode_choice(COPA, tok, max_length=64)), tok)


# --------------------------------------------------------------------------- sentence encoding and pooling


def test_encode_texts_with_and_without_context(toks):
    bert = toks["tiny-bert"]
    batch = {"text": ["Where is Paris?", "Short"], "context": ["Paris is in France. " * 40, None]}
    plain = F.encode_texts(batch, bert, max_length=32)
    assert plain["input_ids"][0] == bert("Where is Paris?")["input_ids"] and plain["length"] == [6, 3]
    paired = F.encode_texts(batch, bert, max_length=32, context_field="context")
    assert paired["length"] == [32, 4]
    assert paired["input_ids"][0][:6] == plain["input_ids"][0]  # the short sentence survives whole
    assert paired["token_type_ids"][0][6:] == [1] * 26
    roberta = F.encode_texts(batch, toks["tiny-roberta"], max_length=32, context_field="context")
    assert "token_type_ids" not in roberta and roberta["length"][0] == 32


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 5.0], [7.0, 7.0], [9.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    assert torch.allclose(F.mean_pool(hidden, mask), torch.tensor([[2.0, 3.0], [8.0, 8.0]]))
    assert F.mean_pool(hidden, torch.zeros(2, 3, dtype=torch.long)).abs().sum() == 0


# --------------------------------------------------------------------------- fast tokenizers only


class _SlowTokenizer:
    is_fast = False


@pytest.mark.parametrize(
    "call",
    [
        lambda t: F.require_fast(t),
        lambda t: F.encode_tagging({"id": ["a"], "tokens": [["x"]], "tags": [["X"]]}, t, LABEL2ID, 16),
        lambda t: F.encode_qa_train(_batch([_qa("a", "b c", "q", "c")]), t),
        lambda t: F.encode_qa_eval(_batch([_qa("a", "b c", "q", "c")]), t),
        lambda t: F.encode_choice({k: [v[0]] for k, v in COPA.items()}, t, 16),
        lambda t: F.encode_texts({"text": ["x"]}, t, 16),
    ],
)
def test_slow_tokenizers_are_refused_clearly(call):
    with pytest.raises(UserError, match="fast tokenizer"):
        call(_SlowTokenizer())


def test_real_tokenizers_are_fast(tok):
    F.require_fast(tok)
