"""Load one dataset (hub id, packaged offline asset, or local file) into the common column layout
`text_a`, `text_b` (sentence pairs only), `label`, validated against the task's label space."""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import datasets
from datasets.exceptions import DatasetNotFoundError

from hpc_itt.config.schema import DatasetSpec, SourceSpec
from hpc_itt.data.fingerprint import fingerprint
from hpc_itt.errors import UserError

_SHARE_SEED = 0
_FORMATS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".jsonl": ("json", {}),
            ".json": ("json", {})}


def source_of(dataset: DatasetSpec, which: str) -> SourceSpec:
    source = getattr(dataset, which)
    if source is None:
        raise UserError(f"dataset {dataset.description!r} has no {which!r} source")
    return source


def num_labels(dataset: DatasetSpec, which: str) -> int:
    source = getattr(dataset, which)
    return source.num_labels if source is not None and source.num_labels else dataset.num_labels


def describe(source: SourceSpec) -> str:
    if source.xtreme:
        return f"xtreme:{source.xtreme}[{source.split}]/{','.join(source.languages)}"
    if source.hub:
        return f"hub:{source.hub}" + (f"/{source.config}" if source.config else "") + f"[{source.split}]"
    if source.asset and _asset_languages(source) != [source.language]:
        return f"asset:{source.asset}/{','.join(source.languages)}"
    return f"asset:{source.asset}" if source.asset else f"file:{source.path}"


def load_raw(source: SourceSpec, xtreme_dir: str | None = None) -> datasets.Dataset:
    if source.xtreme:
        return _load_xtreme(source, xtreme_dir)
    if source.hub:
        return _load_hub(source)
    if source.asset:
        return _load_assets(source)
    return _load_file(Path(source.path))


def _load_assets(source: SourceSpec) -> datasets.Dataset:
    """A packaged asset; with several `languages`, the asset in its own language (`language`) and
    its machine translations (`<asset>.<lang>`), mixed like an XTREME-R source (`_shares`)."""
    from hpc_itt.assets import AssetError, dataset_asset

    names = [source.asset if lang == source.language else f"{source.asset}.{lang}" for lang in _asset_languages(source)]
    try:
        paths = [dataset_asset(name) for name in names]
    except AssetError as err:
        raise UserError(str(err)) from None
    per_language = [datasets.load_dataset("json", data_files=str(path), split="train") for path in paths]
    if len(per_language) == 1:
        return per_language[0]
    shares = _shares([len(ds) for ds in per_language], source.parallel)
    return datasets.concatenate_datasets([ds.select(share) for ds, share in zip(per_language, shares)])


def _asset_languages(source: SourceSpec) -> list[str]:
    return [source.language] if source.languages == ["en"] else source.languages  # default: its own


def _shares(lengths: list[int], parallel: bool) -> list[list[int]]:
    """Row indices per language, equal shares: the study caps the rows (`max_train_examples`), so both
    arms of an English-vs-multilingual comparison train on as many examples for as many steps.

    `parallel` sources translate the same rows into every language (XNLI-MT): language i then gets
    the i-th of n disjoint shares, so every source example is seen once, in one language, and the
    multilingual arm sees as many distinct examples as the English one instead of fewer examples
    repeated in several languages. The shares are drawn at random (a fixed seed: the same mixture in
    every run), not cut in file order: a file sorted by label (VADER's movie snippets are, positive
    first) would otherwise give each language one class."""
    shortest = min(lengths)
    if not parallel:
        return [list(range(shortest))] * len(lengths)
    order = list(range(shortest))
    random.Random(_SHARE_SEED).shuffle(order)
    share = shortest // len(lengths)
    return [sorted(order[i * share:(i + 1) * share]) for i in range(len(lengths))]


def _load_hub(source: SourceSpec) -> datasets.Dataset:
    """`datasets.load_dataset(id, config, revision=, data_dir=, split=)`; every failure becomes one
    UserError line naming id/config/revision and what to do (tests/hub_contract records the schemas)."""
    # Hub repositories whose main branch holds only a loading script (datasets >= 4 refuses them), and
    # what loads instead (read from public sources, see tests/hub_contract/).
    replacements = {
        "Davlan/sib200": "mteb/sib200 (same columns, one config per language)",
        "mteb/amazon_reviews_multi": "mteb/AmazonReviewsClassification (text, label 0..4)",
        "allenai/social_i_qa": "lighteval/siqa",
        "facebook/mlqa": "google/xtreme config MLQA.<lang>.<lang>",
    }
    name = (f"hub:{source.hub}" + (f"/{source.config}" if source.config else "")
            + (f"@{source.revision}" if source.revision else "")
            + (f" (data_dir {source.data_dir})" if source.data_dir else "") + f"[{source.split}]")
    try:
        return datasets.load_dataset(source.hub, source.config, split=source.split, revision=source.revision,
                                     data_dir=source.data_dir)
    except Exception as err:  # noqa: BLE001 - every load failure is reported as one actionable line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if isinstance(err, RuntimeError) and "Dataset scripts are no longer supported" in first:
            script = first.rsplit(" ", 1)[-1]
            alternative = replacements.get(source.hub)
            instead = (f"use {alternative}, or" if alternative else "use a repository with data files, or")
            raise UserError(f"cannot load dataset {name}: the repository holds only a loading script ({script}), "
                            f"which datasets >= 4 no longer runs; {instead} its parquet export (revision: "
                            f"refs/convert/parquet, data_dir: {source.config or '<config>'})") from None
        if isinstance(err, DatasetNotFoundError):
            raise UserError(f"cannot load dataset {name}: {first.rstrip('.')}; check the id, config and revision "
                            f"(a gated dataset needs HF_TOKEN)") from None
        if isinstance(err, ConnectionError) or "offline" in first.lower():
            raise UserError(f"cannot load dataset {name}: the hub is unreachable and it is not cached "
                            f"({first}); run `--stage prepare` where the hub is reachable, or use "
                            f"data.source=offline") from None
        if isinstance(err, ValueError):  # unknown config or split: datasets names the valid ones
            raise UserError(f"cannot load dataset {name}: {first}") from None
        raise UserError(f"cannot load dataset {name}: {type(err).__name__}: {first}") from None


