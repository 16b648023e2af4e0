"""Classify: classic transfer learning. A pretrained body keeps its parameters, its output layer is
dropped, and a new head sized for the task learns: N classes, multi-label, or regression.

Recipe: read labelled rows -> discover the label names -> tokenize (text, optional text pair) ->
body + new head (models/heads.py), frozen where asked -> micro-batches packed padding-free where
the body allows it -> the task's loss (losses.classification_loss), one unit per example -> loop.run.
Held-out metrics (evaluation.py) every eval; the best model by the main metric is kept in best/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from alignkit.config import ClassifyConfig
from alignkit.data import packing
from alignkit.data.formats import LabelledRow, labelled_of
from alignkit.data.readers import read_rows, resolve_path, split_held_out, write_jsonl
from alignkit.errors import UserError
from alignkit.evaluation import multi_label_metrics, regression_metrics, single_label_metrics
from alignkit.losses import classification_loss
from alignkit.models import heads, load
from alignkit.models.heads import Labels
from alignkit.train import loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

DEMO_LABELLED = "classify.jsonl.gz"
MAIN_METRIC = {"single": "accuracy", "multi": "micro_f1", "regression": "spearman"}
METRICS = {  # what task_metrics reports (besides per-class F1), and eval_loss: the choices for head.metric
    "single": ("accuracy", "macro_f1", "loss"),
    "multi": ("micro_f1", "macro_f1", "exact_match", "loss"),
    "regression": ("mse", "mae", "pearson", "spearman", "loss"),
}
LOWER_IS_BETTER = ("loss", "mse", "mae")


def read_labelled(path: str, task: str, data) -> list[LabelledRow]:
    rows = read_rows(resolve_path(path, demo=DEMO_LABELLED))
    if not rows:
        raise UserError(f"{path}: no rows")
    return [labelled_of(row, task, data.text_field, data.text_pair_field, data.label_field) for row in rows]


def discover_labels(rows: list[LabelledRow], task: str) -> Labels:
    """Label names in a stable order: numeric names (0, 1, ...) by value, others alphabetically."""
    if task == "regression":
        return Labels(task, ["score"])
    names = {name for row in rows for name in (row.target if task == "multi" else [row.target])}
    if task == "single" and len(names) < 2:
        raise UserError(f"{rows[0].source}: a classifier needs at least 2 classes; the data has {sorted(names)}")
    numeric = all(n.lstrip("-").isdigit() for n in names)
    return Labels(task, sorted(names, key=int) if numeric else sorted(names))


def targets_of(rows: list[LabelledRow], labels: Labels) -> np.ndarray:
    """Stacked targets: class ids (single), 0/1 rows (multi), values (regression)."""
    if labels.task == "regression":
        return np.array([row.target for row in rows], dtype=np.float32)
    index = {name: i for i, name in enumerate(labels.names)}
    for row in rows:
        unknown = [t for t in (row.target if labels.task == "multi" else [row.target]) if t not in index]
        if unknown:
            raise UserError(f"{row.source}: label '{unknown[0]}' is not among the training labels {labels.names}")
    if labels.task == "single":
        return np.array([index[row.target] for row in rows], dtype=np.int64)
    hot = np.zeros((len(rows), labels.num_labels), dtype=np.float32)
    for number, row in enumerate(rows):
        hot[number, [index[t] for t in row.target]] = 1
    return hot


@dataclass
class Encoded:
    """Tokenized examples: input_ids and token_type_ids (arrays per example), stacked targets."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray] | None
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)


