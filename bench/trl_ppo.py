"""TRL's side of the PPO benchmark: a few iterations of TRL's `PPOTrainer` (policy, reference, reward model, critic).

Runs in the benchmark's own PPO environment (bench/requirements-trl-ppo.txt), never in alignkit's:

    python3 -m venv bench/.venv-trl-ppo && bench/.venv-trl-ppo/bin/pip install -r bench/requirements-trl-ppo.txt
    OMP_NUM_THREADS=2 bench/.venv-trl-ppo/bin/python bench/trl_ppo.py --policy SFT_DIR --reward RM_DIR \
        --prompts prompts.jsonl --iterations 3 --rollout-batch-size 16 --mini-batch-size 8 --ppo-epochs 2 \
        --max-new-tokens 32 --out bench/results/trl-ppo.json

TRL 1.12.0 is the last release that ships a PPO trainer (`trl.experimental.ppo`; 0.25 and older had it as
`trl.PPOTrainer`, which this script also accepts). Its design: a policy (causal LM), a frozen reference copy, a frozen
reward model and a trainable critic (both `AutoModelForSequenceClassification`, one label). Every prompt row
(`{"prompt": "..."}`) is rendered with the policy tokenizer's chat template (generation prompt on), left-padded.

One iteration = one rollout batch: sample answers (temperature 1, no top-k/top-p, at most `--max-new-tokens`,
stopping at `--stop-token`), score them (reference log-probs, critic values, reward), GAE (gamma 1, lambda 0.95,
fixed KL coefficient), then `--ppo-epochs` passes over the rollout in minibatches of `--mini-batch-size` (one
optimizer step each). CPU, fp32, no checkpoints, no logging integrations.

The iteration is timed by wrapping the functions TRL's training loop calls by module-level name (see `PhaseTimer`):
`batch_generation` (generation), `forward` without grad (reference forward) and `get_reward` (critic and reward model
forwards) = scoring, and `forward` with grad + `accelerator.backward` + `optimizer.step/zero_grad` = training.
Writes one JSON (`--out`) with per-iteration times, the split, token counts, TRL's own metrics and the configuration,
and prints it on one line.
"""

from __future__ import annotations

import os

import trl_common  # first: it notes the start time and caps the threads before torch is imported

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # no TRL experimental banner

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import measure  # noqa: E402
import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    TrainerCallback,
)

try:  # TRL 0.26 - 1.12
    import trl.experimental.ppo.ppo_trainer as ppo_module
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    PPO_IMPORT = "trl.experimental.ppo"
except ImportError:  # TRL 0.11 - 0.25 (and 0.26 - 0.28's deprecated alias)
    import trl.trainer.ppo_trainer as ppo_module
    from trl import PPOConfig, PPOTrainer

    PPO_IMPORT = "trl"


def encode_prompts(tokenizer, prompts: list[str], max_prompt_length: int) -> Dataset:
    """Chat-template every prompt (generation prompt on); keep the last `max_prompt_length` tokens."""
    rows = []
    for prompt in prompts:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        rows.append(ids[-max_prompt_length:])
    return Dataset.from_dict({"input_ids": rows})


