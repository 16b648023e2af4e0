"""Run directories -> report.md + PNG plots: the measured SFT-versus-RLHF comparison.

Two parts. `compare_policies` puts every final policy (SFT and what RLHF made of it) before the
same held-out prompts: answers sampled with one seed, scored by one reward model, with their KL to
the SFT model they started from and their win rate against that model's own answers. `write_report`
reads what the runs recorded (run_summary.json: wall time, peak memory, data used; metrics.jsonl:
the curves) and the comparison, and writes the table, the curves and the answers side by side.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from alignkit.errors import UserError

# What each method learns from, and what it needs before it can start, for the report's table.
METHODS = ("sft", "ppo", "dpo", "kto", "grpo")
NEEDS = {
    "sft": "written answers",
    "ppo": "SFT model + reward model (pairs) + prompts",
    "dpo": "SFT model + preference pairs",
    "kto": "SFT model + good/bad votes",
    "grpo": "SFT model + reward (model or rule) + prompts",
}


@dataclass
class Run:
    """One stage run directory and what it recorded."""

    directory: Path
    stage: str
    seed: int
    summary: dict
    config: dict = field(default_factory=dict)

    @property
    def final(self) -> Path:
        return self.directory / "final"

    @property
    def label(self) -> str:
        return f"{self.stage} (seed {self.seed})"


def find_runs(paths: list[Path]) -> list[Run]:
    """Finished runs (run_summary.json and final/) in `paths` and their sub-directories, depth 2."""
    import yaml

    found: dict[Path, Run] = {}
    for root in paths:
        if not root.is_dir():
            raise UserError(f"{root}: no such run directory")
        candidates = [root, *sorted(p.parent for p in root.glob("*/run_summary.json"))]
        candidates += sorted(p.parent for p in root.glob("*/*/run_summary.json"))
        for directory in candidates:
            summary_file = directory / "run_summary.json"
            if not summary_file.is_file() or not (directory / "final").is_dir() or directory.resolve() in found:
                continue
            summary = _read_json(summary_file, ("stage", "seed", "steps", "wall_s", "peak_rss_mib"))
            config_file = directory / "config.yaml"
            try:
                config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
            except yaml.YAMLError as exc:
                raise UserError(f"{config_file}: not readable YAML ({exc})") from None
            found[directory.resolve()] = Run(directory, summary["stage"], summary["seed"], summary, config or {})
    if not found:
        raise UserError(f"{', '.join(map(str, paths))}: no finished runs (a run directory with run_summary.json)")
    return sorted(found.values(), key=lambda r: (r.stage, r.seed, str(r.directory)))


def _read_json(path: Path, keys: tuple[str, ...]) -> dict:
    """A JSON object with `keys`, or one clear error naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in keys if not isinstance(value, dict) or k not in value]
    if missing:
        raise UserError(f"{path}: expected the keys {', '.join(keys)}; missing {', '.join(missing)}")
    return value


# -- the comparison of policies ------------------------------------------------------------------


@dataclass
class Answers:
    """A policy's sampled answers to the held-out prompts, with their scores and KL to the reference."""

    texts: list[str]
    scores: torch.Tensor  # (N,) reward-model scores
    kl: torch.Tensor  # (N,) sum over the answer's tokens of log pi(y_t) - log pi_ref(y_t)
    lengths: torch.Tensor  # (N,) answer tokens
    ended: torch.Tensor  # (N,) the answer closed its turn


