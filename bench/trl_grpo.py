"""TRL's side of the GRPO benchmark: a few optimizer steps of TRL's `GRPOTrainer`, one generation per step, CPU fp32.

Runs in the benchmark's own TRL environment (bench/requirements-trl.txt), never in alignkit's:

    python3 -m venv bench/.venv-trl && bench/.venv-trl/bin/pip install -r bench/requirements-trl.txt
    OMP_NUM_THREADS=2 bench/.venv-trl/bin/python bench/trl_grpo.py --policy SFT_DIR --prompts prompts.jsonl \
        --iterations 3 --out bench/results/trl-grpo.json

Prompts: a JSONL of {"prompt": "text", ...} rows; every prompt becomes one user message ([{"role": "user", "content":
text}]), so TRL renders it with the policy's chat template (generation prompt on); the other fields (e.g. max_steps)
reach the reward function by name. `--row-order FILE` (a JSON list of row indices) feeds the rows in that order with
TRL's shuffling off; without it TRL shuffles them (its default, seeded). The reward is a Python function named as
`path/file.py:function` and loaded by path (default: src/alignkit/rules.py:step_format, the demo's rule, which needs
nothing but the standard library and reads TRL's conversational completions), called as f(prompts, completions,
**fields).

One iteration = one optimizer step = one generation: `--prompts-per-iteration` prompts x `--group-size` answers
(num_generations), trained in micro-batches of `--micro-batch-size` answers (per_device_train_batch_size) with
gradient accumulation over the rest (steps_per_generation = gradient_accumulation_steps, num_iterations 1: the
"old" log-probs are the current ones, no extra forward), loss_type "dapo" (token-level: the clipped surrogate summed
over every answer token of the step, divided by the step's answer tokens), beta 0 (no reference model),
scale_rewards "group", sampling at temperature 1 with no top-k / top-p / min-p / repetition penalty, transformers'
`generate` (no vLLM, no continuous batching), no gradient checkpointing, no logging of completions.

Timing (see `PhaseTimer`): an iteration runs from the previous `on_step_end` (or `on_train_begin`) to its own;
generation = TRL's `_generate` (chat template + tokenization of the prompts, one `generate` call for all the
answers, cut at the first eos, decoding to text, TRL's length metrics); scoring = the rest of
`_generate_and_score_completions` (padding to tensors, the reward function, group advantages, metrics); training =
the rest of the iteration (the micro-batches' forward, loss and backward, clipping, optimizer step, TRL's logging).
Writes one JSON (`--out`) with the per-iteration times, token counts, TRL's own metrics and the configuration, and
prints it on one line.
"""

from __future__ import annotations

import trl_common  # first: it notes the start time and caps the threads before torch is imported

# isort: split
import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path

import measure
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REWARD = f"{ROOT / 'src' / 'alignkit' / 'rules.py'}:step_format"
ROW_INDEX = "bench_row_index"  # a column added to the dataset: which prompts each iteration drew


def load_reward(spec: str):
    """`path/file.py:function` -> the function."""
    where, _, name = spec.rpartition(":")
    path = Path(where)
    if not where.endswith(".py") or not path.is_file():
        raise SystemExit(f"--reward: expected path/file.py:function, got {spec!r}")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    function = getattr(module, name, None)
    if not callable(function):
        raise SystemExit(f"--reward: {where} has no function {name!r}")
    return function


def conversational_dataset(rows: list[dict], order: list[int] | None) -> Dataset:
    """Rows as TRL's conversational prompts (one user turn each), in `order` when given; other fields kept."""
    indices = order if order is not None else list(range(len(rows)))
    keys = sorted({key for row in rows for key in row if key != "prompt"})
    columns: dict[str, list] = {"prompt": [], ROW_INDEX: [], **{key: [] for key in keys}}
    for index in indices:
        row = rows[index]
        columns["prompt"].append([{"role": "user", "content": row["prompt"]}])
        columns[ROW_INDEX].append(index)
        for key in keys:
            columns[key].append(row.get(key))
    return Dataset.from_dict(columns)


def check_prompt_rendering(tokenizer, rows: list[dict]) -> dict:
    """TRL tokenizes conversations with `apply_chat_template(tokenize=True)`; alignkit renders the template to text
    and tokenizes that without special tokens. Do they give the same ids, prompt by prompt?"""
    mismatched, lengths = [], []
    for index, row in enumerate(rows):
        messages = [{"role": "user", "content": row["prompt"]}]
        trl_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        trl_ids = list(trl_ids["input_ids"])
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        alignkit_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        lengths.append(len(trl_ids))
        if trl_ids != alignkit_ids:
            mismatched.append(index)
    return {
        "prompts": len(rows),
        "same_ids_as_alignkit_rendering": not mismatched,
        "mismatched_rows": mismatched[:20],
        "prompt_tokens_max": max(lengths),
        "prompt_tokens_mean": round(statistics.mean(lengths), 2),
        "first_prompt_rendered": tokenizer.apply_chat_template(
            [{"role": "user", "content": rows[0]["prompt"]}], add_generation_prompt=True, tokenize=False
        ),
    }


