"""The XTREME-R heads for the shared training loop (`hpc_itt.train.head.Head`).

Each head trains on one English dataset (a phase), selects checkpoints on English validation data
and scores the selected model zero-shot on every language: splits `test/<lang>`. Scores use
`hpc_itt.xtreme.metrics` (0-100, as evaluate.py), stored on the project's one scale (fractions,
`hpc_itt.train.metrics`), and result.json gets the per-language table under "languages"
and the language average under "test".
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from functools import partial

import datasets
import numpy as np
import torch

from hpc_itt.config.schema import TrainConfig
from hpc_itt.data.fingerprint import fingerprint
from hpc_itt.data.prepare import text_encoder, tokenizer_id
from hpc_itt.errors import UserError
from hpc_itt.train.head import Head, predict_sequence
from hpc_itt.train.metrics import from_percent
from hpc_itt.xtreme import data, features, formats, metrics
from hpc_itt.xtreme.tasks import XtremeTask

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_VERSION = "xtreme-heads-v1"  # bump when tokenisation changes: it is part of every cache fingerprint


@dataclass
class XtremeHead(Head):
    """Common data handling: English train/validation of one phase, every language's test split."""

    task: XtremeTask
    train_dataset: str | None  # formats dataset of this phase; None: evaluation only
    dev_dataset: str | None  # its English dev split selects checkpoints; None: a held-out slice of train
    languages: tuple[str, ...] = ()  # evaluated after training (empty: an earlier phase)
    data_dir: str | None = None
    split_seed: int = 42
    max_eval_per_language: int | None = None
    keep_head: bool = False  # a later phase continues the previous phase's head (XCOPA)
    retrieval_layer: int | None = None  # hidden layer pooled for retrieval (None: the middle layer + 1)
    doc_stride: int = 128
    eval_split: str = "test"  # per-language evaluation split; "dev" falls back to test where a task has no dev
    tokenizer: object = field(default=None, repr=False)
    _examples: dict = field(default_factory=dict, repr=False)
    _pool: tuple | None = field(default=None, repr=False)  # (candidate ids, embeddings) of the split `pool`

    primary = "accuracy"

    @property
    def kind(self) -> str:
        return self.task.head

    # ---- data ------------------------------------------------------------------------------
    def prepare(self, tokenizer, train: TrainConfig):
        self.tokenizer = tokenizer
        if self.task.head != "pair":
            features.require_fast(tokenizer)
        raw = self._test_sets()
        if self.train_dataset is None:  # evaluation only (Tatoeba)
            self._examples = raw
            return {name: self._tokenize(name, ds, train.max_length) for name, ds in raw.items()}
        raw["train"] = self._records(self.train_dataset, "train", "en")
        if self.dev_dataset:
            raw["validation"] = self._records(self.dev_dataset, "dev", "en")
        else:  # a seeded held-out slice: the English dev sets of these tasks overlap their test sets
            shuffled = raw["train"].shuffle(seed=self.split_seed)
            n_val = min(1000, max(1, len(shuffled) // 10))
            raw["validation"], raw["train"] = (shuffled.select(range(n_val)),
                                               shuffled.select(range(n_val, len(shuffled))))
        raw["train"] = _cap(raw["train"], train.max_train_examples)
        raw["validation"] = _cap(raw["validation"], train.max_eval_examples)
        self._examples = raw
        return {name: self._tokenize(name, ds, train.max_length) for name, ds in raw.items()}

    def _test_sets(self) -> dict[str, datasets.Dataset]:
        """`test/<lang>` per language. Dual-encoder tasks search one candidate pool from every query
        language (Mewsli-X's entities, LAReQA's sentences of all languages): it becomes the split
        `pool`, encoded once per cell instead of once per language."""
        split = self._eval_split()
        if self.task.head != "dual_encoder":
            return {f"test/{lang}": self._records(self.task.test, self._eval_split(lang), lang, self.max_eval_per_language)
                    for lang in self.languages}
        out, pool = {}, None
        for lang in self.languages:
            loaded = formats.load(self.task.test, split, lang, self.data_dir)
            if pool is not None and [c["id"] for c in loaded["candidates"]] != [c["id"] for c in pool]:
                raise UserError(f"{self.task.name}: the candidate pool of {lang!r} differs from that of "
                                f"{self.languages[0]!r}; every query language must search the same pool")
            pool = loaded["candidates"]
            queries = loaded["queries"][:self.max_eval_per_language] if self.max_eval_per_language else loaded["queries"]
            out[f"test/{lang}"] = self._dataset(data.retrieval_items({"queries": queries, "candidates": []}),
                                                self.task.test, split, lang, "queries")
        if pool:
            out["pool"] = self._dataset(data.retrieval_items({"queries": [], "candidates": pool}), self.task.test,
                                        split, "pool")
        return out

    def _dataset(self, records: list[dict], *key) -> datasets.Dataset:
        if not records:
            raise UserError(f"{self.task.name}: {' '.join(map(str, key))} has no rows")
        return data.to_dataset(records, *key, self.data_dir)

    def _eval_split(self, lang: str | None = None) -> str:
        """`dev` where the task (and the language: UD Tagalog, Thai, Yoruba have only a test set) has one."""
        if self.eval_split not in formats.LANGS[self.task.test]:
            return "test"
        if lang is not None and self.eval_split not in formats.lang_splits(self.task.test, lang):
            return "test"
        return self.eval_split

    def _records(self, dataset: str, split: str, lang: str, limit: int | None = None) -> datasets.Dataset:
        """`limit` caps the examples (Tatoeba's pairs stay pairs)."""
        loaded = formats.load(dataset, split, lang, self.data_dir)
        loaded = loaded[:limit] if limit else loaded
        if dataset == "tatoeba":
            loaded = data.retrieval_items(loaded)
        return self._dataset(loaded, dataset, split, lang)

    def _tokenize(self, name: str, ds: datasets.Dataset, max_length: int) -> datasets.Dataset:
        encode = self._encoder(name, max_length)
        out = ds.map(encode, batched=True, remove_columns=ds.column_names,
                     new_fingerprint=fingerprint(ds._fingerprint, tokenizer_id(self.tokenizer), max_length,
                                                 self.task.head, name == "train", self.doc_stride, _VERSION),
                     desc=f"tokenize {self.task.name} {name}")
        if "length" not in out.column_names:
            out = out.map(lambda b: {"length": [len(x) for x in b["input_ids"]]}, batched=True,
                          new_fingerprint=fingerprint(out._fingerprint, "length"))
        return out

    def _encoder(self, split: str, max_length: int):
        raise NotImplementedError

    # ---- batches ---------------------------------------------------------------------------
    def collate(self, rows):
        batch = _pad(self.tokenizer, rows)
        if "label" in rows[0]:
            batch["labels"] = torch.tensor([r["label"] for r in rows])
        return batch

    # ---- results ---------------------------------------------------------------------------
    def official_score(self, split: str, ds, predictions: list) -> dict[str, float]:
        """The split's metrics as google-research/xtreme's evaluate.py computes them (0-100)."""
        raise NotImplementedError

    def score(self, split, ds, predictions):
        # result.json, TensorBoard and checkpoint selection use the project's one scale
        # (hpc_itt.train.metrics: fractions); the XTREME-R report shows them as 0-100 again.
        return from_percent(self.official_score(split, ds, predictions))

    def test_result(self, per_split):
        if not per_split:  # an earlier phase (SIQA before COPA) is not scored per language
            return {"test": {}, "languages": {}}
        metric_names = list(next(iter(per_split.values())))
        average = {m: statistics.fmean(scores[m] for scores in per_split.values()) for m in metric_names}
        return {"test": average, "languages": per_split}

    def _require_gold(self, split: str, present: bool) -> None:
        if not present:
            raise UserError(f"{self.task.name} {split}: the data has no gold labels (the XTREME download strips "
                            f"them from some test sets); set xtreme.eval_split=dev or load the task from the hub")

    def _lang(self, split: str) -> str:
        return split.partition("/")[2] or "en"


# ---- sentence pairs (XNLI) ----------------------------------------------------------------------
@dataclass
class PairHead(XtremeHead):
    """Sentence-pair classification: tokenized, built and predicted as every pair classification
    task is (MNLI as an intermediate task goes through the same functions); scored per language."""

    def _encoder(self, split, max_length):
        encode = text_encoder(self.tokenizer, max_length, pairs=True)
        return lambda batch: {**encode(batch), "label": batch["label"]}

    def build_model(self, source, seed):
        from hpc_itt.train.models import build_task_model

        return build_task_model(source, len(self.task.labels), "classification", seed)

    def predict(self, engine, batch):
        return predict_sequence(engine, batch, "classification")

    def official_score(self, split, ds, predictions):
        self._require_gold(split, all(label >= 0 for label in ds["label"]))
        return {"accuracy": metrics.accuracy(predictions, ds["label"])}


# ---- multiple choice (XCOPA after SIQA and COPA) ------------------------------------------------
@dataclass
class ChoiceHead(XtremeHead):
    auto_class = "AutoModelForMultipleChoice"  # also how a finished phase is exported (runner)

    def _encoder(self, split, max_length):
        return partial(features.encode_choice, tokenizer=self.tokenizer, max_length=max_length)

    def build_model(self, source, seed):
        from hpc_itt.train.models import build_model

        return build_model(source, self.auto_class, seed, keep_head=self.keep_head)

    def collate(self, rows):
        return features.collate_choice(rows, self.tokenizer)

    predict, official_score = PairHead.predict, PairHead.official_score  # argmax over classes or over choices


# ---- token classification (UD-POS, PAN-X) --------------------------------------------------------
@dataclass
class TaggingHead(XtremeHead):
    primary = "f1"

    def _encoder(self, split, max_length):
        label2id = {label: i for i, label in enumerate(self.task.labels)}
        return partial(features.encode_tagging, tokenizer=self.tokenizer, label2id=label2id, max_length=max_length)

    def build_model(self, source, seed):
        from hpc_itt.train.models import build_model

        labels = self.task.labels
        return build_model(source, "AutoModelForTokenClassification", seed, num_labels=len(labels),
                           id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})

    def collate(self, rows):
        batch = _pad(self.tokenizer, rows)
        batch["labels"] = _pad_labels([r["labels"] for r in rows], batch["input_ids"].shape[1],
                                      self.tokenizer.padding_side)
        return batch

    def predict(self, engine, batch):
        mask = batch["attention_mask"].bool()
        batch = {k: v for k, v in batch.items() if k != "labels"}
        logits = engine(**batch).logits.float().cpu()
        return [row[m].numpy() for row, m in zip(logits, mask.cpu())]

    def official_score(self, split, ds, predictions):
        examples = self._examples[split]
        gold = examples["tags"]
        self._require_gold(split, all(len(tags) for tags in gold))
        tags = features.decode_tagging(ds, predictions, dict(enumerate(self.task.labels)), examples)
        return metrics.seqeval_scores(gold, [tags[str(i)] for i in examples["id"]])


# ---- extractive QA (XQuAD, MLQA, TyDiQA-GoldP) ---------------------------------------------------
@dataclass
class QAHead(XtremeHead):
    primary = "f1"
    n_best: int = 20
    max_answer_length: int = 30

    def _encoder(self, split, max_length):
        encode = features.encode_qa_train if split == "train" else features.encode_qa_eval
        return partial(encode, tokenizer=self.tokenizer, max_length=max_length, doc_stride=self.doc_stride)

    def build_model(self, source, seed):
        from hpc_itt.train.models import build_model

        # num_labels sizes the span head (start, end): a consolidated NLI checkpoint says 3
        return build_model(source, "AutoModelForQuestionAnswering", seed, num_labels=2)

    def collate(self, rows):
        batch = _pad(self.tokenizer, rows)
        if "start_positions" in rows[0]:
            batch["start_positions"] = torch.tensor([r["start_positions"] for r in rows])
            batch["end_positions"] = torch.tensor([r["end_positions"] for r in rows])
        return batch

    def predict(self, engine, batch):
        mask = batch["attention_mask"].bool().cpu()
        out = engine(**batch)
        starts, ends = out.start_logits.float().cpu(), out.end_logits.float().cpu()
        return [(s[m].numpy(), e[m].numpy()) for s, e, m in zip(starts, ends, mask)]

    def official_score(self, split, ds, predictions):
        examples = self._examples[split]
        answers = features.decode_qa(examples, ds, [p[0] for p in predictions], [p[1] for p in predictions],
                                     self.n_best, self.max_answer_length)
        references = {str(i): list(a["text"]) for i, a in zip(examples["id"], examples["answers"])}
        self._require_gold(split, all(references.values()))
        task = self.task.test if split.startswith("test/") else "squad"
        return metrics.qa_scores(task, self._lang(split), answers, references)


# ---- retrieval: sentence embeddings (Tatoeba) and dual encoders (LAReQA, Mewsli-X) ---------------
@dataclass
class EmbeddingHead(XtremeHead):
    """Mean-pooled hidden states of one layer; Tatoeba uses it untrained (zero-shot, no phase)."""

    primary = "accuracy"

    def _encoder(self, split, max_length):
        def encode(batch):
            out = _encode_texts(self.tokenizer, batch["text"], batch["context"], max_length)
            out["role"], out["rid"], out["gold"] = batch["role"], batch["id"], batch["gold"]
            return out
        return encode

    def build_model(self, source, seed):
        from hpc_itt.train.models import build_model

        return build_model(source, "AutoModel", seed)

    def collate(self, rows):
        return _pad(self.tokenizer, rows)

    def _layer(self, engine) -> int:
        if self.retrieval_layer is not None:
            return self.retrieval_layer
        return engine.module.config.num_hidden_layers // 2 + 1  # XTREME: layer 7 of 12, 13 of 24

    def embed(self, engine, batch, layer: int | None) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k in _INPUTS}
        out = engine(**inputs, output_hidden_states=layer is not None)
        hidden = out.hidden_states[layer] if layer is not None else out.last_hidden_state
        return features.mean_pool(hidden.float(), inputs["attention_mask"])

    def predict(self, engine, batch):
        return list(self.embed(engine, batch, self._layer(engine)).detach().cpu().numpy())

    def official_score(self, split, ds, predictions):
        embeddings = np.stack(predictions)
        roles = np.asarray(ds["role"])
        if split == "pool":  # the shared candidates: kept for the query languages' splits
            self._pool = (list(ds["rid"]), embeddings)
            return {}
        queries, candidates = embeddings[roles == "query"], embeddings[roles == "candidate"]
        candidate_ids = [rid for rid, role in zip(ds["rid"], ds["role"]) if role == "candidate"]
        if not len(candidates) and self._pool is not None:
            candidate_ids, candidates = self._pool
        if not len(queries) or not len(candidates):
            raise UserError(f"{self.task.name} {split}: {len(queries)} queries and {len(candidates)} candidates; "
                            f"retrieval needs both")
        if self.task.metric == "accuracy":  # Tatoeba: the i-th sentence's translation is the i-th English row
            return {"accuracy": metrics.nearest_neighbour_accuracy(queries, candidates)}
        golds = [gold for gold, role in zip(ds["gold"], ds["role"]) if role == "query"]
        self._require_gold(split, all(golds))
        rankings = metrics.rank_by_cosine(queries, candidates, candidate_ids, 20)
        return {"map@20": metrics.map_at_k(rankings, golds, 20)}


