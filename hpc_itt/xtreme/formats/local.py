"""Readers of the classification, tagging, QA and Tatoeba files of an XTREME download."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from hpc_itt.errors import UserError
from hpc_itt.xtreme.formats.files import _field, _json, _jsonl, _lines, _need, _rid, _text
from hpc_itt.xtreme.formats.labels import _question, binary_label, nli_label, siqa_label
from hpc_itt.xtreme.formats.spec import PANX_TAGS, TATOEBA_ISO3, UPOS_TAGS


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
