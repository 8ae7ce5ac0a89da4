"""The XTREME-R heads' data handling and scoring, without training: which split and rows each
language gets, how retrieval pools are capped, and that data without gold labels is refused
instead of scored."""
import shutil
from dataclasses import replace

import numpy as np
import pytest
from conftest import REPO

from hpc_itt.config.schema import TrainConfig
from hpc_itt.errors import UserError
from hpc_itt.xtreme import tasks
from hpc_itt.xtreme.heads import HEADS

FIXTURES = str(REPO / "tests" / "fixtures" / "xtreme")
CFG = TrainConfig(max_length=64, max_train_examples=16, max_eval_examples=8)


@pytest.fixture(scope="module")
def tokenizer():
    from hpc_itt.assets import model_asset
    from hpc_itt.train.models import load_tokenizer

    return load_tokenizer(str(model_asset("tiny-xlmr")))


def head(task, languages, data_dir=FIXTURES, **kwargs):
    spec = tasks.get(task)
    return HEADS[spec.head](task=spec, train_dataset=spec.train[-1] if spec.train else None, dev_dataset=spec.dev,
                            languages=tuple(languages), data_dir=data_dir, **kwargs)


def test_splits_english_training_and_one_test_split_per_language(tokenizer):
    splits = head("xnli", ["en", "ar", "zh"]).prepare(tokenizer, CFG)
    assert sorted(splits) == ["test/ar", "test/en", "test/zh", "train", "validation"]
    assert len(splits["train"]) == 16 and len(splits["validation"]) == 8
    assert all("length" in ds.column_names for ds in splits.values())


def test_held_out_validation_where_the_english_dev_set_overlaps_a_test_set(tokenizer):
    h = head("xquad", ["en"], max_eval_per_language=4)
    h.prepare(tokenizer, replace(CFG, max_train_examples=None, max_eval_examples=None))
    train_ids, val_ids = set(h._examples["train"]["id"]), set(h._examples["validation"]["id"])
    assert val_ids and not train_ids & val_ids  # a seeded slice of SQuAD train, not SQuAD dev
    assert len(train_ids | val_ids) == 50  # the fixture's SQuAD train size: nothing lost
    assert len(h._examples["test/en"]) == 4


def test_retrieval_cap_keeps_the_whole_candidate_pool(tokenizer):
    """Every query language searches one pool: it is one split, encoded once per cell."""
    h = head("mewslix", ["en", "ar"], max_eval_per_language=3)
    splits = h.prepare(tokenizer, CFG)
    assert sorted(splits) == ["pool", "test/ar", "test/en", "train", "validation"]
    assert h._examples["test/en"]["role"] == ["query"] * 3 and h._examples["test/ar"]["role"] == ["query"] * 3
    assert h._examples["pool"]["role"] == ["candidate"] * 16
    t = head("tatoeba", ["zh"], max_eval_per_language=5)
    t.prepare(tokenizer, CFG)
    assert t._examples["test/zh"]["role"].count("candidate") == 5  # Tatoeba stays pairs


def test_queries_are_ranked_against_the_shared_pool(tokenizer):
    """Scored with embeddings made to match: each query's gold candidate gets the query's vector,
    the others random ones, so mAP@20 is 100 exactly when the pool is wired to every language."""
    h = head("lareqa", ["en", "zh"])
    splits = h.prepare(tokenizer, CFG)
    queries = splits["test/en"]
    with pytest.raises(UserError, match="0 candidates"):  # the pool was not predicted first
        h.score("test/en", queries, [np.ones(4)] * len(queries))
    rng = np.random.default_rng(0)
    pool_ids = splits["pool"]["rid"]
    vectors = {rid: rng.normal(size=16) for rid in pool_ids}
    query_vectors = []
    for gold in queries["gold"]:  # the question's answer sentence in every language
        query_vectors.append(rng.normal(size=16))
        vectors.update({g: query_vectors[-1] for g in gold})
    assert h.score("pool", splits["pool"], [vectors[r] for r in pool_ids]) == {}
    assert h.official_score("test/en", queries, query_vectors) == {"map@20": 100.0}  # evaluate.py's scale
    assert h.score("test/en", queries, query_vectors) == {"map@20": 1.0}  # the project's
    shifted = [vectors[r] for r in pool_ids[1:] + pool_ids[:1]]  # a pool out of line with its ids
    assert h.score("pool", splits["pool"], shifted) == {}
    assert h.score("test/en", queries, query_vectors)["map@20"] < 0.5


def test_eval_split_dev_reads_the_dev_files(tokenizer):
    dev = head("xnli", ["de"], eval_split="dev")
    dev.prepare(tokenizer, CFG)
    test = head("xnli", ["de"])
    test.prepare(tokenizer, CFG)
    assert dev._examples["test/de"]["text_a"] != test._examples["test/de"]["text_a"]
    xquad = head("xquad", ["de"], eval_split="dev")  # no dev split: falls back to test
    assert xquad._eval_split() == "test"


