"""GRPO step time: `alignkit grpo` side by side with TRL's GRPOTrainer, in one run, as ratios.

Both sides train the same policy (the demo's SFT model, a ChatML Llama whose turns end with <|im_end|>) on the same
prompts (the 600 rows of the embedded GRPO demo, src/alignkit/assets/grpo.jsonl.gz: {"prompt": text, "max_steps": n}),
drawn in the same order, with the same reward function (src/alignkit/rules.py:step_format, the demo's step-format rule,
a file of plain Python that both load by path: `--grpo.reward` for alignkit, importlib for TRL, whose environment has
no alignkit; it reads each row's max_steps), for the same number of iterations. One iteration = one generation and one
optimizer step: 8 prompts x 8 answers = 64 answers, trained in micro-batches of 16 (4 accumulated), one pass (so the
"old" log-probs are the current ones on both sides: no extra forward), at most 128 new tokens, temperature 1 with no
top-k / top-p, stopping at the tokenizer's eos or <|im_end|>, beta 0 (no reference model, no KL), clip 0.2, advantages
= (reward - group mean) / (group std + 1e-4), token-level loss normalisation (the step's summed token losses / the
step's answer tokens: alignkit's grpo.loss_normalisation=token, TRL's loss_type="dapo"), no missing-EOS penalty, fused
AdamW at a constant 1e-4 (no warmup, no weight decay, betas 0.9 / 0.999, eps 1e-8), gradient clipping at norm 1, seed
0. CPU, fp32, 2 threads (OMP_NUM_THREADS=2 for both). Each side runs in its own process, so its peak memory (RSS) is
its own.

TRL lives in its own environment (bench/requirements-trl.txt; TRL 1.16, transformers 5.24, torch 2.13 CPU), never
among alignkit's dependencies. On a quiet machine, from the repository root:

    python3 -m venv bench/.venv-trl && bench/.venv-trl/bin/pip install -r bench/requirements-trl.txt   # once
    .venv/bin/python -c "from alignkit.stages import sft; sft.ensure_demo_model()"   # once, if no runs/demo/sft/final
    .venv/bin/python bench/grpo_throughput.py --json bench/results/grpo_throughput.json

The defaults are the measurement: 6 iterations a run (medians, the first left out as warm-up), 3 runs of each side
alternating (alignkit, TRL, alignkit, ...), the best run of each side (lowest median iteration time) compared.
`--iterations 2 --repeats 1` is a quick check that everything works.

How each iteration is split (generation / scoring / training):
- alignkit: from metrics.jsonl (`--log-every 1`: one record per optimizer step = per iteration). The record carries
  `time_generate_s` (chat-templating and tokenizing the prompts, `generate` with the KV cache in one call for the
  64 answers (`--grpo.generation-batch-size 64`, as TRL's one call for its generation batch), decoding the answers
  to text) and `time_score_s` (the reward function and the group advantages). The
  iteration's time is the difference of `elapsed_s` between consecutive records (the first: its `elapsed_s`, which
  counts from the start of the training loop, after the model is loaded); training = iteration - generation -
  scoring (the micro-batches' forward, loss and backward, clipping, the optimizer step, the metrics line).
  Evaluation is outside `elapsed_s`: the held-out share is 0 (`--data.eval-fraction 0`, so both sides draw from the
  same 600 prompts), the evaluations at the start and the end score no prompts and fall outside the timed steps
  anyway, no mid-run evaluation or checkpoint (`--eval-every 0 --save-every 0`; the final model is written after
  the last record), no sample files, and no reference model (`--grpo.eval-kl false`: TRL loads none with beta 0).
- TRL: bench/trl_grpo.py wraps the trainer's own methods (see its docstring): generation = `_generate` (chat template
  and tokenization, one `generate` call for the whole generation batch, eos cut, decoding), scoring = the rest of
  `_generate_and_score_completions` (tensors, the reward function, advantages), iteration = one `on_step_end` to the
  next; training = iteration - generation - scoring, as for alignkit.

Tokens generated: per iteration, the answers' tokens up to and including their eos / <|im_end|> (alignkit:
`answer_length` x 64; TRL: the lengths of its eos-cut completion ids). Generated tokens per second are given over the
generation phase and over the whole iteration. Answers are sampled, so the two sides draw different answers of
different lengths (different random streams), and generation time follows the length: compare the tokens per second
as well as the seconds. The prompts are the same ones in the same order: the script computes alignkit's draw order
(its seeded per-epoch permutation) and feeds TRL that order unshuffled (`--prompt-order own` lets TRL shuffle).

What could not be matched:
- Attention over finished answers. TRL masks the padding after each answer's eos in its training forward;
  alignkit attends over the whole response width (the loss ignores what follows the end). Same FLOPs per row.
- Log-probs. TRL's training forward projects the hidden states through a fused, tiled LM head that returns only
  the answer tokens' log-probs (and entropies, which it always computes for its metrics); alignkit computes the
  answer positions' logits (logits_to_keep) and their log-softmax.
- Prompt truncation: alignkit keeps the last 256 prompt tokens; TRL 1.16 does not truncate prompts. The demo's
  prompts have at most ~55 tokens, so neither cuts anything (the TRL side checks that its tokenization of every
  prompt equals alignkit's rendering, and reports the longest prompt).

Caveats: CPU timings are noisy on a shared machine (the JSON has each side's process CPU seconds, and TRL's
per-iteration CPU seconds: well under threads x wall seconds means the side waited on other jobs). With the demo
policy a quarter to a third of the answers run to the 128-token limit, so nearly every `generate` call runs all 128
decoding steps (a call lasts as long as its longest answer, however many rows have ended): generation time follows
the number of calls x 128 steps more than the tokens kept. Generation is most of an iteration on both sides.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO_POLICY = ROOT / "runs" / "demo" / "sft" / "final"
DEMO_PROMPTS = ROOT / "src" / "alignkit" / "assets" / "grpo.jsonl.gz"
REWARD_FILE = ROOT / "src" / "alignkit" / "rules.py"
TRL_PYTHON = HERE / ".venv-trl" / "bin" / "python"
# Fixed on both sides (not options): what bench/trl_grpo.py gives TRL's GRPOConfig, and alignkit's options below.
FIXED = {
    "epochs_per_rollout": 1, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "beta": 0.0, "clip": 0.2,
    "scale_rewards": "group std", "loss_normalisation": "token (alignkit token, TRL loss_type dapo)",
    "missing_eos_penalty": 0.0, "lr_schedule": "constant", "warmup_steps": 0, "weight_decay": 0.0,
    "adam_betas": [0.9, 0.999], "adam_eps": 1e-8, "grad_clip": 1.0, "precision": "fp32", "device": "cpu",
    "reward": "src/alignkit/rules.py:step_format",
}  # fmt: skip
# Each side's summary: medians of these over the iterations.
SUMMARY_KEYS = ("total_s", "generation_s", "scoring_s", "training_s", "generated_tokens", "answers_ended")
# The table: (summary key, column title, format).
COLUMNS = [
    ("median_total_s", "iteration s", ".2f"), ("median_generation_s", "generation s", ".2f"),
    ("median_scoring_s", "scoring s", ".3f"), ("median_training_s", "training s", ".2f"),
    ("median_generated_tokens", "tokens generated", ".0f"),
    ("generated_tokens_per_generation_s", "tokens/s (generation)", ".0f"),
    ("generated_tokens_per_iteration_s", "tokens/s (iteration)", ".0f"),
]  # fmt: skip


def write_demo_prompts(path: Path) -> int:
    """The embedded GRPO demo rows as plain JSONL (both sides read it); the number written."""
    count = 0
    with gzip.open(DEMO_PROMPTS, "rt", encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
        for line in source:
            if line.strip():
                out.write(line if line.endswith("\n") else line + "\n")
                count += 1
    return count


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def alignkit_loop():
    """alignkit's training loop module from this checkout's src/ (the code the alignkit side runs), or None where it
    cannot be imported."""
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from alignkit.train import loop
    except Exception as exc:  # torch missing, or a broken checkout: TRL shuffles its own order then, with a note
        print(f"note: cannot import alignkit from {ROOT / 'src'} ({type(exc).__name__}: {exc})", flush=True)
        return None
    return loop


def alignkit_row_order(loop, rows: int, per_iteration: int, iterations: int, seed: int) -> list[int] | None:
    """The prompt rows alignkit's GRPO draws, iteration by iteration (its EpochOrder over the training prompts)."""
    if loop is None:
        return None
    order = loop.EpochOrder(rows, per_iteration, seed)
    return [int(i) for iteration in range(1, iterations + 1) for i in order.step_rows(iteration)]