class PhaseTimer(trl_common.IterationTimer, TrainerCallback):
    """Splits each PPO iteration of TRL's `train()` loop into generation, scoring and training.

    TRL's loop calls these by their module-level names, so replacing them in the trainer module is enough:
      - `batch_generation(policy, queries, ...)`: all of the rollout's sampling (`policy.generate`, KV cache, with
        `output_scores=True`: TRL takes the rollout log-probs from these scores, not from another forward).
      - `forward(model, query_responses, pad)`: without grad it is the reference policy's forward (scoring); with
        grad it is the policy+critic forward of a training minibatch.
      - `get_reward(model, ...)`: the critic's values over the rollout (model = the value model) and the reward
        model's score (model = the reward model), both scoring.
    and on the trainer's own objects: `accelerator.backward` and `optimizer.step` / `optimizer.zero_grad`.
    An iteration runs from the previous iteration's `on_step_end` (or `on_train_begin`) to its own `on_step_end`;
    `rollout_other_s` is the rest of the rollout phase (prompt batch, log-softmax of the sampled logits, stop-token
    truncation, GAE, whitening, TRL's gc.collect), `training_s` runs from the first training forward to the metrics
    log, and `tail_s` from that log to the end of the iteration.
    """

    def __init__(self, sync):
        super().__init__(sync)
        self.stop_token_id: int | None = None
        self.pad_token_id: int | None = None

    def _new(self) -> dict:
        return {
            "generation_s": 0.0,
            "ref_forward_s": 0.0,
            "value_forward_s": 0.0,
            "reward_forward_s": 0.0,
            "train_forward_s": 0.0,
            "backward_s": 0.0,
            "optimizer_s": 0.0,
            "generate_calls": 0,
            "train_microbatches": 0,
            "optimizer_steps": 0,
            "prompts": 0,
            "prompt_tokens": 0,
            "padded_prompt_length": 0,
            "generated_tokens": 0,
            "generated_positions": 0,
            "generated_length": 0,
            "answers_stopped": 0,
            "pad_sampled": 0,
            "_train_begin": None,
            "_log_time": None,
        }

    # -- wrappers -------------------------------------------------------------------------------------------------
    def install(self, trainer) -> None:
        reward_model = trainer.reward_model
        original_generation = ppo_module.batch_generation
        original_forward = ppo_module.forward
        original_get_reward = ppo_module.get_reward

        def batch_generation(model, queries, *args, **kwargs):
            start = self.now()
            query_responses, logits = original_generation(model, queries, *args, **kwargs)
            seconds = self.now() - start
            record = self._current
            record["generation_s"] += seconds
            record["generate_calls"] += 1
            self._count_tokens(record, queries, query_responses)
            return query_responses, logits

        def forward(model, query_responses, pad_token_id):
            start = self.now()
            output = original_forward(model, query_responses, pad_token_id)
            end = self.now()
            record = self._current
            if torch.is_grad_enabled():
                if record["_train_begin"] is None:
                    record["_train_begin"] = start
                record["train_forward_s"] += end - start
                record["train_microbatches"] += 1
            else:
                record["ref_forward_s"] += end - start
            return output

        def get_reward(model, query_responses, pad_token_id, context_length):
            start = self.now()
            output = original_get_reward(model, query_responses, pad_token_id, context_length)
            key = "reward_forward_s" if model is reward_model else "value_forward_s"
            self._current[key] += self.now() - start
            return output

        ppo_module.batch_generation = batch_generation
        ppo_module.forward = forward
        ppo_module.get_reward = get_reward

        accelerator = trainer.accelerator
        accelerator.backward = self.timed(accelerator.backward, "backward_s")

        optimizer = trainer.optimizer  # accelerate's wrapper; train() reads self.optimizer once, at its start
        original_step = optimizer.step

        def step(*args, **kwargs):
            start = self.now()
            result = original_step(*args, **kwargs)
            self._current["optimizer_s"] += self.now() - start
            if not getattr(optimizer, "step_was_skipped", False) and accelerator.sync_gradients:
                self._current["optimizer_steps"] += 1
            return result

        optimizer.step = step
        optimizer.zero_grad = self.timed(optimizer.zero_grad, "optimizer_s")

    def _count_tokens(self, record: dict, queries: torch.Tensor, query_responses: torch.Tensor) -> None:
        context = queries.shape[1]
        responses = query_responses[:, context:]
        rows, length = responses.shape
        record["prompts"] += rows
        record["prompt_tokens"] += int((queries != self.pad_token_id).sum())
        record["padded_prompt_length"] = max(record["padded_prompt_length"], context)
        record["generated_positions"] += rows * length
        record["generated_length"] = max(record["generated_length"], length)
        if self.stop_token_id is None:
            lengths = torch.full((rows,), length)
            stopped = torch.zeros(rows, dtype=torch.bool)
        else:
            is_stop = responses == self.stop_token_id
            stopped = is_stop.any(1)
            first = torch.where(stopped, is_stop.int().argmax(1), torch.full((rows,), length, device=is_stop.device))
            lengths = torch.where(stopped, first + 1, first)  # the stop token is generated, so it counts
        positions = torch.arange(length, device=responses.device).unsqueeze(0)
        before_end = positions < lengths.to(responses.device).unsqueeze(1)
        record["generated_tokens"] += int(lengths.sum())
        record["answers_stopped"] += int(stopped.sum())
        # A pad token sampled inside an answer: TRL's masks (token == pad) then treat it as padding.
        record["pad_sampled"] += int(((responses == self.pad_token_id) & before_end).sum())

    # -- callbacks ------------------------------------------------------------------------------------------------
    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._current is not None and self._current["_log_time"] is None:
            self._current["_log_time"] = self.now()
            self._current["trl_metrics"] = dict(logs or {})

    def _complete(self, record: dict, end: float) -> None:
        train_begin = record.pop("_train_begin") or end
        log_time = record.pop("_log_time") or end
        record["rollout_s"] = train_begin - self._begin
        record["scoring_s"] = record["ref_forward_s"] + record["value_forward_s"] + record["reward_forward_s"]
        record["rollout_other_s"] = record["rollout_s"] - record["generation_s"] - record["scoring_s"]
        record["training_s"] = log_time - train_begin
        record["train_other_s"] = (
            record["training_s"] - record["train_forward_s"] - record["backward_s"] - record["optimizer_s"]
        )
        record["tail_s"] = end - log_time