def test_unlabelled_test_data_is_refused_not_scored(tokenizer, tmp_path):
    """XTREME's download strips XNLI's test labels; scoring those rows would count every
    prediction as wrong. The error says what to do instead."""
    data = tmp_path / "xtreme"
    shutil.copytree(FIXTURES, data)
    path = data / "xnli" / "test-de.tsv"
    path.write_text("".join("\t".join(line.split("\t")[:2]) + "\n" for line in path.read_text().splitlines()))
    h = head("xnli", ["de"], data_dir=str(data))
    splits = h.prepare(tokenizer, CFG)
    with pytest.raises(UserError, match="no gold labels.*xtreme.eval_split=dev"):
        h.score("test/de", splits["test/de"], [0] * len(splits["test/de"]))


def test_qa_head_on_a_checkpoint_with_three_labels(tmp_path):
    """The ITT checkpoint of an NLI task says num_labels=3; the span head needs 2 outputs."""
    from transformers import AutoModelForSequenceClassification

    from hpc_itt.assets import model_asset

    nli = AutoModelForSequenceClassification.from_pretrained(str(model_asset("tiny-xlmr")), num_labels=3)
    nli.save_pretrained(tmp_path / "nli")
    model = head("xquad", ["en"]).build_model(str(tmp_path / "nli"), seed=1)
    assert model.qa_outputs.out_features == 2
    assert all(np.allclose(model.base_model.state_dict()[k], v) for k, v in nli.base_model.state_dict().items())


def test_parallel_intermediate_mixture_takes_disjoint_slices(tmp_path):
    """XNLI-MT translates the same MNLI rows: with `parallel`, language i gets the i-th share, so
    every source row is trained on once (in one language); otherwise each language's first rows."""
    from hpc_itt.config.schema import SourceSpec
    from hpc_itt.data.sources import load_raw

    folder = tmp_path / "XNLI-MT-1.0" / "multinli"
    folder.mkdir(parents=True)
    for lang in ("de", "es", "fr"):
        rows = [f"{lang} premise {i}\t{lang} hypothesis {i}\tneutral" for i in range(6)]
        (folder / f"multinli.train.{lang}.tsv").write_text("premise\thypo\tlabel\n" + "\n".join(rows) + "\n")
    source = SourceSpec(xtreme="xnli_mt", languages=["de", "es", "fr"], parallel=True)
    parallel = load_raw(source, str(tmp_path))["text_a"]
    rows = sorted(int(text.split()[-1]) for text in parallel)
    assert rows == list(range(6)) and len(parallel) == 6  # each source row once, in one language
    assert [text.split()[0] for text in parallel] == ["de", "de", "es", "es", "fr", "fr"]
    mixed = load_raw(replace(source, parallel=False), str(tmp_path))["text_a"]
    assert len(mixed) == 18 and mixed[6] == "es premise 0"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tatoeba", "mewslix"])
def test_scores_do_not_depend_on_the_world_size(task, tmp_path):
    """The same encoder scored by 1 and by 2 DeepSpeed processes (submitit, gloo): every language's
    score is identical — predictions are gathered and put back in row order before scoring, and
    the shared Mewsli-X pool reaches every rank."""
    import submitit

    from hpc_itt.assets import model_asset
    from hpc_itt.config.schema import DataConfig
    from hpc_itt.train import loop

    def scores(world: int) -> dict:
        train = TrainConfig(max_length=48, micro_batch_size=4, zero_stage=0, precision="fp32")
        job = loop.TrainJob(name=f"{task} x{world}", model_source=str(model_asset("tiny-xlmr")),
                            data=DataConfig(), train=train,
                            out_dir=str(tmp_path / f"w{world}"), tb_dir=None, seed=1,
                            head=head(task, ["de", "ar"] if task == "mewslix" else ["zh", "ar", "th"]))
        executor = submitit.LocalExecutor(folder=tmp_path / f"jobs{world}")
        executor.update_parameters(tasks_per_node=world, timeout_min=10)
        results = executor.submit(loop.evaluate_only, job).results()
        assert results[0]["world_size"] == world
        return results[0]["languages"]

    one, two = scores(1), scores(2)
    assert one == two and len(one) in (2, 3)


def test_dev_evaluation_falls_back_to_test_per_language_where_ud_has_no_dev():
    """UD Tagalog, Thai and Yoruba have only a test set (google/xtreme udpos.*): with
    xtreme.eval_split=dev those languages are scored on test, the others on dev."""
    from hpc_itt.xtreme import tasks
    from hpc_itt.xtreme.heads import HEADS

    spec = tasks.get("udpos")
    head = HEADS[spec.head](task=spec, train_dataset=spec.train[-1], dev_dataset=spec.dev,
                            languages=("de", "tl", "th", "yo", "kk"), eval_split="dev")
    assert {lang: head._eval_split(lang) for lang in head.languages} == {
        "de": "dev", "tl": "test", "th": "test", "yo": "test", "kk": "test"}
    assert HEADS[spec.head](task=spec, train_dataset=spec.train[-1], dev_dataset=spec.dev,
                            languages=("de",))._eval_split("de") == "test"
