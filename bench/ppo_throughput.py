"""PPO iteration time: `alignkit ppo` side by side with TRL's PPOTrainer, in one run, as ratios.

Both sides train the same policy (an SFT causal LM with a ChatML template), with the same frozen reward
model, a critic initialised from that reward model and a frozen reference copy of the policy, on the same
prompts, for the same number of PPO iterations with the same settings: rollout batch 32 prompts, minibatch
16 rows an optimizer step (micro-batch = minibatch: no accumulation; alignkit samples and scores the rollout
in chunks of its micro-batch, TRL in chunks of `local_rollout_forward_batch_size`, set to the same 16), 2 PPO
epochs (4 optimizer steps an iteration), at most 64 new tokens, temperature 1 with no top-k / top-p, AdamW at
a constant 5e-5 (no warmup, no weight decay, betas 0.9 / 0.999, no gradient clipping: TRL's PPO loop clips
nothing), a fixed KL coefficient 0.05 (k1 estimator), gamma 1, lambda 0.95, clip 0.2, value clip 0.2,
vf_coef 0.1, whitened advantages, the same missing-EOS penalty, seed 0, 6 iterations. CPU, fp32, 2 threads
(OMP_NUM_THREADS=2 for both). Each side runs in its own process, so its peak memory (RSS) is its own.

Models: the demo's assistant and reward model (runs/demo/sft/final, runs/demo/rm/final); `alignkit rm` with
no options trains them (and the demo base model before them) if they are missing. Prompts: the 600 prompts of
the embedded demo preference data (src/alignkit/assets/preference.jsonl.gz), written to a temporary JSONL of
{"prompt": ...} rows that both sides read, or `--prompts FILE`.

TRL lives in its own environment (bench/requirements-trl-ppo.txt; TRL 1.12, the last release with PPO):

    python3 -m venv bench/.venv-trl-ppo && bench/.venv-trl-ppo/bin/pip install -r bench/requirements-trl-ppo.txt
    .venv/bin/alignkit rm          # once: the demo's SFT and reward models, if runs/demo/ lacks them
    .venv/bin/python bench/ppo_throughput.py --json bench/results/ppo.json

How each iteration is split (generation / scoring / training; medians over the iterations, the first left out
as warm-up on both sides):
- alignkit: from metrics.jsonl (`--log-every 1`: one record per optimizer step). The first step of each
  iteration carries `time_generate_s` (chat-templating and tokenizing the prompts, `generate` with the KV cache,
  decoding the answers to text) and `time_score_s` (policy log-probs + critic values in one no-grad forward of
  the actor-critic, reference log-probs, and the reward model: the answers re-rendered through the chat
  template, tokenized and scored padding-free). The iteration's time is the difference of `elapsed_s` at the
  last step of consecutive iterations (the first: `elapsed_s` at its last step; evaluation is not in elapsed_s);
  training = iteration - generation - scoring (GAE, whitening, the optimizer steps and metrics logging).
- TRL: bench/trl_ppo.py wraps the functions TRL's loop calls (see its docstring): generation = its
  `batch_generation` (generate with `output_scores=True`; the rollout log-probs come from those scores, so TRL
  has no separate policy forward), scoring = reference forward + critic forward + reward forward (on the
  rollout's own tokens; no re-tokenization), iteration = one `on_step_end` to the next; training here =
  iteration - generation - scoring, as for alignkit (TRL's own narrower `training_s` is kept in the JSON).

Tokens generated: per iteration, the answers' tokens up to and including their end-of-turn token (alignkit:
`answer_length` x rollout batch; TRL: trl_ppo.py's count up to the stop token). Answers are sampled, so the two
sides draw different answers of different lengths (different random streams, and different prompt orders:
alignkit's seeded permutation vs TRL's shuffled dataloader), and generation time follows the length; hence the
generation time per generated token as well.

Caveats: CPU timings are noisy on a shared machine (the JSON has each side's process CPU seconds, and TRL's
per-iteration CPU seconds: well under threads x wall seconds means the side waited on other jobs); with a
random or barely trained policy, answers rarely end before the token limit. Both sides stop sampling on the
model's end tokens (alignkit: the tokenizer's eos and end-of-turn tokens; TRL: the eos ids of the policy's
generation_config.json, the same ones for models alignkit wrote; the script prints a note when the stop token
is not among them), but TRL truncates each answer at one stop token only (`--stop-token`, default <|im_end|>),
and its missing-EOS penalty checks the tokenizer's eos token, not the stop token: with a ChatML model whose eos
is not <|im_end|>, TRL penalises answers that did end (the script prints a note then). Timings are unaffected
but the rewards, and so the learning, differ. alignkit's scoring does one more forward than TRL's (the
policy's log-probs, which TRL takes from the sampling scores).
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
DEMO_REWARD = ROOT / "runs" / "demo" / "rm" / "final"
DEMO_PREFERENCES = ROOT / "src" / "alignkit" / "assets" / "preference.jsonl.gz"
TRL_PYTHON = HERE / ".venv-trl-ppo" / "bin" / "python"
# Fixed on both sides (not options): what TRL's PPOConfig is given by bench/trl_ppo.py.
FIXED = {
    "temperature": 1.0, "top_k": 0, "top_p": 1.0, "gamma": 1.0, "lam": 0.95, "kl_estimator": "k1",
    "adaptive_kl": False, "clip": 0.2, "value_clip": 0.2, "vf_coef": 0.1, "whiten_advantages": True,
    "lr_schedule": "constant", "warmup_steps": 0, "weight_decay": 0.0, "adam_betas": [0.9, 0.999],
    "grad_clip": None, "critic": "reward model",
}  # fmt: skip
# Each side's summary: medians of these over the iterations.
SUMMARY_KEYS = ("total_s", "generation_s", "scoring_s", "training_s", "generated_tokens", "answers_ended")
# The table: (summary key, column title, format).
COLUMNS = [
    ("median_total_s", "iteration s", ".2f"), ("median_generation_s", "generation s", ".2f"),
    ("median_scoring_s", "scoring s", ".2f"), ("median_training_s", "training s", ".2f"),
    ("median_generated_tokens", "tokens generated", ".0f"), ("generation_ms_per_token", "generation ms/token", ".1f"),
]  # fmt: skip


def write_demo_prompts(path: Path) -> int:
    """The embedded preference rows' prompts as {"prompt": ...} JSONL; the number written."""
    count = 0
    with gzip.open(DEMO_PREFERENCES, "rt", encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
        for line in source:
            row = json.loads(line) if line.strip() else {}
            if isinstance(row.get("prompt"), str):
                out.write(json.dumps({"prompt": row["prompt"]}, ensure_ascii=False) + "\n")
                count += 1
    return count


def steps_per_iteration(args) -> int:
    return args.ppo_epochs * (args.rollout_batch_size // args.mini_batch_size)


def alignkit_run(args, prompts: Path, workdir: Path, env: dict) -> dict:
    out = workdir / "alignkit"
    command = [
        "ppo", "--model", str(args.policy), "--ppo.reward-model", str(args.reward), "--ppo.critic", "reward",
        "--data", str(prompts), "--data.eval-fraction", "0", "--data.max-prompt-length", str(args.max_prompt_length),
        "--ppo.iterations", str(args.iterations), "--ppo.rollout-batch-size", str(args.rollout_batch_size),
        "--batch-size", str(args.mini_batch_size), "--micro-batch-size", str(args.mini_batch_size),
        "--ppo.generation-batch-size", str(args.mini_batch_size),
        "--ppo.ppo-epochs", str(args.ppo_epochs), "--ppo.max-new-tokens", str(args.max_new_tokens),
        "--ppo.temperature", "1", "--ppo.top-k", "0", "--ppo.gamma", "1", "--ppo.lam", "0.95",
        "--ppo.kl-coef", str(args.kl_coef), "--ppo.kl-estimator", "k1", "--ppo.adaptive-kl", "false",
        "--ppo.clip", "0.2", "--ppo.value-clip", "0.2", "--ppo.vf-coef", "0.1", "--ppo.whiten-advantages", "true",
        "--ppo.missing-eos-penalty", str(args.missing_eos_penalty), "--ppo.sample-every", "0",
        "--lr", str(args.lr), "--optim.schedule", "constant", "--optim.warmup-steps", "0",
        "--optim.weight-decay", "0", "--optim.beta1", "0.9", "--optim.beta2", "0.999", "--optim.grad-clip", "0",
        "--seed", str(args.seed), "--eval-every", "0", "--save-every", "0", "--log-every", "1",
        "--run.plots", "false", "--run.progress", "false", "--run.device", "cpu",
        "--output-dir", str(out), "--overwrite",
    ]  # fmt: skip
    wall, peak_rss, _ = measure.run_alignkit(command, env)
    iterations = []
    for split, first in measure.rollout_iterations(out, args.iterations, steps_per_iteration(args)):
        iterations.append({
            **split,
            "generated_tokens": round(first["answer_length"] * args.rollout_batch_size),
            "answers_ended": first["ended"],
            "reward": first["reward"],
            "kl": first["kl"],
        })  # fmt: skip
    return measure.side_result("alignkit", wall, peak_rss, iterations, summarize(iterations, args.keep_first))


def trl_run(args, prompts: Path, workdir: Path, env: dict) -> dict:
    out = workdir / "trl.json"
    command = [
        str(args.trl_python), str(HERE / "trl_ppo.py"), "--policy", str(args.policy), "--reward", str(args.reward),
        "--prompts", str(prompts), "--iterations", str(args.iterations),
        "--rollout-batch-size", str(args.rollout_batch_size), "--mini-batch-size", str(args.mini_batch_size),
        "--rollout-forward-batch-size", str(args.mini_batch_size), "--ppo-epochs", str(args.ppo_epochs),
        "--max-new-tokens", str(args.max_new_tokens), "--max-prompt-length", str(args.max_prompt_length),
        "--stop-token", args.stop_token, "--kl-coef", str(args.kl_coef), "--learning-rate", str(args.lr),
        "--missing-eos-penalty", str(args.missing_eos_penalty), "--threads", str(args.threads),
        "--device", "cpu", "--seed", str(args.seed), "--out", str(out),
    ]  # fmt: skip
    if args.keep_first:
        command.append("--keep-first")
    wall, result = measure.run_json(command, out, env)
    iterations = []
    for row in result["iterations"]:
        iterations.append({
            **measure.phases(row["iteration"], row["total_s"], row["generation_s"], row["scoring_s"]),
            "generated_tokens": row["generated_tokens"],
            "answers_ended": row["answers_stopped"] / max(row["prompts"], 1),
            "reward": (row.get("trl_metrics") or {}).get("objective/scores"),
            "kl": (row.get("trl_metrics") or {}).get("objective/kl"),
            # TRL's own split of the rest, and what generation really computed (rows x padded answer width).
            "trl_training_loop_s": row["training_s"],
            "trl_rollout_other_s": row["rollout_other_s"],
            "generated_positions": row["generated_positions"],
            "cpu_s": row["cpu_s"],
        })  # fmt: skip
    config = result["config"]
    summary = summarize(iterations, args.keep_first)
    return {
        **measure.side_result(f"TRL {result['trl_version']}", wall, result["peak_rss_mib"], iterations, summary),
        "versions": {k: result[k] for k in result if k.endswith("_version")},
        "stop_token_id": config["stop_token_id"],
        "eos_token_id": config["eos_token_id"],
        "optimizer": config["optimizer"],
    }


def summarize(iterations: list[dict], keep_first: bool) -> dict:
    """Medians over the iterations (the first left out unless `keep_first` or it is the only one)."""
    kept = measure.steady(iterations, keep_first)
    tokens = sum(row["generated_tokens"] for row in kept)
    generation = sum(row["generation_s"] for row in kept)
    return {
        **measure.medians(kept, SUMMARY_KEYS),
        "generation_ms_per_token": round(1000 * generation / tokens, 3) if tokens else None,
    }


def stop_notes(args, trl: dict) -> list[str]:
    """Where the two sides' stopping and missing-EOS penalty part ways for these models."""
    notes = []
    if trl["eos_token_id"] != trl["stop_token_id"] and args.missing_eos_penalty:
        notes.append(
            f"TRL truncates at the stop token {args.stop_token} (id {trl['stop_token_id']}) but its missing-EOS "
            f"penalty checks the eos token (id {trl['eos_token_id']}): answers that end at {args.stop_token} are "
            "penalised there and not in alignkit (the rewards differ, not the work done per token)"
        )
    generation_config = args.policy / "generation_config.json"
    if generation_config.exists():
        eos = json.loads(generation_config.read_text()).get("eos_token_id")
        eos = eos if isinstance(eos, list) else [eos]
        if trl["stop_token_id"] not in eos:
            notes.append(
                f"the policy's generation_config.json ends generation on {eos}, not on the stop token: TRL's "
                "generate runs on to the token limit where alignkit's stops at the end of the turn"
            )
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, default=DEMO_POLICY, help="SFT causal LM dir (ChatML template)")
    parser.add_argument("--reward", type=Path, default=DEMO_REWARD, help="reward model dir; the critic starts from it")
    parser.add_argument("--prompts", type=Path, help='JSONL of {"prompt": ...} rows; default: the demo prompts')
    parser.add_argument("--iterations", type=int, default=6, help="PPO iterations (rollouts) on each side")
    parser.add_argument("--rollout-batch-size", type=int, default=32, help="prompts sampled per iteration")
    parser.add_argument("--mini-batch-size", type=int, default=16, help="rows an optimizer step (= micro-batch)")
    parser.add_argument("--ppo-epochs", type=int, default=2, help="passes over each rollout")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="answer tokens at most")
    parser.add_argument("--max-prompt-length", type=int, default=256, help="prompt tokens kept (the end)")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--missing-eos-penalty", type=float, default=1.0, help="the same on both sides")
    parser.add_argument("--stop-token", default="<|im_end|>", help="TRL's one stop token (alignkit: end-of-turn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-first", action="store_true", help="count the first (warm-up) iteration in medians")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side, alternating; the best is shown")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trl-python", type=Path, default=TRL_PYTHON, help="a Python that has TRL 1.12")
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "ppo")
    parser.add_argument("--json", type=Path, help="write every run (per-iteration times included) here")
    args = parser.parse_args()

    if args.rollout_batch_size % args.mini_batch_size:
        parser.error("--rollout-batch-size must be a multiple of --mini-batch-size")
    for path, what in ((args.policy, "policy"), (args.reward, "reward model")):
        if not path.is_dir():
            if path in (DEMO_POLICY, DEMO_REWARD):
                sys.exit(f"no demo {what} at {path}: run `alignkit rm` with no options first (from {ROOT}); it "
                         f"trains the demo's SFT and reward models")  # fmt: skip
            sys.exit(f"--{'policy' if what == 'policy' else 'reward'}: {path} is not a directory")
    if not args.trl_python.exists():
        sys.exit(f"no TRL environment at {args.trl_python}; see this script's docstring")
    args.policy, args.reward = args.policy.resolve(), args.reward.resolve()

    env = measure.side_env(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="ppo-bench-") as tmp:
        prompts = args.prompts.resolve() if args.prompts else Path(tmp) / "prompts.jsonl"
        if args.prompts is None:
            print(f"prompts: {write_demo_prompts(prompts)} demo preference prompts -> {prompts}", flush=True)
        runs = measure.alternate([
            ("alignkit", lambda: alignkit_run(args, prompts, args.workdir, env)),
            ("trl", lambda: trl_run(args, prompts, args.workdir, env)),
        ], args.repeats)  # fmt: skip

    best = measure.best(runs)
    ours, theirs = best["alignkit"], best["trl"]
    skipped = "" if args.keep_first or args.iterations < 2 else ", the first left out"
    print(f"\n{measure.machine(args.threads)}")
    print(f"policy {args.policy}; reward/critic {args.reward}")
    print(f"{args.iterations} iterations (medians{skipped}) x rollout {args.rollout_batch_size} prompts, minibatch "
          f"{args.mini_batch_size}, {args.ppo_epochs} epochs ({steps_per_iteration(args)} optimizer steps), at most "
          f"{args.max_new_tokens} new tokens; CPU fp32\n")  # fmt: skip
    measure.print_comparison(ours, theirs, COLUMNS)
    for note in stop_notes(args, theirs):
        print(f"\nnote: {note}")
    settings = measure.settings(args)
    settings["prompts"] = settings["prompts"] or f"demo: the 'prompt' of every row of {DEMO_PREFERENCES.name}"
    measure.save_json(args.json, {"settings": {**settings, **FIXED}, "runs": runs})


if __name__ == "__main__":
    main()