@torch.no_grad()
def sample_answers(policy, reference, tokenizer, records, scorer, seed: int, max_new_tokens: int,
                   batch_size: int = 64) -> Answers:  # fmt: skip
    """Answers drawn at temperature 1 (the policy's own distribution) with a fixed seed; their KL to
    the reference is the Monte Carlo estimate of KL(pi || pi_ref) = E_y~pi[log pi(y) - log pi_ref(y)]."""
    from alignkit import rollout
    from alignkit.stages import ppo

    texts = rollout.prompt_texts(tokenizer, [rollout.prompt_of(r) for r in records], chat=True)
    drawn = rollout.sample(policy, tokenizer, texts, rollout.Sampling(max_new_tokens, 1.0, 1.0, 0, seed), batch_size)
    rows = ppo.sequences_of(drawn)
    mask = rows["response_mask"]
    kl = torch.zeros(len(texts))
    if reference is not None and reference is not policy:
        log_ratio = ppo.logprobs_in_batches(policy, rows, 16, 1.0) - ppo.logprobs_in_batches(reference, rows, 16, 1.0)
        kl = (log_ratio * mask).sum(dim=1)
    answers = tokenizer.batch_decode(drawn.response_ids, skip_special_tokens=True)
    scores = scorer(records, answers).float().cpu()
    return Answers(answers, scores, kl, mask.sum(dim=1), drawn.ended.cpu())


def win_rate(scores: torch.Tensor, against: torch.Tensor) -> float:
    """Share of prompts where `scores` beats `against` (ties count half)."""
    return float(((scores > against).float() + 0.5 * (scores == against).float()).mean())


def answers_of(lm, tokenizer, prompts: list[str], chat: bool, max_new_tokens: int, temperature: float = 0.0,
               seed: int = 0) -> list[str]:  # fmt: skip
    """Answers to `prompts` (greedy unless a temperature is given); chat: through the chat template."""
    from alignkit import rollout

    sampling = rollout.Sampling(max_new_tokens, temperature, 0.95 if temperature else 1.0, 0, seed)
    return [a.strip() for a in rollout.generate(lm, tokenizer, prompts, sampling, chat=chat)]


def greedy_answers(
    directory: Path, prompts: list[str], chat: bool, max_new_tokens: int, temperature: float = 0.0, seed: int = 0
) -> list[str]:
    """`answers_of` the model in `directory`."""
    from alignkit.models import load

    lm = load.load_causal_lm(directory)
    return answers_of(lm, load.load_tokenizer(directory), prompts, chat, max_new_tokens, temperature, seed)


def compare_policies(
    policies: list[Run], reference: Run, reward_dir: Path, records: list[dict], out: Path, *,
    base_dir: Path | None = None, showcase: list[str] = (), seed: int = 0, max_new_tokens: int = 128,
    samples: int = 1,
) -> dict:  # fmt: skip
    """Every policy's answers to the held-out `records` (`samples` draws each), scored by the reward
    model in reward_dir, with KL to `reference` (the SFT model they started from) and the win rate
    against the reference's own answers, drawn with another seed. Writes out/compare.json and
    out/answers.jsonl; returns what compare.json holds."""
    from alignkit import rollout
    from alignkit.models import load
    from alignkit.stages import grpo, ppo

    tokenizer = load.load_tokenizer(reference.final)
    ref_model = ppo.open_policy(reference.final, tokenizer, "sdpa", frozen=True)
    scorer, _ = grpo.reward_of(str(reward_dir), torch.device("cpu"), 1024)
    records = [r for r in records for _ in range(samples)]
    baseline = sample_answers(ref_model, None, tokenizer, records, scorer, seed + 7_919, max_new_tokens)
    # the showcase: the first run of each method (for SFT, the reference), greedy
    first = {run.stage: run for run in sorted(policies, key=lambda r: -r.seed)}
    first["sft"] = reference
    shown = {}
    if showcase and base_dir is not None:  # a base model continues text (greedy, it repeats newlines): sampled
        shown["base"] = greedy_answers(base_dir, [f"{p}\n" for p in showcase], False, max_new_tokens, 0.8, seed)
    rows, answer_rows = [], []
    for run in policies:
        if load.load_tokenizer(run.final).get_vocab() != tokenizer.get_vocab():
            raise UserError(f"{run.final}: its tokenizer differs from the SFT model's {reference.final}; "
                            "the KL between them is undefined")  # fmt: skip
        is_reference = run.final.resolve() == reference.final.resolve()
        policy = ref_model if is_reference else ppo.open_policy(run.final, tokenizer, "sdpa", frozen=True)
        drawn = sample_answers(policy, ref_model, tokenizer, records, scorer, seed, max_new_tokens)
        rows.append({
            "method": run.stage, "seed": run.seed, "directory": str(run.directory),
            "rm_score": float(drawn.scores.mean()),
            "rm_score_std": float(drawn.scores.std()) if len(drawn.scores) > 1 else 0.0,
            "kl": float(drawn.kl.mean()), "win_rate": win_rate(drawn.scores, baseline.scores),
            "answer_length": float(drawn.lengths.float().mean()), "ended": float(drawn.ended.float().mean()),
        })  # fmt: skip
        for record, text, score in zip(records, drawn.texts, drawn.scores.tolist(), strict=True):
            answer_rows.append({"method": run.stage, "seed": run.seed, "prompt": rollout.question_of(record),
                                "answer": text, "rm_score": score})  # fmt: skip
        if showcase and first[run.stage].directory.resolve() == run.directory.resolve():
            shown[run.stage] = answers_of(policy, tokenizer, list(showcase), True, max_new_tokens)
    result = {
        "reference": str(reference.directory),
        "reward_model": str(reward_dir),
        "prompts": len(records) // samples,
        "samples_per_prompt": samples,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "reference_rm_score": float(baseline.scores.mean()),
        "policies": rows,
        "showcase": [{"prompt": p, "answers": {k: v[i] for k, v in shown.items()}} for i, p in enumerate(showcase)],
    }
    from alignkit.data.readers import write_jsonl

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "answers.jsonl", answer_rows)
    tmp = out / ".compare.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / "compare.json")
    return result


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (nan for a single value: one run has no spread)."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


