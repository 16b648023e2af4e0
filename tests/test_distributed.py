"""Several processes under torchrun (gloo on the CPU): DDP and FSDP2 runs of sft, rm, dpo, ppo and
grpo follow the single-process loss curves at the same global batch and end at the same weights; a
checkpoint written by two processes (sharded or whole) resumes in one, and one process's in two
sharded ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import QUESTIONS, run_cli
from tests.test_reward import synthetic_pairs, write_rows

QUIET = ["--run.progress", "false", "--run.plots", "false", "--log-every", "1"]
MODES = ["ddp", "fsdp"]


def torchrun(*args, processes: int = 2) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node N -m alignkit ARGS`, one thread per process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
    return subprocess.run(
        [*command, "-m", "alignkit", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def curve(run_dir: Path, key: str = "loss") -> dict[int, float]:
    return {r["step"]: r[key] for r in records(run_dir) if key in r}


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(directory / "model.safetensors")


@pytest.fixture(scope="module")
def data(tmp_path_factory, policy_dir, reward_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distributed")
    chats = [{"prompt": QUESTIONS[i % len(QUESTIONS)] + f" (#{i})", "answer": f"Thanks, ticket {i} is on its way."}
             for i in range(40)]  # fmt: skip
    prompts = [{"prompt": f"{QUESTIONS[i % len(QUESTIONS)]} (ticket {i})"} for i in range(24)]
    return {
        "chats": write_rows(root / "chats.jsonl", chats),
        "pairs": write_rows(root / "pairs.jsonl", synthetic_pairs(40, seed=3)),
        "prompts": write_rows(root / "prompts.jsonl", prompts),
        "root": root,
    }


def stage_args(stage: str, data: dict, tiny_model_dir: Path, policy_dir: Path, reward_dir: Path) -> list:
    """Six optimizer steps of 8 rows (PPO and GRPO: 3 iterations of 4 answers, 2 epochs of one 4-answer
    step each), 2 rows per forward pass: one process accumulates 4 (RL: 2) micro-batches a step, two
    processes 2 (1) each. A checkpoint at step 3, and held-out evaluations at 3 and 6."""
    common = ["--max-steps", 6, "--save-every", 3, "--eval-every", 3, "--micro-batch-size", 2, *QUIET]
    if stage in ("sft", "sft-lora"):  # LoRA without dropout: dropout masks are drawn per process
        lora = ["--lora.r", 4, "--lora.dropout", 0, "--lr", "1e-2"] if stage == "sft-lora" else ["--lr", "2e-3"]
        return ["sft", "--model", tiny_model_dir, "--data", data["chats"], "--batch-size", 8,
                "--data.eval-fraction", 0.2, *lora, *common]  # fmt: skip
    if stage in ("rm", "dpo"):
        return [stage, "--model", tiny_model_dir, "--data", data["pairs"], "--batch-size", 8,
                "--data.eval-fraction", 0.2, "--lr", "2e-3", *common]  # fmt: skip
    if stage == "grpo":  # groups of 2 answers to 2 prompts, a reward model and the reference (both frozen)
        return ["grpo", "--model", policy_dir, "--grpo.reward", reward_dir, "--data", data["prompts"],
                "--grpo.prompts-per-iteration", 2, "--grpo.group-size", 2, "--grpo.epochs", 2, "--batch-size", 4,
                "--grpo.beta", 0.1, "--grpo.max-new-tokens", 8, "--data.eval-prompts", 3, "--lr", "1e-3",
                *common]  # fmt: skip
    return ["ppo", "--model", policy_dir, "--ppo.reward-model", reward_dir, "--data", data["prompts"],
            "--ppo.iterations", 3, "--ppo.rollout-batch-size", 4, "--batch-size", 4, "--ppo.ppo-epochs", 2,
            "--ppo.max-new-tokens", 8, "--data.eval-prompts", 3, "--lr", "1e-3", *common]  # fmt: skip


STAGES = ["sft", "sft-lora", "rm", "dpo", "ppo", "grpo"]
# what each stage logs besides the loss, compared step by step
COMPARED = {
    "sft": ["grad_norm", "eval_loss"],
    "sft-lora": ["grad_norm", "eval_loss"],
    "rm": ["grad_norm", "eval_loss", "eval_accuracy"],
    "dpo": ["grad_norm", "eval_loss", "eval_reward_accuracy", "eval_reward_margin"],
    "ppo": ["grad_norm", "policy_loss", "value_loss", "reward", "kl", "eval_reward", "eval_greedy_reward"],
    "grpo": ["grad_norm", "reward", "eval_reward", "eval_kl"],
}


@pytest.fixture(scope="module")
def runs(data, tiny_model_dir, policy_dir, reward_dir):
    """Each stage's run directory per launch ("one", "ddp", "fsdp"), run on first use."""
    done: dict[tuple[str, str], Path] = {}

    def get(stage: str, how: str) -> Path:
        if (stage, how) not in done:
            out = data["root"] / f"{stage}-{how}"
            args = [*stage_args(stage, data, tiny_model_dir, policy_dir, reward_dir), "--output-dir", out]
            if how == "one":
                result = run_cli(*args, timeout=600)
            else:
                result = torchrun(*args, "--run.parallel", how)
            assert result.returncode == 0, result.stderr
            done[stage, how] = out
        return done[stage, how]

    return get