def alignkit_run(args, prompts: Path, workdir: Path, env: dict) -> dict:
    out = workdir / "alignkit"
    answers = args.prompts_per_iteration * args.group_size
    command = [
        "grpo", "--model", str(args.policy), "--data", str(prompts), "--data.eval-fraction", "0",
        "--grpo.reward", f"{REWARD_FILE}:step_format", "--grpo.iterations", str(args.iterations),
        "--grpo.prompts-per-iteration", str(args.prompts_per_iteration), "--grpo.group-size", str(args.group_size),
        "--grpo.epochs", "1", "--batch-size", str(answers), "--micro-batch-size", str(args.micro_batch_size),
        "--grpo.generation-batch-size", str(answers),
        "--grpo.max-new-tokens", str(args.max_new_tokens), "--grpo.temperature", "1", "--grpo.top-k", "0",
        "--grpo.clip", "0.2", "--grpo.beta", "0", "--grpo.scale-rewards", "true",
        "--grpo.loss-normalisation", "token", "--grpo.missing-eos-penalty", "0", "--grpo.eval-kl", "false",
        "--grpo.sample-every", "0",
        "--lr", str(args.lr), "--optim.schedule", "constant", "--optim.warmup-steps", "0",
        "--optim.weight-decay", "0", "--optim.beta1", "0.9", "--optim.beta2", "0.999", "--optim.eps", "1e-8",
        "--optim.grad-clip", "1.0",
        "--seed", str(args.seed), "--eval-every", "0", "--save-every", "0", "--log-every", "1",
        "--run.plots", "false", "--run.progress", "false", "--run.device", "cpu", "--run.precision", "fp32",
        "--output-dir", str(out), "--overwrite",
    ]  # fmt: skip
    wall, peak_rss, _ = measure.run_alignkit(command, env)
    iterations = []
    for split, record in measure.rollout_iterations(out, args.iterations):  # one optimizer step per iteration
        iterations.append({
            **split,
            "generated_tokens": round(record["answer_length"] * answers),
            "answers_ended": record["ended"],
            "reward": record["reward"],
            "groups_without_signal": record.get("groups_without_signal"),
            "loss": record["loss"],
            "grad_norm": record.get("grad_norm"),
        })  # fmt: skip
    return measure.side_result("alignkit", wall, peak_rss, iterations, summarize(iterations, args.keep_first))