def summarize(iterations: list[dict], skip_first: bool) -> dict:
    """Medians (and sums) over the iterations, the first left out when there are at least two and `skip_first`."""
    kept = measure.steady(iterations, keep_first=not skip_first)
    keys = [
        "total_s", "generation_s", "scoring_s", "ref_forward_s", "value_forward_s", "reward_forward_s",
        "rollout_other_s", "training_s", "train_forward_s", "backward_s", "optimizer_s", "train_other_s", "tail_s",
        "cpu_s",
    ]  # fmt: skip
    return {
        **measure.medians(kept, keys),
        "generated_tokens": sum(row["generated_tokens"] for row in kept),
        **measure.token_rates(kept),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, required=True, help="causal LM dir with a chat-template tokenizer")
    parser.add_argument("--reward", type=Path, required=True, help="sequence-classification dir (num_labels=1)")
    parser.add_argument("--value", type=Path, default=None, help="critic's start (default: the reward dir)")
    parser.add_argument("--prompts", type=Path, required=True, help='JSONL, rows with a "prompt" string')
    parser.add_argument("--iterations", type=int, default=3, help="PPO iterations (rollout batches)")
    parser.add_argument("--rollout-batch-size", type=int, default=16, help="prompts sampled per iteration")
    parser.add_argument("--mini-batch-size", type=int, default=8, help="rows per optimizer step")
    parser.add_argument("--ppo-epochs", type=int, default=2, help="passes over each rollout")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="TRL's response_length")
    parser.add_argument(
        "--rollout-forward-batch-size", type=int, default=None,
        help="rows per generate / scoring forward in the rollout (TRL's local_rollout_forward_batch_size); "
        "default: the whole rollout batch at once",
    )  # fmt: skip
    parser.add_argument("--max-prompt-length", type=int, default=256, help="prompt tokens kept (the end)")
    parser.add_argument(
        "--stop-token", default="eos",
        help="'eos' (TRL's stop_token='eos': the tokenizer's eos), 'none', or a token such as '<|im_end|>' "
        "(TRL's stop_token_id); TRL takes one stop token only",
    )  # fmt: skip
    parser.add_argument("--kl-coef", type=float, default=0.05, help="fixed per-token KL penalty (k1 estimator)")
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="AdamW, constant, no weight decay")
    parser.add_argument("--missing-eos-penalty", type=float, default=None)
    parser.add_argument("--suppress-pad", action="store_true", help="never sample the pad token (off: plain sampling)")
    trl_common.add_run_arguments(parser)
    args = parser.parse_args(argv)

    if args.rollout_batch_size % args.mini_batch_size:
        parser.error("--rollout-batch-size must be a multiple of --mini-batch-size")
    sync = trl_common.setup(args)

    load_start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.policy)
    tokenizer.padding_side = "left"  # TRL's rollout appends the answer after the (left-padded) prompt
    if not tokenizer.chat_template:
        raise SystemExit(f"{args.policy}: the tokenizer has no chat template")
    if args.stop_token == "eos":
        stop = {"stop_token": "eos"}
        stop_token_id = tokenizer.eos_token_id
    elif args.stop_token == "none":
        stop = {"stop_token": None, "stop_token_id": None}
        stop_token_id = None
    else:
        stop_token_id = tokenizer.convert_tokens_to_ids(args.stop_token)
        if not isinstance(stop_token_id, int) or stop_token_id == tokenizer.unk_token_id:
            raise SystemExit(f"{args.stop_token!r} is not one token of the policy's vocabulary")
        stop = {"stop_token": None, "stop_token_id": stop_token_id}
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id in (stop_token_id, tokenizer.eos_token_id):
        # TRL masks by `token == pad`: a pad that is also the stop token would hide every answer's end.
        raise SystemExit(f"{args.policy}: the tokenizer needs a pad token distinct from eos and the stop token")

    common = dict(dtype=torch.float32, attn_implementation=args.attn_implementation)
    policy = AutoModelForCausalLM.from_pretrained(args.policy, **common)
    ref_policy = AutoModelForCausalLM.from_pretrained(args.policy, **common)
    reward_model = AutoModelForSequenceClassification.from_pretrained(args.reward, num_labels=1, **common)
    value_model = AutoModelForSequenceClassification.from_pretrained(args.value or args.reward, num_labels=1, **common)
    for model in (policy, ref_policy, reward_model, value_model):
        model.config.pad_token_id = tokenizer.pad_token_id
    reward_model.requires_grad_(False)
    if args.suppress_pad:
        policy.generation_config.suppress_tokens = [tokenizer.pad_token_id]
    load_seconds = time.perf_counter() - load_start

    prompts = [row["prompt"] for row in trl_common.read_prompt_rows(args.prompts)]
    if len(prompts) < args.rollout_batch_size:
        raise SystemExit(f"{args.prompts}: {len(prompts)} prompts, fewer than one rollout batch")
    dataset = encode_prompts(tokenizer, prompts, args.max_prompt_length)

    output_dir = Path(tempfile.mkdtemp(prefix="trl-ppo-"))  # PPOConfig wants one; nothing is saved in it
    config = PPOConfig(
        output_dir=str(output_dir),
        # One rollout batch per iteration; micro batch = minibatch (no accumulation): TRL steps the optimizer through
        # accelerate's `accumulate`, which with gradient_accumulation_steps > 1 and several minibatches would step
        # once per gradient_accumulation_steps microbatches across minibatch boundaries.
        per_device_train_batch_size=args.rollout_batch_size,
        gradient_accumulation_steps=1,
        num_mini_batches=args.rollout_batch_size // args.mini_batch_size,
        local_rollout_forward_batch_size=args.rollout_forward_batch_size or args.rollout_batch_size,
        total_episodes=args.iterations * args.rollout_batch_size,
        num_ppo_epochs=args.ppo_epochs,
        response_length=args.max_new_tokens,
        temperature=1.0,
        **stop,
        missing_eos_penalty=args.missing_eos_penalty,
        kl_coef=args.kl_coef,
        kl_estimator="k1",
        whiten_rewards=False,
        gamma=1.0,
        lam=0.95,
        cliprange=0.2,
        cliprange_value=0.2,
        vf_coef=0.1,
        learning_rate=args.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        num_sample_generations=0,
        **trl_common.quiet_training_arguments(args),
    )
    timer = PhaseTimer(sync)
    trainer = PPOTrainer(
        args=config,
        processing_class=tokenizer,
        model=policy,
        ref_model=ref_policy,
        reward_model=reward_model,
        value_model=value_model,
        train_dataset=dataset,
        eval_dataset=dataset.select(range(args.rollout_batch_size)),
        callbacks=[timer],
    )
    timer.stop_token_id = trainer.stop_token_id
    timer.pad_token_id = tokenizer.pad_token_id
    timer.install(trainer)

    train_seconds = trl_common.train(trainer, output_dir)

    iterations = timer.iterations
    result = {
        "implementation": "trl",
        **trl_common.versions(),
        "ppo_import": PPO_IMPORT,
        "config": {
            "policy": str(args.policy.resolve()),
            "reward": str(args.reward.resolve()),
            "value": str((args.value or args.reward).resolve()),
            "prompts": str(args.prompts.resolve()),
            "prompt_rows": len(prompts),
            "iterations": args.iterations,
            "rollout_batch_size": args.rollout_batch_size,
            "mini_batch_size": args.mini_batch_size,
            "micro_batch_size": args.mini_batch_size,
            "optimizer_steps_per_iteration": args.ppo_epochs * (args.rollout_batch_size // args.mini_batch_size),
            "rollout_forward_batch_size": config.local_rollout_forward_batch_size,
            "ppo_epochs": args.ppo_epochs,
            "max_new_tokens": args.max_new_tokens,
            "max_prompt_length": args.max_prompt_length,
            "temperature": 1.0,
            "top_k": 0,
            "top_p": 1.0,
            "suppress_pad": args.suppress_pad,
            "stop_token": args.stop_token,
            "stop_token_id": trainer.stop_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "kl_coef": args.kl_coef,
            "kl_estimator": "k1",
            "adaptive_kl": False,
            "gamma": 1.0,
            "lam": 0.95,
            "cliprange": 0.2,
            "cliprange_value": 0.2,
            "vf_coef": 0.1,
            "whiten_rewards": False,
            "whiten_advantages": True,
            "missing_eos_penalty": args.missing_eos_penalty,
            "learning_rate": args.learning_rate,
            "lr_schedule": "constant",
            "optimizer": type(trainer.optimizer.optimizer).__name__,
            "dtype": "float32",
            "attn_implementation": args.attn_implementation,
            "device": args.device,
            "seed": args.seed,
            "policy_parameters": sum(p.numel() for p in policy.parameters()),
            "value_parameters": sum(p.numel() for p in value_model.parameters()),
        },
        "load_seconds": round(load_seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "total_seconds": trl_common.seconds_since_start(),
        "summary": summarize(iterations, skip_first=not args.keep_first),
        "iterations": iterations,
        "timing_notes": PhaseTimer.__doc__,
    }
    trl_common.write_result(args.out, result)


if __name__ == "__main__":
    main()