class PhaseTimer(trl_common.IterationTimer, TrainerCallback):
    """Splits each optimizer step (= one generation here) of TRL's `train()` into generation, scoring and training.

    It wraps, on the trainer instance, the methods TRL's GRPO loop calls through `self.`:
      - `_generate(prompts)`: chat template + tokenization of the prompts, `generate` (KV cache, all the generation
        batch's answers in one call, stopping when every row has an eos), cutting each answer after its first eos,
        decoding to text, length metrics. This is generation.
      - `_generate_and_score_completions(inputs)`: `_generate`, then padding to tensors, the reward function
        (`_calculate_rewards`, also timed alone as `reward_fn_s`), group advantages and metrics; with num_iterations
        1 and steps_per_generation = gradient_accumulation_steps, no policy forward (the old log-probs are the current
        ones) and, with beta 0, no reference forward. Scoring = this minus generation.
    Training = the iteration minus both: the micro-batches' forward (log-probs and entropies through TRL's fused LM
    head), loss and backward, gradient clipping, the optimizer step, and TRL's metrics logging (`on_log` follows
    `on_step_end`, so a step's log falls into the next iteration, as alignkit's metrics line does).
    """

    def __init__(self, sync, eos_token_ids: list[int]):
        super().__init__(sync)
        self.eos_token_ids = set(eos_token_ids)

    def _new(self) -> dict:
        return {
            "rollout_s": 0.0,
            "generation_s": 0.0,
            "reward_fn_s": 0.0,
            "rollouts": 0,
            "answers": 0,
            "generated_tokens": 0,
            "answers_ended": 0,
            "max_answer_length": 0,
            "prompt_rows": [],
        }

    def install(self, trainer) -> None:
        original_rollout = trainer._generate_and_score_completions
        original_generate = trainer._generate

        def generate_and_score(inputs):
            start = self.now()
            output = original_rollout(inputs)
            self._current["rollout_s"] += self.now() - start
            self._current["rollouts"] += 1
            group = trainer.num_generations
            self._current["prompt_rows"] += [row.get(ROW_INDEX) for row in inputs[::group]]
            return output

        def generate(prompts):
            start = self.now()
            output = original_generate(prompts)
            self._current["generation_s"] += self.now() - start
            completion_ids = output[1]
            record = self._current
            record["answers"] += len(completion_ids)
            # Each answer's tokens up to and including its eos (TRL cuts what follows), as alignkit counts them.
            record["generated_tokens"] += sum(len(ids) for ids in completion_ids)
            record["answers_ended"] += sum(1 for ids in completion_ids if ids and ids[-1] in self.eos_token_ids)
            record["max_answer_length"] = max([record["max_answer_length"], *(len(ids) for ids in completion_ids)])
            return output

        trainer._generate_and_score_completions = generate_and_score
        trainer._generate = generate
        trainer._calculate_rewards = self.timed(trainer._calculate_rewards, "reward_fn_s")

    def on_log(self, args, state, control, logs=None, **kwargs):
        # The log of step N comes right after its on_step_end: attach it to that iteration.
        if self.iterations and "trl_metrics" not in self.iterations[-1]:
            self.iterations[-1]["trl_metrics"] = {k: v for k, v in (logs or {}).items() if isinstance(v, int | float)}

    def _complete(self, record: dict, end: float) -> None:
        record["scoring_s"] = record["rollout_s"] - record["generation_s"]
        record["training_s"] = record["total_s"] - record["rollout_s"]
        record["answers_ended"] = record["answers_ended"] / max(record["answers"], 1)


