"""Tokenisation for each XTREME-R head, and decoding of model outputs back to task predictions.

Every ``encode_*`` function is a ``datasets.Dataset.map(batched=True, remove_columns=...)`` function:
it takes a dict of columns -> lists (the example records of :mod:`hpc_itt.xtreme`) and returns a
dict of columns -> lists, whose row count may differ from the input's (sentence chunks, QA windows).
Nothing is padded here; padding happens in the collator (``collate_choice`` for multiple choice,
the usual ``transformers`` collators elsewhere). All functions need a *fast* tokenizer (word ids and
character offsets); :func:`require_fast` raises a :class:`~hpc_itt.errors.UserError` otherwise.

Conventions
-----------
Token classification (UD-POS, PAN-X)
    Only the FIRST subword of each word carries the word's label; later subwords and special tokens
    get -100. A sentence whose subwords do not fit ``max_length`` (special tokens included) is split
    greedily at word boundaries into several features (never truncated); each feature records
    ``word_start`` (index in the sentence of its first word) and ``num_words``. A single word with
    more subwords than the budget forms a chunk of its own and keeps only its first subwords. A word
    that tokenizes to nothing (zero-width space, lone combining mark, empty string...) is replaced by
    the unknown token, so that every word keeps exactly one labelled position (the XTREME reference
    code does the same). Byte-level BPE tokenizers loaded without ``add_prefix_space=True``
    (RoBERTa, GPT-2) get a leading space on each pre-split word, which is exactly what
    ``add_prefix_space=True`` does; the caller's tokenizer is not modified. Rows without a ``tags``
    column (unlabelled prediction data) get label 0 on first subwords, so decoding still finds them.

Extractive QA (SQuAD, XQuAD, MLQA, TyDiQA-GoldP)
    The question (left-stripped, cut to ``max_query_length`` tokens) and the context form a pair;
    the question comes first, except for tokenizers that pad on the left (XLNet), where the
    context comes first, as in the reference ``run_squad.py``. ``doc_stride`` has its original
    BERT/XTREME meaning: consecutive windows START ``doc_stride`` context tokens apart (they
    overlap by ``window - doc_stride`` tokens; with ``doc_stride >= window`` they are contiguous).
    Training labels are the token span of the first gold answer when it lies entirely inside the
    window, else both positions are the CLS index (index 0, or the last token for XLNet).

Multiple choice (XCOPA, COPA, SIQA)
    First segment = premise/context plus the question, second segment = the choice, truncated
    longest-first. COPA-style questions follow the XTREME ``run_xcopa.py`` template:
    ``"<premise> What was the cause?"`` / ``"<premise> What was the effect?"`` (in English for every
    language). SIQA (any other question): ``"<context> <question>"``.

Sentence encoding (Tatoeba, LAReQA, Mewsli-X)
    ``text_field`` is the first segment, ``context_field`` (if given) the second; truncated
    longest-first, so a short sentence survives a long context.

Decoding with padded logits
    ``decode_tagging`` and ``decode_qa`` accept logits longer than the feature (batch padding);
    ``padding_side`` (default ``"right"``; pass ``tokenizer.padding_side``, ``"left"`` for XLNet)
    says which end the padding is on.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from ..errors import UserError

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
NO_OFFSET = (-1, -1)

# XTREME run_xcopa.py: f"{premise} What was the {question}?" for COPA; SIQA concatenates.
COPA_QUESTIONS = ("cause", "effect")
COPA_TEMPLATE = "{context} What was the {question}?"
SIQA_TEMPLATE = "{context} {question}"


# --------------------------------------------------------------------------- tokenizer helpers


def require_fast(tokenizer) -> None:
    """Raise a UserError unless ``tokenizer`` is a fast (Rust ``tokenizers``) tokenizer."""
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; XTREME features need one "
            "(word_ids() and character offsets). Load it with AutoTokenizer.from_pretrained(..., "
            "use_fast=True) or provide a tokenizer.json for this model."
        )


def _needs_prefix_space(tokenizer) -> bool:
    """True for a byte-level BPE pre-tokenizer without ``add_prefix_space`` (RoBERTa/GPT-2 default).

    Such a tokenizer encodes a pre-split word ``"world"`` as ``world`` instead of ``Ġworld``, which
    is not how the word appears inside a sentence.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    if pre is None:
        return False
    try:
        state = json.loads(pre.__getstate__())
    except Exception:  # pragma: no cover - exotic pre-tokenizer without a JSON state
        return False

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel" and not node.get("add_prefix_space", False):
                return True
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk(state)