def encode(tokenizer, rows: list[LabelledRow], labels: Labels | None, max_length: int) -> Encoded:
    if not rows:
        return Encoded([], None, np.zeros(0, dtype=np.float32))
    texts = [r.text for r in rows]
    pairs = [r.text_pair or "" for r in rows] if any(r.text_pair is not None for r in rows) else None
    encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    types = encoded.get("token_type_ids")
    targets = targets_of(rows, labels) if labels else np.zeros(len(rows))
    return Encoded(
        [np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"]],
        [np.asarray(t, dtype=np.int64) for t in types] if types is not None else None,
        targets,
    )


def collate(data: Encoded, indices: list[int], packed: bool, pad_id: int) -> dict[str, torch.Tensor]:
    """A micro-batch: one padding-free row (`packing.pack_sequences`) or right-padded rows."""
    ids = [data.input_ids[i] for i in indices]
    types = [data.token_type_ids[i] for i in indices] if data.token_type_ids is not None else None
    batch = packing.pack_sequences(ids, types) if packed else packing.pad_sequences(ids, pad_id, types)
    batch["targets"] = torch.from_numpy(data.targets[indices])
    return batch


def predictions_of(logits: torch.Tensor, task: str, threshold: float) -> np.ndarray:
    """Class ids (single), 0/1 per label (multi), or values (regression)."""
    if task == "single":
        return logits.argmax(-1).numpy()
    if task == "multi":
        return (torch.sigmoid(logits) >= threshold).numpy().astype(np.int64)
    return logits.squeeze(-1).numpy()


def task_metrics(predictions: np.ndarray, targets: np.ndarray, labels: Labels) -> dict[str, float]:
    if labels.task == "single":
        return single_label_metrics(predictions, targets, labels.names)
    if labels.task == "multi":
        return multi_label_metrics(predictions, targets)
    return regression_metrics(predictions, targets)


class ClassifyTask:
    """One unit per example; the order of examples is a function of (seed, step)."""

    def __init__(self, model, tokenizer, train: Encoded, held_out: Encoded, labels: Labels, block_of, config):
        """block_of: parameter name -> block ('head', 'layer N', ...), as `heads.apply_freeze` returns it."""
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.train, self.held_out, self.labels = train, held_out, labels
        run = config.run
        self.order = loop.EpochOrder(len(train), run.batch_size, run.seed)
        self.total_steps = run.max_steps or self.order.steps_per_epoch(run.epochs)
        self.packed = config.data.packing and heads.packed_family(model) is not None
        self.data_counts = {"examples": len(train)}
        mean_length = sum(len(x) for x in train.input_ids) / len(train)
        self.flops_per_token = load.train_flops_per_token(model, seq_len=round(mean_length))
        if config.head.head_lr is not None or config.head.layer_decay < 1:
            self.lr_of = heads.layer_lrs(block_of, config.optim.lr, config.head.layer_decay, config.head.head_lr)
        metric = config.head.metric or MAIN_METRIC[labels.task]
        self.best_metric = (f"eval_{metric}", not any(metric.endswith(s) for s in LOWER_IS_BETTER))
        self.report: dict = {}

    def _collate(self, data: Encoded, indices: list[int]) -> MicroBatch:
        batch = collate(data, indices, self.packed, self.tokenizer.pad_token_id)
        return MicroBatch(batch, units=len(indices), tokens=sum(len(data.input_ids[i]) for i in indices))

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        micro = self.config.run.micro_batch_size
        return [self._collate(self.train, rows.tolist()) for rows in self.order.rank_micro_batches(step, dist, micro)]

    def loss(self, model, batch: MicroBatch):
        head = self.config.head
        logits = heads.pooled_logits(model, batch.tensors)
        loss_sum, _ = classification_loss(
            logits, batch.tensors["targets"], self.labels.task, head.regression_loss, head.huber_delta
        )
        return loss_sum, {}

    def predict_logits(self, model, data: Encoded) -> torch.Tensor:
        micro = self.config.run.micro_batch_size
        return logits_of(model, data, micro, self.packed, self.tokenizer.pad_token_id)

    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        """Every held-out example, on every process (classification eval is cheap next to training)."""
        if not len(self.held_out):
            return {}
        logits = self.predict_logits(model, self.held_out)
        head = self.config.head
        targets = torch.from_numpy(self.held_out.targets)
        loss_sum, count = classification_loss(logits, targets, self.labels.task, head.regression_loss, head.huber_delta)
        predictions = predictions_of(logits, self.labels.task, head.threshold)
        metrics = task_metrics(predictions, self.held_out.targets, self.labels)
        self.report = metrics
        main = {k: v for k, v in metrics.items() if not k.startswith("f1_")}  # per-class F1: report file only
        return {"eval_loss": loss_sum.item() / count.item(), **{f"eval_{k}": v for k, v in main.items()}}

    def save_final(self, model, directory: Path) -> None:
        save_with_report(model, self.tokenizer, directory, self.config.model.attn_implementation, self.report)


def save_with_report(model, tokenizer, directory: Path, attn_implementation: str, report: dict) -> None:
    """The model in Hugging Face format, and the last held-out metrics beside it (eval_report.json)."""
    load.save_pretrained(model, tokenizer, directory, attn_implementation)
    if report:
        (directory / "eval_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


@torch.no_grad()
def logits_of(model, data: Encoded, batch_size: int, packed: bool, pad_id: int) -> torch.Tensor:
    """(E, C) fp32 logits of every example of `data`, in order, `batch_size` at a time, on the CPU."""
    device = next(model.parameters()).device
    outputs = []
    for start in range(0, len(data), batch_size):
        batch = collate(data, list(range(start, min(start + batch_size, len(data)))), packed, pad_id)
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        outputs.append(heads.pooled_logits(model, batch).float().cpu())
    return torch.cat(outputs) if outputs else torch.zeros(0, model.config.num_labels)


def open_classifier(model_dir: str | Path, what: str = "a sequence classifier"):
    """(model, tokenizer, packed) of a saved classifier or reward model, in eval mode, with packed
    attention where its family allows it."""
    from transformers import AutoModelForSequenceClassification

    directory = load.checkpoint_dir(str(model_dir))
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            directory,
            dtype=torch.float32,
            trust_remote_code=True,  # a mean-pooling head ships its own class
        ).eval()
    except (OSError, ValueError) as exc:
        raise UserError(f"{directory}: cannot open as {what} ({exc})") from None
    packed = heads.packed_family(model) is not None
    if packed:
        packing.use_packed_attention(model)
    return model, load.load_tokenizer(directory), packed


def print_trainable(
    model, block_of: dict[str, str], body: Path, labels: Labels, spec: str, packed: bool, stage: str = "classify"
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("block", "parameters", "trainable"):
        table.add_column(column, justify="left" if column == "block" else "right")
    total = trainable = 0
    for block, count, learning in heads.trainable_summary(model, block_of):
        table.add_row(block, f"{count:,}", f"{learning:,}")
        total, trainable = total + count, trainable + learning
    table.add_row("all", f"{total:,}", f"{trainable:,}", style="bold")
    print(
        f"{stage}: {body} ({model.config.model_type}) + new {labels.task} head, {labels.num_labels} output(s) "
        f"{labels.names if labels.task != 'regression' else ''}; {heads.POOLING_NAMES[heads.pooling_of(model)]}; "
        f"freeze {spec}; "
        f"{'packed' if packed else 'padded'} batches"
    )
    console = Console(highlight=False)
    console.print(table)


def run(config: ClassifyConfig) -> Path:
    env = loop.setup(config)
    task_name, data_cfg = config.head.task, config.data
    rows = read_labelled(data_cfg.path, task_name, data_cfg)
    if data_cfg.eval_path:
        train_rows, eval_rows = rows, read_labelled(data_cfg.eval_path, task_name, data_cfg)
    else:
        train_rows, eval_rows = split_held_out(rows, data_cfg.eval_fraction, config.run.seed)
    labels = discover_labels(train_rows, task_name)
    body = load.resolve_pretrained(config.model.name_or_path, "body")
    tokenizer = load.load_tokenizer(config.model.tokenizer or body)
    train = encode(tokenizer, train_rows, labels, data_cfg.max_length)
    held_out = encode(tokenizer, eval_rows, labels, data_cfg.max_length)
    metric = config.head.metric
    if metric and metric not in METRICS[task_name]:
        raise UserError(f"head.metric: '{metric}' is not a {task_name} metric")

    loop.seed_everything(config.run.seed)  # the new head's initialisation follows the seed
    model, head = heads.build_classifier(body, labels, tokenizer, config.model.attn_implementation, config.head.pooling)
    block_of = heads.apply_freeze(model, head, config.head.freeze)
    task = ClassifyTask(model, tokenizer, train, held_out, labels, block_of, config)
    if task.packed:
        packing.use_packed_attention(model)
    if env.dist.is_main:
        print_trainable(model, block_of, body, labels, config.head.freeze, task.packed)
        print(f"classify: {len(train)} training examples, {len(held_out)} held out")
    final = loop.run(env, task)
    if env.dist.is_main and task.report:
        shown = {k: round(v, 4) for k, v in task.report.items()}
        print(f"classify: final held-out metrics {json.dumps(shown)}")
    return final


# ---------------------------------------------------------------------------------------------
# alignkit predict


TASK_OF_PROBLEM = {
    "single_label_classification": "single",
    "multi_label_classification": "multi",
    "regression": "regression",
}


def predict(model_dir: str, data: str, out: str, batch_size: int = 64, threshold: float = 0.5, max_length: int = 512):
    """Predictions for every row of `data` as JSONL (the row's fields plus the prediction); prints
    held-out metrics when the rows carry targets. Returns the metrics (or {})."""
    model, tokenizer, packed = open_classifier(model_dir)
    task = TASK_OF_PROBLEM.get(model.config.problem_type or "", "single")
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    labels = Labels(task, names if task != "regression" else ["score"])
    raw = read_rows(resolve_path(data))
    if not raw:
        raise UserError(f"{data}: no rows")
    rows = [labelled_of(row, task, target_required=False) for row in raw]
    has_targets = all(row.target is not None for row in rows)
    try:
        encoded = encode(tokenizer, rows, labels if has_targets else None, max_length)
    except UserError as exc:  # targets the model does not know: predict, but score nothing
        print(f"predict: the rows' targets are not scored ({exc})")
        has_targets = False
        encoded = encode(tokenizer, rows, None, max_length)
    logits = logits_of(model, encoded, batch_size, packed, tokenizer.pad_token_id)
    predictions = predictions_of(logits, task, threshold)
    records = []
    for row, logit_row, prediction in zip(raw, logits, predictions, strict=True):
        record = dict(row.fields)
        if task == "single":
            probs = torch.softmax(logit_row, -1).tolist()
            record.update(predicted=names[int(prediction)], probabilities=dict(zip(names, probs, strict=True)))
        elif task == "multi":
            probs = torch.sigmoid(logit_row).tolist()
            record.update(
                predicted=[n for n, p in zip(names, prediction, strict=True) if p],
                probabilities=dict(zip(names, probs, strict=True)),
            )
        else:
            record["predicted"] = float(prediction)
        records.append(record)
    write_jsonl(out, records)
    return task_metrics(predictions, encoded.targets, labels) if has_targets else {}