def summarize(iterations: list[dict], skip_first: bool) -> dict:
    """Medians over the iterations, the first left out when there are at least two and `skip_first`."""
    kept = measure.steady(iterations, keep_first=not skip_first)
    keys = ("total_s", "generation_s", "scoring_s", "reward_fn_s", "training_s", "cpu_s", "generated_tokens")
    return {**measure.medians(kept, keys), **measure.token_rates(kept)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, required=True, help="causal LM dir with a chat-template tokenizer")
    parser.add_argument("--prompts", type=Path, required=True, help='JSONL, rows with a "prompt" string')
    parser.add_argument("--row-order", type=Path, help="JSON list of row indices: feed the rows so, unshuffled")
    parser.add_argument("--reward", default=DEFAULT_REWARD, help="path/file.py:function")
    parser.add_argument("--iterations", type=int, default=3, help="optimizer steps (one generation each)")
    parser.add_argument("--prompts-per-iteration", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=8, help="answers per prompt (num_generations)")
    parser.add_argument("--micro-batch-size", type=int, default=16, help="answers per forward/backward")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="max_completion_length")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="AdamW, constant, no warmup or decay")
    parser.add_argument("--adam-beta2", type=float, default=0.999)
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="0: no clipping")
    parser.add_argument("--loss-type", default="dapo", help="TRL's loss_type (dapo: token-level over the step)")
    trl_common.add_run_arguments(parser)
    args = parser.parse_args(argv)

    answers = args.prompts_per_iteration * args.group_size
    if answers % args.micro_batch_size:
        parser.error("--prompts-per-iteration x --group-size must be a multiple of --micro-batch-size")
    sync = trl_common.setup(args)

    load_start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.policy)
    tokenizer.padding_side = "left"  # GRPOTrainer requires it
    if not tokenizer.chat_template:
        raise SystemExit(f"{args.policy}: the tokenizer has no chat template")
    if tokenizer.pad_token_id is None:
        raise SystemExit(f"{args.policy}: the tokenizer has no pad token")
    policy = AutoModelForCausalLM.from_pretrained(
        args.policy, dtype=torch.float32, attn_implementation=args.attn_implementation
    )
    reward = load_reward(args.reward)
    load_seconds = time.perf_counter() - load_start

    rows = trl_common.read_prompt_rows(args.prompts)
    order = json.loads(args.row_order.read_text()) if args.row_order else None
    dataset = conversational_dataset(rows, order)
    if len(dataset) < args.prompts_per_iteration:
        raise SystemExit(f"{args.prompts}: {len(dataset)} prompts, fewer than one iteration's")
    prompt_check = check_prompt_rendering(tokenizer, rows)

    output_dir = Path(tempfile.mkdtemp(prefix="trl-grpo-"))  # GRPOConfig wants one; nothing is saved in it
    config = GRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=answers // args.micro_batch_size,
        # steps_per_generation defaults to gradient_accumulation_steps: one generation of `answers` per step.
        num_generations=args.group_size,
        max_completion_length=args.max_new_tokens,
        max_steps=args.iterations,
        num_iterations=1,
        shuffle_dataset=order is None,
        remove_unused_columns=False,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        min_p=None,
        repetition_penalty=1.0,
        use_vllm=False,
        use_transformers_continuous_batching=False,
        beta=0.0,
        epsilon=0.2,
        scale_rewards="group",
        loss_type=args.loss_type,
        importance_sampling_level="token",
        mask_truncated_completions=False,
        top_entropy_quantile=1.0,
        entropy_coef=0.0,
        learning_rate=args.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        adam_beta1=0.9,
        adam_beta2=args.adam_beta2,
        adam_epsilon=1e-8,
        max_grad_norm=args.max_grad_norm,
        log_completions=False,
        **trl_common.quiet_training_arguments(args),
    )
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=reward,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    timer = PhaseTimer(sync, trainer.eos_token_ids)
    trainer.add_callback(timer)
    timer.install(trainer)

    train_seconds = trl_common.train(trainer, output_dir)

    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    result = {
        "implementation": "trl",
        **trl_common.versions(),
        "config": {
            "policy": str(args.policy.resolve()),
            "prompts": str(args.prompts.resolve()),
            "row_order": str(args.row_order.resolve()) if args.row_order else None,
            "shuffle_dataset": config.shuffle_dataset,
            "reward": args.reward,
            "iterations": args.iterations,
            "prompts_per_iteration": args.prompts_per_iteration,
            "num_generations": config.num_generations,
            "generation_batch_size": config.generation_batch_size,
            "steps_per_generation": config.steps_per_generation,
            "per_device_train_batch_size": config.per_device_train_batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "num_iterations": config.num_iterations,
            "max_completion_length": config.max_completion_length,
            "temperature": config.temperature,
            "top_k": config.top_k,
            "top_p": config.top_p,
            "beta": config.beta,
            "epsilon": config.epsilon,
            "scale_rewards": config.scale_rewards,
            "loss_type": config.loss_type,
            "mask_truncated_completions": config.mask_truncated_completions,
            "eos_token_ids": list(trainer.eos_token_ids),
            "pad_token_id": tokenizer.pad_token_id,
            "learning_rate": config.learning_rate,
            "lr_scheduler_type": getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type),
            "optim": getattr(config.optim, "value", config.optim),
            "optimizer": type(optimizer).__name__,
            "optimizer_fused": bool(optimizer.defaults.get("fused")),
            "adam_betas": [config.adam_beta1, config.adam_beta2],
            "adam_epsilon": config.adam_epsilon,
            "weight_decay": config.weight_decay,
            "max_grad_norm": config.max_grad_norm,
            "gradient_checkpointing": config.gradient_checkpointing,
            "dtype": str(next(policy.parameters()).dtype).removeprefix("torch."),
            "attn_implementation": args.attn_implementation,
            "device": args.device,
            "seed": args.seed,
            "policy_parameters": sum(p.numel() for p in policy.parameters()),
        },
        "prompt_check": prompt_check,
        "load_seconds": round(load_seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "total_seconds": trl_common.seconds_since_start(),
        "summary": summarize(timer.iterations, skip_first=not args.keep_first),
        "iterations": timer.iterations,
        "timing_notes": PhaseTimer.__doc__,
    }
    trl_common.write_result(args.out, result)


if __name__ == "__main__":
    main()