@dataclass
class DualEncoderHead(EmbeddingHead):
    """One shared encoder for queries and candidates, trained with in-batch negatives (softmax over
    the batch's candidates of scaled cosine similarities), as LAReQA's and Mewsli-X's baselines."""

    primary = "map@20"
    scale: float = 20.0

    def _encoder(self, split, max_length):
        if split in ("test", "pool") or split.startswith("test/"):
            return super()._encoder(split, max_length)

        def encode(batch):  # train and validation: (query, candidate) pairs
            q = _encode_texts(self.tokenizer, batch["query"], batch["query_context"], max_length)
            c = _encode_texts(self.tokenizer, batch["candidate"], batch["candidate_context"], max_length)
            out = {f"q_{k}": v for k, v in q.items() if k != "length"}
            out.update({f"c_{k}": v for k, v in c.items() if k != "length"})
            out["length"] = [max(a, b) for a, b in zip(q["length"], c["length"])]
            out["rid"] = batch["id"]
            return out
        return encode

    def collate(self, rows):
        if "q_input_ids" not in rows[0]:
            return super().collate(rows)
        pairs = [{k[2:]: r[k] for k in r if k.startswith("q_")} for r in rows]
        pairs += [{k[2:]: r[k] for k in r if k.startswith("c_")} for r in rows]
        batch = _pad(self.tokenizer, pairs)  # queries then candidates: one forward for both
        batch["pairs"] = torch.tensor(len(rows))  # marks a pair batch; not a model input
        return batch

    def rows(self, batch):
        return int(batch["pairs"]) if "pairs" in batch else len(batch["input_ids"])

    def loss(self, engine, batch):
        emb = torch.nn.functional.normalize(self.embed(engine, batch, None), dim=-1)
        half = int(batch["pairs"])
        logits = self.scale * emb[:half] @ emb[half:].T
        return torch.nn.functional.cross_entropy(logits, torch.arange(half, device=logits.device))

    def predict(self, engine, batch):
        emb = self.embed(engine, batch, None).detach().cpu().numpy()
        if "pairs" in batch:  # a batch of pairs is its queries then its candidates
            half = int(batch["pairs"])
            return list(zip(emb[:half], emb[half:]))
        return list(emb)

    def official_score(self, split, ds, predictions):
        if "q_input_ids" not in ds.column_names:
            return super().official_score(split, ds, predictions)
        # validation pairs: each held-out query searches all held-out candidates
        queries, candidates = np.stack([p[0] for p in predictions]), np.stack([p[1] for p in predictions])
        ids = [str(i) for i in ds["rid"]]
        rankings = metrics.rank_by_cosine(queries, candidates, ids, 20)
        return {"map@20": metrics.map_at_k(rankings, [[i] for i in ids], 20)}


