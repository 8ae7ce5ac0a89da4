"""LAReQA (XQuAD-R), SQuAD dual-encoder pairs and Mewsli-X: readers and the sentence splitter."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from hpc_itt.errors import UserError
from hpc_itt.xtreme.formats.files import _field, _json, _jsonl, _need
from hpc_itt.xtreme.formats.local import _answers, _qa_rows, _squad_paragraphs
from hpc_itt.xtreme.formats.spec import LAREQA_LANGS


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
