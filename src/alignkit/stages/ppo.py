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
from alignkit.data.readers import resolve_path, train_and_held_out, write_jsonl
from alignkit.errors import UserError
from alignkit.models import heads, load
from alignkit.models.heads import Labels
from alignkit.stages import reward
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch


class ActorCritic(torch.nn.Module):
    """The two networks PPO trains, as one module: one optimizer, one checkpoint, one DDP wrapper."""

    def __init__(self, policy, critic):
        super().__init__()
        self.policy, self.critic = policy, critic

    def fsdp_roots(self) -> list[torch.nn.Module]:
        """What FSDP shards as roots: the modules called directly (generation calls the policy alone)."""
        return [self.policy, self.critic.base_model, self.critic.score]

    def forward(self, input_ids, attention_mask, position_ids, response_length: int):
        """(logits (B, R, V) that predict the R response tokens, values (B, R) of the states before
        each of them). Rows are prompt + response, the response in the last R positions."""
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
        logits = self.policy(**inputs, logits_to_keep=response_length + 1).logits[:, :-1]
        hidden = self.critic.base_model(**inputs).last_hidden_state[:, -response_length - 1 : -1]
        return logits, self.critic.score(hidden).squeeze(-1)


def response_logprobs(model, batch: dict[str, torch.Tensor], temperature: float) -> torch.Tensor:
    """(B, R) log-probs a causal LM gives the R response tokens of prompt + response rows."""
    response = batch["response_ids"]
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
        logits_to_keep=response.shape[1] + 1,
    ).logits[:, :-1]
    return losses.token_logprobs(logits, response, temperature)


@torch.no_grad()
def logprobs_in_batches(model, rows: dict[str, torch.Tensor], micro: int, temperature: float) -> torch.Tensor:
    """(B, R) response log-probs under `model` in eval mode, `micro` rows at a time, without gradients."""
    was_training = model.training
    model.eval()
    parts = [
        response_logprobs(model, {k: v[start : start + micro] for k, v in rows.items()}, temperature)
        for start in range(0, len(rows["input_ids"]), micro)
    ]
    model.train(was_training)
    return torch.cat(parts)


def sequences_of(samples: rollout.Samples) -> dict[str, torch.Tensor]:
    """Sampled answers after their prompts, as the forward passes read them (`join`)."""
    return join(samples.query_ids, samples.query_mask, samples.response_ids, samples.response_mask)


def join(query_ids, query_mask, response_ids, response_mask) -> dict[str, torch.Tensor]:
    """Prompt + response rows as the forward passes read them: the attention mask covers the whole
    response (as during generation; what follows an answer's end is masked out of every loss) and
    positions count real tokens only, so left padding changes nothing."""
    attention_mask = torch.cat([query_mask, torch.ones_like(response_ids)], dim=1)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return {
        "input_ids": torch.cat([query_ids, response_ids], dim=1),
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "response_ids": response_ids,
        "response_mask": response_mask.float(),
    }


SEQUENCE_KEYS = ("input_ids", "attention_mask", "position_ids", "response_ids", "response_mask")


def gather_rollout(buffer: dict[str, torch.Tensor], pad_id: int) -> dict[str, torch.Tensor]:
    """Every process's rollout rows on every process, in rank order, laid out as one process that
    sampled them all would hold them: prompts left-padded and answers right-padded to the widest.
    Per-token tensors (B, R) are right-padded with zeros, per-answer ones (B,) joined."""
    if not distributed.several():
        return buffer
    response = buffer["response_ids"].shape[1]
    query = buffer["input_ids"].shape[1] - response
    widths = distributed.gather_lists([(query, response)])
    query_width, response_width = max(w[0] for w in widths), max(w[1] for w in widths)
    grow_q, grow_r = query_width - query, response_width - response
    pad = torch.nn.functional.pad
    local = {
        "query_ids": pad(buffer["input_ids"][:, :query], (grow_q, 0), value=pad_id),
        "query_mask": pad(buffer["attention_mask"][:, :query], (grow_q, 0), value=0),
        "response_ids": pad(buffer["response_ids"], (0, grow_r), value=pad_id),
        "response_mask": pad(buffer["response_mask"], (0, grow_r), value=0),
    }
    for key, value in buffer.items():
        if key not in SEQUENCE_KEYS:
            local[key] = pad(value, (0, grow_r), value=0) if value.dim() == 2 else value
    every = {key: distributed.all_gather_cat(value) for key, value in local.items()}
    sequences = join(*(every.pop(k) for k in ("query_ids", "query_mask", "response_ids", "response_mask")))
    return {**sequences, **every}