HEADS = {"pair": PairHead, "choice": ChoiceHead, "tagging": TaggingHead, "qa": QAHead, "embedding": EmbeddingHead,
         "dual_encoder": DualEncoderHead}


def _encode_texts(tokenizer, texts: list[str], contexts: list[str], max_length: int) -> dict[str, list]:
    """Rows with a context are text/context pairs, rows without one single texts (same batch)."""
    groups = {True: [i for i, c in enumerate(contexts) if c], False: [i for i, c in enumerate(contexts) if not c]}
    out: dict[str, list] = {}
    for has_context, rows in groups.items():
        if not rows:
            continue
        part = {"t": [texts[i] for i in rows], "c": [contexts[i] for i in rows]}
        enc = features.encode_texts(part, tokenizer, max_length, "t", "c" if has_context else None)
        for key, values in enc.items():
            column = out.setdefault(key, [None] * len(texts))
            for i, value in zip(rows, values):
                column[i] = value
    return out


def _pad(tokenizer, rows: list[dict]) -> dict[str, torch.Tensor]:
    inputs = [{k: r[k] for k in _INPUTS if k in r} for r in rows]
    return dict(tokenizer.pad(inputs, return_tensors="pt"))


def _pad_labels(labels: list[list[int]], width: int, side: str) -> torch.Tensor:
    padded = [([-100] * (width - len(row)) + list(row)) if side == "left" else (list(row) + [-100] * (width - len(row)))
              for row in labels]
    return torch.tensor(padded)


def _cap(ds: datasets.Dataset, limit: int | None) -> datasets.Dataset:
    return ds.select(range(min(limit, len(ds)))) if limit else ds
