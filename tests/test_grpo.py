"""GRPO end to end on a tiny random policy: the CLI's outputs and metrics with a reward function
from a file that reads a row field; the rollout buffer (a prompt's G answers in consecutive rows,
advantages compared within each group, "old" log-probs only when the policy moves within an
iteration, the reference's log-probs and the k3 KL when beta > 0); a reward model as the reward;
exact resume from the middle of an iteration; bad input."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from alignkit import losses
from alignkit.config import GRPOConfig, resolve
from alignkit.errors import UserError
from alignkit.stages import grpo, ppo, reward
from alignkit.train.loop import MicroBatch
from tests.conftest import QUESTIONS, run_cli

QUIET = ["--run.progress", "false", "--run.plots", "false"]
pytestmark = pytest.mark.usefixtures("one_thread")
G = 4  # answers per prompt in every run here
REWARDS = '''
def closeness(prompts, completions, target):
    """Answers whose length in characters is near the row's `target` score higher."""
    return [-abs(len(c) - t) / 10 for c, t in zip(completions, target)]


def constant(prompts, completions, **fields):
    return [1.0] * len(completions)
'''


def target_of(index: int) -> int:
    return 6 + 5 * (index % 5)


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory) -> Path:
    """16 prompts, every third one as chat messages, each with a `target` length for the reward."""
    rows = []
    for i in range(16):
        question = f"{QUESTIONS[i % len(QUESTIONS)]} (ticket {i})"
        if i % 3 == 2:
            messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]
            rows.append({"messages": messages, "target": target_of(i)})
        else:
            rows.append({"prompt": question, "target": target_of(i)})
    path = tmp_path_factory.mktemp("grpo") / "prompts.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grpo") / "rules.py"
    path.write_text(REWARDS, encoding="utf-8")
    return path


def grpo_args(run_dir: Path, policy: Path, prompts: Path, reward_spec, *extra) -> list[str]:
    return [
        "--model", str(policy), "--data", str(prompts), "--grpo.reward", str(reward_spec), "--output-dir", str(run_dir),
        "--grpo.prompts-per-iteration", "2", "--grpo.group-size", str(G), "--batch-size", "8",
        "--micro-batch-size", "4", "--grpo.max-new-tokens", "8", "--data.eval-prompts", "2", "--lr", "1e-3",
        "--eval-every", "0", *QUIET, *map(str, extra),
    ]  # fmt: skip


def run_quietly(args: list[str]) -> Path:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return grpo.run(resolve(GRPOConfig, args))


def read_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def capture_tasks(monkeypatch) -> list:
    """Every GRPOTask grpo.run builds, kept for inspection, with each rollout's records, answers and
    scores as the reward gave them, its buffer, the policy's log-probs of the rollout's rows from a
    plain no-grad forward of the whole batch right after it was sampled (before any update), and the
    task's loss on the whole rollout with its advantages zeroed (what is left is beta x the KL)."""
    tasks = []

    class Captured(grpo.GRPOTask):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.rollouts: list[dict] = []
            self.scored: list[tuple] = []
            self.steps_run: list[int] = []
            score_fn = self.score_fn

            def recording(records, answers):
                scores = score_fn(records, answers)
                self.scored.append((records, answers, scores.clone()))
                return scores

            self.score_fn = recording
            tasks.append(self)

        def micro_batches(self, step, dist):
            self.steps_run.append(step)
            return super().micro_batches(step, dist)

        def _rollout(self, iteration, dist):
            before = len(self.scored)
            super()._rollout(iteration, dist)
            ((records, answers, scores),) = self.scored[before:]
            buffer = {k: v.clone() for k, v in self.buffer.items()}
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                fresh = ppo.response_logprobs(self.model, buffer, self.config.grpo.temperature)
                zero = {**buffer, "advantages": torch.zeros_like(buffer["advantages"])}
                zero.pop("old_logprobs", None)
                zero_loss, _ = self.loss(self.model, MicroBatch(zero, units=1, tokens=1))
            self.model.train(was_training)
            self.rollouts.append({"iteration": iteration, "records": records, "answers": answers, "scores": scores,
                                  "buffer": buffer, "fresh": fresh, "zero_advantage_loss": zero_loss})  # fmt: skip

    monkeypatch.setattr(grpo, "GRPOTask", Captured)
    return tasks


def causal_lm_weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).state_dict()


# -- the command line ----------------------------------------------------------------------------


def test_cli_end_to_end_with_a_reward_function_from_a_file(tmp_path, policy_dir, prompts_file, rules):
    run_dir = tmp_path / "run"
    spec = f"{rules}:closeness"
    result = run_cli(
        "grpo", *grpo_args(run_dir, policy_dir, prompts_file, spec, "--grpo.iterations", 2,
                           "--data.eval-fraction", "0.25"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"reward function {spec}; 12 prompts, 2 held out; 2 iterations of 2 prompts x 4 answers" in result.stdout, (
        result.stdout
    )

    records = read_records(run_dir)
    evals = [r for r in records if "eval_reward" in r]
    assert [r["step"] for r in evals] == [0, 2]  # at the start (the SFT policy) and at the end
    assert all({"eval_reward", "eval_kl", "eval_greedy_reward", "eval_answer_length"} <= r.keys() for r in evals)
    assert evals[0]["eval_kl"] == pytest.approx(0.0, abs=1e-6)  # the policy is the reference
    assert evals[-1]["eval_kl"] != 0  # and then it is not (a sampled estimate: either sign)
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2]
    per_step = {"loss", "clipfrac", "approx_kl", "grad_norm", "iteration", "reward", "reward_std", "answer_length",
                "ended", "groups_without_signal"}  # fmt: skip
    assert all(per_step <= r.keys() for r in steps)
    assert [r["iteration"] for r in steps] == [1, 2]
    assert steps[0]["clipfrac"] == 0.0 and steps[0]["approx_kl"] == 0.0  # on policy: the ratio is 1
    assert all(0 <= r["groups_without_signal"] <= 1 and 1 <= r["answer_length"] <= 8 for r in steps)

    # the samples are scored by the function with each row's own target
    samples = [json.loads(x) for x in (run_dir / "samples" / "iteration-00001.jsonl").read_text().splitlines()]
    assert len(samples) == 2 * G and all({"iteration", "prompt", "answer", "score"} <= s.keys() for s in samples)
    targets = {}
    for line in prompts_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        targets[row.get("prompt") or row["messages"][-1]["content"]] = row["target"]
    for s in samples:
        assert s["score"] == pytest.approx(-abs(len(s["answer"]) - targets[s["prompt"]]) / 10, abs=1e-6)
    assert [s["prompt"] for s in samples[:G]] == [samples[0]["prompt"]] * G  # a group: one prompt, G answers
    assert steps[0]["reward"] == pytest.approx(sum(s["score"] for s in samples) / len(samples), abs=1e-5)

    final = run_dir / "final"
    policy = AutoModelForCausalLM.from_pretrained(final)
    assert policy.config.vocab_size == 512
    start = causal_lm_weights(policy_dir)
    assert any(not torch.equal(policy.state_dict()[k], start[k]) for k in start), "the policy did not move"
    report = json.loads((final / "grpo_report.json").read_text())
    assert report["start_reward"] == evals[0]["eval_reward"] and report["final_reward"] == evals[-1]["eval_reward"]
    assert report["final_kl"] == evals[-1]["eval_kl"]


# -- the rollout buffer --------------------------------------------------------------------------


def test_groups_advantages_and_an_on_policy_first_step(tmp_path, monkeypatch, policy_dir, prompts_file, rules):
    """One optimizer step per iteration: the buffer has no "old" log-probs (the policy has not moved
    since sampling, so the ratio is 1 and nothing is clipped); with beta 0 and eval_kl off there is
    no reference at all and no held-out KL."""
    tasks = capture_tasks(monkeypatch)
    run_dir = tmp_path / "run"
    run_quietly(grpo_args(run_dir, policy_dir, prompts_file, f"{rules}:closeness", "--grpo.iterations", 2,
                          "--grpo.eval-kl", "false"))  # fmt: skip
    (task,) = tasks
    assert task.reference is None and task.steps_per_iteration == 1
    records = read_records(run_dir)
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_reward" in r]
    assert [r["step"] for r in evals] == [0, 2] and not any("eval_kl" in r for r in evals)

    assert [r["iteration"] for r in task.rollouts] == [1, 2]
    for rollout_, step in zip(task.rollouts, steps, strict=True):
        buffer, scores = rollout_["buffer"], rollout_["scores"]
        assert "old_logprobs" not in buffer and "ref_logprobs" not in buffer
        assert len(buffer["input_ids"]) == len(scores) == 2 * G
        groups = [rollout_["records"][g * G : (g + 1) * G] for g in range(2)]
        assert all(all(r is group[0] for r in group) for group in groups)  # a prompt's G answers, in a row
        assert groups[0][0] is not groups[1][0]
        prompt_tokens = buffer["input_ids"][:, : -buffer["response_ids"].shape[1]]
        for g in range(2):  # the same prompt tokens on each of the group's rows
            assert (prompt_tokens[g * G : (g + 1) * G] == prompt_tokens[g * G]).all()
        assert not torch.equal(prompt_tokens[0], prompt_tokens[G])
        torch.testing.assert_close(buffer["advantages"], losses.group_advantages(scores, G, True))
        grouped = scores.view(2, G)
        by_hand = (grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)
        torch.testing.assert_close(buffer["advantages"], by_hand.reshape(-1))
        assert step["reward"] == pytest.approx(scores.mean().item(), abs=1e-5)
        assert step["groups_without_signal"] == (grouped.std(1) == 0).float().mean().item()
        assert step["clipfrac"] == 0.0 and step["approx_kl"] == 0.0
    # the samples the reward saw are the buffer's answers
    answers = task.tokenizer.batch_decode(task.rollouts[0]["buffer"]["response_ids"], skip_special_tokens=True)
    assert answers == task.rollouts[0]["answers"]


def test_two_epochs_keep_old_log_probs_from_before_the_update(tmp_path, monkeypatch, policy_dir, prompts_file, rules):
    """Two passes over the rollout: the "old" log-probs are the policy's before its first update (a
    plain forward's); the first step is on policy, the second is not. scale_rewards off: the
    advantages are only centred."""
    tasks = capture_tasks(monkeypatch)
    run_dir = tmp_path / "run"
    run_quietly(grpo_args(run_dir, policy_dir, prompts_file, f"{rules}:closeness", "--grpo.iterations", 1,
                          "--grpo.epochs", 2, "--grpo.scale-rewards", "false", "--data.eval-fraction", 0))  # fmt: skip
    (task,) = tasks
    assert task.steps_per_iteration == 2 and task.steps_run == [1, 2]
    (rollout_,) = task.rollouts
    buffer = rollout_["buffer"]
    assert "old_logprobs" in buffer
    torch.testing.assert_close(buffer["old_logprobs"], rollout_["fresh"], atol=1e-5, rtol=1e-5)
    grouped = rollout_["scores"].view(2, G)
    torch.testing.assert_close(buffer["advantages"], (grouped - grouped.mean(1, keepdim=True)).reshape(-1))
    first, second = read_records(run_dir)
    assert first["clipfrac"] == 0.0 and first["approx_kl"] < 1e-10
    assert second["approx_kl"] > 1e-8  # the policy moved at step 1: the ratio is no longer 1


def test_beta_uses_the_references_log_probs_and_adds_its_k3_kl(tmp_path, monkeypatch, policy_dir, prompts_file, rules):
    """beta > 0: the buffer holds the frozen reference's log-probs of the rollout. With the
    advantages zeroed the loss is beta x the summed k3 KL: 0 at the first rollout (the policy is
    the reference), positive at the second."""
    beta = 0.5
    tasks = capture_tasks(monkeypatch)
    run_dir = tmp_path / "run"
    run_quietly(grpo_args(run_dir, policy_dir, prompts_file, f"{rules}:closeness", "--grpo.iterations", 2,
                          "--grpo.beta", beta, "--grpo.eval-kl", "false", "--data.eval-fraction", 0))  # fmt: skip
    (task,) = tasks
    assert task.reference is not None and not any(p.requires_grad for p in task.reference.parameters())
    start = causal_lm_weights(policy_dir)
    reference = task.reference.state_dict()
    assert all(torch.equal(reference[k], start[k]) for k in start), "the reference moved"

    kls = []
    for rollout_ in task.rollouts:
        buffer, fresh = rollout_["buffer"], rollout_["fresh"]
        with torch.no_grad():
            expected_ref = ppo.response_logprobs(task.reference.eval(), buffer, 1.0)
        torch.testing.assert_close(buffer["ref_logprobs"], expected_ref, atol=1e-5, rtol=1e-5)
        mask = buffer["response_mask"]
        log_ratio = buffer["ref_logprobs"] - fresh
        kl = ((torch.exp(log_ratio) - 1 - log_ratio) * mask).sum()
        assert rollout_["zero_advantage_loss"].item() == pytest.approx(beta * kl.item(), rel=1e-4, abs=1e-6)
        kls.append(kl.item())
    assert kls[0] == pytest.approx(0.0, abs=1e-5) and kls[1] > 1e-3

    first, second = read_records(run_dir)
    assert first["kl"] == pytest.approx(0.0, abs=1e-6) and second["kl"] > 1e-5  # per token, from the loss


def test_a_reward_model_as_the_reward(tmp_path, monkeypatch, policy_dir, prompts_file, reward_dir):
    tasks = capture_tasks(monkeypatch)
    run_dir = tmp_path / "run"
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(io.StringIO()):
        grpo.run(resolve(GRPOConfig, grpo_args(run_dir, policy_dir, prompts_file, reward_dir, "--grpo.iterations", 1)))
    assert f"reward model {reward_dir}" in output.getvalue()
    (task,) = tasks
    (rollout_,) = task.rollouts
    scores = rollout_["scores"]
    assert scores.std() > 0  # an untrained reward model still tells answers apart
    records, answers = rollout_["records"], rollout_["answers"]
    with torch.no_grad():
        model, tokenizer, packed = reward.open_reward_model(reward_dir)
        again = ppo.Scorer(model, tokenizer, packed, 512)(records, answers)
    torch.testing.assert_close(scores, again, atol=1e-4, rtol=1e-4)
    (step,) = [r for r in read_records(run_dir) if "loss" in r]
    assert step["groups_without_signal"] == 0.0 and step["reward"] == pytest.approx(scores.mean().item(), abs=1e-5)


# -- exact resume --------------------------------------------------------------------------------

RESUME_ARGS = ["--grpo.iterations", 2, "--batch-size", 4, "--micro-batch-size", 2, "--grpo.beta", "0.1",
               "--save-every", 3, "--data.eval-prompts", 2]  # fmt: skip
COMPARED = ["loss", "clipfrac", "approx_kl", "kl", "grad_norm", "iteration", "reward", "reward_std",
            "answer_length", "groups_without_signal", "eval_reward", "eval_kl", "eval_greedy_reward"]  # fmt: skip


def test_resume_from_the_middle_of_an_iteration_reproduces_the_run(
    tmp_path, monkeypatch, policy_dir, prompts_file, rules
):
    """Two minibatches per iteration, a checkpoint at step 3 (iteration 2 half done): resumed from
    it, steps 4.. are the uninterrupted run's, on the saved rollout, to the bit."""
    source = tmp_path / "full"
    args = grpo_args(source, policy_dir, prompts_file, f"{rules}:closeness", *RESUME_ARGS)
    run_quietly(args)
    before = read_records(source)
    weights = load_file(str(source / "checkpoints" / "step-4" / "model.safetensors"))

    run_dir = tmp_path / "resumed"
    shutil.copytree(source, run_dir)
    shutil.rmtree(run_dir / "checkpoints" / "step-4")
    shutil.rmtree(run_dir / "final")
    tasks = capture_tasks(monkeypatch)
    run_quietly([*grpo_args(run_dir, policy_dir, prompts_file, f"{rules}:closeness", *RESUME_ARGS), "--resume"])
    (task,) = tasks
    assert task.steps_run == [4] and task.rollouts == []  # resumed on the saved rollout, not a new one
    after = read_records(run_dir)

    def picked(records):
        return [(r["step"], {k: r[k] for k in COMPARED if k in r}) for r in records if r["step"] > 3]

    assert [r["step"] for r in after] == [r["step"] for r in before]
    assert picked(after) == picked(before) and picked(before)
    trained = load_file(str(run_dir / "checkpoints" / "step-4" / "model.safetensors"))
    assert trained.keys() == weights.keys() and all(torch.equal(trained[k], weights[k]) for k in weights)


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_one_clear_line(tmp_path, policy_dir, prompts_file):
    cases = [
        (["--grpo.reward", "nomodule_for_grpo:f"],
         "error: grpo.reward: cannot import nomodule_for_grpo (ModuleNotFoundError"),
        (["--grpo.prompts-per-iteration", "3", "--grpo.group-size", "2", "--batch-size", "4"],
         "error: grpo.prompts_per_iteration x grpo.group_size: a rollout of 6 answers must be a multiple of "
         "run.batch_size 4"),
    ]  # fmt: skip
    for extra, message in cases:
        never = tmp_path / "never"
        result = run_cli("grpo", "--model", policy_dir, "--data", prompts_file, "--output-dir", never, *QUIET, *extra)
        assert result.returncode == 2, (extra, result.stderr)
        assert result.stderr.startswith(message) and "Traceback" not in result.stderr, result.stderr
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1, result.stderr
        assert not never.exists()


@pytest.mark.parametrize("spec", ["tiny", "rules.py"])
def test_a_bad_reward_spec_names_grpo_reward(tmp_path, monkeypatch, spec):
    (tmp_path / "rules.py").write_text(REWARDS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as caught:
        grpo.reward_of(spec, torch.device("cpu"), 64)
    assert "grpo.reward" in str(caught.value), str(caught.value)
