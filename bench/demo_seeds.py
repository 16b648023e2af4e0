"""PPO on the demo, several seeds: held-out reward of the SFT policy and of the PPO policy, and the KL.

Runs `alignkit ppo` with its defaults (the demo assistant, the demo reward model, the embedded prompts)
once per seed, each in its own run directory, and reads what every run writes: the held-out evaluation
before the first step (the SFT policy) and at the end, from metrics.jsonl. The KL bound is checked
against the final held-out KL per answer (k1, nats).

    python bench/ppo_demo.py --seeds 0 1 2 --kl-bound 10 --json bench/results/ppo_demo.json [-- extra ppo options]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--kl-bound", type=float, default=10.0, help="the KL per answer the final policy must stay under"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("extra", nargs="*", help="more `alignkit ppo` options (after --)")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    rows, results = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ppo"
            command = ["ppo", "--seed", str(seed), "--output-dir", str(out), "--run.progress", "false", *args.extra]
            wall, peak_rss, _ = measure.run_alignkit(command, env)
            records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        evals = [r for r in records if "eval_reward" in r]
        start, end = evals[0], evals[-1]
        result = {
            "seed": seed,
            "sft_reward": start["eval_reward"],
            "ppo_reward": end["eval_reward"],
            "sft_greedy_reward": start["eval_greedy_reward"],
            "ppo_greedy_reward": end["eval_greedy_reward"],
            "kl": end["eval_kl"],
            "sft_length": start["eval_answer_length"],
            "ppo_length": end["eval_answer_length"],
            "wall_s": wall,
            "peak_rss_mib": peak_rss,
        }
        results.append(result)
        rows.append(
            [seed, f"{result['sft_reward']:.3f}", f"**{result['ppo_reward']:.3f}**",
             f"{result['sft_greedy_reward']:.3f}", f"{result['ppo_greedy_reward']:.3f}", f"{result['kl']:.2f}",
             "yes" if result["kl"] < args.kl_bound else "NO",
             f"{result['sft_length']:.0f} -> {result['ppo_length']:.0f}",
             f"{wall:.0f}", f"{peak_rss:.0f}"]
        )  # fmt: skip
    if len(results) > 1:
        gains = [r["ppo_reward"] - r["sft_reward"] for r in results]
        rows.append(
            ["mean ± std", "", "", "", "", f"{statistics.mean(r['kl'] for r in results):.2f}", "",
             f"gain {statistics.mean(gains):+.3f} ± {statistics.stdev(gains):.3f}", "", ""]
        )  # fmt: skip
    measure.print_table(
        ["seed", "SFT reward", "PPO reward", "SFT greedy", "PPO greedy", "KL", f"KL < {args.kl_bound:g}",
         "answer tokens", "wall s", "peak RSS MiB"],
        rows,
    )  # fmt: skip
    measure.save_json(args.json, results)


if __name__ == "__main__":
    main()