def masked_moments(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased variance over the masked entries of every process."""
    totals = torch.stack([(values * mask).sum(), (values**2 * mask).sum(), mask.sum()]).double().cpu()
    total, squares, count = distributed.all_reduce_sum(totals).tolist()
    mean = total / max(count, 1)
    var = (squares - count * mean**2) / max(count - 1, 1)
    return torch.tensor(mean, dtype=values.dtype), torch.tensor(max(var, 0.0), dtype=values.dtype)


@dataclass
class Scorer:
    """A frozen reward model and how it reads text: scores prompts-file rows and their answers."""

    model: torch.nn.Module
    tokenizer: object
    packed: bool
    max_length: int

    def __call__(self, records: list[dict], answers: list[str]) -> torch.Tensor:
        conversations: list[Conversation] = [rollout.as_messages(rollout.prompt_of(r)) for r in records]
        encoded = reward.encode_answers(self.tokenizer, conversations, answers, self.max_length)
        return reward.score_encoded(self.model, encoded, 32, self.packed, self.tokenizer.pad_token_id)


class RolloutTask:
    """What PPO and GRPO share. Iteration i covers optimizer steps (i-1) K + 1 .. i K, with K = epochs x
    rollout rows / run.batch_size; at the first of them the policy answers the iteration's prompts and
    the rollout goes into a buffer (saved with each checkpoint); every step then trains on a minibatch
    of it. Held-out evaluation: answers sampled as in training (a fixed seed) and greedy answers, scored
    as in training, with the sampled answers' KL to the reference. Subclasses give `_rollout`, `loss`,
    `policy_of` and `units_of`."""

    def __init__(
        self, model, reference, score, tokenizer, prompts, held_out, config, section, dist: DistInfo, run_dir: Path,
        prompts_per_rollout: int, group_size: int, epochs: int, rollout_key: str,
    ):  # fmt: skip
        self.model, self.reference, self.score_fn, self.tokenizer = model, reference, score, tokenizer
        self.frozen = [m for m in (reference, getattr(score, "model", None)) if isinstance(m, torch.nn.Module)]
        self.config, self.rl, self.prompts, self.held_out, self.run_dir = config, section, prompts, held_out, run_dir
        run = config.run
        rows = prompts_per_rollout * group_size
        if rows % run.batch_size or prompts_per_rollout % dist.world_size:
            raise UserError(
                f"{rollout_key}: a rollout of {rows} answers must be a multiple of run.batch_size {run.batch_size}, "
                f"and its {prompts_per_rollout} prompts a multiple of the number of processes {dist.world_size}"
            )
        self.group_size = group_size
        self.minibatches = rows // run.batch_size
        self.steps_per_iteration = epochs * self.minibatches
        self.total_steps = run.max_steps or section.iterations * self.steps_per_iteration
        self.data_counts = {"prompts": len(prompts)}  # unlabelled: the answers are the policy's own
        self.order = loop.EpochOrder(len(prompts), prompts_per_rollout, run.seed)
        self.flops_per_token = 0.0  # a step's tokens mix generation, scoring and training: no MFU
        self.eval_at_start = True  # the starting policy's held-out reward: what training must beat
        self.buffer: dict[str, torch.Tensor] = {}
        self.buffer_iteration = 0
        self.pending: dict[str, float] = {}

    # -- pieces of a rollout ---------------------------------------------------------------------

    def _records(self, iteration: int, dist: DistInfo) -> tuple[list[dict], list[int]]:
        """This process's share of the iteration's prompts, each repeated group_size times in a row,
        and each row's place in the whole rollout (its sample's seed)."""
        rows = self.order.step_rows(iteration)
        share = len(rows) // dist.world_size
        local = [self.prompts[i] for i in rows[dist.rank * share : (dist.rank + 1) * share]]
        first = dist.rank * share * self.group_size
        places = list(range(first, first + share * self.group_size))
        return [record for record in local for _ in range(self.group_size)], places

    def _seed(self, iteration: int) -> int:
        return self.config.run.seed * 1_000_003 + iteration * 101

    def _sample(self, policy, records: list[dict], seed: int, temperature: float, places: list[int]):
        """(samples, rows for the forward passes, answer texts); the answer in place p of the whole
        rollout is drawn with its own seed, so one process or several draw the same answers."""
        texts = rollout.prompt_texts(self.tokenizer, [rollout.prompt_of(r) for r in records], chat=True)
        sampling = rollout.Sampling(self.rl.max_new_tokens, temperature, 1.0, self.rl.top_k, seed)
        batch, max_prompt = self.rl.generation_batch_size, self.config.data.max_prompt_length
        row_seeds = [hash((seed, place)) & (2**63 - 1) for place in places]
        with distributed.gathered(policy):  # FSDP: generation runs to different lengths on each process
            drawn = rollout.sample(policy, self.tokenizer, texts, sampling, batch, max_prompt, row_seeds)
        answers = self.tokenizer.batch_decode(drawn.response_ids, skip_special_tokens=True)
        return drawn, sequences_of(drawn), answers

    def _logprobs(self, model, rows: dict[str, torch.Tensor]) -> torch.Tensor:
        return logprobs_in_batches(model, rows, self.config.run.micro_batch_size, self.rl.temperature)

    def _score(self, records: list[dict], answers: list[str], ended: torch.Tensor) -> torch.Tensor:
        scores = self.score_fn(records, answers).to(ended.device, torch.float32)
        return scores - self.rl.missing_eos_penalty * (~ended).float()

    def _rollout_stats(self, iteration, scores, mask, ended, started, generated, scored) -> dict[str, float]:
        """Reward, answer length and share ended over every process's answers, and the timings."""
        sums = [scores.sum(), (scores**2).sum(), mask.sum(), ended.sum(), torch.tensor(float(len(scores)))]
        totals = distributed.all_reduce_sum(torch.stack([v.double().cpu() for v in sums])).tolist()
        total, squares, length, ended_count, count = totals
        mean = total / count
        return {
            "iteration": iteration,
            "reward": mean,
            "reward_std": max(squares / count - mean**2, 0.0) ** 0.5,
            "answer_length": length / count,
            "ended": ended_count / count,
            "time_generate_s": generated - started,
            "time_score_s": scored - generated,
        }

    def _write_samples(self, iteration: int, records: list[dict], answers: list[str], scores, dist) -> None:
        every = self.rl.sample_every
        if every and iteration % every == 1 % every:
            rows = [
                {"iteration": iteration, "prompt": rollout.question_of(r), "answer": a, "score": s}
                for r, a, s in zip(records, answers, scores.tolist(), strict=True)
            ]
            rows = distributed.gather_lists(rows)  # every process's answers
            if dist.is_main:
                write_jsonl(self.run_dir / "samples" / f"iteration-{iteration:05d}.jsonl", rows)

    # -- the loop's interface ------------------------------------------------------------------

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        iteration = (step - 1) // self.steps_per_iteration + 1
        if self.buffer_iteration != iteration:
            self._rollout(iteration, dist)
            self.buffer = gather_rollout(self.buffer, self.tokenizer.pad_token_id)
        within = (step - 1) % self.steps_per_iteration
        epoch, minibatch = divmod(within, self.minibatches)
        # the buffer holds every process's rows: a minibatch is the same rows whatever the world size
        all_rows = len(self.buffer["input_ids"])
        generator = torch.Generator().manual_seed(self.config.run.seed * 7919 + iteration * 131 + epoch)
        order = torch.randperm(all_rows, generator=generator)
        size = all_rows // self.minibatches
        share = size // dist.world_size
        rows = order[minibatch * size : (minibatch + 1) * size][dist.rank * share : (dist.rank + 1) * share]
        micro = self.config.run.micro_batch_size
        batches = []
        for start in range(0, len(rows), micro):
            part = rows[start : start + micro]
            tensors = {k: v[part] for k, v in self.buffer.items()}
            batches.append(MicroBatch(tensors, units=self.units_of(tensors), tokens=tensors["input_ids"].numel()))
        return batches

    def step_metrics(self) -> dict[str, float]:
        """The latest rollout's statistics, once (log_every <= the steps of an iteration logs every one)."""
        pending, self.pending = self.pending, {}
        return pending

    @torch.no_grad()
    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        if not self.held_out:
            return {}
        policy = self.policy_of(model)
        places = list(range(dist.rank, len(self.held_out), dist.world_size))
        share = [self.held_out[place] for place in places]
        totals = torch.zeros(5, dtype=torch.float64)
        if share:
            seed = self.config.run.seed + 999_983
            drawn, batch, answers = self._sample(policy, share, seed, self.rl.temperature, places)
            mask = batch["response_mask"]
            scores = self._score(share, answers, drawn.ended).double()  # squares summed in fp64
            kl = torch.zeros(())
            if self.reference is not None:
                log_ratio = self._logprobs(policy, batch) - self._logprobs(self.reference, batch)
                kl = (log_ratio * mask).sum()
            greedy_drawn, _, greedy_answers = self._sample(policy, share, seed, 0.0, places)
            greedy = self._score(share, greedy_answers, greedy_drawn.ended)
            values = [scores.sum(), (scores**2).sum(), kl, mask.sum(), greedy.sum()]
            totals += torch.tensor([v.item() for v in values], dtype=torch.float64)
        reward_sum, squares, kl_sum, length_sum, greedy_sum = distributed.all_reduce_sum(totals).tolist()
        count = len(self.held_out)
        mean = reward_sum / count
        metrics = {
            "eval_reward": mean,
            "eval_reward_std": max(squares / count - mean**2, 0.0) ** 0.5,
            "eval_kl": kl_sum / count,
            "eval_answer_length": length_sum / count,
            "eval_greedy_reward": greedy_sum / count,
        }
        if self.reference is None:
            del metrics["eval_kl"]
        return metrics

    def state_dict(self) -> dict:
        return {
            "buffer": self.buffer,
            "buffer_iteration": self.buffer_iteration,
            "pending": self.pending,  # rollout statistics not logged yet
        }

    def load_state_dict(self, state: dict) -> None:
        self.buffer_iteration, self.pending = state["buffer_iteration"], state.get("pending", {})
        device = next(self.model.parameters()).device
        self.buffer = {k: v.to(device) for k, v in state["buffer"].items()}


