"""The ten XTREME-R tasks: what each trains on (English only), which languages it is evaluated on
zero-shot, its head, metric and the XTREME repository's default hyperparameters.

Language lists are `XTREME_R_TASK2LANGS` of google-research/xtreme `evaluate.py`; LAReQA's (empty
there, it is scored by `run_eval_lareqa.sh`) is XQuAD-R's 11 languages. Hyperparameters follow
`scripts/train_*.sh` for base-size models (lr, epochs, max length); QA uses doc stride 128.
"""
from __future__ import annotations

from dataclasses import dataclass

from hpc_itt.errors import UserError, choices

CATEGORIES = {
    "classification": ("xnli", "xcopa"),
    "structured prediction": ("udpos", "panx"),
    "question answering": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("tatoeba", "lareqa", "mewslix"),
}
SUITE = "xtreme-r"  # a study target naming the whole suite


@dataclass(frozen=True)
class XtremeTask:
    name: str
    category: str
    head: str  # pair | choice | tagging | qa | embedding | dual_encoder
    metric: str  # the per-language metric the score averages (QA: f1 and exact_match)
    languages: tuple[str, ...]
    train: tuple[str, ...]  # formats datasets trained on in order (English); empty: no training
    # formats dataset whose English dev split selects the checkpoint. None where the English dev data
    # overlaps a test set (XQuAD and XQuAD-R are translations of SQuAD dev; TyDiQA-GoldP's test is
    # its dev): a held-out slice of the English training data selects instead.
    dev: str | None
    test: str  # formats dataset evaluated per language
    labels: tuple[str, ...] = ()
    lr: float = 2e-5
    epochs: int = 5
    max_length: int = 128
    layer: int | None = None  # embedding layer for retrieval without training (None: last)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The per-language metric keys the score uses, headline first: QA reports F1 and EM
        (`evaluate.py` averages them into `avg_metric`; some papers use F1 alone)."""
        return ("f1", "exact_match") if self.head == "qa" else (self.metric,)

    @property
    def trains(self) -> bool:
        return bool(self.train)


_UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
         "SCONJ", "SYM", "VERB", "X")
_PANX = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
_L = lambda text: tuple(text.split(","))  # noqa: E731

TASKS: dict[str, XtremeTask] = {t.name: t for t in (
    XtremeTask("xnli", "classification", "pair", "accuracy", _L("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"),
               train=("mnli",), dev="xnli", test="xnli", labels=("entailment", "neutral", "contradiction")),
    XtremeTask("xcopa", "classification", "choice", "accuracy", _L("et,ht,id,it,qu,sw,ta,th,tr,vi,zh"),
               train=("siqa", "copa"), dev="copa", test="xcopa"),
    XtremeTask("udpos", "structured prediction", "tagging", "f1",
               _L("af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,"
                  "zh,lt,pl,uk,wo,ro"), train=("udpos",), dev="udpos", test="udpos", labels=_UPOS, epochs=10),
    XtremeTask("panx", "structured prediction", "tagging", "f1",
               _L("ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,"
                  "yo,my,zh,kk,tr,et,fi,hu,qu,pl,uk,az,lt,pa,gu,ro"), train=("panx",), dev="panx", test="panx",
               labels=_PANX, epochs=10),
    XtremeTask("xquad", "question answering", "qa", "f1", _L("en,es,de,el,ru,tr,ar,vi,th,zh,hi,ro"),
               train=("squad",), dev=None, test="xquad", lr=3e-5, epochs=3, max_length=384),
    XtremeTask("mlqa", "question answering", "qa", "f1", _L("en,es,de,ar,hi,vi,zh"),
               train=("squad",), dev=None, test="mlqa", lr=3e-5, epochs=3, max_length=384),
    XtremeTask("tydiqa", "question answering", "qa", "f1", _L("en,ar,bn,fi,id,ko,ru,sw,te"),
               train=("tydiqa",), dev=None, test="tydiqa", lr=3e-5, epochs=3, max_length=384),
    XtremeTask("tatoeba", "retrieval", "embedding", "accuracy",
               _L("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,"
                  "tr,et,fi,hu,az,lt,pl,uk,ro"), train=(), dev=None, test="tatoeba", layer=None),
    XtremeTask("lareqa", "retrieval", "dual_encoder", "map@20", _L("ar,de,el,en,es,hi,ru,th,tr,vi,zh"),
               train=("squad_pairs",), dev=None, test="lareqa", epochs=3, max_length=256),
    XtremeTask("mewslix", "retrieval", "dual_encoder", "map@20", _L("ar,de,en,es,fa,ja,pl,ro,ta,tr,uk"),
               train=("wikipedia_pairs",), dev="wikipedia_pairs", test="mewslix", lr=2e-5, epochs=2, max_length=64),
)}


def expand(targets: list[str]) -> list[str]:
    """`xtreme-r` stands for all ten tasks, in the paper's order."""
    out: list[str] = []
    for target in targets:
        for name in (TASKS if target == SUITE else [target]):
            if name not in out:
                out.append(name)
    return out


def get(name: str) -> XtremeTask:
    if name not in TASKS:
        raise UserError(f"unknown XTREME-R task {name!r} (valid: {choices(TASKS)})")
    return TASKS[name]


def languages(task: XtremeTask, restrict: dict[str, list[str]] | None) -> tuple[str, ...]:
    """The task's XTREME-R languages, or the subset a study restricts it to (checked)."""
    wanted = (restrict or {}).get(task.name)
    if wanted is None:
        return task.languages
    if not wanted or len(set(wanted)) != len(wanted):
        raise UserError(f"xtreme.languages.{task.name}: {wanted!r} must be a non-empty list of distinct languages "
                        f"(valid: {choices(task.languages)})")
    unknown = [lang for lang in wanted if lang not in task.languages]
    if unknown:
        raise UserError(f"xtreme.languages.{task.name}: {unknown[0]!r} is not an XTREME-R language of "
                        f"{task.name} (valid: {choices(task.languages)})")
    return tuple(wanted)
