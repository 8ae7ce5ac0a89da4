"""hpc_itt.xtreme.formats: the readers of the XTREME download layout (on the fixtures in
tests/fixtures/xtreme, written by make_fixtures.py there) and the hub row converters."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hpc_itt.errors import UserError
from hpc_itt.xtreme import formats as F

FIX = Path(__file__).resolve().parent / "fixtures" / "xtreme"

EN = ["en"]
L8 = ["en", "de", "es", "ar", "zh", "th", "hi", "ru"]
# What the fixtures hold: every dataset, several languages, non-Latin scripts throughout.
FIXTURES = {
    "mnli": {"train": EN},
    "xnli_mt": {"train": ["en", "de", "es", "ar", "zh"]},
    "xnli": {"dev": L8, "test": L8},
    "siqa": {"train": EN, "dev": EN},
    "copa": {"train": EN, "dev": EN},
    "xcopa": {"dev": ["it", "tr", "vi", "zh", "th"], "test": ["it", "tr", "vi", "zh", "th"]},
    "udpos": {"train": EN, "dev": L8, "test": L8},
    "panx": {"train": EN, "dev": ["en", "de", "es", "ar", "zh", "ru", "hi"],
             "test": ["en", "de", "es", "ar", "zh", "ru", "hi"]},
    "squad": {"train": EN, "dev": EN},
    "xquad": {"test": L8},
    "mlqa": {"dev": ["en", "de", "es", "ar", "zh", "hi"], "test": ["en", "de", "es", "ar", "zh", "hi"]},
    "tydiqa": {"train": EN, "test": ["en", "ar", "ru", "fi"]},
    "tatoeba": {"test": ["de", "es", "ar", "zh", "th", "hi", "ru"]},
    "lareqa": {"test": L8},
    "squad_pairs": {"train": EN, "dev": EN},
    "mewslix": {"dev": ["en", "de", "es", "ar", "ja", "uk"], "test": ["en", "de", "es", "ar", "ja", "uk"]},
    "wikipedia_pairs": {"train": EN, "dev": EN},
}
CASES = [(d, s, l) for d, splits in FIXTURES.items() for s, langs in splits.items() for l in langs]

KIND = {"mnli": "pair", "xnli_mt": "pair", "xnli": "pair", "siqa": "choice", "copa": "choice", "xcopa": "choice", "udpos": "tagging",
        "panx": "tagging", "squad": "qa", "xquad": "qa", "mlqa": "qa", "tydiqa": "qa", "tatoeba": "bitext",
        "lareqa": "retrieval", "mewslix": "retrieval", "squad_pairs": "retrieval_pair",
        "wikipedia_pairs": "retrieval_pair"}
KEYS = {"pair": {"id": str, "text_a": str, "text_b": str, "label": int},
        "choice": {"id": str, "context": str, "question": str, "choices": list, "label": int},
        "tagging": {"id": str, "tokens": list, "tags": list},
        "qa": {"id": str, "context": str, "question": str, "answers": dict},
        "bitext": {"id": str, "source": str, "target": str},
        "query": {"id": str, "text": str, "context": str, "gold": list},
        "candidate": {"id": str, "text": str, "context": str},
        "retrieval_pair": {"id": str, "query": str, "query_context": str, "candidate": str, "candidate_context": str}}


def shaped(record: dict, kind: str) -> None:
    spec = KEYS[kind]
    assert set(record) == set(spec), (kind, record)
    for key, typ in spec.items():
        assert type(record[key]) is typ, (kind, key, record)


def check_record(dataset: str, record: dict) -> None:
    kind = KIND[dataset]
    shaped(record, kind)
    if kind == "pair":
        assert record["label"] in (0, 1, 2)
    elif kind == "choice":
        assert all(isinstance(c, str) and c for c in record["choices"])
        assert len(record["choices"]) == (3 if dataset == "siqa" else 2)
        assert 0 <= record["label"] < len(record["choices"])
        if dataset != "siqa":
            assert record["question"] in ("cause", "effect")
    elif kind == "tagging":
        valid = F.UPOS_TAGS if dataset == "udpos" else F.PANX_TAGS
        assert record["tokens"] and all(isinstance(t, str) and t and "\t" not in t for t in record["tokens"])
        assert len(record["tags"]) == len(record["tokens"]) and set(record["tags"]) <= set(valid)
    elif kind == "qa":
        answers = record["answers"]
        assert set(answers) == {"text", "answer_start"} and answers["text"]
        for text, start in zip(answers["text"], answers["answer_start"], strict=True):
            assert type(start) is int and record["context"][start:start + len(text)] == text
    elif kind == "bitext":
        assert record["source"] and record["target"]


@pytest.mark.parametrize("dataset,split,lang", CASES)
def test_fixture_loads_into_contract_records(dataset, split, lang):
    out = F.load(dataset, split, lang, FIX)
    if KIND[dataset] == "retrieval":
        assert set(out) == {"queries", "candidates"}
        for query in out["queries"]:
            shaped(query, "query")
        for candidate in out["candidates"]:
            shaped(candidate, "candidate")
        ids = {c["id"] for c in out["candidates"]}
        assert len(ids) == len(out["candidates"])
        assert out["queries"] and all(q["gold"] and set(q["gold"]) <= ids for q in out["queries"])
        assert len({q["id"] for q in out["queries"]}) == len(out["queries"])
        return
    assert isinstance(out, list) and out
    for record in out:
        check_record(dataset, record)
    assert len({r["id"] for r in out}) == len(out)
    if dataset == "xnli_mt" and lang != "en":  # a small translated sample for the multilingual ITT arm
        assert len(out) == 9
    elif split == "train":
        assert 48 <= len(out) <= 64
    elif split == "test" and dataset not in ("mewslix", "lareqa"):
        assert len(out) == 8
    elif split == "dev" and lang == "en" and dataset not in ("mlqa", "mewslix"):
        assert 12 <= len(out) <= 14


def test_every_fixture_case_is_a_valid_choice():
    for dataset, split, lang in CASES:
        F.check(dataset, split, lang)
    assert set(FIXTURES) == set(F.DATASETS) == set(F.LANGS)


def test_fixture_requirements():
    # a sentence that a 64-subword window must split; multi-token entities; an all-O sentence
    for dataset in ("udpos", "panx"):
        assert max(len(r["tokens"]) for r in F.load(dataset, "train", "en", FIX)) >= 75
    panx = F.load("panx", "train", "en", FIX)
    assert any("I-PER" in r["tags"] and "I-ORG" in r["tags"] for r in panx)
    assert any(set(r["tags"]) == {"O"} for r in panx)
    assert any("I-LOC" in r["tags"] for r in F.load("panx", "test", "es", FIX))
    # a ~600-word context whose answer lies beyond 384 tokens (words before it > 384 >= subwords)
    for split in ("train", "dev"):
        late = [r for r in F.load("squad", split, "en", FIX)
                if len(r["context"][:r["answers"]["answer_start"][0]].split()) > 400]
        assert late and all(550 <= len(r["context"].split()) <= 700 for r in late)
    xcopa = F.load("xcopa", "test", "th", FIX)
    assert {r["question"] for r in xcopa} == {"cause", "effect"} and {r["label"] for r in xcopa} == {0, 1}
    tatoeba = F.load("tatoeba", "test", "zh", FIX)
    targets = [r["target"] for r in tatoeba]
    assert len(set(targets)) < len(targets) and len({r["source"] for r in tatoeba}) == len(tatoeba)
    labels = [r["label"] for r in F.load("mnli", "train", "en", FIX)]
    assert sorted(set(labels)) == [0, 1, 2] and max(labels.count(k) for k in range(3)) <= 24
    # non-Latin scripts really are there
    scripts = {"ar": "\u0600-\u06ff", "zh": "\u4e00-\u9fff", "th": "\u0e00-\u0e7f", "hi": "\u0900-\u097f",
               "ru": "\u0400-\u04ff"}
    for lang, block in scripts.items():
        text = F.load("xnli", "test", lang, FIX)[0]["text_a"] + F.load("xquad", "test", lang, FIX)[0]["question"]
        assert re.search(f"[{block}]", text), lang


def test_fixture_tree_is_small():
    size = sum(p.stat().st_size for p in FIX.rglob("*") if p.is_file() and p.suffix != ".py")
    assert size < 500_000


def test_xnli_csv_quoting_and_crlf_round_trip():
    raw = (FIX / "xnli" / "train-en.tsv").read_bytes()
    assert b"\r\n" in raw and b'""closed""' in raw
    premises = {r["text_a"] for r in F.load("mnli", "train", "en", FIX)}
    assert 'The sign said "closed", and Greta turned back at the door.' in premises
    assert 'Omar shouted "good morning" to the neighbours.' in premises


def test_lareqa_follows_utils_lareqa():
    out = F.load("lareqa", "test", "de", FIX)
    langs = {c["id"].split("_")[0] for c in out["candidates"]}
    assert langs == set(L8)  # candidates: every sentence of every language present
    assert len(out["candidates"]) == 8 * 8  # 2 paragraphs x 4 sentences x 8 languages
    query = out["queries"][0]
    assert query["id"].endswith("_de") and len(query["gold"]) == 8
    by_id = {c["id"]: c for c in out["candidates"]}
    assert by_id["zh_1_1"]["text"] == "它于1887年首次举办，用来庆祝丰收结束。"
    assert all(by_id[g]["id"].endswith("_1_1") for g in query["gold"])  # the sentence holding "1887"
    assert by_id["de_2_0"]["context"].startswith("Die Marrow-Brücke")


def test_mewslix_queries_use_the_mention_sentence_and_share_the_pool():
    out = F.load("mewslix", "test", "de", FIX)
    first = out["queries"][0]
    assert first == {"id": first["id"], "text": "Marrow-Brücke", "context":
                     "Dabei ging es ausführlich um Marrow-Brücke und Elda.", "gold": ["Q9100002"]}
    assert out["candidates"] == F.load("mewslix", "dev", "ja", FIX)["candidates"]
    assert {"id": "Q9100003", "text": "Elda", "context": "The Elda is a river in Alta Marina. It flows through "
                                                          "Santa Lucia."} in out["candidates"]


def test_squad_pairs_take_the_sentence_holding_the_answer():
    pairs = F.load("squad_pairs", "train", "en", FIX)
    late = next(p for p in pairs if p["id"] == "sq-train-long1")
    assert late["candidate"] == "The observatory on the hill was finally completed in 1911 by the engineer Tomas Varga."
    assert late["query"] == "Who completed the observatory on the hill?" and late["query_context"] == ""
    assert late["candidate_context"].endswith(late["candidate"])


def test_sentence_spans():
    text = 'Mr. Smith went to Washington. He saw the U.S. Capitol! Then J. Doe said "Stop." And 3.5 is ok? yes.'
    assert [text[s:e] for s, e in F.sentence_spans(text)] == [
        "Mr. Smith went to Washington.", "He saw the U.S. Capitol!", 'Then J. Doe said "Stop."',
        "And 3.5 is ok? yes."]
    assert [("他来了。她走了。")[s:e] for s, e in F.sentence_spans("他来了。她走了。")] == ["他来了。", "她走了。"]
    assert F.sentence_spans("   ") == []


# ------------------------------------------------------------------------------------ tolerance


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_panx_raw_prefixes_crlf_and_trailing_blank_lines(tmp_path):
    write(tmp_path / "panx" / "train-de.tsv",
          "de:Maria\tB-PER\r\nde:Schmidt\tI-PER\r\nde:wohnt\tO\r\nde:in\tO\r\nde:Köln\tB-LOC\r\n\r\n"
          "de:de:Test\tO\r\n\r\n\r\n")
    records = F.load("panx", "train", "de", tmp_path)
    assert records == [
        {"id": "panx-train-de-0", "tokens": ["Maria", "Schmidt", "wohnt", "in", "Köln"],
         "tags": ["B-PER", "I-PER", "O", "O", "B-LOC"]},
        {"id": "panx-train-de-1", "tokens": ["de:Test"], "tags": ["O"]}]  # one prefix is stripped, not two


def test_utf8_bom_and_docstart(tmp_path):
    write(tmp_path / "udpos" / "dev-en.tsv", "\ufeff-DOCSTART-\n\nThe\tDET\ndog\tNOUN\n")
    assert F.load("udpos", "dev", "en", tmp_path) == [{"id": "udpos-dev-en-0", "tokens": ["The", "dog"],
                                                       "tags": ["DET", "NOUN"]}]


def test_unlabelled_tagging_test_file(tmp_path):
    write(tmp_path / "udpos" / "test-de.tsv", "Der\nHund\n\nSie\nläuft\n")
    assert [r["tags"] for r in F.load("udpos", "test", "de", tmp_path)] == [[], []]


def test_nli_label_strings_ints_and_unlabelled_test(tmp_path):
    write(tmp_path / "xnli" / "dev-de.tsv", "a\tb\tcontradictory\r\nc\td\t0\r\ne\tf\tNeutral\r\n\r\n")
    assert [r["label"] for r in F.load("xnli", "dev", "de", tmp_path)] == [2, 0, 1]
    write(tmp_path / "xnli" / "test-de.tsv", "a\tb\r\nc\td\r\n")  # as download_data.sh leaves test files
    assert [r["label"] for r in F.load("xnli", "test", "de", tmp_path)] == [-1, -1]


def test_siqa_letters_and_one_based_digits(tmp_path):
    rows = [{"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "correct": "C"},
            {"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "label": "1"},
            {"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "label": 3}]
    write(tmp_path / "siqa" / "socialIQa_v1.4_dev.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert [r["label"] for r in F.load("siqa", "dev", "en", tmp_path)] == [2, 0, 2]


def test_xcopa_placeholder_test_labels_become_unlabelled(tmp_path):
    row = {"premise": "p", "choice1": "a", "choice2": "b", "question": "Cause", "label": 0, "idx": 1, "changed": False}
    write(tmp_path / "xcopa" / "test-sw.jsonl", "".join(json.dumps(dict(row, idx=i)) + "\n" for i in range(10)))
    records = F.load("xcopa", "test", "sw", tmp_path)
    assert {r["label"] for r in records} == {-1} and records[0]["question"] == "cause"
    assert records[3]["id"] == "xcopa-test-sw-3"
    write(tmp_path / "xcopa" / "test-ta.jsonl", "".join(json.dumps(dict(row, label="0")) + "\n" for _ in range(9)))
    assert {r["label"] for r in F.load("xcopa", "test", "ta", tmp_path)} == {0}  # too few to call placeholders


def test_qa_answers_stripped_by_the_download(tmp_path):
    data = {"data": [{"paragraphs": [{"context": "Ein Text.", "qas": [
        {"answers": [{"answer_start": 0, "text": ""}], "question": "Was?", "id": "x1"}]}]}], "version": "1.0"}
    write(tmp_path / "xquad" / "xquad.de.json", json.dumps(data))
    assert F.load("xquad", "test", "de", tmp_path)[0]["answers"] == {"text": [], "answer_start": []}


def test_tydiqa_train_file_name_of_train_qa_sh(tmp_path):
    data = {"data": [{"paragraphs": [{"context": "Oslo is cold.", "qas": [
        {"answers": [{"answer_start": 0, "text": "Oslo"}], "question": "What is cold?", "id": "17"}]}]}]}
    write(tmp_path / "tydiqa" / "tydiqa-goldp-v1.1-train" / "tydiqa.en.train.json", json.dumps(data))
    assert F.load("tydiqa", "train", "en", tmp_path)[0]["id"] == "17"


def test_tatoeba_sorted_target_is_refused_and_laser_files_are_preferred(tmp_path):
    folder = tmp_path / "tatoeba"
    english = sorted(f"Sentence number {i}." for i in range(12))
    write(folder / "de-en.de", "".join(f"Satz Nummer {i}.\n" for i in range(12)))
    write(folder / "de-en.en", "".join(e + "\n" for e in english))
    with pytest.raises(UserError) as err:
        F.load("tatoeba", "test", "de", tmp_path)
    assert str(err.value) == (
        f"{folder / 'de-en.en'}: the English side is sorted, as XTREME's download leaves it, so it no longer pairs "
        f"with de-en.de; put LASER's aligned tatoeba.deu-eng.deu and tatoeba.deu-eng.eng into {folder}, or use the "
        f"hub (data_dir=None)")
    write(folder / "tatoeba.deu-eng.deu", "Hallo.\r\nDanke.\r\n")
    write(folder / "tatoeba.deu-eng.eng", "Hello.\r\nThanks.\r\n\r\n")
    assert F.load("tatoeba", "test", "de", tmp_path) == [
        {"id": "tatoeba-test-de-0", "source": "Hallo.", "target": "Hello."},
        {"id": "tatoeba-test-de-1", "source": "Danke.", "target": "Thanks."}]


def test_mewslix_test_without_entity_ids(tmp_path):
    folder = tmp_path / "mewslix"
    doc = json.loads((FIX / "mewslix" / "wikinews_mentions" / "test-en.jsonl").read_text().splitlines()[0])
    for mention in doc["mentions"]:
        mention["entity_id"] = ""
    write(folder / "wikinews_mentions" / "test-en.jsonl", json.dumps(doc) + "\n")
    write(folder / "candidate_set_entities.jsonl", (FIX / "mewslix" / "candidate_set_entities.jsonl").read_bytes())
    assert [q["gold"] for q in F.load("mewslix", "test", "en", tmp_path)["queries"]] == [[], []]
    labels = {m["example_id"]: ["Q9100002"] for m in doc["mentions"]}
    write(folder / "wikinews_labels" / "test-en.json", json.dumps(labels))
    assert [q["gold"] for q in F.load("mewslix", "test", "en", tmp_path)["queries"]] == [["Q9100002"]] * 2


# --------------------------------------------------------------------------------------- errors


def error_of(*args) -> UserError:
    with pytest.raises(UserError) as err:
        F.load(*args)
    message = str(err.value)
    assert "\n" not in message and message
    assert err.value.__suppress_context__ or err.value.__context__ is None  # no chained traceback
    return err.value


def test_unknown_dataset_split_language():
    assert str(error_of("xtreme", "test", "de")) == (
        "unknown XTREME dataset 'xtreme' (valid: mnli, xnli_mt, xnli, siqa, copa, xcopa, udpos, panx, squad, xquad, mlqa, "
        "tydiqa, tatoeba, lareqa, squad_pairs, mewslix, wikipedia_pairs)")
    assert str(error_of("xnli", "train", "en", FIX)) == (
        "dataset 'xnli' has no split 'train' (valid: dev, test; train on 'mnli')")
    assert str(error_of("xcopa", "test", "en", FIX)) == (
        "dataset 'xcopa' split 'test' has no language 'en' (valid: et, ht, id, it, qu, sw, ta, th, tr, vi, zh)")
    assert str(error_of("squad", "test", "en")) == "dataset 'squad' has no split 'test' (valid: train, dev)"


def test_missing_directory_and_files(tmp_path):
    missing = tmp_path / "nowhere"
    assert str(error_of("xnli", "test", "de", missing)) == (
        f"XTREME data directory not found: {missing} (pass the download/ folder that google-research/xtreme "
        f"scripts/download_data.sh fills, or data_dir=None for the hub)")
    assert str(error_of("xnli", "test", "de", tmp_path)) == (
        f"XTREME file not found: {tmp_path / 'xnli' / 'test-de.tsv'} (directory {tmp_path / 'xnli'} does not "
        f"exist; run scripts/download_data.sh into data_dir)")
    write(tmp_path / "xnli" / "test-de.tsv", "a\tb\n")
    write(tmp_path / "xnli" / "dev-de.tsv", "a\tb\tneutral\n")
    assert str(error_of("xnli", "test", "fr", tmp_path)) == (
        f"XTREME file not found: {tmp_path / 'xnli' / 'test-fr.tsv'} (present in {tmp_path / 'xnli'}: "
        f"dev-de.tsv, test-de.tsv)")
    pool = tmp_path / "pool"
    write(pool / "mewslix" / "wikinews_mentions" / "dev-de.jsonl",
          (FIX / "mewslix" / "wikinews_mentions" / "dev-de.jsonl").read_bytes())
    assert str(error_of("mewslix", "dev", "de", pool)) == (
        f"XTREME file not found: {pool / 'mewslix' / 'candidate_set_entities.jsonl'} (present in "
        f"{pool / 'mewslix'}: nothing)")


def test_malformed_lines_name_the_path_and_line(tmp_path):
    path = write(tmp_path / "xnli" / "dev-de.tsv", "a\tb\tneutral\r\nc\td\tmaybe\r\n")
    assert str(error_of("xnli", "dev", "de", tmp_path)) == (
        f"{path}:2: unknown NLI label 'maybe' (valid: entailment, neutral, contradiction, 0, 1, 2)")
    write(path, "a\tb\tneutral\n\nc\td\te\tf\n")
    assert str(error_of("xnli", "dev", "de", tmp_path)) == (
        f"{path}:3: expected 2 or 3 tab-separated fields (sentence1, sentence2, label), got 4")
    write(path, "a\tb\n")
    assert str(error_of("xnli", "dev", "de", tmp_path)) == (
        f"{path}:1: missing label (valid: entailment, neutral, contradiction)")

    tags = write(tmp_path / "panx" / "dev-de.tsv", "Anna\tB-PER\nBerlin\tB-MISC\n")
    assert str(error_of("panx", "dev", "de", tmp_path)) == (
        f"{tags}:2: unknown NER tag 'B-MISC' (valid: O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC)")
    write(tags, "Anna\tB-PER\n\nBerlin\n")
    assert str(error_of("panx", "dev", "de", tmp_path)) == (
        f"{tags}:3: no tag on this line but tags on the lines before (a file is all tagged or all untagged)")
    write(tags, "Anna\tB-PER\tX\n")
    assert str(error_of("panx", "dev", "de", tmp_path)) == (
        f"{tags}:1: expected 'token<TAB>tag' or 'token', got 3 tab-separated fields")
    pos = write(tmp_path / "udpos" / "dev-de.tsv", "Anna\tNAME\n")
    assert str(error_of("udpos", "dev", "de", tmp_path)).startswith(f"{pos}:1: unknown UPOS tag 'NAME' (valid: ADJ, ")

    copa = write(tmp_path / "xcopa" / "val-en.jsonl", '{"premise": "p", "choice1": "a", "choice2": "b", '
                                                      '"question": "cause", "label": 1}\n{oops\n')
    assert str(error_of("copa", "dev", "en", tmp_path)) == (
        f"{copa}:2: not a JSON line (Expecting property name enclosed in double quotes at column 2)")
    write(copa, '{"choice1": "a", "choice2": "b", "question": "cause", "label": 1}\n')
    assert str(error_of("copa", "dev", "en", tmp_path)) == (
        f"{copa}:1: missing field 'premise' (fields: choice1, choice2, question, label)")
    write(copa, '{"premise": "p", "choice1": "a", "choice2": "b", "question": "why", "label": 1}\n')
    assert str(error_of("copa", "dev", "en", tmp_path)) == (
        f"{copa}:1: unknown COPA question 'why' (valid: cause, effect)")
    write(copa, '{"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 2}\n')
    assert str(error_of("copa", "dev", "en", tmp_path)) == f"{copa}:1: unknown label 2 (valid: 0, 1)"

    squad = write(tmp_path / "squad" / "dev-v1.1.json", '{"data": [{"paragraphs": [{"context": "x", "qas": [}]}]}')
    assert str(error_of("squad", "dev", "en", tmp_path)) == (
        f"{squad}:1: not valid JSON (Expecting value at column 52)")
    write(squad, '{"version": "1.1"}')
    assert str(error_of("squad", "dev", "en", tmp_path)) == (
        f'{squad}: not SQuAD json (expected {{"data": [{{"paragraphs": [...]}}]}})')

    bad = write(tmp_path / "xnli" / "test-de.tsv", b"ok\tfine\n\xff\xfe\tbroken\n")
    assert str(error_of("xnli", "test", "de", tmp_path)) == f"{bad}:2: not UTF-8 text (invalid start byte)"

    ta = tmp_path / "tatoeba"
    write(ta / "ru-en.ru", "Да.\nНет.\n")
    write(ta / "ru-en.en", "Yes.\n")
    assert str(error_of("tatoeba", "test", "ru", tmp_path)) == (
        f"{ta / 'ru-en.en'}: 1 lines but ru-en.ru has 2 (the two files must pair line by line)")


# ------------------------------------------------------------------------------------------ hub


def test_hub_table_covers_every_dataset_split_and_language():
    for dataset, splits in F.LANGS.items():
        for split, langs in splits.items():
            for lang in langs:
                source = F.hub_source(dataset, lang)
                assert split in source.splits, (dataset, split)
                config = F.hub_config(source, lang)
                assert config is None or "{" not in config
    assert F.hub_config(F.hub_source("udpos", "fa"), "fa") == "udpos.Persian"
    assert F.hub_source("udpos", "wo").repo == "izhx/xtreme-r-udpos"
    assert F.hub_config(F.hub_source("panx", "de"), "de") == "PAN-X.de"
    assert F.hub_source("panx", "qu") == F.HUB["panx"][1] and F.hub_config(F.HUB["panx"][1], "qu") == "qu"
    assert F.hub_config(F.hub_source("tatoeba", "zh"), "zh") == "cmn-eng"
    assert F.hub_config(F.hub_source("mlqa", "hi"), "hi") == "mlqa.hi.hi"
    assert F.hub_config(F.hub_source("xquad", "ro"), "ro") == "xquad.ro"
    assert F.HUB["mnli"][0] == ("nyu-mll/glue", "mnli", {"train": "train"}, None)


def test_unreachable_hub_is_one_line_naming_the_dataset(monkeypatch, tmp_path):
    import datasets
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path)
    message = str(error_of("xnli", "test", "de"))
    assert message.startswith("cannot load xnli test/de from the Hugging Face hub (facebook/xnli config de split test): ")
    assert message.endswith("; pass data_dir=<XTREME download folder> to read local files instead")
    assert str(error_of("lareqa", "test", "de")).startswith(
        "cannot load lareqa test/de from the Hugging Face hub (google-research-datasets/xquad_r config ar split "
        "validation): ")


def test_hub_nli_rows():
    import datasets

    features = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"])})
    rows = [{"premise": "Ein Mann schläft.", "hypothesis": "Niemand schläft.", "label": 2},
            {"premise": "p", "hypothesis": "h", "label": 0}]
    assert F.convert_hub_rows("xnli", "test", "de", rows, features) == [
        {"id": "xnli-test-de-0", "text_a": "Ein Mann schläft.", "text_b": "Niemand schläft.", "label": 2},
        {"id": "xnli-test-de-1", "text_a": "p", "text_b": "h", "label": 0}]
    glue = [{"premise": "p", "hypothesis": "h", "label": 1, "idx": 7}, {"premise": "p", "hypothesis": "h", "label": -1,
                                                                        "idx": 8}]
    assert [(r["id"], r["label"]) for r in F.convert_hub_rows("mnli", "train", "en", glue)] == [
        ("mnli-train-en-7", 1), ("mnli-train-en-8", -1)]
    xtreme = [{"sentence1": "a", "sentence2": "b", "gold_label": "contradiction", "language": "de"}]
    assert F.convert_hub_rows("xnli", "dev", "de", xtreme)[0]["label"] == 2


def test_hub_choice_rows():
    siqa = [{"context": "Alex won.", "question": "How would Alex feel?", "answerA": "sad", "answerB": "proud",
             "answerC": "tired", "label": "2"}]
    assert F.convert_hub_rows("siqa", "train", "en", siqa) == [
        {"id": "siqa-train-en-0", "context": "Alex won.", "question": "How would Alex feel?",
         "choices": ["sad", "proud", "tired"], "label": 1}]
    copa = [{"premise": "The ice melted.", "choice1": "It snowed.", "choice2": "It was warm.", "question": "cause",
             "idx": 3, "label": 1}]
    assert F.convert_hub_rows("xcopa", "test", "et", copa) == [
        {"id": "xcopa-test-et-3", "context": "The ice melted.", "question": "cause",
         "choices": ["It snowed.", "It was warm."], "label": 1}]
    assert F.convert_hub_rows("copa", "dev", "en", [dict(copa[0], label=-1)])[0]["label"] == -1


def test_hub_tagging_rows():
    import datasets

    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "pos_tags": datasets.Sequence(datasets.ClassLabel(names=list(F.UPOS_TAGS)))})
    rows = [{"tokens": ["Der", "Hund", "bellt", "."], "pos_tags": [5, 7, 15, 12]}]
    expected = [{"id": "udpos-test-de-0", "tokens": ["Der", "Hund", "bellt", "."],
                 "tags": ["DET", "NOUN", "VERB", "PUNCT"]}]
    assert F.convert_hub_rows("udpos", "test", "de", rows, features) == expected
    assert F.convert_hub_rows("udpos", "test", "de", rows) == expected  # default UPOS order without features
    wikiann = [{"tokens": ["Anna", "Schmidt", "lebt", "in", "Köln"], "ner_tags": [1, 2, 0, 0, 5], "langs": ["de"] * 5,
                "spans": ["PER: Anna Schmidt", "LOC: Köln"]}]
    assert F.convert_hub_rows("panx", "train", "qu", wikiann)[0]["tags"] == ["B-PER", "I-PER", "O", "O", "B-LOC"]
    with pytest.raises(UserError, match=r"tag id 9 out of range \(0-6\)"):
        F.convert_hub_rows("panx", "train", "de", [{"tokens": ["x"], "ner_tags": [9]}])


def test_hub_qa_rows_and_tydiqa_language_filter():
    row = {"id": "q1", "title": "T", "context": "Oslo is cold.", "question": "What is cold?",
           "answers": {"text": ["Oslo"], "answer_start": [0]}}
    assert F.convert_hub_rows("xquad", "test", "ro", [row]) == [
        {"id": "q1", "context": "Oslo is cold.", "question": "What is cold?",
         "answers": {"text": ["Oslo"], "answer_start": [0]}}]
    tydi = [dict(row, id="arabic-123-0"), dict(row, id="english-456-0"), dict(row, id="finnish-789-1")]
    assert [r["id"] for r in F.convert_hub_rows("tydiqa", "test", "fi", tydi)] == ["finnish-789-1"]
    pairs = F.convert_hub_rows("squad_pairs", "train", "en", [
        dict(row, id="s1", context="Oslo is cold. Rome is warm.", question="What is warm?",
             answers={"text": ["Rome"], "answer_start": [14]})])
    assert pairs == [{"id": "s1", "query": "What is warm?", "query_context": "", "candidate": "Rome is warm.",
                      "candidate_context": "Oslo is cold. Rome is warm."}]


def test_hub_tatoeba_rows():
    rows = [{"sentence1": "我饿了。", "sentence2": "I am hungry.", "lang": "cmn-eng"}]
    assert F.convert_hub_rows("tatoeba", "test", "zh", rows) == [
        {"id": "tatoeba-test-zh-0", "source": "我饿了。", "target": "I am hungry."}]


def test_hub_xquad_r_rows_build_the_multilingual_pool():
    def rows(lang, context, answer, start):
        return [{"id": "56beb", "context": context, "question": f"q-{lang}",
                 "answers": {"text": [answer], "answer_start": [start]}},
                {"id": "56bec", "context": context, "question": f"r-{lang}",
                 "answers": {"text": ["1887"], "answer_start": [context.index("1887")]}}]

    en = "The festival is old. It began in 1887. Lanterns fly."
    zh = "这个节日很古老。它始于1887年。灯笼飞起。"
    out = F.convert_hub_rows("lareqa", "test", "zh", {"en": rows("en", en, "old", 16),
                                                     "zh": rows("zh", zh, "古老", 5)})
    assert [c["id"] for c in out["candidates"]] == ["en_1_0", "en_1_1", "en_1_2", "zh_1_0", "zh_1_1", "zh_1_2"]
    assert out["candidates"][4]["text"] == "它始于1887年。"
    assert out["queries"] == [
        {"id": "56beb_zh", "text": "q-zh", "context": zh, "gold": ["en_1_0", "zh_1_0"]},
        {"id": "56bec_zh", "text": "r-zh", "context": zh, "gold": ["en_1_1", "zh_1_1"]}]


def test_hub_mewslix_rows_nested_and_flat():
    doc = json.loads((FIX / "mewslix" / "wikinews_mentions" / "dev-es.jsonl").read_text().splitlines()[0])
    flat = {"example_id": "e9", "mention": "Lago Verano: Hablaron de { Lago Verano } ayer.", "entity_id": "Q9100001"}
    entity = {"entity_id": "Q9100001", "title": "Lake Verano", "description": "A lake.", "description_language": "en"}
    out = F.convert_hub_rows("mewslix", "dev", "es", {"mentions": [doc, flat], "candidates": [entity]})
    assert [q["gold"] for q in out["queries"]] == [["Q9100011"], ["Q9100001"], ["Q9100001"]]
    assert out["queries"][0]["context"] == "Hablaron largamente de Kenji Watanabe y Lago Verano."
    assert out["queries"][2] == {"id": "e9", "text": "Lago Verano", "context": "Hablaron de Lago Verano ayer.",
                                 "gold": ["Q9100001"]}
    assert out["candidates"] == [{"id": "Q9100001", "text": "Lake Verano", "context": "A lake."}]


def test_hub_wikipedia_pairs_nested_and_flat():
    nested = json.loads((FIX / "mewslix" / "wikipedia_pairs-dev.jsonl").read_text().splitlines()[0])
    flat = {"mention": "Elda: The { Elda } floods.", "entity": "The Elda is a river.", "title": "Elda"}
    out = F.convert_hub_rows("wikipedia_pairs", "train", "en", [nested, flat])
    assert out[0] == F.load("wikipedia_pairs", "dev", "en", FIX)[0]
    assert out[1] == {"id": "wikipedia_pairs-train-en-1", "query": "Elda", "query_context": "The Elda floods.",
                      "candidate": "Elda", "candidate_context": "The Elda is a river."}
