"""XTREME-R (Ruder et al., 2021) as a target suite: 10 tasks, fine-tuned on English, evaluated
zero-shot on every language of the task's XTREME-R list.

Modules (one concern each):
    tasks     the registry: languages, training data, head, metric, default hyperparameters
    formats   readers of the XTREME repository's local files and of the hub datasets, into the
              example records below (a package: spec, files, local, retrieval, hub, labels)
    features  tokenisation for each head (first-subword tagging with sentence splitting, QA with
              doc stride and n-best span decoding, multiple choice) and prediction decoding
    metrics   the official metrics: accuracy, seqeval F1, SQuAD / MLQA F1 and EM, mAP@k
    score     per-task, per-category and overall XTREME-R score
    heads     the training/evaluation strategy of each head for the shared training loop
    data      example records -> cached `datasets` tables
    runner    one grid cell: train on English (phases), evaluate every language
    report    the report's XTREME-R tables; estimate: the dry run's GPU-hour estimate

Example records (plain dicts, one `datasets` row each; every reader produces exactly these keys):
    pair        {"id": str, "text_a": str, "text_b": str, "label": int}
                    XNLI / MNLI; label 0 entailment, 1 neutral, 2 contradiction
    choice      {"id": str, "context": str, "question": str, "choices": list[str], "label": int}
                    XCOPA / COPA: context = premise, question = "cause" | "effect";
                    SIQA: context = context, question = the question text; label 0-based
    tagging     {"id": str, "tokens": list[str], "tags": list[str]}
                    UD-POS (UPOS tags), PAN-X (IOB2 tags: O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC)
    qa          {"id": str, "context": str, "question": str,
                 "answers": {"text": list[str], "answer_start": list[int]}}
                    SQuAD v1.1, XQuAD, MLQA, TyDiQA-GoldP (SQuAD json)
    bitext      {"id": str, "source": str, "target": str}
                    Tatoeba: source in the language, target its English translation (gold = same row)
    query       {"id": str, "text": str, "context": str, "gold": list[str]}
    candidate   {"id": str, "text": str, "context": str}
                    LAReQA: query = question; candidate = answer sentence, context = its paragraph;
                    gold = ids of the candidates answering it (in every language).
                    Mewsli-X: query = mention (text = mention, context = its sentence);
                    candidate = entity (text = title, context = description); gold = [entity id]
    retrieval_pair  {"id": str, "query": str, "query_context": str, "candidate": str, "candidate_context": str}
                    dual-encoder training pairs (SQuAD question -> answer sentence; Wikipedia
                    mention -> entity)

`metrics` computes on a 0-100 scale, as in the XTREME papers and the official evaluate.py; the heads
store them on the project's one scale (fractions, hpc_itt.train.metrics) and the report shows 0-100.
"""