def assert_same_run(one: Path, other: Path, stage: str) -> None:
    """Every logged loss and metric of every step, and the final weights, as one process's. The
    weights within 1e-4: six Adam steps at lr 1e-3 (2e-3) move them by up to 6e-3 (1.2e-2), and
    Adam's normalised step turns float noise in a near-zero gradient into up to ~6e-5."""
    expected = records(one)
    assert [sorted(r) for r in records(other)] == [sorted(r) for r in expected]
    for key in ["loss", *COMPARED[stage]]:
        mine, theirs = curve(one, key), curve(other, key)
        assert mine, f"{key} never logged"
        assert sorted(theirs) == sorted(mine), key
        for step in mine:
            assert theirs[step] == pytest.approx(mine[step], rel=1e-4, abs=1e-5), f"{key} at step {step}"
    final_one, final_other = weights(one / "final"), weights(other / "final")
    assert final_one.keys() == final_other.keys()
    for name, value in final_one.items():
        torch.testing.assert_close(final_other[name], value, rtol=0, atol=1e-4, msg=name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stage", STAGES)
def test_two_processes_follow_one(runs, stage, mode):
    assert_same_run(runs(stage, "one"), runs(stage, mode), stage)
    summary = json.loads((runs(stage, mode) / "run_summary.json").read_text())
    assert summary["processes"] == 2 and summary["stage"] == stage.removesuffix("-lora")
    checkpoint = runs(stage, mode) / "checkpoints" / "step-6"
    assert (checkpoint / "sharded").is_dir() == (mode == "fsdp")
    assert (checkpoint / "model.safetensors").is_file() == (mode == "ddp")
    if stage == "ppo":  # the critic is gathered into final/critic as well
        torch.testing.assert_close(
            weights(runs(stage, mode) / "final" / "critic")["score.weight"],
            weights(runs(stage, "one") / "final" / "critic")["score.weight"],
            rtol=0,
            atol=1e-4,
        )


@pytest.mark.parametrize(("stage", "mode"), [("sft", "fsdp"), ("sft", "ddp"), ("ppo", "fsdp")])
def test_a_checkpoint_of_two_processes_resumes_in_one(runs, data, tiny_model_dir, policy_dir, reward_dir, stage, mode):
    """The two-process run cut back to its step-3 checkpoint (PPO: in the middle of its second
    iteration, the rollout buffer saved with it), then resumed by one process: steps 4 to 6 and the
    final weights are those of one process from the start."""
    source = runs(stage, mode)
    cut = data["root"] / f"{stage}-{mode}-cut"
    shutil.copytree(source, cut)
    shutil.rmtree(cut / "final")
    shutil.rmtree(cut / "checkpoints" / "step-6")
    (cut / "run_summary.json").unlink()
    args = [*stage_args(stage, data, tiny_model_dir, policy_dir, reward_dir), "--output-dir", cut, "--resume"]
    result = run_cli(*args, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "resumed from" in result.stderr and "(step 3)" in result.stderr
    assert json.loads((cut / "run_summary.json").read_text())["processes"] == 1
    assert_same_run(runs(stage, "one"), cut, stage)


def test_a_checkpoint_of_one_process_resumes_in_two_sharded(runs, data, tiny_model_dir, policy_dir, reward_dir):
    """One process's whole checkpoint (safetensors weights, the optimizer state by position) resumed by
    two FSDP processes, each taking its shards of the weights and of AdamW's moments: steps 4 to 6
    and the final weights as one process from the start."""
    cut = data["root"] / "sft-one-to-fsdp"
    shutil.copytree(runs("sft", "one"), cut)
    shutil.rmtree(cut / "final")
    shutil.rmtree(cut / "checkpoints" / "step-6")
    (cut / "run_summary.json").unlink()
    args = [*stage_args("sft", data, tiny_model_dir, policy_dir, reward_dir), "--output-dir", cut, "--resume"]
    result = torchrun(*args, "--run.parallel", "fsdp")
    assert result.returncode == 0, result.stderr
    assert "(step 3)" in result.stderr
    assert json.loads((cut / "run_summary.json").read_text())["processes"] == 2
    assert (cut / "checkpoints" / "step-6" / "sharded").is_dir()
    assert_same_run(runs("sft", "one"), cut, "sft")


def test_activation_checkpointing_recomputes_the_same_loss_and_gradients(tiny_model_dir):
    """The option switches transformers' gradient checkpointing on in every model inside (here a
    PPO-style container of two), and a training step gives the same loss and gradients as without."""
    from alignkit.models import load
    from alignkit.train import loop

    def step(checkpointing: bool):
        torch.manual_seed(0)
        model = torch.nn.ModuleDict(
            {"a": load.load_causal_lm(tiny_model_dir), "b": load.load_causal_lm(tiny_model_dir)}
        )
        if checkpointing:
            loop.activation_checkpointing(model)
        model.train()
        name = "is_activation_checkpointing"  # older transformers 5 releases: is_gradient_checkpointing
        name = name if hasattr(type(model["a"]), name) else "is_gradient_checkpointing"
        assert all(getattr(m, name) == checkpointing for m in model.values())
        ids = torch.randint(0, 500, (2, 24), generator=torch.Generator().manual_seed(1))
        loss = model["a"](input_ids=ids, labels=ids).loss + model["b"](input_ids=ids.flip(1), labels=ids).loss
        loss.backward()
        return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}

    (plain_loss, plain_grads), (loss, grads) = step(False), step(True)
    assert loss == pytest.approx(plain_loss, rel=1e-6)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)