class PPOTask(RolloutTask):
    """One optimizer step per minibatch of the rollout; the policy and critic learn together."""

    def __init__(
        self, model: ActorCritic, reference, scorer: Scorer, tokenizer, prompts, held_out, config, dist, run_dir
    ):
        ppo = config.ppo
        super().__init__(
            model, reference, scorer, tokenizer, prompts, held_out, config, ppo, dist, run_dir,
            ppo.rollout_batch_size, 1, ppo.ppo_epochs, "ppo.rollout_batch_size",
        )  # fmt: skip
        self.lr_of = {f"critic.{n}": ppo.critic_lr for n, _ in model.critic.named_parameters()} if ppo.critic_lr else {}
        self.kl_coef = ppo.kl_coef

    def policy_of(self, model):
        return model.policy

    def units_of(self, tensors: dict[str, torch.Tensor]) -> int:
        return int(tensors["response_mask"].sum())

    @torch.no_grad()
    def _forward_all(self, rows: dict[str, torch.Tensor]):
        """Policy log-probs and values of every rollout row (one actor-critic forward), micro-batch by micro-batch."""
        micro = self.config.run.micro_batch_size
        response_length = rows["response_ids"].shape[1]
        logprobs, values = [], []
        was_training = self.model.training
        self.model.eval()
        for start in range(0, len(rows["input_ids"]), micro):
            part = {k: v[start : start + micro] for k, v in rows.items()}
            logits, value = self.model(part["input_ids"], part["attention_mask"], part["position_ids"], response_length)
            logprobs.append(losses.token_logprobs(logits, part["response_ids"], self.rl.temperature))
            values.append(value.float())
        self.model.train(was_training)
        return torch.cat(logprobs), torch.cat(values)

    def _rollout(self, iteration: int, dist: DistInfo) -> None:
        ppo = self.config.ppo
        records, places = self._records(iteration, dist)
        started = time.perf_counter()
        drawn, batch, answers = self._sample(self.model.policy, records, self._seed(iteration), ppo.temperature, places)
        generated = time.perf_counter()
        old_logprobs, values = self._forward_all(batch)
        ref_logprobs = self._logprobs(self.reference, batch)
        scores = self._score(records, answers, drawn.ended)
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

        stats = self._rollout_stats(iteration, scores, mask, drawn.ended, started, generated, scored)
        sequence_kl = (losses.kl_estimate(old_logprobs, ref_logprobs, "k1") * mask).sum(1)
        sequence_k3 = (losses.kl_estimate(old_logprobs, ref_logprobs, "k3") * mask).sum(1)
        kl_sums = torch.stack([sequence_kl.sum(), sequence_k3.sum()]).double().cpu()
        kl_total, k3_total = (distributed.all_reduce_sum(kl_sums) / (len(records) * dist.world_size)).tolist()
        residual_var = masked_moments(returns - values, mask)[1]
        returns_var = masked_moments(returns, mask)[1]
        stats.update(
            kl=kl_total,
            kl_k3=k3_total,
            kl_coef=self.kl_coef,
            explained_variance=1.0 - (residual_var / returns_var.clamp(min=1e-8)).item(),
        )
        if ppo.adaptive_kl:
            count = len(records) * dist.world_size
            self.kl_coef = losses.adaptive_kl_coef(self.kl_coef, stats["kl"], ppo.kl_target, ppo.kl_horizon, count)
        self.pending = stats
        self._write_samples(iteration, records, answers, scores, dist)

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

    def state_dict(self) -> dict:
        return {**super().state_dict(), "kl_coef": self.kl_coef}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.kl_coef = state["kl_coef"]

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


