"""GRPO (`alignkit grpo`): group relative policy optimisation, with no critic.

Recipe: prompts (with any fields a reward function reads) -> each iteration:
  1. rollout: grpo.prompts_per_iteration prompts, group_size answers sampled for each (KV cache, left
     padding; PPOTask's machinery in ppo.RolloutTask);
  2. scoring: a Python reward function (rewards.py; the demo's is a verifiable format rule) or a
     reward model gives each answer a reward; advantages compare each answer with the rest of its
     group (losses.group_advantages: minus the group's mean, divided by its std unless
     scale_rewards is off);
  3. `epochs` passes over the rollout in minibatches of run.batch_size answers, each an optimizer
     step: the clipped surrogate with the answer's advantage on every one of its tokens, plus beta x
     the k3 KL to the frozen reference when beta > 0 (losses.grpo_loss), normalised per token or per
     answer.
With one pass and one minibatch per rollout the policy has not moved since sampling, so the
"old" log-probs are the current ones (no extra forward); otherwise they come from one no-grad pass.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from alignkit import losses, rewards
from alignkit.config import GRPOConfig
from alignkit.data.readers import train_and_held_out
from alignkit.errors import UserError
from alignkit.models import load
from alignkit.stages import ppo, reward
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

DEMO_PROMPTS = "grpo.jsonl.gz"


class GRPOTask(ppo.RolloutTask):
    def __init__(self, model, reference, score, tokenizer, prompts, held_out, config: GRPOConfig, dist, run_dir):
        grpo = config.grpo
        super().__init__(
            model, reference, score, tokenizer, prompts, held_out, config, grpo, dist, run_dir,
            grpo.prompts_per_iteration, grpo.group_size, grpo.epochs,
            "grpo.prompts_per_iteration x grpo.group_size",
        )  # fmt: skip
        self.reuse_logprobs = self.steps_per_iteration == 1  # the policy has not moved since sampling

    def policy_of(self, model):
        return model

    def units_of(self, tensors: dict[str, torch.Tensor]) -> int:
        if self.config.grpo.loss_normalisation == "sequence":
            return len(tensors["input_ids"])
        return int(tensors["response_mask"].sum())

    def _rollout(self, iteration: int, dist: DistInfo) -> None:
        grpo = self.config.grpo
        records, places = self._records(iteration, dist)
        started = time.perf_counter()
        drawn, batch, answers = self._sample(self.model, records, self._seed(iteration), grpo.temperature, places)
        generated = time.perf_counter()
        scores = self._score(records, answers, drawn.ended)
        advantages = losses.group_advantages(scores, grpo.group_size, grpo.scale_rewards)
        self.buffer = {**batch, "advantages": advantages}
        if not self.reuse_logprobs:
            self.buffer["old_logprobs"] = self._logprobs(self.model, batch)
        if grpo.beta > 0:
            self.buffer["ref_logprobs"] = self._logprobs(self.reference, batch)
        scored = time.perf_counter()
        self.buffer_iteration = iteration

        stats = self._rollout_stats(iteration, scores, batch["response_mask"], drawn.ended, started, generated, scored)
        grouped = scores.view(-1, grpo.group_size)
        flat = torch.tensor([float((grouped.std(dim=1) == 0).sum()), float(len(grouped))], dtype=torch.float64)
        flat_groups, groups = distributed.all_reduce_sum(flat).tolist()
        stats["groups_without_signal"] = flat_groups / groups  # every answer scored alike: advantage 0
        self.pending = stats
        self._write_samples(iteration, records, answers, scores, dist)

    def loss(self, model, batch: MicroBatch):
        grpo, tensors = self.config.grpo, batch.tensors
        logprobs = ppo.response_logprobs(model, tensors, grpo.temperature)
        old_logprobs = tensors["old_logprobs"] if "old_logprobs" in tensors else logprobs.detach()
        loss, _, stats = losses.grpo_loss(
            logprobs,
            old_logprobs,
            tensors.get("ref_logprobs"),
            tensors["advantages"],
            tensors["response_mask"],
            grpo.clip,
            grpo.beta,
            grpo.loss_normalisation,
        )
        if grpo.loss_normalisation == "sequence":  # per-answer means of the token statistics
            counts = tensors["response_mask"].sum(1, keepdim=True).clamp(min=1)
            stats = {name: value / counts.sum() * len(counts) for name, value in stats.items()}
        return loss, stats

    def save_final(self, model, directory: Path) -> None:
        load.save_pretrained(model, self.tokenizer, directory, self.config.model.attn_implementation)


def reward_of(spec: str, device, max_length: int):
    """(a callable scoring rows and answers, its description): a reward function or a reward model."""
    if spec == "demo" or ":" in spec and not Path(spec).is_dir():
        function = rewards.load_function(spec, "grpo.reward")
        name = "alignkit.rules:step_format" if spec == "demo" else spec
        return rewards.FunctionReward(function, name), f"reward function {name}"
    if not Path(spec).is_dir() and spec not in load.DEMO_MODELS:
        hint = f" (name its function: {spec}:function)" if spec.endswith(".py") else ""
        raise UserError(
            f"grpo.reward: {spec!r} is not module:function, path/file.py:function or a reward model directory{hint}"
        )
    reward_dir = load.resolve_pretrained(spec, "reward model")
    model, tokenizer, packed = reward.open_reward_model(reward_dir)
    for param in model.parameters():
        param.requires_grad_(False)
    return ppo.Scorer(model.to(device), tokenizer, packed, max_length), f"reward model {reward_dir}"


def read_prompt_records(path: str) -> list[dict]:
    return ppo.read_prompt_records(path, DEMO_PROMPTS)


def run(config: GRPOConfig) -> Path:
    env = loop.setup(config)
    data, grpo = config.data, config.grpo
    train, held_out = train_and_held_out(read_prompt_records, data, config.run.seed)
    held_out = held_out[: data.eval_prompts]
    # a reward model and the reference stay on the CPU here: the loop places (or shards) them
    score, described = reward_of(grpo.reward, torch.device("cpu"), data.max_prompt_length + grpo.max_new_tokens)
    policy_dir = load.resolve_pretrained(config.model.name_or_path, "policy")
    attn = config.model.attn_implementation
    tokenizer = load.load_tokenizer(config.model.tokenizer or policy_dir)
    if not tokenizer.chat_template:
        raise UserError(f"{policy_dir}: the policy has no chat template; GRPO starts from an SFT model")

    loop.seed_everything(config.run.seed)
    policy = ppo.open_policy(policy_dir, tokenizer, attn)
    reference = None
    if grpo.beta > 0 or grpo.eval_kl:
        reference = ppo.open_policy(policy_dir, tokenizer, attn, frozen=True)
    task = GRPOTask(policy, reference, score, tokenizer, train, held_out, config, env.dist, env.run_dir)
    if env.dist.is_main:
        print(
            f"grpo: policy {policy_dir} ({load.count_parameters(policy) / 1e6:.1f}M), {described}; "
            f"{len(train)} prompts, {len(held_out)} held out; {task.total_steps // task.steps_per_iteration} "
            f"iterations of {grpo.prompts_per_iteration} prompts x {grpo.group_size} answers"
        )
    final = loop.run(env, task)
    if env.dist.is_main:
        summary = ppo.held_out_summary(env.run_dir)
        if summary:
            (final / "grpo_report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            print("grpo: held-out " + "  ".join(f"{k} {v:.4g}" for k, v in summary.items()))
    return final
