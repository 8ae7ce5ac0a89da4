"""The shipped configs against the recorded hub contract (tests/hub_contract/*.json: schemas read from
public sources). Quick: nothing here reaches the hub."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import datasets
import pytest

import contract
from hpc_itt.config.load import load_models, load_tasks
from hpc_itt.data.sources import _load_hub, normalise, num_labels
from hpc_itt.config.schema import SourceSpec
from hpc_itt.errors import UserError

_REVISION = re.compile(r"^([0-9a-f]{40}|refs/\S+|main)$")


def _hub_sources():
    params = []
    for task in load_tasks().values():
        for which, dataset in [("intermediate", task.intermediate), *task.targets.items()]:
            if dataset.hub is not None and dataset.hub.hub:
                params.append(pytest.param(task, dataset, id=f"{task.name}-{which}-{dataset.hub.hub}"))
    return params


def _hub_models():
    specs = {spec.name: spec for spec in load_models().values() if spec.hub_id}  # aliases share one spec
    return [pytest.param(spec, id=f"{name}-{spec.hub_id}") for name, spec in sorted(specs.items())]


HUB_SOURCES = _hub_sources()
HUB_MODELS = _hub_models()


def _model_contract(hub_id: str) -> dict:
    """By canonical id, or by a legacy id (bert-base-uncased) that the hub redirects."""
    for entry in contract.all_contracts().values():
        if entry.get("type") == "model" and (entry["id"] == hub_id or hub_id in entry.get("legacy_ids", [])):
            return entry
    raise AssertionError(f"no hub contract for model {hub_id} (tests/hub_contract/<id with / -> __>.json)")


def _check_provenance(entry: dict) -> None:
    assert entry["sources"] and all(isinstance(s, str) and s.strip() for s in entry["sources"]), entry["id"]
    assert entry["revision"] is None or _REVISION.match(entry["revision"]), (entry["id"], entry["revision"])
    assert entry.get("revision_source"), f"{entry['id']}: say where the revision was read (or why it is null)"


def test_the_configs_name_hub_sources_and_models():
    assert len(HUB_SOURCES) >= 9 and len(HUB_MODELS) >= 6


@pytest.mark.parametrize("task,dataset", HUB_SOURCES)
def test_hub_source_matches_its_recorded_schema(task, dataset):
    source = dataset.hub
    entry = contract.load(source.hub)
    assert entry["type"] == "dataset" and entry["id"] == source.hub
    _check_provenance(entry)
    recorded = contract.config_of(source.hub, source.config)
    assert source.split in recorded["splits"], f"{source.hub}: split {source.split!r} not in {list(recorded['splits'])}"
    features = contract.features(source.hub, source.config)
    for column in [*source.text_fields, source.label_field]:
        assert column in features, f"{source.hub}: no column {column!r} (recorded: {', '.join(features)})"
    for column in source.text_fields:
        assert getattr(features[column], "dtype", None) in ("string", "large_string"), (source.hub, column)
    # The config pins what the contract records (a revision another source states).
    assert source.revision == entry["load"]["revision"], (source.hub, source.revision, entry["load"]["revision"])
    assert source.data_dir == entry["load"]["data_dir"], (source.hub, source.data_dir)
    # The recorded label space fits the task's.
    label = features[source.label_field]
    n = num_labels(dataset, "hub")
    if task.kind == "regression":
        assert getattr(label, "dtype", "").startswith("float"), (source.hub, label)
    elif source.label_map is not None:
        assert sorted(source.label_map.values()) == list(range(n)), (source.hub, source.label_map)
    elif isinstance(label, datasets.ClassLabel):
        assert label.num_classes == n, f"{source.hub}: {label.num_classes} classes, the task has {n}"
    else:
        low, high = recorded["value_ranges"][source.label_field]
        assert getattr(label, "dtype", "").startswith("int") and (low, high) == (0, n - 1), (source.hub, low, high)


@pytest.mark.parametrize("task,dataset", HUB_SOURCES)
def test_recorded_rows_normalise_into_the_label_space(task, dataset):
    """Rows with exactly the recorded features (real examples first) go through the same normalise()
    a hub load does: labels land in 0..num_labels-1 (float for regression), texts are kept."""
    source = dataset.hub
    recorded = contract.config_of(source.hub, source.config)
    examples = recorded.get("examples", {}).get(source.split, [])
    if source.label_map is not None:  # string labels: only real rows carry real label values
        assert examples, f"{source.hub}: string labels need recorded example rows of split {source.split!r}"
        raw = contract.rows(source.hub, source.config, source.split, n=len(examples))
    else:
        raw = contract.rows(source.hub, source.config, source.split, n=8)
    n = num_labels(dataset, "hub")
    out = normalise(raw, source, n, task.kind)
    assert len(out) == len(raw)
    assert out["text_a"] == raw[source.text_fields[0]]
    if len(source.text_fields) == 2:
        assert out["text_b"] == raw[source.text_fields[1]]
    labels = out["label"]
    if task.kind == "regression":
        assert all(isinstance(v, float) for v in labels)
        assert labels == pytest.approx([float(v) for v in raw[source.label_field]], rel=1e-6)
    else:
        assert all(isinstance(v, int) and 0 <= v < n for v in labels), labels
        expected = ([source.label_map[str(v)] for v in raw[source.label_field]] if source.label_map is not None
                    else raw[source.label_field])
        assert labels == expected
    if examples:  # the real rows come first and survive unchanged
        assert out["text_a"][: len(examples)] == [e[source.text_fields[0]] for e in examples]


def test_unlabelled_test_split_is_rejected():
    """SST-2's test rows carry label -1: a config pointing at that split fails with one line."""
    source = SourceSpec(hub="stanfordnlp/sst2", split="test", text_fields=["sentence"])
    raw = contract.rows("stanfordnlp/sst2", None, "test", n=1)
    assert raw["label"] == [-1]
    with pytest.raises(UserError, match="outside the label space") as err:
        normalise(raw, source, 2, "classification")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("spec", HUB_MODELS)
