"""hpc_itt.xtreme.formats: the readers of the XTREME download layout (on the fixtures in
tests/fixtures/xtreme, written by make_fixtures.py there) and the hub row converters."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import contract as C
from hpc_itt.errors import UserError
from hpc_itt.xtreme import formats as F
from hpc_itt.xtreme.formats import spec as S

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
    "udpos": {"train": EN, "dev": [l for l in L8 if l != "th"], "test": L8},  # UD Thai: test only
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
# Hub rows come from the recorded contract (tests/hub_contract/*.json, via tests/contract.py): the real
# examples copied from public sources first, then rows synthesised from the recorded features.

HUB_SOURCES = [(key, source) for key, sources in F.HUB.items() for source in sources]
# (dataset, split, language) the data has but a hub copy lacks: UD v2.7 languages from izhx/xtreme-r-udpos
HUB_GAPS = {("udpos", split, lang) for split in ("train", "dev") for lang in ("lt", "pl", "uk", "wo", "ro")}


def hub_cases():
    for dataset, splits in F.LANGS.items():
        for split, langs in splits.items():
            for lang in langs:
                yield dataset, split, lang
    for split in F.LANGS["mewslix"]:  # the shared candidate pool of every Mewsli-X language
        for lang in S.MEWSLIX_LANGS:
            yield "mewslix:candidates", split, lang


def recorded_name(source: F.HubSource, lang: str) -> str | None:
    return F.hub_config(source, lang) or F.hub_data_dir(source, lang)


def test_hub_table_covers_every_dataset_split_and_language():
    gaps = set()
    for dataset, split, lang in hub_cases():
        source = F.hub_source(dataset, lang)
        if split not in source.splits:
            gaps.add((dataset, split, lang))
            with pytest.raises(UserError) as err:
                F.hub_source(dataset, lang, split)
            assert str(err.value) == (
                f"{dataset} language {lang!r} has no split {split!r} in its hub copy ({source.repo} config {lang} "
                f"has: test); pass data_dir=<XTREME download folder> to read local files instead")
            continue
        assert F.hub_source(dataset, lang, split) is source
        for template in (F.hub_config(source, lang), F.hub_data_dir(source, lang)):
            assert template is None or "{" not in template
    assert gaps == HUB_GAPS
    assert F.hub_config(F.hub_source("udpos", "fa"), "fa") == "udpos.Persian"
    assert F.hub_source("udpos", "wo").repo == "izhx/xtreme-r-udpos"
    assert F.hub_config(F.hub_source("panx", "de"), "de") == "PAN-X.de"
    assert F.hub_source("panx", "qu") == F.HUB["panx"][1] and F.hub_config(F.HUB["panx"][1], "qu") == "qu"
    assert F.hub_config(F.hub_source("mlqa", "hi"), "hi") == "MLQA.hi.hi"
    assert F.hub_config(F.hub_source("xquad", "ro"), "ro") == "xquad.ro"
    assert F.hub_data_dir(F.hub_source("lareqa", "th"), "th") == "th"
    assert F.HUB["mnli"][0] == ("nyu-mll/glue", "mnli", {"train": "train"}, None, None, None, None)


def test_every_hub_repo_has_a_contract_with_its_revision_and_sources():
    for key, source in HUB_SOURCES:
        recorded = C.load(source.repo)
        assert recorded["id"] == source.repo and recorded["type"] == "dataset", source.repo
        assert recorded["sources"] and all(s.startswith("https://") for s in recorded["sources"]), source.repo
        assert recorded["revision_source"], source.repo
        # the code loads exactly the recorded revision: a 40-hex commit, a ref, or main (None, with the reason)
        assert source.revision == recorded["revision"] == recorded["load"]["revision"], (key, source.repo)
        assert source.revision is None or re.fullmatch("[0-9a-f]{40}", source.revision) \
            or source.revision.startswith("refs/"), source.repo
        assert recorded["configs"] and all("splits" in c and "features" in c for c in recorded["configs"].values())
    # the script-only ids that were replaced keep their record (and say where to go instead)
    for repo in F.SCRIPT_ONLY:
        assert C.load(repo)["loads_on_main"] is not True, repo


def test_no_script_only_id_in_hub():
    for key, source in HUB_SOURCES:
        recorded = C.load(source.repo)
        assert source.repo not in ("allenai/social_i_qa", "facebook/mlqa"), key
        # a repository whose main may still hold a loading script is only read at a pinned script-less revision
        if recorded["loads_on_main"] is not True or source.repo in F.SCRIPT_ONLY:
            assert source.revision is not None and source.revision == recorded["load"]["revision"], key
            assert (source.data_dir is not None) == (recorded["load"]["data_dir"] is not None), key
    assert F.hub_source("siqa", "en").repo == "lighteval/siqa"
    assert F.hub_source("mlqa", "de").repo == "google/xtreme"


def test_every_hub_config_template_resolves_to_a_recorded_config():
    for dataset, split, lang in hub_cases():
        if (dataset, split, lang) in HUB_GAPS:
            continue
        source = F.hub_source(dataset, lang, split)
        recorded = C.load(source.repo)
        names = recorded.get("config_names") or list(recorded["configs"])
        name = recorded_name(source, lang)
        if name is None:  # the repository's only (or default) config
            assert len(names) == 1, (dataset, lang, names)
            name = names[0]
        assert name in names, (dataset, split, lang, name)
        if name in recorded["configs"]:  # a recorded (representative) config: the hub split must be there
            assert source.splits[split] in recorded["configs"][name]["splits"], (dataset, split, lang, name)
    # Tatoeba: one default config; every language's pair is a value of its lang column
    pairs = C.config_of("mteb/tatoeba-bitext-mining", "default")["value_sets"]["lang"]
    source = F.hub_source("tatoeba", "zh")
    assert source.where[0] == "lang"
    assert {source.where[1].format(lang3=S.TATOEBA_ISO3[l]) for l in F.LANGS["tatoeba"]["test"]} \
        <= set(pairs)


def test_udpos_split_rule_tagalog_and_kazakh():
    F.check("udpos", "test", "tl")
    F.check("udpos", "train", "kk")
    assert F.lang_splits("udpos", "tl") == ("test",) and F.lang_splits("udpos", "kk") == ("train", "test")
    assert F.lang_splits("udpos", "de") == ("train", "dev", "test")
    assert str(error_of("udpos", "train", "tl")) == "dataset 'udpos' language 'tl' has no split 'train' (tl has: test)"
    assert str(error_of("udpos", "dev", "tl", FIX)) == "dataset 'udpos' language 'tl' has no split 'dev' (tl has: test)"
    assert str(error_of("udpos", "dev", "kk")) == (
        "dataset 'udpos' language 'kk' has no split 'dev' (kk has: train, test)")
    assert str(error_of("udpos", "train", "xx")).startswith(
        "dataset 'udpos' split 'train' has no language 'xx' (valid:")
    # the rule is the recorded hub layout: google/xtreme udpos.<Name> splits, for every recorded language
    ours = {"train": "train", "validation": "dev", "test": "test"}
    names = {name: lang for lang, name in S.UD_NAMES.items()}
    configs = C.load("google/xtreme")["configs"]
    checked = set()
    for config, entry in configs.items():
        if config.startswith("udpos."):
            lang = names[config.split(".", 1)[1]]
            assert {ours[s] for s in entry["splits"]} == set(F.lang_splits("udpos", lang)), config
            checked.add(lang)
    assert {"tl", "th", "yo", "kk", "en"} <= checked


def fake_hub(monkeypatch, calls: list, rows_of=None):
    """datasets.load_dataset replaced by the recorded real rows of the requested repo/config/split (none where
    the contract has none), or by `rows_of(path, name, split, options)`."""
    import datasets

    def load_dataset(path, name=None, split=None, **options):
        calls.append((path, name, split, options))
        if rows_of is not None:
            return rows_of(path, name, split, options)
        recorded = C.load(path)
        config = name or options.get("data_dir") or list(recorded["configs"])[0]
        if not C.config_of(path, config).get("examples", {}).get(split):
            features = C.features(path, config)
            return datasets.Dataset.from_dict({k: [] for k in features}, features=features)
        return C.rows(path, config, split, n=1)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)


def test_hub_loads_pass_the_pinned_revision_and_data_dir(monkeypatch):
    calls: list = []
    fake_hub(monkeypatch, calls)
    records = F.load("panx", "test", "de")
    assert calls == [("google/xtreme", "PAN-X.de", "test", {"revision": "21f88c0ff5bf413a83c854eb00050e75d245161f"})]
    assert records == [{"id": "panx-test-de-0", "tokens": ["WEITERLEITUNG", "Hu", "(", "Xi’an", ")"],
                        "tags": ["O", "B-LOC", "I-LOC", "I-LOC", "I-LOC"]}]
    calls.clear()
    F.load("lareqa", "test", "de")
    assert [(c[0], c[1], c[2]) for c in calls] == [("google-research-datasets/xquad_r", None, "validation")] * 11
    assert [c[3] for c in calls] == [{"revision": "refs/convert/parquet", "data_dir": code} for code in S.LAREQA_LANGS]
    calls.clear()
    assert F.load("mlqa", "dev", "en")[0]["id"] == "569666f4dc3983dab5624e989212c1d9d0cd1798"
    assert calls == [("google/xtreme", "MLQA.en.en", "validation",
                      {"revision": "21f88c0ff5bf413a83c854eb00050e75d245161f"})]
    calls.clear()
    assert F.load("siqa", "dev", "en")[0]["label"] == 0  # lighteval/siqa labels "1"-"3"
    assert calls == [("lighteval/siqa", None, "validation", {"revision": "54c6a1f8cb6daf4f5abf24a601852612fb35eb25"})]


def test_hub_tatoeba_loads_the_default_config_once_and_keeps_the_language_rows(monkeypatch):
    calls: list = []
    pairs = ["cmn-eng", "deu-eng", "cmn-eng", "ara-eng", "cmn-eng"]

    def rows_of(path, name, split, options):
        rows = C.rows(path, "default", split, n=len(pairs))
        return rows.map(lambda row, i: {"lang": pairs[i]}, with_indices=True)

    fake_hub(monkeypatch, calls, rows_of)
    records = F.load("tatoeba", "test", "zh")
    assert calls == [("mteb/tatoeba-bitext-mining", None, "test",
                      {"revision": "69e8f12da6e31d59addadda9a9c8a2e601a0e282"})]
    expected = [r for r in rows_of("mteb/tatoeba-bitext-mining", None, "test", {}) if r["lang"] == "cmn-eng"]
    assert len(records) == 3 and records == [
        {"id": f"tatoeba-test-zh-{i}", "source": r["sentence1"].strip(), "target": r["sentence2"].strip()}
        for i, r in enumerate(expected)]
    message = str(error_of("tatoeba", "test", "ja"))
    assert message == ("mteb/tatoeba-bitext-mining revision 69e8f12da6e31d59addadda9a9c8a2e601a0e282 split test: no "
                       "rows with lang 'jpn-eng' (present: ara-eng, cmn-eng, deu-eng)")


def test_hub_split_gaps_never_reach_the_hub(monkeypatch):
    calls: list = []

    def rows_of(path, name, split, options):  # udpos.Tagalog rows whose token and tag counts agree
        rows = C.rows(path, name, split, n=40, seed=3)
        return rows.select([i for i, r in enumerate(rows) if len(r["tokens"]) == len(r["pos_tags"])])

    fake_hub(monkeypatch, calls, rows_of)
    records = F.load("udpos", "test", "tl")
    assert calls == [("google/xtreme", "udpos.Tagalog", "test",
                      {"revision": "21f88c0ff5bf413a83c854eb00050e75d245161f"})]
    assert records and all(set(r["tags"]) <= set(F.UPOS_TAGS) for r in records)
    calls.clear()
    assert str(error_of("udpos", "train", "th")) == "dataset 'udpos' language 'th' has no split 'train' (th has: test)"
    assert str(error_of("udpos", "train", "pl")) == (
        "udpos language 'pl' has no split 'train' in its hub copy (izhx/xtreme-r-udpos config pl has: test); pass "
        "data_dir=<XTREME download folder> to read local files instead")
    assert calls == []


def test_script_only_repository_error_names_the_alternative(monkeypatch):
    import datasets

    def load_dataset(path, name=None, split=None, **options):
        raise RuntimeError(f"Dataset scripts are no longer supported, but found {path.split('/')[1]}.py")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setitem(F.HUB, "siqa", (F.HubSource("allenai/social_i_qa", None, {"train": "train",
                                                                                  "dev": "validation"}),))
    assert str(error_of("siqa", "train", "en")) == (
        "cannot load siqa train/en from the Hugging Face hub (allenai/social_i_qa split train): RuntimeError: Dataset "
        "scripts are no longer supported, but found social_i_qa.py; allenai/social_i_qa holds a loading script, "
        "which datasets >= 4 refuses: use lighteval/siqa (its parquet copy) or revision='refs/pr/3'; pass "
        "data_dir=<XTREME download folder> to read local files instead")
    monkeypatch.setitem(F.HUB, "copa", (F.HubSource("someone/copa", None, {"train": "train", "dev": "validation"}),))
    assert "someone/copa holds a loading script, which datasets >= 4 refuses: use its parquet export " \
           "(revision='refs/convert/parquet', data_dir='<config>')" in str(error_of("copa", "dev", "en"))


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
        "cannot load lareqa test/de from the Hugging Face hub (google-research-datasets/xquad_r data_dir ar revision "
        "refs/convert/parquet split validation): ")
    assert str(error_of("udpos", "test", "tl")).startswith(
        "cannot load udpos test/tl from the Hugging Face hub (google/xtreme config udpos.Tagalog revision "
        "21f88c0ff5bf413a83c854eb00050e75d245161f split test): ")


def test_hub_nli_rows():
    rows = C.rows("facebook/xnli", "ar", "validation", n=4)
    out = F.convert_hub_rows("xnli", "dev", "ar", list(rows), rows.features)
    assert out[0] == {"id": "xnli-dev-ar-0", "text_a": "وقال، ماما، لقد عدت للمنزل.",
                      "text_b": "اتصل بأمه حالما أوصلته حافلة المدرسية.", "label": 1}  # the card's example
    assert [r["label"] for r in out] == list(rows["label"]) and len(out) == 4
    for record in out:
        check_record("xnli", record)
    glue = C.rows("nyu-mll/glue", "mnli", "train", n=1)
    assert F.convert_hub_rows("mnli", "train", "en", list(glue), glue.features) == [
        {"id": "mnli-train-en-0", "text_a": "Conceptually cream skimming has two basic dimensions - product and "
                                            "geography.",
         "text_b": "Product and geography are what make cream skimming work.", "label": 1}]
    # GLUE's test_* splits carry label -1
    assert F.convert_hub_rows("mnli", "train", "en", [dict(glue[0], label=-1)])[0]["label"] == -1


def test_hub_choice_rows():
    siqa = C.rows("lighteval/siqa", None, "validation", n=1)
    assert siqa.features == C.features("allenai/social_i_qa")  # lighteval/siqa is allenai's data as parquet
    assert F.convert_hub_rows("siqa", "dev", "en", list(siqa)) == [
        {"id": "siqa-dev-en-0", "context": "Sydney walked past a homeless woman asking for change but did not have "
                                           "any money they could give to her. Sydney felt bad afterwards.",
         "question": "How would you describe Sydney?",
         "choices": ["sympathetic", "like a person who was unable to help", "incredulous"], "label": 0}]
    copa = F.convert_hub_rows("copa", "train", "en", list(C.rows("aps/super_glue", "copa", "train", n=2)))
    assert copa[0] == {"id": "copa-train-en-0", "context": "My body cast a shadow over the grass.", "question": "cause",
                       "choices": ["The sun was rising.", "The grass was cut."], "label": 0}
    assert [r["id"] for r in copa] == ["copa-train-en-0", "copa-train-en-1"]
    dev = C.rows("aps/super_glue", "copa", "validation", n=2)
    val = F.convert_hub_rows("copa", "dev", "en", list(dev))
    assert [(r["question"], r["label"]) for r in val] == [("effect", 1), ("effect", 1)]
    # SuperGLUE's test split has no labels: -1
    assert F.convert_hub_rows("copa", "dev", "en", [dict(dev[0], label=-1)])[0]["label"] == -1
    xcopa = F.convert_hub_rows("xcopa", "test", "et", list(C.rows("cambridgeltl/xcopa", "et", "test", n=2)))
    assert xcopa[0] == {"id": "xcopa-test-et-0", "context": "Ese oli mullikilesse mässitud.", "question": "cause",
                        "choices": ["See oli õrn.", "See oli väike."], "label": 0}
    assert [r["question"] for r in xcopa] == ["cause", "effect"]
    for dataset, records in (("copa", copa + val), ("xcopa", xcopa)):
        for record in records:
            check_record(dataset, record)


def test_hub_tagging_rows():
    panx = {split: C.rows("google/xtreme", "PAN-X.de", split, n=1) for split in ("train", "validation", "test")}
    train = F.convert_hub_rows("panx", "train", "de", list(panx["train"]), panx["train"].features)
    assert train == [{"id": "panx-train-de-0",
                      "tokens": ["als", "Teil", "der", "Savoyer", "Voralpen", "im", "Osten", "."],
                      "tags": ["O", "O", "O", "B-LOC", "I-LOC", "O", "O", "O"]}]
    assert F.convert_hub_rows("panx", "train", "de", list(panx["train"])) == train  # default PAN-X order
    assert F.convert_hub_rows("panx", "dev", "de", list(panx["validation"]))[0]["tags"] == [
        "B-PER", "I-PER", "I-PER", "I-PER", "O"]
    wikiann = C.rows("unimelb-nlp/wikiann", "af", "train", n=1)  # the card's example; every config has this schema
    assert wikiann.features == C.features("unimelb-nlp/wikiann", "qu")
    assert F.convert_hub_rows("panx", "train", "qu", list(wikiann), wikiann.features)[0]["tags"] == [
        "O", "O", "O", "O", "B-PER"] + ["O"] * 9
    with pytest.raises(UserError, match=r"tag id 9 out of range \(0-6\)"):
        F.convert_hub_rows("panx", "train", "de", [dict(panx["train"][0], ner_tags=[9] * 8)])
    # udpos: no public example row; rows synthesised from the recorded features (ClassLabel ids in range)
    udpos = C.rows("google/xtreme", "udpos.Tagalog", "test", n=40, seed=3)
    even = [r for r in udpos if len(r["tokens"]) == len(r["pos_tags"])]
    uneven = [r for r in udpos if len(r["tokens"]) != len(r["pos_tags"])]
    assert even and uneven
    out = F.convert_hub_rows("udpos", "test", "tl", even, udpos.features)
    assert [r["tags"] for r in out] == [[F.UPOS_TAGS[t] for t in r["pos_tags"]] for r in even]
    assert F.convert_hub_rows("udpos", "test", "tl", even) == out  # default UPOS order without features
    for record in out:
        check_record("udpos", record)
    with pytest.raises(UserError, match=r"tokens but \d+ tags"):
        F.convert_hub_rows("udpos", "test", "tl", uneven[:1], udpos.features)


def test_hub_qa_rows_and_tydiqa_language_filter():
    xquad = F.convert_hub_rows("xquad", "test", "ro", list(C.rows("google/xquad", "xquad.ro", "validation", n=2)))
    assert [r["id"] for r in xquad] == ["56beb4343aeaaa14008c925b", "56beb4343aeaaa14008c925c"]
    assert xquad[0]["answers"] == {"text": ["308"], "answer_start": [31]}
    mlqa = F.convert_hub_rows("mlqa", "test", "en", list(C.rows("google/xtreme", "MLQA.en.en", "test", n=1)))
    assert mlqa[0]["answers"] == {"text": ["remains infected for its lifetime"], "answer_start": [571]}
    squad = F.convert_hub_rows("squad", "train", "en", list(C.rows("rajpurkar/squad", "plain_text", "train", n=2)))
    for dataset, records in (("xquad", xquad), ("mlqa", mlqa), ("squad", squad)):
        for record in records:
            check_record(dataset, record)
    tydi = [row for split in ("validation", "train") for row in C.rows("google/xtreme", "tydiqa", split, n=1)]
    assert [r["id"] for r in F.convert_hub_rows("tydiqa", "test", "ar", tydi)] == ["arabic-2387335860751143628-1"]
    assert [r["id"] for r in F.convert_hub_rows("tydiqa", "train", "fi", tydi)] == ["finnish--7633091408814529542-0"]
    assert F.convert_hub_rows("tydiqa", "test", "ko", tydi) == []
    for record in F.convert_hub_rows("tydiqa", "test", "ar", tydi):
        check_record("tydiqa", record)
    pairs = F.convert_hub_rows("squad_pairs", "train", "en",
                               list(C.rows("rajpurkar/squad", "plain_text", "train", n=2)))
    assert [p["id"] for p in pairs] == ["5733be284776f41900661182", "5733be284776f4190066117f"]
    context = squad[0]["context"]
    for pair, answer in zip(pairs, ("Saint Bernadette Soubirous", "a copper statue of Christ")):
        shaped(pair, "retrieval_pair")
        assert answer in pair["candidate"] and pair["candidate"] in context and pair["candidate"] != context
        assert pair["query_context"] == "" and pair["candidate_context"] == context
    assert pairs[0]["candidate"] == ("It is a replica of the grotto at Lourdes, France where the Virgin Mary reputedly "
                                     "appeared to Saint Bernadette Soubirous in 1858.")


def test_hub_tatoeba_rows():
    rows = C.rows("mteb/tatoeba-bitext-mining", "default", "test", n=3)
    assert F.convert_hub_rows("tatoeba", "test", "zh", list(rows)) == [
        {"id": f"tatoeba-test-zh-{i}", "source": r["sentence1"].strip(), "target": r["sentence2"].strip()}
        for i, r in enumerate(rows)]


def test_hub_xquad_r_rows_build_the_multilingual_pool():
    en = list(C.rows("google-research-datasets/xquad_r", "en", "validation", n=1))
    de = list(C.rows("google-research-datasets/xquad_r", "de", "validation", n=2))
    out = F.convert_hub_rows("lareqa", "test", "de", {"en": en, "de": de})
    by_id = {c["id"]: c for c in out["candidates"]}
    assert len(by_id) == len(out["candidates"]) and {i.split("_")[0] for i in by_id} == {"en", "de"}
    assert by_id["en_1_0"]["text"] == ("The Panthers defense gave up just 308 points, ranking sixth in the league, "
                                       "while also leading the NFL in interceptions with 24 and boasting four Pro "
                                       "Bowl selections.")
    queries = {q["id"]: q for q in out["queries"]}
    assert list(queries) == ["56beb4343aeaaa14008c925b_de", "56beb4343aeaaa14008c925c_de"]
    points = queries["56beb4343aeaaa14008c925b_de"]
    assert points["text"] == "Wie viele Punkte gab die Verteidigung der Panthers ab?"
    assert {g.split("_")[0] for g in points["gold"]} == {"en", "de"} and all("308" in by_id[g]["text"]
                                                                           for g in points["gold"])
    sacks = queries["56beb4343aeaaa14008c925c_de"]  # only the German rows hold this question here
    assert [g.split("_")[0] for g in sacks["gold"]] == ["de"] and "136" in by_id[sacks["gold"][0]]["text"]


MARKED = ("Smith: The verdict came back for { Smith }, who stepped down as AG of Fictitious County in February, 2012.")
# the query format of utils_mewslix.preprocess_mention (its docstring example), as izhx/mewsli-x process.py writes it


def test_hub_mewslix_rows_nested_and_flat():
    doc = json.loads((FIX / "mewslix" / "wikinews_mentions" / "dev-es.jsonl").read_text().splitlines()[0])
    flat = C.rows("izhx/mewsli-x", "de", "validation", n=2)
    flat = [dict(flat[0], mention=MARKED), flat[1]]
    pool = list(C.rows("izhx/mewsli-x", "candidate_entities", "test", n=2))
    out = F.convert_hub_rows("mewslix", "dev", "es", {"mentions": [doc] + flat, "candidates": pool})
    assert [q["gold"] for q in out["queries"]] == [["Q9100011"], ["Q9100001"], [flat[0]["entity_id"]],
                                                   [flat[1]["entity_id"]]]
    assert out["queries"][0]["context"] == "Hablaron largamente de Kenji Watanabe y Lago Verano."
    assert out["queries"][2] | {"id": ""} == {"id": "", "text": "Smith", "gold": [flat[0]["entity_id"]],
                                              "context": "The verdict came back for Smith, who stepped down as AG of "
                                                         "Fictitious County in February, 2012."}
    assert out["queries"][3]["text"] == out["queries"][3]["context"] == flat[1]["mention"]  # not marked up
    assert out["candidates"] == [{"id": r["entity_id"], "text": "", "context": r["description"]} for r in pool]
    for query in out["queries"]:
        shaped(query, "query")


def test_hub_wikipedia_pairs_nested_and_flat():
    nested = json.loads((FIX / "mewslix" / "wikipedia_pairs-dev.jsonl").read_text().splitlines()[0])
    flat = dict(C.rows("izhx/mewsli-x", "wikipedia_pairs", "train", n=1)[0], mention=MARKED)
    out = F.convert_hub_rows("wikipedia_pairs", "train", "en", [nested, flat])
    assert out[0] == F.load("wikipedia_pairs", "dev", "en", FIX)[0]
    assert out[1] == {"id": "wikipedia_pairs-train-en-1", "query": "Smith",
                      "query_context": "The verdict came back for Smith, who stepped down as AG of Fictitious County "
                                       "in February, 2012.",
                      "candidate": "", "candidate_context": flat["entity"]}