def trl_run(args, prompts: Path, row_order: Path | None, workdir: Path, env: dict) -> dict:
    out = workdir / "trl.json"
    command = [
        str(args.trl_python), str(HERE / "trl_grpo.py"), "--policy", str(args.policy), "--prompts", str(prompts),
        "--reward", f"{REWARD_FILE}:step_format", "--iterations", str(args.iterations),
        "--prompts-per-iteration", str(args.prompts_per_iteration), "--group-size", str(args.group_size),
        "--micro-batch-size", str(args.micro_batch_size), "--max-new-tokens", str(args.max_new_tokens),
        "--learning-rate", str(args.lr), "--adam-beta2", "0.999", "--max-grad-norm", "1.0", "--loss-type", "dapo",
        "--threads", str(args.threads), "--device", "cpu", "--seed", str(args.seed), "--out", str(out),
    ]  # fmt: skip
    if row_order is not None:
        command += ["--row-order", str(row_order)]
    if args.keep_first:
        command.append("--keep-first")
    wall, result = measure.run_json(command, out, env)
    iterations = []
    for row in result["iterations"]:
        iterations.append({
            **measure.phases(row["iteration"], row["total_s"], row["generation_s"], row["scoring_s"]),
            "generated_tokens": row["generated_tokens"],
            "answers_ended": row["answers_ended"],
            "reward": (row.get("trl_metrics") or {}).get("reward"),
            "groups_without_signal": (row.get("trl_metrics") or {}).get("frac_reward_zero_std"),
            "loss": (row.get("trl_metrics") or {}).get("loss"),
            "grad_norm": (row.get("trl_metrics") or {}).get("grad_norm"),
            # TRL only: the reward function alone, the longest answer (the generate call's width), the prompt rows
            # drawn, and the process's CPU seconds over the iteration.
            "reward_fn_s": row["reward_fn_s"],
            "max_answer_length": row["max_answer_length"],
            "prompt_rows": row["prompt_rows"],
            "cpu_s": row["cpu_s"],
        })  # fmt: skip
    summary = summarize(iterations, args.keep_first)
    return {
        **measure.side_result(f"TRL {result['trl_version']}", wall, result["peak_rss_mib"], iterations, summary),
        "versions": {k: result[k] for k in result if k.endswith("_version")},
        "config": result["config"],
        "prompt_check": {k: v for k, v in result["prompt_check"].items() if k != "first_prompt_rendered"},
    }