def test_hub_model_matches_its_recorded_files(spec):
    entry = _model_contract(spec.hub_id)
    _check_provenance(entry)
    assert entry["model_type"], entry["id"]
    assert entry["weights"] and set(entry["weights"]) <= set(entry["files"]), entry["id"]
    assert all(w.endswith((".safetensors", ".bin")) for w in entry["weights"]), entry["weights"]
    assert "config.json" in entry["files"], entry["id"]
    if spec.revision is not None:
        assert spec.revision == entry["revision"], (spec.hub_id, spec.revision, entry["revision"])


def test_no_shipped_config_uses_a_script_only_repository():
    """datasets >= 4 refuses a repository whose main holds only a loading script."""
    used = {p.values[1].hub.hub: p.values[1].hub for p in HUB_SOURCES}
    script_only = {e["id"]: e for e in contract.all_contracts().values()
                   if e.get("type") == "dataset" and e.get("loads_on_main") is False}
    assert script_only, "the contract records the script-only repositories it replaced"
    for hub_id, entry in script_only.items():
        assert entry.get("notes"), f"{hub_id}: say what replaces it"
        source = used.get(hub_id)
        # Only through a ref that holds data files (the parquet export), never through main.
        assert source is None or (source.revision or "").startswith("refs/"), f"{hub_id} is script-only on main"
    for hub_id, source in used.items():
        entry = contract.load(hub_id)
        assert entry["loads_on_main"] or (source.revision or "").startswith("refs/"), hub_id


def _script_only_repo(root, hub_id: str) -> None:
    """A dataset repository laid out like a script-only hub repo: only `<name>.py` (and data)."""
    repo = root / hub_id
    (repo / "data").mkdir(parents=True)
    name = hub_id.rsplit("/", 1)[-1]
    (repo / f"{name}.py").write_text("import datasets\n\n\nclass Builder(datasets.GeneratorBasedBuilder):\n    pass\n")
    (repo / "data" / "train.tsv").write_text("index_id\tcategory\ttext\n1\ttravel\tEin Satz.\n")


def test_script_only_repository_is_one_line_naming_the_alternative(tmp_path, monkeypatch):
    """Real datasets behaviour, not a mock: datasets >= 4 checks for `<name>.py` the same way in a
    local directory as in a hub repository, and refuses it before any download."""
    monkeypatch.chdir(tmp_path)
    _script_only_repo(tmp_path, "Davlan/sib200")
    with pytest.raises(RuntimeError, match="Dataset scripts are no longer supported, but found sib200.py"):
        datasets.load_dataset("Davlan/sib200", "deu_Latn", split="train")
    source = SourceSpec(hub="Davlan/sib200", config="deu_Latn", split="train", text_fields=["text"],
                        label_field="category")
    with pytest.raises(UserError) as err:
        _load_hub(source)
    message = str(err.value)
    assert "\n" not in message
    for part in ("hub:Davlan/sib200/deu_Latn[train]", "loading script (sib200.py)", "mteb/sib200",
                 "refs/convert/parquet", "data_dir: deu_Latn"):
        assert part in message, message


def test_script_only_local_directory_is_one_line(tmp_path):
    _script_only_repo(tmp_path, "my-org/reviews")
    source = SourceSpec(hub=str(tmp_path / "my-org" / "reviews"), revision="refs/pr/1", split="train")
    with pytest.raises(UserError) as err:
        _load_hub(source)
    message = str(err.value)
    assert "\n" not in message and "@refs/pr/1" in message and "loading script (reviews.py)" in message
    assert "use a repository with data files" in message, message


_OFFLINE_PROBE = """
import json, sys, time
from hpc_itt.config.schema import SourceSpec
from hpc_itt.data.sources import _load_hub
from hpc_itt.errors import UserError
start = time.monotonic()
try:
    _load_hub(SourceSpec(hub="someone/not-cached-anywhere", config="de", revision="refs/convert/parquet"))
except UserError as err:
    print(json.dumps({"message": str(err), "seconds": time.monotonic() - start}))
    sys.exit(0)
sys.exit(3)
"""


def test_unreachable_hub_fails_fast_as_one_line(tmp_path, monkeypatch):
    """With HF_HUB_OFFLINE/HF_DATASETS_OFFLINE (read when datasets is imported, hence a fresh
    interpreter) a dataset that is not cached fails at once, not after ~25 s of HTTP retries."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    proc = subprocess.run([sys.executable, "-c", _OFFLINE_PROBE], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    message = result["message"]
    assert "\n" not in message
    for part in ("hub:someone/not-cached-anywhere/de@refs/convert/parquet", "unreachable", "--stage prepare",
                 "data.source=offline"):
        assert part in message, message
    assert result["seconds"] < 5, f"took {result['seconds']:.1f} s: the offline switch did not apply"
