"""PPO (`alignkit ppo`): RLHF with a critic, GAE and a KL leash to a frozen reference.

Recipe: prompts -> the policy (from SFT) and a critic (value head, from the reward model or the
policy) trained together as one module; a frozen reference (the same start) and the frozen reward
model beside them -> each iteration:
  1. rollout: a batch of prompts, answers sampled with a KV cache (rollout.sample, left padding);
  2. scoring: the reward model scores each whole answer (minus a penalty if it never ended); the
     policy's and the reference's log-probs give a per-token KL penalty; the critic gives values;
  3. advantages: rewards = -kl_coef x KL per token, + the score on the last token; GAE; whitening;
  4. ppo_epochs passes over the rollout in minibatches of run.batch_size rows, each an optimizer
     step of loop.run: the clipped policy loss plus vf_coef x the clipped value loss, per token.
The maths is in losses.py. A rollout is a function of (weights, seed, iteration); the task saves it
with each checkpoint, so a run resumed mid-iteration trains on the very same samples.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from alignkit import losses, rollout
from alignkit.config import PPOConfig
from alignkit.data.formats import Conversation
from alignkit.data.readers import resolve_path, split_held_out, write_jsonl
from alignkit.errors import UserError
from alignkit.models import heads, load
from alignkit.models.heads import Labels
from alignkit.stages import reward
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

BUFFER_KEYS = ("input_ids", "attention_mask", "position_ids", "response_ids", "response_mask")
BUFFER_KEYS += ("old_logprobs", "old_values", "advantages", "returns")


class ActorCritic(torch.nn.Module):
    """The two networks PPO trains, as one module: one optimizer, one checkpoint, one DDP wrapper."""

    def __init__(self, policy, critic):
        super().__init__()
        self.policy, self.critic = policy, critic

    def forward(self, input_ids, attention_mask, position_ids, response_length: int):
        """(logits (B, R, V) that predict the R response tokens, values (B, R) of the states before
        each of them). Rows are prompt + response, the response in the last R positions."""
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
        logits = self.policy(**inputs, logits_to_keep=response_length + 1).logits[:, :-1]
        hidden = self.critic.base_model(**inputs).last_hidden_state[:, -response_length - 1 : -1]
        return logits, self.critic.score(hidden).squeeze(-1)


def reference_logprobs(reference, batch: dict[str, torch.Tensor], temperature: float) -> torch.Tensor:
    response = batch["response_ids"]
    logits = reference(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
        logits_to_keep=response.shape[1] + 1,
    ).logits[:, :-1]
    return losses.token_logprobs(logits, response, temperature)


def sequences_of(samples: rollout.Samples) -> dict[str, torch.Tensor]:
    """Prompt + response rows as the forward passes read them: the attention mask covers the whole
    response (as during generation; what follows an answer's end is masked out of every loss) and
    positions count real tokens only, so left padding changes nothing."""
    attention_mask = torch.cat([samples.query_mask, torch.ones_like(samples.response_ids)], dim=1)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return {
        "input_ids": torch.cat([samples.query_ids, samples.response_ids], dim=1),
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "response_ids": samples.response_ids,
        "response_mask": samples.response_mask.float(),
    }


def masked_moments(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased variance over the masked entries of every process."""
    totals = torch.stack([(values * mask).sum(), (values**2 * mask).sum(), mask.sum()]).double().cpu()
    total, squares, count = distributed.all_reduce_sum(totals).tolist()
    mean = total / max(count, 1)
    var = (squares - count * mean**2) / max(count - 1, 1)
    return torch.tensor(mean, dtype=values.dtype), torch.tensor(max(var, 0.0), dtype=values.dtype)


@dataclass
class Scorer:
    """The frozen reward model and how it reads text."""

    model: torch.nn.Module
    tokenizer: object
    packed: bool
    max_length: int

    def __call__(self, prompts: list[Conversation], answers: list[str]) -> torch.Tensor:
        encoded = reward.encode_answers(self.tokenizer, prompts, answers, self.max_length)
        return reward.score_encoded(self.model, encoded, 32, self.packed, self.tokenizer.pad_token_id)


class PPOTask:
    """One optimizer step per minibatch; iteration i covers steps (i-1) K + 1 .. i K with
    K = ppo_epochs x rollout rows / run.batch_size. The rollout happens at the first of them."""

    def __init__(
        self, model: ActorCritic, reference, scorer: Scorer, tokenizer, prompts, held_out, config, dist, run_dir
    ):
        self.model, self.reference, self.scorer, self.tokenizer = model, reference, scorer, tokenizer
        self.config, self.prompts, self.held_out, self.run_dir = config, prompts, held_out, run_dir
        ppo, run = config.ppo, config.run
        if ppo.rollout_batch_size % run.batch_size or ppo.rollout_batch_size % dist.world_size:
            raise UserError(
                f"ppo.rollout_batch_size {ppo.rollout_batch_size} must be a multiple of run.batch_size "
                f"{run.batch_size} and of the number of processes {dist.world_size}"
            )
        self.minibatches = ppo.rollout_batch_size // run.batch_size
        self.steps_per_iteration = ppo.ppo_epochs * self.minibatches
        self.total_steps = run.max_steps or ppo.iterations * self.steps_per_iteration
        self.order = loop.EpochOrder(len(prompts), ppo.rollout_batch_size, run.seed)
        self.flops_per_token = 0.0  # a step's tokens mix generation, scoring and training: no MFU
        self.lr_of = {f"critic.{n}": ppo.critic_lr for n, _ in model.critic.named_parameters()} if ppo.critic_lr else {}
        self.eval_at_start = True  # the SFT policy's held-out reward: what PPO must beat
        self.kl_coef = ppo.kl_coef
        self.buffer: dict[str, torch.Tensor] = {}
        self.buffer_iteration = 0
        self.pending: dict[str, float] = {}

    # -- rollout -------------------------------------------------------------------------------

    def _sample(self, policy, prompts: list, seed: int, temperature: float):
        """(samples, rows for the forward passes, answer texts)."""
        ppo = self.config.ppo
        texts = rollout.prompt_texts(self.tokenizer, prompts, chat=True)
        sampling = rollout.Sampling(ppo.max_new_tokens, temperature, 1.0, ppo.top_k, seed)
        micro = self.config.run.micro_batch_size
        drawn = rollout.sample(policy, self.tokenizer, texts, sampling, micro, self.config.data.max_prompt_length)
        answers = self.tokenizer.batch_decode(drawn.response_ids, skip_special_tokens=True)
        return drawn, sequences_of(drawn), answers

    @torch.no_grad()
    def _forward_all(self, rows: dict[str, torch.Tensor], temperature: float):
        """Policy log-probs, reference log-probs and values of every rollout row, micro-batch by micro-batch."""
        micro = self.config.run.micro_batch_size
        response_length = rows["response_ids"].shape[1]
        logprobs, ref_logprobs, values = [], [], []
        was_training = self.model.training
        self.model.eval()
        for start in range(0, len(rows["input_ids"]), micro):
            part = {k: v[start : start + micro] for k, v in rows.items()}
            logits, value = self.model(part["input_ids"], part["attention_mask"], part["position_ids"], response_length)
            logprobs.append(losses.token_logprobs(logits, part["response_ids"], temperature))
            ref_logprobs.append(reference_logprobs(self.reference, part, temperature))
            values.append(value.float())
        self.model.train(was_training)
        return torch.cat(logprobs), torch.cat(ref_logprobs), torch.cat(values)

    def _score(self, prompts: list, answers: list[str], ended: torch.Tensor) -> torch.Tensor:
        conversations = [rollout.as_messages(p) for p in prompts]
        scores = self.scorer(conversations, answers).to(ended.device)
        return scores - self.config.ppo.missing_eos_penalty * (~ended).float()

    def _rollout(self, iteration: int, dist: DistInfo) -> None:
        ppo = self.config.ppo
        rows = self.order.step_rows(iteration)
        share = len(rows) // dist.world_size
        prompts = [rollout.prompt_of(self.prompts[i]) for i in rows[dist.rank * share : (dist.rank + 1) * share]]
        seed = self.config.run.seed * 1_000_003 + iteration * 101 + dist.rank
        started = time.perf_counter()
        drawn, batch, answers = self._sample(self.model.policy, prompts, seed, ppo.temperature)
        generated = time.perf_counter()
        old_logprobs, ref_logprobs, values = self._forward_all(batch, ppo.temperature)
        scores = self._score(prompts, answers, drawn.ended)
        scored = time.perf_counter()

        mask = batch["response_mask"]
        kl = losses.kl_estimate(old_logprobs, ref_logprobs, ppo.kl_estimator) * mask
        rewards = -self.kl_coef * kl
        last = (mask.sum(dim=1).long() - 1).clamp(min=0)
        rewards[torch.arange(len(rewards)), last] += scores
        advantages, returns = losses.gae(rewards, values, mask, ppo.gamma, ppo.lam)
        if ppo.whiten_advantages:
            advantages = losses.masked_whiten(advantages, mask, stats=masked_moments(advantages, mask))
        self.buffer = {**batch, "old_logprobs": old_logprobs, "old_values": values * mask}
        self.buffer.update(advantages=advantages, returns=returns)
        self.buffer_iteration = iteration

        sequence_kl = (losses.kl_estimate(old_logprobs, ref_logprobs, "k1") * mask).sum(1)
        sequence_k3 = (losses.kl_estimate(old_logprobs, ref_logprobs, "k3") * mask).sum(1)
        residual_var = masked_moments(returns - values, mask)[1]
        returns_var = masked_moments(returns, mask)[1]
        sums = torch.stack(
            [scores.sum(), (scores**2).sum(), sequence_kl.sum(), sequence_k3.sum(), mask.sum(), drawn.ended.sum()]
        )
        totals = distributed.all_reduce_sum(sums.double().cpu()).tolist()
        count = share * dist.world_size
        reward_mean = totals[0] / count
        stats = {
            "iteration": iteration,
            "reward": reward_mean,
            "reward_std": max(totals[1] / count - reward_mean**2, 0.0) ** 0.5,
            "kl": totals[2] / count,
            "kl_k3": totals[3] / count,
            "answer_length": totals[4] / count,
            "ended": totals[5] / count,
            "kl_coef": self.kl_coef,
            "explained_variance": 1.0 - (residual_var / returns_var.clamp(min=1e-8)).item(),
            "time_generate_s": generated - started,
            "time_score_s": scored - generated,
        }
        if ppo.adaptive_kl:
            self.kl_coef = losses.adaptive_kl_coef(self.kl_coef, stats["kl"], ppo.kl_target, ppo.kl_horizon, count)
        self.pending = stats
        if dist.is_main and ppo.sample_every and iteration % ppo.sample_every == 1 % ppo.sample_every:
            records = [
                {"iteration": iteration, "prompt": rollout.as_messages(p)[-1]["content"], "answer": a, "score": s}
                for p, a, s in zip(prompts, answers, scores.tolist(), strict=True)
            ]
            write_jsonl(self.run_dir / "samples" / f"iteration-{iteration:05d}.jsonl", records)

    # -- the loop's interface -----------------------------------------------------------------

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        iteration = (step - 1) // self.steps_per_iteration + 1
        if self.buffer_iteration != iteration:
            self._rollout(iteration, dist)
        within = (step - 1) % self.steps_per_iteration
        epoch, minibatch = divmod(within, self.minibatches)
        local_rows = len(self.buffer["input_ids"])
        generator = torch.Generator().manual_seed(self.config.run.seed * 7919 + iteration * 131 + epoch)
        order = torch.randperm(local_rows, generator=generator)
        size = local_rows // self.minibatches
        rows = order[minibatch * size : (minibatch + 1) * size]
        micro = self.config.run.micro_batch_size
        batches = []
        for start in range(0, len(rows), micro):
            part = rows[start : start + micro]
            tensors = {k: self.buffer[k][part] for k in BUFFER_KEYS}
            batches.append(
                MicroBatch(tensors, units=int(tensors["response_mask"].sum()), tokens=tensors["input_ids"].numel())
            )
        return batches

    def loss(self, model, batch: MicroBatch):
        ppo, tensors = self.config.ppo, batch.tensors
        mask = tensors["response_mask"]
        logits, values = model(
            tensors["input_ids"], tensors["attention_mask"], tensors["position_ids"], tensors["response_ids"].shape[1]
        )
        logprobs = losses.token_logprobs(logits, tensors["response_ids"], ppo.temperature)
        policy_loss, policy_stats = losses.ppo_policy_loss(
            logprobs, tensors["old_logprobs"], tensors["advantages"], mask, ppo.clip
        )
        value_loss, value_stats = losses.ppo_value_loss(
            values.float(), tensors["old_values"], tensors["returns"], mask, ppo.value_clip
        )
        entropy = (losses.entropy_from_logits(logits.detach(), ppo.temperature) * mask).sum()
        extra = {"policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(), "entropy": entropy}
        return policy_loss + ppo.vf_coef * value_loss, {**extra, **policy_stats, **value_stats}

    def step_metrics(self) -> dict[str, float]:
        """The latest rollout's statistics, once (log_every <= the steps of an iteration logs every one)."""
        pending, self.pending = self.pending, {}
        return pending

    @torch.no_grad()
    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        """Held-out prompts: answers sampled as in training (a fixed seed) scored by the reward model,
        with their KL to the reference; and the greedy answers' reward."""
        if not self.held_out:
            return {}
        ppo = self.config.ppo
        share = self.held_out[dist.rank :: dist.world_size]
        prompts = [rollout.prompt_of(r) for r in share]
        totals = torch.zeros(5, dtype=torch.float64)
        if prompts:
            seed = self.config.run.seed + 999_983
            drawn, batch, answers = self._sample(model.policy, prompts, seed, ppo.temperature)
            logprobs, ref_logprobs, _ = self._forward_all(batch, ppo.temperature)
            mask = batch["response_mask"]
            kl = (losses.kl_estimate(logprobs, ref_logprobs, "k1") * mask).sum(1)
            scores = self._score(prompts, answers, drawn.ended)
            greedy_drawn, _, greedy_answers = self._sample(model.policy, prompts, seed, 0.0)
            greedy = self._score(prompts, greedy_answers, greedy_drawn.ended)
            totals += torch.tensor(
                [
                    scores.sum().item(),
                    (scores**2).sum().item(),
                    kl.sum().item(),
                    mask.sum().item(),
                    greedy.sum().item(),
                ],
                dtype=torch.float64,
            )
        reward_sum, squares, kl_sum, length_sum, greedy_sum = distributed.all_reduce_sum(totals).tolist()
        count = len(self.held_out)
        mean = reward_sum / count
        return {
            "eval_reward": mean,
            "eval_reward_std": max(squares / count - mean**2, 0.0) ** 0.5,
            "eval_kl": kl_sum / count,
            "eval_answer_length": length_sum / count,
            "eval_greedy_reward": greedy_sum / count,
        }

    def state_dict(self) -> dict:
        return {
            "kl_coef": self.kl_coef,
            "buffer": self.buffer,
            "buffer_iteration": self.buffer_iteration,
            "pending": self.pending,  # rollout statistics not logged yet
        }

    def load_state_dict(self, state: dict) -> None:
        self.kl_coef, self.buffer_iteration = state["kl_coef"], state["buffer_iteration"]
        self.pending = state.get("pending", {})
        device = next(self.model.parameters()).device
        self.buffer = {k: v.to(device) for k, v in state["buffer"].items()}

    def save_final(self, model, directory: Path) -> None:
        """The policy in final/ (a plain causal LM), the critic in final/critic."""
        attn = self.config.model.attn_implementation
        load.save_pretrained(model.policy, self.tokenizer, directory, attn)
        load.save_pretrained(model.critic, self.tokenizer, directory / "critic", attn)


def build_critic(spec: str, policy_dir: Path, reward_dir: Path, reward_model, tokenizer, reward_tokenizer, attn: str):
    """The critic reads the policy's tokens at every position, so it is a decoder with a `score`
    head: the reward model itself when it is one with the policy's vocabulary, else the policy's
    body with a new head (or a given directory)."""
    from transformers import AutoModelForSequenceClassification

    reads_policy_tokens = (
        heads.packed_family(reward_model) == "decoder" and reward_tokenizer.get_vocab() == tokenizer.get_vocab()
    )
    if spec == "auto":
        spec = "reward" if reads_policy_tokens else "policy"
    if spec == "reward" and not reads_policy_tokens:
        raise UserError(
            f"ppo.critic: reward needs a decoder reward model with the policy's tokenizer; {reward_dir} is not one "
            f"(use policy)"
        )
    if spec == "policy":
        critic, _ = heads.build_classifier(policy_dir, Labels("regression", ["value"]), tokenizer, attn)
        return critic, "policy"
    source = reward_dir if spec == "reward" else load.checkpoint_dir(spec)
    critic = AutoModelForSequenceClassification.from_pretrained(source, dtype=torch.float32, attn_implementation=attn)
    if not hasattr(critic, "score") or critic.config.num_labels != 1:
        raise UserError(f"ppo.critic: {source} is not a decoder with a 1-output score head")
    return critic, str(source)


def read_prompt_records(path: str) -> list[dict]:
    return rollout.read_prompts(str(resolve_path(path, demo=reward.DEMO_PREFERENCES)))


def run(config: PPOConfig) -> Path:
    env = loop.setup(config)
    data = config.data
    prompts = read_prompt_records(data.path)
    if data.eval_path:
        train, held_out = prompts, read_prompt_records(data.eval_path)
    else:
        train, held_out = split_held_out(prompts, data.eval_fraction, config.run.seed)
    held_out = held_out[: data.eval_prompts]
    policy_dir = load.resolve_pretrained(config.model.name_or_path, "policy")
    reward_dir = load.resolve_pretrained(config.ppo.reward_model, "reward model")
    attn = config.model.attn_implementation

    tokenizer = load.load_tokenizer(config.model.tokenizer or policy_dir)
    if not tokenizer.chat_template:
        raise UserError(f"{policy_dir}: the policy has no chat template; PPO starts from an SFT model")
    reward_model, reward_tokenizer, packed = reward.open_reward_model(reward_dir)
    for param in reward_model.parameters():
        param.requires_grad_(False)
    scorer = Scorer(
        reward_model.to(env.dist.device), reward_tokenizer, packed, data.max_prompt_length + config.ppo.max_new_tokens
    )

    loop.seed_everything(config.run.seed)
    policy = load.load_causal_lm(policy_dir, attn)
    load.fit_embeddings(policy, tokenizer)
    reference = load.load_causal_lm(policy_dir, attn).eval()
    load.fit_embeddings(reference, tokenizer)
    for param in reference.parameters():
        param.requires_grad_(False)
    critic, critic_source = build_critic(
        config.ppo.critic, policy_dir, reward_dir, reward_model, tokenizer, reward_tokenizer, attn
    )
    model = ActorCritic(policy, critic)
    task = PPOTask(
        model, reference.to(env.dist.device), scorer, tokenizer, train, held_out, config, env.dist, env.run_dir
    )
    if env.dist.is_main:
        ppo = config.ppo
        print(
            f"ppo: policy {policy_dir} ({load.count_parameters(policy) / 1e6:.1f}M), reward model {reward_dir} "
            f"({load.count_parameters(reward_model) / 1e6:.1f}M), critic from {critic_source}; "
            f"{len(train)} prompts, {len(held_out)} held out; {task.total_steps // task.steps_per_iteration} "
            f"iterations of {ppo.rollout_batch_size} answers x {ppo.ppo_epochs} epochs"
        )
    final = loop.run(env, task)
    if env.dist.is_main:
        summary = ppo_summary(env.run_dir)
        if summary:
            (final / "ppo_report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            print("ppo: held-out " + "  ".join(f"{k} {v:.4g}" for k, v in summary.items()))
    return final


def ppo_summary(run_dir: Path) -> dict[str, float]:
    """Held-out reward and KL at the start (the SFT policy) and at the end, from metrics.jsonl."""
    from alignkit.train.metrics import read_metrics

    evals = [r for r in read_metrics(run_dir / "metrics.jsonl") if "eval_reward" in r]
    if len(evals) < 2:
        return {}
    start, end = evals[0], evals[-1]
    return {
        "start_reward": start["eval_reward"],
        "final_reward": end["eval_reward"],
        "start_greedy_reward": start["eval_greedy_reward"],
        "final_greedy_reward": end["eval_greedy_reward"],
        "final_kl": end["eval_kl"],
        "final_answer_length": end["eval_answer_length"],
    }