def summarize(iterations: list[dict], keep_first: bool) -> dict:
    """Medians over the iterations (the first left out unless `keep_first` or it is the only one)."""
    kept = measure.steady(iterations, keep_first)
    return {**measure.medians(kept, SUMMARY_KEYS), **measure.token_rates(kept)}


def notes(args, ours: dict, theirs: dict, expected_rows: list[int] | None) -> list[str]:
    check = theirs["prompt_check"]
    lines = [
        f"prompt tokens: TRL's tokenization {'equals' if check['same_ids_as_alignkit_rendering'] else 'DIFFERS from'}"
        f" alignkit's rendering for {check['prompts']} prompts (longest {check['prompt_tokens_max']} tokens; alignkit "
        f"keeps the last 256)"
    ]
    if expected_rows is not None:
        drawn = [i for row in theirs["iterations"] for i in row["prompt_rows"]]
        same = drawn == expected_rows[: len(drawn)]
        lines.append(f"prompt order: TRL drew {'the same' if same else 'OTHER'} prompts as alignkit, iteration by "
                     f"iteration")  # fmt: skip
    else:
        lines.append("prompt order: each side its own (TRL shuffles with its seed)")
    ended = ours["median_answers_ended"], theirs["median_answers_ended"]
    lines.append(f"answers ended before {args.max_new_tokens} tokens (median share): alignkit {ended[0]:.0%}, "
                 f"TRL {ended[1]:.0%}")  # fmt: skip
    for side in (ours, theirs):
        busy = side["process_cpu_seconds"] / max(side["wall_seconds"] * args.threads, 1e-9)
        if busy < 0.75:
            lines.append(
                f"{side['side']}: {side['process_cpu_seconds']:.0f} CPU s over {side['wall_seconds']:.0f} wall s x "
                f"{args.threads} threads ({busy:.0%} busy): it waited on other work; its times are inflated"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, default=DEMO_POLICY, help="SFT causal LM dir (chat template)")
    parser.add_argument("--prompts", type=Path, help='JSONL of {"prompt": ..., "max_steps": ...}; default: the demo')
    parser.add_argument("--iterations", type=int, default=6, help="generations (= optimizer steps) on each side")
    parser.add_argument("--prompts-per-iteration", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=8, help="answers per prompt")
    parser.add_argument("--micro-batch-size", type=int, default=16, help="answers per forward/backward (both sides)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="answer tokens at most")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-order", choices=("same", "own"), default="same",
                        help="same: TRL draws alignkit's prompts in alignkit's order; own: TRL shuffles")  # fmt: skip
    parser.add_argument("--keep-first", action="store_true", help="count the first (warm-up) iteration in medians")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, alternating; the best is shown")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trl-python", type=Path, default=TRL_PYTHON, help="a Python that has TRL 1.16")
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "grpo")
    parser.add_argument("--json", type=Path, help="write every run (per-iteration times included) here")
    args = parser.parse_args()

    answers = args.prompts_per_iteration * args.group_size
    if answers % args.micro_batch_size:
        parser.error("--prompts-per-iteration x --group-size must be a multiple of --micro-batch-size")
    if not args.policy.is_dir():
        if args.policy == DEMO_POLICY:
            sys.exit(f"no demo policy at {args.policy}: from {ROOT}, run .venv/bin/python -c "
                     f"'from alignkit.stages import sft; sft.ensure_demo_model()' first")  # fmt: skip
        sys.exit(f"--policy: {args.policy} is not a directory")
    if not args.trl_python.exists():
        sys.exit(f"no TRL environment at {args.trl_python}; see this script's docstring")
    args.policy = args.policy.resolve()

    env = measure.side_env(args.threads, TOKENIZERS_PARALLELISM="false")
    args.workdir.mkdir(parents=True, exist_ok=True)
    loop = alignkit_loop()

    with tempfile.TemporaryDirectory(prefix="grpo-bench-") as tmp:
        prompts = args.prompts.resolve() if args.prompts else Path(tmp) / "prompts.jsonl"
        if args.prompts is None:
            print(f"prompts: {write_demo_prompts(prompts)} demo GRPO prompts -> {prompts}", flush=True)
        expected_rows, order_file = None, None
        if args.prompt_order == "same":
            expected_rows = alignkit_row_order(
                loop, count_rows(prompts), args.prompts_per_iteration, args.iterations, args.seed
            )
            if expected_rows is None:
                print("note: alignkit's prompt order is unknown here; TRL shuffles its own", flush=True)
            else:
                order_file = Path(tmp) / "row-order.json"
                order_file.write_text(json.dumps(expected_rows))
        runs = measure.alternate([
            ("alignkit", lambda: alignkit_run(args, prompts, args.workdir, env)),
            ("trl", lambda: trl_run(args, prompts, order_file, args.workdir, env)),
        ], args.repeats, brief_leaves_out=("iterations", "config", "prompt_check"))  # fmt: skip

    best = measure.best(runs)
    ours, theirs = best["alignkit"], best["trl"]
    skipped = "" if args.keep_first or args.iterations < 2 else ", the first left out"
    print(f"\n{measure.machine(args.threads)}")
    print(f"policy {args.policy}; best of {args.repeats} run(s) a side")
    print(f"{args.iterations} iterations (medians{skipped}) of {args.prompts_per_iteration} prompts x "
          f"{args.group_size} answers = {answers} answers, one optimizer step each (micro-batch "
          f"{args.micro_batch_size}), at most {args.max_new_tokens} new tokens; CPU fp32\n")  # fmt: skip
    measure.print_comparison(ours, theirs, COLUMNS)
    print("(TRL / alignkit above 1: TRL takes longer or holds more memory, or, for tokens/s, generates faster)\n")
    rows = []
    for a, t in zip(ours["iterations"], theirs["iterations"], strict=True):
        rows.append([
            a["iteration"], f"{a['total_s']:.2f}", f"{a['generation_s']:.2f}", a["generated_tokens"],
            f"{t['total_s']:.2f}", f"{t['generation_s']:.2f}", t["generated_tokens"],
            f"{t['total_s'] / a['total_s']:.2f}" if a["total_s"] else "-",
        ])  # fmt: skip
    measure.print_table(["iteration", "alignkit s", "alignkit generation s", "alignkit tokens", "TRL s",
                         "TRL generation s", "TRL tokens", "TRL / alignkit s"], rows)  # fmt: skip
    print()
    for note in notes(args, ours, theirs, expected_rows):
        print(f"note: {note}")
    settings = measure.settings(args)
    settings["prompts"] = settings["prompts"] or f"demo: every row of {DEMO_PROMPTS.name}"
    settings["answers_per_step"] = answers
    measure.save_json(args.json, {"settings": {**settings, **FIXED}, "runs": runs,
                                  "notes": notes(args, ours, theirs, expected_rows)})  # fmt: skip


if __name__ == "__main__":
    main()
