"""Config is validated once, at the edge, with errors that name file, line, key, value and choices."""
import pytest

from hpc_itt.config.load import load_study, parse_overrides, resolve_model
from hpc_itt.errors import UserError


def study_file(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_quickstart_is_valid_and_overrides_apply():
    study = load_study(None, ["intermediate.epochs=7", "seeds=[3,4]", "target.lr=1e-5", "models=tiny-bert"])
    assert study.intermediate.epochs == 7 and study.seeds == [3, 4]
    assert study.target.lr == 1e-5 and study.models == ["tiny-bert"]
    assert study.cluster.kind == "local" and study.cluster.tasks_per_node == 2


def test_unknown_key_names_file_line_and_valid_keys(tmp_path):
    path = study_file(tmp_path, "name: x\nmodels: [tiny-bert]\nintermediate:\n  epochs: 2\n  epoch: 3\n")
    with pytest.raises(UserError) as err:
        load_study(path)
    message = str(err.value)
    assert f"{path}:5: intermediate.epoch" in message and "'epoch'" in message and "epochs" in message
    assert "\n" not in message


def test_bad_literal_names_value_and_choices(tmp_path):
    path = study_file(tmp_path, "models: [tiny-bert]\nintermediate:\n  precision: fp8\n")
    with pytest.raises(UserError, match=r"study.yaml:3: intermediate.precision: invalid value 'fp8' \(valid: bf16, fp16, fp32\)"):
        load_study(path)


@pytest.mark.parametrize("override, fragment", [
    ("intermediate.zero_stage=4", "zero_stage: invalid value 4 (valid: one of 0, 1, 2, 3)"),
    ("intermediate.zero_stage=1", "zero_stage 1 with bf16 cannot be consolidated"),
    ("data.train_fraction=1.5", "train_fraction: invalid value 1.5"),
    ("data.eval_fraction=0.4", "train_fraction + eval_fraction must be < 1"),
    ("target.epochs=two", "target.epochs: expected int, got 'two'"),
    ("seeds=[1,1]", "seeds: invalid value [1, 1]"),
    ("arms=[itt,maybe]", "invalid value 'maybe' (valid: itt, no_itt)"),
    ("models=[gpt5]", "unknown model 'gpt5' (valid: "),
    ("tasks=[poetry]", "unknown task 'poetry' (valid: classification, nli-en, nli-multi, sentiment, similarity)"),
    ("targets=[medical]", "task 'sentiment' has no target 'medical' (valid: crosslingual, django, domain, lareqa, mewslix, mlqa, "
                          "panx, tatoeba, tydiqa, udpos, xcopa, xnli, xquad, xtreme-r)"),
    ("tasks=[similarity]", "task 'similarity' has no 'offline' source"),
    ("cluster.tasks_per_node=0", "cluster.tasks_per_node: invalid value 0"),
])
def test_bad_values(override, fragment):
    with pytest.raises(UserError) as err:
        load_study(None, [override])
    assert fragment in str(err.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = study_file(tmp_path, "name: x\nmodels: [tiny-bert\nseeds: [1]\n")
    with pytest.raises(UserError, match=r"study.yaml:\d+: malformed YAML"):
        load_study(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_study(tmp_path / "nope.yaml")


def test_unknown_cluster_profile():
    with pytest.raises(UserError, match=r"unknown cluster profile 'moon' \(valid: debug, local, local-slurm, local-slurm-2n, slurm\)"):
        load_study(None, profile="moon")


def test_override_syntax():
    assert parse_overrides(["a.b=1", "a.c=[x, y]", "d=null"]) == {"a": {"b": 1, "c": ["x", "y"]}, "d": None}
    with pytest.raises(UserError, match="is not key=value"):
        parse_overrides(["epochs"])


def test_model_aliases_resolve_to_registry_entries():
    assert resolve_model("xlnet").hub_id == "xlnet/xlnet-base-cased"
    assert resolve_model("bert").name == "bert-base" and resolve_model("xlmr").name == "xlmr-base"
    assert resolve_model("mbert").multilingual