# -- the report -----------------------------------------------------------------------------------


def locate(recorded: str, near: Path) -> Path | None:
    """A directory a run recorded (relative to wherever it was started from): as written, from the
    working directory, or from any parent of `near` (a report made from elsewhere still finds it)."""
    path = Path(recorded)
    if path.is_absolute():
        return path.resolve() if path.is_dir() else None
    for base in (Path.cwd(), *near.resolve().parents):
        if (base / path).is_dir():
            return (base / path).resolve()
    return None


def upstream(run: Run, by_final: dict[Path, Run]) -> list[Run]:
    """The run and every run it started from (its model, its reward model, theirs), pretraining
    excepted: what a method costs on top of the shared base model."""
    chain, todo = [], [run]
    while todo:
        current = todo.pop()
        if current in chain or current.stage == "pretrain":
            continue
        chain.append(current)
        sections = [current.config.get("model", {}), current.config.get(current.stage, {})]
        sources = [sections[0].get("name_or_path")]
        sources += [sections[1].get(key) for key in ("reward_model", "reward")]
        for source in sources:
            found = locate(source, current.directory) if isinstance(source, str) else None
            if found is not None and found in by_final:
                todo.append(by_final[found])
    return chain


def data_used(chain: list[Run]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for run in chain:
        for key, count in run.summary.get("data", {}).items():
            totals[key] = totals.get(key, 0) + count
    return totals


def _fmt(mean: float, std: float | None = None, digits: int = 2) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{mean:.{digits}f}"
    return text if std is None or math.isnan(std) else f"{text} ± {std:.{digits}f}"


def method_rows(runs: list[Run], compare: dict | None, compare_dir: Path | None = None) -> dict[str, dict]:
    """Per method: its runs, costs (one stage and from the base model), and the comparison's figures
    (its policies' directories looked up from compare_dir, where compare.json lies). The reference
    SFT run against itself (KL 0, a win rate of about 0.5 by construction) stays out of the SFT
    column's KL and win rate: those are the other SFT seeds against it."""
    by_final = {r.final.resolve(): r for r in runs}
    recorded = (compare or {}).get("reference")
    reference = locate(recorded, compare_dir or Path.cwd()) if recorded else None
    scored = {}
    for row in (compare or {}).get("policies", []):
        found = locate(row["directory"], compare_dir or Path.cwd())
        if found is not None:
            scored[(row["method"], found)] = row
    table = {}
    for method in METHODS:
        members = [r for r in runs if r.stage == method]
        if not members:
            continue
        chains = [upstream(r, by_final) for r in members]
        pairs = [(r, scored.get((method, r.directory.resolve()))) for r in members]
        figures = [f for _, f in pairs if f is not None]
        others = [f for r, f in pairs if f is not None and r.directory.resolve() != reference]
        entry = {
            "runs": members,
            "wall_s": mean_std([r.summary["wall_s"] for r in members]),
            "chain_wall_s": mean_std([sum(x.summary["wall_s"] for x in chain) for chain in chains]),
            "peak_rss_mib": mean_std([r.summary["peak_rss_mib"] for r in members]),
            "added_rss_mib": mean_std([r.summary["peak_rss_mib"] - r.summary["rss_at_start_mib"] for r in members]),
            "data": data_used(chains[0]),
            "chain": [x.stage for x in chains[0]],
        }
        for key in ("rm_score", "answer_length"):
            entry[key] = mean_std([f[key] for f in figures])
        for key in ("kl", "win_rate"):
            entry[key] = mean_std([f[key] for f in others])
        entry["scored"] = len(figures)
        table[method] = entry
    return table


def conclusions(table: dict[str, dict]) -> list[str]:
    """Statements the table supports, each with the spread it rests on: a difference between two
    methods' mean scores counts when it exceeds twice its standard error, sqrt(s1^2/n1 + s2^2/n2)
    over their seeds (with one seed each there is no spread, and no verdict)."""
    lines = []
    if "sft" not in table:
        return lines
    sft = table["sft"]
    for method in ("ppo", "dpo", "kto", "grpo"):
        if method not in table:
            continue
        entry = table[method]
        (score, score_sd), (base, base_sd) = entry["rm_score"], sft["rm_score"]
        counts = entry["scored"], sft["scored"]
        if not math.isnan(score) and not math.isnan(base) and min(counts) > 1:
            gain, error = score - base, math.sqrt(score_sd**2 / counts[0] + base_sd**2 / counts[1])
            verdict = "above" if gain > 2 * error else "below" if gain < -2 * error else "within noise of"
            lines.append(
                f"{method.upper()} ends {verdict} SFT under the reward model: {gain:+.2f} "
                f"(standard error {error:.2f} over {counts[0]} and {counts[1]} seeds), win rate against the SFT "
                f"model {_fmt(*entry['win_rate'])}, KL to it {_fmt(*entry['kl'], digits=1)} nats per answer."
            )
        wall, sft_wall = entry["chain_wall_s"][0], sft["chain_wall_s"][0]
        memory, sft_memory = entry["peak_rss_mib"][0], sft["peak_rss_mib"][0]
        if sft_wall > 0 and sft_memory > 0:
            lines.append(
                f"{method.upper()} costs {wall / sft_wall:.1f}x SFT's time from the base model "
                f"({', '.join(entry['chain'][::-1])}) and {memory / sft_memory:.1f}x its process's peak memory."
            )
    apart = sft["kl"][0]  # the other SFT seeds against the first
    moved = {m: e["kl"][0] for m, e in table.items() if m != "sft" and not math.isnan(e["kl"][0])}
    if not math.isnan(apart) and moved:
        lines.append(
            f"Another SFT seed ends {apart:.1f} nats per answer away from the first SFT model; "
            + ", ".join(f"{m.upper()} moves it {kl:.1f}" for m, kl in moved.items())
            + " (KL of the final policy to the SFT model it started from)."
        )
    stds = {m: e["rm_score"][1] for m, e in table.items() if e.get("scored", 0) > 1}
    if len(stds) > 1:
        steadiest, shakiest = min(stds, key=stds.get), max(stds, key=stds.get)
        lines.append(
            f"Across seeds the reward-model score varies least for {steadiest.upper()} (std {stds[steadiest]:.2f}) "
            f"and most for {shakiest.upper()} (std {stds[shakiest]:.2f})."
        )
    return lines


def _data_text(data: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in data.items()) or "–"


def comparison_table(table: dict[str, dict]) -> list[str]:
    methods = list(table)
    header = "| | " + " | ".join(m.upper() for m in methods) + " |"
    lines = [header, "|---" * (len(methods) + 1) + "|"]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(table[m]) for m in methods) + " |")

    row("seeds", lambda e: str(len(e["runs"])))
    row("learns from", lambda e: NEEDS[e["runs"][0].stage])
    row("labelled data used (this stage and those before it)", lambda e: _data_text(e["data"]))
    row("wall time of the stage, s", lambda e: _fmt(*e["wall_s"], digits=1))
    row("wall time from the base model, s", lambda e: _fmt(*e["chain_wall_s"], digits=1))
    row("peak memory of the process, MiB", lambda e: _fmt(*e["peak_rss_mib"], digits=0))
    row("peak memory added by the stage, MiB", lambda e: _fmt(*e["added_rss_mib"], digits=0))
    row("reward-model score of the final policy", lambda e: _fmt(*e["rm_score"]))
    row("KL to the first SFT model, nats per answer (SFT: its other seeds)", lambda e: _fmt(*e["kl"], digits=1))
    row("win rate against the first SFT model under the reward model", lambda e: _fmt(*e["win_rate"]))
    row("answer length, tokens", lambda e: _fmt(*e["answer_length"], digits=0))
    return lines