def _rows(data) -> Iterable[Mapping]:
    """Rows of a ``datasets.Dataset``, a list of dicts, or a dict of columns (an encode_* output)."""
    if isinstance(data, Mapping):
        keys = list(data)
        return [dict(zip(keys, values)) for values in zip(*(data[k] for k in keys))]
    return data


def _trim(logits, n: int, padding_side: str) -> np.ndarray:
    """The ``n`` positions of a feature in ``logits``, dropping batch padding on ``padding_side``."""
    arr = np.asarray(logits)
    if arr.shape[0] < n:
        raise ValueError(f"logits have {arr.shape[0]} positions, the feature has {n} tokens")
    if arr.shape[0] == n:
        return arr
    if padding_side == "left":
        return arr[arr.shape[0] - n :]
    if padding_side == "right":
        return arr[:n]
    raise ValueError(f"padding_side must be 'left' or 'right', not {padding_side!r}")


def _input_columns(tokenizer) -> list[str]:
    """The model-input columns this tokenizer produces (token_type_ids only where it has them)."""
    extra = ["token_type_ids"] if "token_type_ids" in tokenizer.model_input_names else []
    return ["input_ids", "attention_mask"] + extra


def _model_inputs(enc, i: int) -> dict[str, list[int]]:
    out = {"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i]}
    if "token_type_ids" in enc:
        out["token_type_ids"] = enc["token_type_ids"][i]
    return out


def _append(columns: dict[str, list], row: Mapping[str, Any]) -> None:
    for key, value in row.items():
        columns[key].append(value)


# --------------------------------------------------------------------------- token classification


def _subword_counts(tokenizer, sentences: list[list[str]]) -> list[list[int]]:
    """Number of subwords of every word (tokenized as pre-split words, no special tokens)."""
    if not sentences:
        return []
    enc = tokenizer(sentences, is_split_into_words=True, add_special_tokens=False)
    counts = []
    for i, words in enumerate(sentences):
        c = [0] * len(words)
        for w in enc.word_ids(i):
            if w is not None:
                c[w] += 1
        counts.append(c)
    return counts


def _chunks(counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Greedy split of a sentence into [start, end) word ranges whose subwords fit ``budget``."""
    out, start, used = [], 0, 0
    for i, c in enumerate(counts):
        if i > start and used + c > budget:
            out.append((start, i))
            start, used = i, 0
        used += c
    if counts:
        out.append((start, len(counts)))
    return out


def encode_tagging(batch, tokenizer, label2id: dict[str, int], max_length: int) -> dict:
    """Tokenize ``tagging`` records; first-subword labels; long sentences split into chunks.

    Output columns: input_ids, attention_mask, [token_type_ids], labels, example_id, word_start,
    num_words. Sentences without words produce no feature.
    """
    require_fast(tokenizer)
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if budget < 1:
        raise UserError(f"max_length={max_length} leaves no room for tokens after the special tokens")
    prefix = " " if _needs_prefix_space(tokenizer) else ""
    tags = batch.get("tags")
    ids = batch["id"]

    # 1. subword counts; words that tokenize to nothing become the unknown token
    replacement = tokenizer.unk_token or "?"
    keep = [i for i, toks in enumerate(batch["tokens"]) if len(toks) > 0]
    words = [[prefix + w for w in batch["tokens"][i]] for i in keep]
    counts = _subword_counts(tokenizer, words)
    redo = []
    for j, c in enumerate(counts):
        empty = [k for k, n in enumerate(c) if n == 0]
        for k in empty:
            words[j][k] = replacement
        if empty:
            redo.append(j)
    for j, c in zip(redo, _subword_counts(tokenizer, [words[j] for j in redo])):
        if 0 in c:
            raise UserError(f"example {ids[keep[j]]!r}: a word tokenizes to nothing, even as {replacement!r}")
        counts[j] = c

    # 2. chunks at word boundaries, then the real encoding (special tokens, type ids)
    plan = []  # (position in keep, word start, word end)
    for j, c in enumerate(counts):
        plan.extend((j, s, e) for s, e in _chunks(c, budget))
    out: dict[str, list] = defaultdict(list)
    if not plan:
        return {k: [] for k in _input_columns(tokenizer) + ["labels", "example_id", "word_start", "num_words"]}
    enc = tokenizer(
        [words[j][s:e] for j, s, e in plan],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
    )
    for f, (j, s, e) in enumerate(plan):
        row = keep[j]
        labels, seen = [], set()
        for w in enc.word_ids(f):
            if w is None or w in seen:
                labels.append(IGNORE_INDEX)
                continue
            seen.add(w)
            if tags is None:
                labels.append(0)
            else:
                tag = tags[row][s + w]
                if tag not in label2id:
                    raise UserError(f"example {ids[row]!r}: tag {tag!r} is not in the label set {sorted(label2id)}")
                labels.append(label2id[tag])
        if len(seen) != e - s:  # cannot happen: every word has a subword and the chunk fits
            raise RuntimeError(f"example {ids[row]!r}: {len(seen)} of {e - s} words labelled")
        _append(out, _model_inputs(enc, f))
        _append(out, {"labels": labels, "example_id": str(ids[row]), "word_start": s, "num_words": e - s})
    return dict(out)


def decode_tagging(
    features, logits: Sequence[np.ndarray], id2label: Mapping[int, str], examples, *, padding_side: str = "right"
) -> dict[str, list[str]]:
    """Example id -> one predicted tag per word of the original sentence (chunks reassembled).

    ``logits[i]`` is feature ``i``'s ``[seq_len, num_labels]`` array; a word's prediction is the
    argmax at its first subword (the positions whose label is not -100). Words no feature covers
    (there should be none) get ``"O"`` if it is a label, else ``id2label[0]``, with a warning.
    """
    id2label = {int(k): v for k, v in id2label.items()}
    fallback = "O" if "O" in id2label.values() else id2label[min(id2label)]
    preds: dict[str, list[str | None]] = {str(ex["id"]): [None] * len(ex["tokens"]) for ex in _rows(examples)}
    for i, f in enumerate(_rows(features)):
        labels = np.asarray(f["labels"])
        positions = np.flatnonzero(labels != IGNORE_INDEX)
        if len(positions) != f["num_words"]:
            raise ValueError(
                f"feature {i} (example {f['example_id']!r}) has {len(positions)} labelled positions "
                f"for {f['num_words']} words"
            )
        scores = _trim(logits[i], len(labels), padding_side)
        words = preds.get(str(f["example_id"]))
        if words is None:
            raise ValueError(f"feature {i} belongs to example {f['example_id']!r}, which is not in examples")
        for k, label in enumerate(scores[positions].argmax(-1)):
            words[f["word_start"] + k] = id2label[int(label)]
    out = {}
    for eid, words in preds.items():
        missing = sum(w is None for w in words)
        if missing:
            log.warning("example %s: %d words without a prediction; using %r", eid, missing, fallback)
        out[eid] = [fallback if w is None else w for w in words]
    return out


# --------------------------------------------------------------------------- extractive QA


def _qa_windows(batch, tokenizer, max_length: int, doc_stride: int, max_query_length: int):
    """Yield ``(example index, encoding, window index in encoding, context sequence id)`` per window."""
    require_fast(tokenizer)
    if doc_stride < 1:
        raise UserError(f"doc_stride must be positive, not {doc_stride}")
    if max_query_length < 1:
        raise UserError(f"max_query_length must be positive, not {max_query_length}")
    question_first = tokenizer.padding_side == "right"
    context_seq = 1 if question_first else 0
    contexts = batch["context"]

    # questions: left-stripped (some SQuAD questions start with many spaces), cut to max_query_length
    questions = [q.lstrip() for q in batch["question"]]
    q_enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True) if questions else None
    cut = []
    for i, q in enumerate(questions):
        if len(q_enc["input_ids"][i]) > max_query_length:
            questions[i] = q[: q_enc["offset_mapping"][i][max_query_length - 1][1]]
            cut.append(i)
    q_len = [len(x) for x in q_enc["input_ids"]] if q_enc is not None else []
    if cut:
        for i, ids in zip(cut, tokenizer([questions[i] for i in cut], add_special_tokens=False)["input_ids"]):
            q_len[i] = len(ids)

    # windows: group examples by overlap (it depends on the question length) to keep batched calls
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(q_len):
        window = max_length - n - specials
        if window < 1:
            raise UserError(
                f"max_length={max_length} leaves no room for the context after a {n}-token question "
                f"(max_query_length={max_query_length})"
            )
        groups[max(0, window - doc_stride)].append(i)
    windows = []
    for overlap, members in groups.items():
        qs = [questions[i] for i in members]
        cs = [contexts[i] for i in members]
        enc = tokenizer(
            *((qs, cs) if question_first else (cs, qs)),
            truncation="only_second" if question_first else "only_first",
            max_length=max_length,
            stride=overlap,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        for w, j in enumerate(enc["overflow_to_sample_mapping"]):
            windows.append((members[j], enc, w))
    windows.sort(key=lambda t: t[0])  # stable: windows stay in order within an example
    return [(i, enc, w, context_seq) for i, enc, w in windows]


def _cls_index(input_ids: list[int], tokenizer) -> int:
    cls = tokenizer.cls_token_id
    if cls is not None and cls in input_ids:
        return input_ids.index(cls)
    return 0


def encode_qa_train(
    batch, tokenizer, max_length: int = 384, doc_stride: int = 128, max_query_length: int = 64
) -> dict:
    """Training windows of ``qa`` records: input_ids, attention_mask, [token_type_ids],
    start_positions, end_positions (the first gold answer's token span, or CLS/CLS)."""
    out: dict[str, list] = defaultdict(list)
    for i, enc, w, context_seq in _qa_windows(batch, tokenizer, max_length, doc_stride, max_query_length):
        inputs = _model_inputs(enc, w)
        offsets = enc["offset_mapping"][w]
        seq = enc.sequence_ids(w)
        cls = _cls_index(inputs["input_ids"], tokenizer)
        start = end = cls
        answers = batch["answers"][i]
        if answers["text"] and answers["text"][0]:
            a_start = answers["answer_start"][0]
            a_end = a_start + len(answers["text"][0])
            ctx = [t for t, s in enumerate(seq) if s == context_seq]
            if offsets[ctx[0]][0] <= a_start and offsets[ctx[-1]][1] >= a_end:
                s = next(t for t in ctx if offsets[t][1] > a_start)
                e = next(t for t in reversed(ctx) if offsets[t][0] < a_end)
                if e >= s:
                    start, end = s, e
        _append(out, inputs)
        _append(out, {"start_positions": start, "end_positions": end})
    if not out:
        return {k: [] for k in _input_columns(tokenizer) + ["start_positions", "end_positions"]}
    return dict(out)


def encode_qa_eval(
    batch, tokenizer, max_length: int = 384, doc_stride: int = 128, max_query_length: int = 64
) -> dict:
    """Evaluation windows of ``qa`` records: input_ids, attention_mask, [token_type_ids],
    example_id, offsets ([start_char, end_char] of context tokens, [-1, -1] elsewhere)."""
    out: dict[str, list] = defaultdict(list)
    for i, enc, w, context_seq in _qa_windows(batch, tokenizer, max_length, doc_stride, max_query_length):
        seq = enc.sequence_ids(w)
        offsets = [list(o) if s == context_seq else list(NO_OFFSET) for o, s in zip(enc["offset_mapping"][w], seq)]
        _append(out, _model_inputs(enc, w))
        _append(out, {"example_id": str(batch["id"][i]), "offsets": offsets})
    if not out:
        return {k: [] for k in _input_columns(tokenizer) + ["example_id", "offsets"]}
    return dict(out)


def _top(scores: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order[:n]]


def decode_qa(
    examples,
    features,
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    n_best: int = 20,
    max_answer_length: int = 30,
    *,
    padding_side: str = "right",
) -> dict[str, str]:
    """Example id -> best answer text over all of the example's windows.

    In each window, the ``n_best`` highest start and end logits among CONTEXT tokens are paired;
    a pair is valid when ``end >= start`` and it spans at most ``max_answer_length`` tokens; its
    score is ``start_logit + end_logit``; the best valid pair over all windows gives
    ``context[start_char:end_char]``, and ``""`` when no pair is valid.
    """
    contexts = {str(ex["id"]): ex["context"] for ex in _rows(examples)}
    best: dict[str, tuple[float, str]] = {}
    for i, f in enumerate(_rows(features)):
        eid = str(f["example_id"])
        if eid not in contexts:
            raise ValueError(f"feature {i} belongs to example {eid!r}, which is not in examples")
        offsets = np.asarray(f["offsets"], dtype=np.int64).reshape(-1, 2)
        n = len(offsets)
        s_logits = _trim(start_logits[i], n, padding_side).astype(np.float64)
        e_logits = _trim(end_logits[i], n, padding_side).astype(np.float64)
        in_context = np.flatnonzero(offsets[:, 0] >= 0)
        if len(in_context) == 0:
            continue
        for s in _top(s_logits, in_context, n_best):
            for e in _top(e_logits, in_context, n_best):
                if e < s or e - s + 1 > max_answer_length:
                    continue
                score = s_logits[s] + e_logits[e]
                if eid not in best or score > best[eid][0]:
                    best[eid] = (score, contexts[eid][offsets[s, 0] : offsets[e, 1]])
    return {eid: best[eid][1] if eid in best else "" for eid in contexts}


# --------------------------------------------------------------------------- multiple choice


def _choice_prompt(context: str, question: str) -> str:
    if question.strip().lower() in COPA_QUESTIONS:
        return COPA_TEMPLATE.format(context=context, question=question.strip().lower())
    return SIQA_TEMPLATE.format(context=context, question=question)


def encode_choice(batch, tokenizer, max_length: int) -> dict:
    """One row per ``choice`` record: input_ids / attention_mask / [token_type_ids] as one list per
    choice, label, length (tokens of the longest choice)."""
    require_fast(tokenizer)
    firsts, seconds, sizes = [], [], []
    for context, question, choices in zip(batch["context"], batch["question"], batch["choices"]):
        prompt = _choice_prompt(context, question)
        firsts.extend([prompt] * len(choices))
        seconds.extend(choices)
        sizes.append(len(choices))
    keys = _input_columns(tokenizer)
    if not firsts:
        return {k: [] for k in keys + ["label", "length"]}
    enc = tokenizer(firsts, seconds, truncation=True, max_length=max_length)
    keys = [k for k in keys if k in enc]
    out: dict[str, list] = {k: [] for k in keys + ["label", "length"]}
    pos = 0
    for n, label in zip(sizes, batch["label"]):
        for k in keys:
            out[k].append(enc[k][pos : pos + n])
        out["label"].append(label)
        out["length"].append(max(len(x) for x in enc["input_ids"][pos : pos + n]))
        pos += n
    return out


def collate_choice(rows: list[dict], tokenizer) -> dict[str, torch.Tensor]:
    """Pad ``encode_choice`` rows to ``[batch, choices, seq]`` tensors (tokenizer's pad id and
    padding side; attention 0 on padding) plus ``labels`` ``[batch]``."""
    if not rows:
        raise ValueError("collate_choice needs at least one row")
    n_choices = {len(r["input_ids"]) for r in rows}
    if len(n_choices) != 1:
        raise ValueError(f"rows have different numbers of choices: {sorted(n_choices)}")
    if tokenizer.pad_token_id is None:
        raise UserError(f"{type(tokenizer).__name__} has no pad token; set tokenizer.pad_token first")
    pad_values = {
        "input_ids": tokenizer.pad_token_id,
        "attention_mask": 0,
        "token_type_ids": getattr(tokenizer, "pad_token_type_id", 0),
    }
    width = max(len(seq) for r in rows for seq in r["input_ids"])
    left = tokenizer.padding_side == "left"
    batch: dict[str, torch.Tensor] = {}
    for key, pad in pad_values.items():
        if key not in rows[0]:
            continue
        padded = [
            [[pad] * (width - len(s)) + list(s) if left else list(s) + [pad] * (width - len(s)) for s in r[key]]
            for r in rows
        ]
        batch[key] = torch.tensor(padded, dtype=torch.long)
    batch["labels"] = torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)
    return batch


# --------------------------------------------------------------------------- sentence encoding


def encode_texts(
    batch, tokenizer, max_length: int, text_field: str = "text", context_field: str | None = None
) -> dict:
    """input_ids, attention_mask, [token_type_ids], length of ``text_field`` (first segment) and
    ``context_field`` (second segment, if given); truncated longest-first to ``max_length``."""
    require_fast(tokenizer)
    texts = [t or "" for t in batch[text_field]]
    keys = _input_columns(tokenizer)
    if not texts:
        return {k: [] for k in keys + ["length"]}
    if context_field is None:
        enc = tokenizer(texts, truncation=True, max_length=max_length)
    else:
        contexts = [c or "" for c in batch[context_field]]
        enc = tokenizer(texts, contexts, truncation="longest_first", max_length=max_length)
    out = {k: enc[k] for k in keys if k in enc}
    out["length"] = [len(x) for x in enc["input_ids"]]
    return out


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` ``[batch, seq, dim]`` over the positions where ``attention_mask`` is 1
    (a row without any such position gives zeros)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
