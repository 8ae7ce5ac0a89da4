"""The hub copies: `datasets.load_dataset` on the ids of `HUB`, rows converted to the records."""
from __future__ import annotations

import re
from typing import Any

from hpc_itt.errors import UserError, choices
from hpc_itt.xtreme.formats.files import _rid
from hpc_itt.xtreme.formats.labels import _question, binary_label, nli_label, siqa_label
from hpc_itt.xtreme.formats.retrieval import (
    _assemble_lareqa, _inferred_breaks, _lareqa_language, _mention_query, _pair_record, _squad_pair_records,
)
from hpc_itt.xtreme.formats.spec import (
    HUB, SCRIPT_ONLY, HubSource, LAREQA_LANGS, PANX_TAGS, TATOEBA_ISO3, TYDIQA_PREFIX, UD_NAMES, UPOS_TAGS, check,
)


# -------------------------------------------------------------------------------------------- hub


def hub_source(dataset: str, lang: str, split: str | None = None) -> HubSource:
    """The hub copy serving `lang`; with `split`, one that has it (HubSource.splits), else a one-line UserError
    naming the language, the split and the splits that copy has."""
    for source in HUB[dataset]:
        if source.langs is None or lang in source.langs:
            if split is not None and split not in source.splits:
                where = source.repo + (f" config {hub_config(source, lang)}" if source.config else "")
                raise UserError(f"{dataset} language {lang!r} has no split {split!r} in its hub copy ({where} has: "
                                f"{', '.join(source.splits)}); pass data_dir=<XTREME download folder> to read "
                                f"local files instead")
            return source
    raise UserError(f"dataset {dataset!r} language {lang!r} has no hub copy (hub languages: "
                    f"{choices(l for s in HUB[dataset] for l in (s.langs or ()))}); pass data_dir")


def _format(template: str | None, lang: str) -> str | None:
    if template is None:
        return None
    return template.format(lang=lang, name=UD_NAMES.get(lang, lang), lang3=TATOEBA_ISO3.get(lang, lang))


def hub_config(source: HubSource, lang: str) -> str | None:
    return _format(source.config, lang)


def hub_data_dir(source: HubSource, lang: str) -> str | None:
    return _format(source.data_dir, lang)


def _hub_dataset(dataset: str, split: str, lang: str, key: str | None = None, config_lang: str | None = None):
    source = hub_source(key or dataset, config_lang or lang, split)
    config = hub_config(source, config_lang or lang)
    data_dir = hub_data_dir(source, config_lang or lang)
    hub_split = source.splits[split]
    where = (source.repo + (f" config {config}" if config else "") + (f" data_dir {data_dir}" if data_dir else "")
             + (f" revision {source.revision}" if source.revision else "") + f" split {hub_split}")
    options = {k: v for k, v in (("revision", source.revision), ("data_dir", data_dir)) if v is not None}
    try:
        import datasets

        table = datasets.load_dataset(source.repo, config, split=hub_split, **options)
    except Exception as err:  # hub, network, cache and script errors: all the user can fix is the source
        first = (str(err).strip().splitlines() or [""])[0][:300]
        script = ""
        if "scripts are no longer supported" in str(err):
            script = (f"; {source.repo} holds a loading script, which datasets >= 4 refuses: "
                      + SCRIPT_ONLY.get(source.repo, "use its parquet export (revision='refs/convert/parquet', "
                                                     "data_dir='<config>')"))
        raise UserError(f"cannot load {dataset} {split}/{lang} from the Hugging Face hub ({where}): "
                        f"{type(err).__name__}: {first}{script}; pass data_dir=<XTREME download folder> to read "
                        f"local files instead") from None
    if source.where:
        table = _rows_where(table, source.where[0], _format(source.where[1], config_lang or lang), where)
    return table


def _rows_where(table, column: str, value: str, where: str):
    """The rows of `table` whose `column` is `value` (mteb's one-config Tatoeba: column lang, "deu-eng")."""
    if column not in table.column_names:
        raise UserError(f"{where}: no column {column!r} to select {value!r} by (columns: "
                        f"{', '.join(table.column_names)})")
    values = table[column]
    keep = [i for i, v in enumerate(values) if v == value]
    if not keep:
        raise UserError(f"{where}: no rows with {column} {value!r} (present: {choices(set(values))})")
    return table.select(keep)


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