def _load_xtreme(source: SourceSpec, xtreme_dir: str | None) -> datasets.Dataset:
    """An XTREME-R dataset, several languages in equal shares (`_shares`), e.g. translated MNLI for
    a multilingual intermediate task."""
    from hpc_itt.xtreme import data, formats

    per_language = [formats.load(source.xtreme, source.split, lang, xtreme_dir) for lang in source.languages]
    shares = _shares([len(rows) for rows in per_language], source.parallel)
    records = [rows[i] for rows, share in zip(per_language, shares) for i in share]
    return data.to_dataset(records, "intermediate", source.xtreme, source.split, source.languages, source.parallel,
                           xtreme_dir)


def _load_file(path: Path) -> datasets.Dataset:
    if not path.is_file():
        raise UserError(f"dataset file not found: {path}")
    if path.suffix not in _FORMATS:
        raise UserError(f"dataset file {path} has unsupported format {path.suffix!r} (valid: {', '.join(_FORMATS)})")
    builder, kwargs = _FORMATS[path.suffix]
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as err:  # pyarrow/pandas parse errors are long and deep: keep the first line
        if "corresponds to no data" in str(err):
            raise UserError(f"dataset file:{path} is empty") from None
        raise UserError(f"cannot parse dataset file {path}: {str(err).splitlines()[0]}") from None


def normalise(raw: datasets.Dataset, source: SourceSpec, num_labels: int, kind: str) -> datasets.Dataset:
    """Rename to text_a/text_b/label and check every label lies in the task's label space."""
    name = describe(source)
    needed = [*source.text_fields, source.label_field]
    missing = [c for c in needed if c not in raw.column_names]
    if missing:
        raise UserError(f"dataset {name} has no column {missing[0]!r} (columns: {', '.join(raw.column_names)})")
    if len(raw) == 0:
        raise UserError(f"dataset {name} is empty")
    if not 1 <= len(source.text_fields) <= 2:
        raise UserError(f"dataset {name}: text_fields must name 1 or 2 columns, got {source.text_fields}")
    keep = raw.select_columns(needed)
    renames = {source.text_fields[0]: "text_a", source.label_field: "label"}
    if len(source.text_fields) == 2:
        renames[source.text_fields[1]] = "text_b"
    keep = keep.rename_columns({k: v for k, v in renames.items() if k != v})
    convert = _label_converter(source, num_labels, kind, name)
    fp = fingerprint(raw._fingerprint, dataclasses.asdict(source), num_labels, kind, "normalise-v1")
    keep = keep.map(lambda row: {"label": convert(row["label"])}, features=_features(keep, kind),
                    new_fingerprint=fp + "-labels", desc=f"labels of {name}")
    return keep.filter(lambda row: row["text_a"] is not None and row["text_a"].strip() != "",
                       new_fingerprint=fp + "-nonempty", desc=f"drop empty texts of {name}")


def _features(ds: datasets.Dataset, kind: str) -> datasets.Features:
    features = datasets.Features({k: datasets.Value("string") for k in ds.column_names if k != "label"})
    features["label"] = datasets.Value("float32" if kind == "regression" else "int64")
    return features


def _label_converter(source: SourceSpec, num_labels: int, kind: str, name: str):
    def convert(value):
        if value is None:
            raise UserError(f"dataset {name} has a row without a label")
        if kind == "regression":
            try:
                return float(value)
            except (TypeError, ValueError):
                raise UserError(f"dataset {name}: label {value!r} is not a number (regression task)") from None
        if source.label_map is not None:
            if str(value) not in source.label_map:
                raise UserError(f"dataset {name}: label {value!r} is not in label_map "
                                f"(valid: {', '.join(source.label_map)})")
            value = source.label_map[str(value)]
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < num_labels:
            raise UserError(f"dataset {name}: label {value!r} is outside the label space "
                            f"(valid: 0..{num_labels - 1}; map raw labels with label_map)")
        return value

    return convert
