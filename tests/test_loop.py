"""The loop: schedule, normalisation by the learning units of the whole step, NaN stop, torn checkpoints."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from alignkit.config import OptimConfig, PretrainConfig, RunConfig
from alignkit.errors import TrainingError, UserError
from alignkit.train import checkpoint, loop
from alignkit.train.loop import MicroBatch, lr_factor


def test_lr_schedule_warmup_then_cosine_to_the_floor():
    optim = OptimConfig(warmup_steps=4, schedule="cosine", min_lr_ratio=0.1)
    total = 14
    factors = [lr_factor(s, total, optim) for s in range(total)]
    assert factors[:4] == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5])
    assert factors[4] == pytest.approx(1.0)
    # halfway through the decay (step 4 + 4.5): 0.1 + 0.9 * 0.5 * (1 + cos(pi/2)) = 0.55
    assert lr_factor(8.5, total, optim) == pytest.approx(0.55)
    assert factors[-1] == pytest.approx(0.1)
    linear = OptimConfig(warmup_steps=0, schedule="linear", min_lr_ratio=0.0)
    assert [lr_factor(s, 5, linear) for s in range(5)] == pytest.approx([1, 0.75, 0.5, 0.25, 0])


class ToyTask:
    """Token classification with a varying number of learning tokens per row, so that a mean of
    per-micro-batch means differs from the mean over the whole step."""

    tokenizer = None
    flops_per_token = 0.0

    def __init__(self, config, nan_at_step=None):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(4, 3)
        generator = torch.Generator().manual_seed(1)
        self.features = torch.randn(64, 5, 4, generator=generator)
        self.labels = torch.randint(0, 3, (64, 5), generator=generator)
        lengths = torch.tensor([1, 5, 2, 4, 3, 5, 1, 2] * 8)
        self.labels[torch.arange(5)[None, :] >= lengths[:, None]] = -100
        self.config, self.nan_at_step = config, nan_at_step
        self.total_steps = config.run.max_steps

    def rows(self, step):
        size = self.config.run.batch_size
        return [(step - 1) * size + i for i in range(size)]

    def micro_batches(self, step, dist):
        rows = self.rows(step)
        micro = self.config.run.micro_batch_size
        batches = []
        for i in range(0, len(rows), micro):
            index = torch.tensor(rows[i : i + micro]) % 64
            features = self.features[index].clone()
            if step == self.nan_at_step:
                features[0, 0, 0] = float("nan")
            labels = self.labels[index]
            units = int((labels != -100).sum())
            batches.append(MicroBatch({"x": features, "y": labels}, units=units, tokens=labels.numel()))
        return batches

    def loss(self, model, batch):
        logits = model(batch.tensors["x"])
        return F.cross_entropy(logits.reshape(-1, 3), batch.tensors["y"].reshape(-1), reduction="sum"), {}

    def evaluate(self, model, dist):
        return {}

    def save_final(self, model, directory: Path):
        directory.mkdir(parents=True)
        torch.save(model.state_dict(), directory / "weights.pt")


def toy_config(tmp_path, name, **run):
    settings = dict(output_dir=str(tmp_path / name), max_steps=1, batch_size=8, micro_batch_size=8, log_every=1)
    settings.update(progress=False, plots=False, save_every=0, eval_every=0)
    settings.update(run)
    return PretrainConfig(run=RunConfig(**settings), optim=OptimConfig(grad_clip=0.0, warmup_steps=0))


def logged(run_dir, key):
    lines = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [line[key] for line in lines if key in line]


def test_accumulation_normalises_by_the_learning_tokens_of_the_whole_step(tmp_path):
    """4 micro-batches of 2 give the gradient of one batch of 8: sum of losses / all learning tokens."""
    norms = {}
    for micro in (8, 2):
        config = toy_config(tmp_path, f"m{micro}", micro_batch_size=micro)
        loop.run(loop.setup(config), ToyTask(config))
        norms[micro] = logged(config.run.output_dir, "grad_norm")[0]

    reference = ToyTask(toy_config(tmp_path, "ref"))
    rows = torch.tensor(reference.rows(1))
    logits = reference.model(reference.features[rows])
    labels = reference.labels[rows]
    loss = F.cross_entropy(logits.reshape(-1, 3), labels.reshape(-1), reduction="sum") / (labels != -100).sum()
    loss.backward()
    naive_norm = torch.cat([p.grad.flatten() for p in reference.model.parameters()]).norm().item()
    assert norms[8] == pytest.approx(naive_norm, rel=1e-5)
    assert norms[2] == pytest.approx(naive_norm, rel=1e-5)

    # the mean of per-micro-batch means is a different number: the test above can fail
    reference.model.zero_grad()
    means = []
    for part in rows.split(2):
        part_labels = reference.labels[part]
        part_logits = reference.model(reference.features[part])
        means.append(F.cross_entropy(part_logits.reshape(-1, 3), part_labels.reshape(-1), reduction="mean"))
    (sum(means) / len(means)).backward()
    wrong_norm = torch.cat([p.grad.flatten() for p in reference.model.parameters()]).norm().item()
    assert abs(wrong_norm - naive_norm) / naive_norm > 1e-3


def test_batch_size_must_divide_into_micro_batches(tmp_path):
    config = toy_config(tmp_path, "bad", batch_size=10, micro_batch_size=4)
    with pytest.raises(UserError, match=r"run\.batch_size 10 must be a multiple of run\.micro_batch_size"):
        loop.run(loop.setup(config), ToyTask(config))


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    config = toy_config(tmp_path, "nan", max_steps=6, save_every=1)
    with pytest.raises(TrainingError, match=r"loss is nan at step 4.*step-3"):
        loop.run(loop.setup(config), ToyTask(config, nan_at_step=4))
    run_dir = Path(config.run.output_dir)
    assert checkpoint.latest_checkpoint(run_dir).name == "step-3"
    assert not (run_dir / "final").exists()
    weights = torch.load(run_dir / "checkpoints" / "step-3" / "optimizer.pt", weights_only=False)
    assert all(torch.isfinite(s["exp_avg"]).all() for s in weights["state"].values())


def test_torn_checkpoints_are_never_picked_up(tmp_path):
    config = toy_config(tmp_path, "torn", max_steps=4, save_every=2)
    loop.run(loop.setup(config), ToyTask(config))
    run_dir = Path(config.run.output_dir)
    assert [s for s, _ in checkpoint.complete_checkpoints(run_dir)] == [2, 4]
    # what a kill mid-save could leave: a temp dir, and (impossible with rename, but still) an unmarked dir
    (run_dir / "checkpoints" / ".tmp-step-6").mkdir()
    (run_dir / "checkpoints" / ".tmp-step-6" / "model.safetensors").write_bytes(b"partial")
    (run_dir / "checkpoints" / "step-8").mkdir()
    assert checkpoint.latest_checkpoint(run_dir).name == "step-4"
    resumed = toy_config(tmp_path, "torn", max_steps=6, save_every=2, resume=True)
    loop.run(loop.setup(resumed), ToyTask(resumed))
    assert not (run_dir / "checkpoints" / ".tmp-step-6").exists()
    assert [s for s, _ in checkpoint.complete_checkpoints(run_dir)] == [4, 6]  # keep_last=2
    assert logged(run_dir, "step") == list(range(1, 7))


def test_output_dir_is_never_clobbered(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    config = toy_config(tmp_path, "busy")
    with pytest.raises(UserError, match=r"busy: output directory is not empty; pass --resume .* or --overwrite"):
        loop.setup(config)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    overwrite = toy_config(tmp_path, "busy", overwrite=True)
    loop.run(loop.setup(overwrite), ToyTask(overwrite))
    assert not (tmp_path / "busy" / "notes.txt").exists()
    assert math.isfinite(logged(tmp_path / "busy", "loss")[0])
