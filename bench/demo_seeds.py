"""An RL stage on the demo, several seeds: the held-out measure at the start (the SFT policy) and at the end.

Runs `alignkit STAGE` with its defaults (the demo assistant; the demo reward model for ppo, the embedded
step-format rule for grpo, the embedded preference pairs for dpo and, split into votes, for kto) once per
seed, each in its own run directory, and reads what every run writes to metrics.jsonl: the held-out
evaluation before the first step and at the end. The measure, by stage:

- ppo, grpo: the mean reward of sampled answers (grpo's demo rule is 0/1, so this is its accuracy), of greedy
  answers, the KL to the starting model per answer (k1, nats; checked against --kl-bound) and the answer length;
- dpo: the share of held-out pairs whose implicit reward prefers the chosen answer, and the reward margin;
- kto: the AUC of the implicit reward between held-out good and bad votes, and the reward margin.

    python bench/demo_seeds.py ppo --seeds 0 1 2 --kl-bound 20 --json bench/results/ppo_demo.json
    python bench/demo_seeds.py grpo --json bench/results/grpo_demo.json [-- extra grpo options]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import measure

MEASURES = {  # stage: (main measure, other measures), all eval_* keys
    "ppo": ("eval_reward", ("eval_greedy_reward", "eval_kl", "eval_answer_length")),
    "grpo": ("eval_reward", ("eval_greedy_reward", "eval_kl", "eval_answer_length")),
    "dpo": ("eval_reward_accuracy", ("eval_reward_margin", "eval_loss")),
    "kto": ("eval_auc", ("eval_reward_margin", "eval_loss")),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=sorted(MEASURES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kl-bound", type=float, default=20.0, help="ppo, grpo: KL per answer bound")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("extra", nargs="*", help="more `alignkit STAGE` options (after --)")
    args = parser.parse_args()
    main_key, other_keys = MEASURES[args.stage]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    rows, results = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / args.stage
            command = [args.stage, "--seed", str(seed), "--output-dir", str(out), "--run.progress", "false"]
            wall, peak_rss, _ = measure.run_alignkit([*command, *args.extra], env)
            records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        evals = [r for r in records if main_key in r]
        start, end = evals[0], evals[-1]
        result = {"seed": seed, "start_step": start["step"], "end_step": end["step"], "wall_s": wall}
        result["peak_rss_mib"] = peak_rss
        for key in (main_key, *other_keys):
            result[f"start_{key}"], result[f"end_{key}"] = start[key], end[key]
        results.append(result)
        cells = [seed, f"{start[main_key]:.3f}", f"**{end[main_key]:.3f}**"]
        cells += [f"{start[k]:.3f} -> {end[k]:.3f}" for k in other_keys]
        if "eval_kl" in other_keys:
            cells.append("yes" if end["eval_kl"] < args.kl_bound else "NO")
        rows.append([*cells, f"{wall:.0f}", f"{peak_rss:.0f}"])
    if len(results) > 1:
        gains = [r[f"end_{main_key}"] - r[f"start_{main_key}"] for r in results]
        ends = [r[f"end_{main_key}"] for r in results]
        summary = ["mean ± std", "", f"{statistics.mean(ends):.3f} ± {statistics.stdev(ends):.3f}"]
        summary += [f"gain {statistics.mean(gains):+.3f} ± {statistics.stdev(gains):.3f}"]
        rows.append(summary + [""] * (len(rows[0]) - len(summary)))
    header = ["seed", f"start {main_key}", f"end {main_key}", *other_keys]
    if "eval_kl" in other_keys:
        header.append(f"KL < {args.kl_bound:g}")
    measure.print_table([*header, "wall s", "peak RSS MiB"], rows)
    measure.save_json(args.json, results)


if __name__ == "__main__":
    main()