def open_policy(policy_dir: Path, tokenizer, attn: str, frozen: bool = False):
    """The causal LM in policy_dir fitted to the tokenizer; `frozen`: in eval mode without gradients
    (the reference)."""
    model = load.load_causal_lm(policy_dir, attn)
    load.fit_embeddings(model, tokenizer)
    if frozen:
        model.eval().requires_grad_(False)
    return model


def read_prompt_records(path: str, demo: str = reward.DEMO_PREFERENCES) -> list[dict]:
    """A prompts file; 'demo' is the embedded asset `demo`."""
    return rollout.read_prompts(str(resolve_path(path, demo=demo)))


def run(config: PPOConfig) -> Path:
    env = loop.setup(config)
    data = config.data
    train, held_out = train_and_held_out(read_prompt_records, data, config.run.seed)
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
    # the frozen reward model and reference stay where they are: the loop places (or shards) them
    scorer = Scorer(reward_model, reward_tokenizer, packed, data.max_prompt_length + config.ppo.max_new_tokens)

    loop.seed_everything(config.run.seed)
    policy = open_policy(policy_dir, tokenizer, attn)
    reference = open_policy(policy_dir, tokenizer, attn, frozen=True)
    critic, critic_source = build_critic(
        config.ppo.critic, policy_dir, reward_dir, reward_model, tokenizer, reward_tokenizer, attn
    )
    model = ActorCritic(policy, critic)
    task = PPOTask(model, reference, scorer, tokenizer, train, held_out, config, env.dist, env.run_dir)
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
        summary = held_out_summary(env.run_dir)
        if summary:
            (final / "ppo_report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            print("ppo: held-out " + "  ".join(f"{k} {v:.4g}" for k, v in summary.items()))
    return final


def held_out_summary(run_dir: Path) -> dict[str, float]:
    """Held-out reward and KL at the start (the SFT policy) and at the end, from metrics.jsonl."""
    from alignkit.train.metrics import read_metrics

    evals = [r for r in read_metrics(run_dir / "metrics.jsonl") if "eval_reward" in r]
    if len(evals) < 2:
        return {}
    start, end = evals[0], evals[-1]
    summary = {
        "start_reward": start["eval_reward"],
        "final_reward": end["eval_reward"],
        "start_greedy_reward": start["eval_greedy_reward"],
        "final_greedy_reward": end["eval_greedy_reward"],
        "final_kl": end.get("eval_kl"),
        "final_answer_length": end["eval_answer_length"],
    }
    return {k: v for k, v in summary.items() if v is not None}