CURVES = {
    "pretrain": ("loss", "eval_loss"),
    "sft": ("loss", "eval_loss"),
    "classify": ("loss", "eval_accuracy"),
    "rm": ("loss", "eval_accuracy"),
    "ppo": ("reward", "eval_reward"),
    "dpo": ("loss", "eval_reward_accuracy"),
    "kto": ("loss", "eval_auc"),
    "grpo": ("reward", "eval_reward"),
}


def plot_stage_curves(runs: list[Run], path: Path) -> Path | None:
    """One panel per stage: its training curve and its held-out metric, a line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alignkit.train.metrics import read_metrics

    stages = [s for s in CURVES if any(r.stage == s for r in runs)]
    if not stages:
        return None
    columns = min(4, len(stages))
    rows = math.ceil(len(stages) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, stage in zip(axes.flat, stages, strict=False):
        train_key, eval_key = CURVES[stage]
        for index, run in enumerate(r for r in runs if r.stage == stage):
            records = read_metrics(run.directory / "metrics.jsonl")
            colour = f"C{index}"
            points = [(r["step"], r[train_key]) for r in records if train_key in r]
            if points:
                ax.plot(*zip(*points, strict=True), color=colour, alpha=0.8, label=f"seed {run.seed} {train_key}")
            points = [(r["step"], r[eval_key]) for r in records if eval_key in r]
            if points:
                ax.plot(*zip(*points, strict=True), color=colour, linestyle="--", marker="o", markersize=3,
                        label=f"seed {run.seed} {eval_key}")  # fmt: skip
        ax.set_title(stage)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(stages) :]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_comparison(table: dict[str, dict], path: Path) -> Path | None:
    """Reward-model score, KL to the SFT model, time and memory per method: mean and std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m, e in table.items() if not math.isnan(e["rm_score"][0])]
    if not methods:
        return None
    panels = (
        ("rm_score", "reward-model score"),
        ("kl", "KL to the first SFT model (nats/answer)"),
        ("chain_wall_s", "seconds from the base model"),
        ("peak_rss_mib", "peak memory (MiB)"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (key, title) in zip(axes, panels, strict=True):
        means = [table[m][key][0] for m in methods]
        stds = [table[m][key][1] for m in methods]
        ax.bar([m.upper() for m in methods], means, yerr=stds, capsize=4, color=[f"C{i}" for i in range(len(methods))])
        if key == "kl":  # other SFT seeds sit far from the first: a log scale keeps RL's few nats visible
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def held_out_figures(run: Run) -> dict[str, float]:
    """The run's last held-out evaluation (the eval_* metrics of its metrics.jsonl)."""
    from alignkit.train.metrics import read_metrics

    evals = [r for r in read_metrics(run.directory / "metrics.jsonl") if any(k.startswith("eval_") for k in r)]
    if not evals:
        return {}
    return {k.removeprefix("eval_"): v for k, v in evals[-1].items() if k.startswith("eval_")}


def stage_lines(runs: list[Run]) -> list[str]:
    """One row per run: its cost and its own held-out figures."""
    lines = ["| run | stage | seed | steps | wall s | peak MiB | data | held out, at the end |", "|---" * 8 + "|"]
    for run in runs:
        s = run.summary
        shown = "  ".join(f"{k} {v:.3g}" for k, v in list(held_out_figures(run).items())[:4])
        lines.append(
            f"| {run.directory.name} | {run.stage} | {run.seed} | {s['steps']} | {s['wall_s']:.1f} | "
            f"{s['peak_rss_mib']:.0f} | {_data_text(s.get('data', {}))} | {shown or '–'} |"
        )
    return lines


def write_report(paths: list[Path], out: Path) -> Path:
    """report.md (and plots/ beside it) from the runs under `paths` and a compare.json found there."""
    runs = find_runs(paths)
    compare, compare_dir = None, None
    for root in paths:
        for candidate in (root / "compare" / "compare.json", root / "compare.json"):
            if candidate.is_file():
                compare = _read_json(candidate, ("policies",))
                compare_dir = candidate.parent
                break
        if compare:
            break
    table = method_rows(runs, compare, compare_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} is a file; expected a directory for report.md and plots/")
    out.mkdir(parents=True, exist_ok=True)
    curves = plot_stage_curves(runs, out / "plots" / "curves.png")
    bars = plot_comparison(table, out / "plots" / "comparison.png")

    first = runs[0].summary
    lines = [
        "# alignkit report",
        "",
        f"{len(runs)} runs from {', '.join(str(p) for p in paths)}; measured on {first['device']} "
        f"with {first['threads']} thread(s), {first['processes']} process(es). Every number below comes from "
        "these runs' own records (run_summary.json, metrics.jsonl) and the comparison of their final policies.",
        "",
        "## SFT versus RLHF",
        "",
    ]
    if compare:
        lines += [
            f"Final policies answer the same {compare['prompts']} held-out prompts ({compare['samples_per_prompt']} "
            f"answer(s) each, sampled at temperature 1, seed {compare['seed']}, at most {compare['max_new_tokens']} "
            f"tokens). One reward model ({compare['reward_model']}) scores every answer; KL is measured to the SFT "
            f"model the RLHF runs started from ({compare['reference']}); the win rate is against that SFT model's own "
            "answers to the same prompts, drawn with another seed (SFT against itself is about 0.5). "
            "Figures are the mean ± std over seeds.",
            "",
        ]
    else:
        lines += ["No compare.json was found beside these runs: the policy figures are missing.", ""]
    lines += comparison_table(table)
    lines += [
        "",
        "Wall time counts from a stage's set-up (data, models, a cached reference) to its final model; \"from the "
        'base model" adds the stages it needs (a reward model, the SFT model), not pretraining, which all share. '
        'Peak memory is the resident memory of the process at its highest during the stage; "added" is that '
        "peak less what the process held when the stage began (in the demo, one process runs every stage).",
    ]
    found = conclusions(table)
    if found:
        lines += ["", "### What the figures say", "", *[f"- {line}" for line in found]]
    if bars:
        lines += ["", f"![comparison]({bars.relative_to(out)})"]
    if curves:
        lines += ["", "## Curves", "", f"![curves]({curves.relative_to(out)})"]
    if compare and compare.get("showcase"):
        lines += ["", "## The same prompts, answered", ""]
        lines.append(
            "Greedy answers of the first run of each method. The base model has no chat template: it continues "
            "the prompt's text (sampled at temperature 0.8, since greedily it repeats newlines)."
        )
        for item in compare["showcase"]:
            lines += ["", f"### {item['prompt']}", ""]
            order = ["base", *METHODS]
            ranked = sorted(item["answers"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
            for method, answer in ranked:
                quoted = "\n".join(f"> {line}" for line in (answer or "(empty)").splitlines())
                lines += [f"**{method.upper()}**", "", quoted, ""]
    lines += ["", "## Runs", "", f"Directories under {', '.join(str(p) for p in paths)}.", "", *stage_lines(runs)]
    report = out / "report.md"
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(report)
    return report
