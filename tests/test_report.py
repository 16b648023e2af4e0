"""The report (`alignkit report`, alignkit.report) and the run summary every stage writes.

Pure functions against hand-derived values; lineage, costs, verdicts, report.md and plots on
synthetic run directories (no training); the comparison of policies on the tiny fixtures (a
reference against itself has KL 0, the KL and win rate against naive recomputations); a tiny SFT run
through the CLI and a tiny reward run for run_summary.json; peak RSS and its reset."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ANSWERS, QUESTIONS, run_cli  # not tests.conftest: plain `pytest` has no `tests` package

from alignkit import config as config_mod
from alignkit import report
from alignkit.errors import UserError
from alignkit.train import loop
from alignkit.train.metrics import peak_rss_mib, reset_peak_memory

pytestmark = pytest.mark.usefixtures("one_thread")
QUIET = ["--run.progress", "false", "--run.plots", "false"]
PNG = b"\x89PNG\r\n\x1a\n"


# -- pure functions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "against", "expected"),
    [
        ([1, 2, 3, 3], [0, 2, 4, 3], 0.5),  # win, tie, loss, tie: (1 + 0.5 + 0 + 0.5) / 4
        ([5, 1, 2, 0], [1, 1, 5, -1], 0.625),  # win, tie, loss, win: (1 + 0.5 + 0 + 1) / 4
        ([1.0, 1.0], [0.0, 0.0], 1.0),
        ([0.0], [1.0], 0.0),
        ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], 0.5),  # all ties: half each
    ],
)
def test_win_rate_counts_ties_half(scores, against, expected):
    assert report.win_rate(torch.tensor(scores, dtype=torch.float), torch.tensor(against, dtype=torch.float)) == (
        pytest.approx(expected, abs=1e-12)
    )


def test_mean_std_is_the_sample_std():
    # mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7 (population would give std 2)
    mean, std = report.mean_std([2, 4, 4, 4, 5, 5, 7, 9])
    assert mean == pytest.approx(5.0) and std == pytest.approx(math.sqrt(32 / 7))
    mean, std = report.mean_std([3.5])  # one run has no spread
    assert mean == 3.5 and math.isnan(std)
    mean, std = report.mean_std([])
    assert math.isnan(mean) and math.isnan(std)


def test_fmt():
    assert report._fmt(1.234) == "1.23"
    assert report._fmt(12.345678, 0.3333, digits=1) == "12.3 ± 0.3"
    assert report._fmt(1499.6, 2.4, digits=0) == "1500 ± 2"
    assert report._fmt(-0.6, 0.0) == "-0.60 ± 0.00"
    assert report._fmt(math.nan) == "–"
    assert report._fmt(math.nan, 1.0) == "–"


def test_stage_name_of_every_config_class():
    expected = {
        "PretrainConfig": "pretrain", "SFTConfig": "sft", "ClassifyConfig": "classify", "RewardConfig": "rm",
        "PPOConfig": "ppo", "DPOConfig": "dpo", "KTOConfig": "kto", "GRPOConfig": "grpo",
    }  # fmt: skip
    for name, stage in expected.items():
        assert loop.stage_name(getattr(config_mod, name)()) == stage, name


# -- synthetic run directories ----------------------------------------------------------------------


def make_run(root: Path, name: str, stage: str, seed: int, *, wall_s: float, peak: float = 600.0,
             start: float = 200.0, data: dict | None = None, model: Path | str | None = None,
             section: dict | None = None, steps: int = 4) -> Path:  # fmt: skip
    """A finished run as the loop leaves it: run_summary.json, final/, config.yaml, metrics.jsonl."""
    directory = root / name
    (directory / "final").mkdir(parents=True)
    summary = {
        "stage": stage, "seed": seed, "steps": steps, "tokens": 100 * steps, "train_s": 0.8 * wall_s,
        "wall_s": wall_s, "peak_rss_mib": peak, "rss_at_start_mib": start, "device": "cpu", "processes": 1,
        "threads": 2, "resumed": False, "data": data or {},
    }  # fmt: skip
    (directory / "run_summary.json").write_text(json.dumps(summary, indent=1))
    config = {"model": {"name_or_path": str(model) if model is not None else "demo"}, "run": {"seed": seed}}
    if section:
        config[stage] = section
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    train_key, eval_key = report.CURVES[stage]
    rows = [{"step": s, train_key: 1.0 / s + seed} for s in range(1, steps + 1)]
    rows.append({"step": steps, eval_key: 0.5 + seed})
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


def build_lineage(root: Path) -> dict[str, Path]:
    """pretrain -> sft (2 seeds) -> rm; ppo (2 seeds) and grpo from sft + rm; dpo (2 seeds) and kto from sft."""
    runs = {"pretrain": make_run(root, "pretrain", "pretrain", 0, wall_s=1000, peak=900, start=100,
                                 data={"rows": 50, "tokens": 5000})}  # fmt: skip
    base = runs["pretrain"] / "final"
    runs["sft"] = make_run(root, "sft", "sft", 0, wall_s=10, peak=500, start=200, data={"examples": 100}, model=base)
    runs["sft-2"] = make_run(root, "sft-2", "sft", 1, wall_s=14, peak=700, start=300, data={"examples": 100},
                             model=base)  # fmt: skip
    sft, rm = runs["sft"] / "final", root / "rm" / "final"
    runs["rm"] = make_run(root, "rm", "rm", 0, wall_s=5, data={"pairs": 40}, model=sft)
    for name, seed, wall, peak in (("ppo", 0, 30, 1000), ("ppo-2", 1, 50, 1400)):
        runs[name] = make_run(root, name, "ppo", seed, wall_s=wall, peak=peak, start=200, data={"prompts": 20},
                              model=sft, section={"reward_model": str(rm), "critic": "auto"})  # fmt: skip
    for name, seed, wall in (("dpo", 0, 7), ("dpo-2", 1, 9)):
        runs[name] = make_run(root, name, "dpo", seed, wall_s=wall, data={"pairs": 40}, model=sft)
    runs["kto"] = make_run(root, "kto", "kto", 0, wall_s=6, data={"votes": 30}, model=sft)
    runs["grpo"] = make_run(root, "grpo", "grpo", 0, wall_s=20, data={"prompts": 20}, model=sft,
                            section={"reward": str(rm), "group_size": 4})  # fmt: skip
    return runs


# (method, run name) -> rm_score, kl, win_rate, answer_length. Hand-derived below (a verdict needs a gain
# beyond 2 x the standard error of the difference, sqrt(s1^2/n1 + s2^2/n2)):
#   SFT  rm [1.0, 1.2]   mean 1.1, sample std sqrt(0.02) = 0.141
#   PPO  rm [1.9, 2.3]   mean 2.1, std sqrt(0.08) = 0.283; error sqrt(0.02/2 + 0.08/2) = 0.224; +1.0 > 0.447: above
#   DPO  rm [1.25, 1.35] mean 1.3, std sqrt(0.005) = 0.071; error sqrt(0.01 + 0.0025) = 0.112; +0.2 < 0.224: noise
#   GRPO rm [0.5]        one seed: no spread, no verdict
#   KTO  no figures: no verdict, "–" in the policy rows
FIGURES = {
    ("sft", "sft"): (1.0, 0.0, 0.5, 10), ("sft", "sft-2"): (1.2, 0.4, 0.6, 12),
    ("ppo", "ppo"): (1.9, 2.0, 0.75, 20), ("ppo", "ppo-2"): (2.3, 4.0, 0.55, 24),
    ("dpo", "dpo"): (1.25, 1.0, 0.5, 14), ("dpo", "dpo-2"): (1.35, 1.0, 0.5, 14),
    ("grpo", "grpo"): (0.5, 3.0, 0.25, 30),
}  # fmt: skip


def write_compare(root: Path, runs: dict[str, Path]) -> Path:
    policies = []
    for (method, name), (score, kl, win, length) in FIGURES.items():
        seed = json.loads((runs[name] / "run_summary.json").read_text())["seed"]
        policies.append({
            "method": method, "seed": seed, "directory": str(runs[name]), "rm_score": score, "rm_score_std": 0.5,
            "kl": kl, "win_rate": win, "answer_length": length, "ended": 1.0,
        })  # fmt: skip
    compare = {
        "reference": str(runs["sft"]), "reward_model": str(runs["rm"] / "final"), "prompts": 8,
        "samples_per_prompt": 2, "max_new_tokens": 16, "seed": 0, "reference_rm_score": 1.0, "policies": policies,
        "showcase": [{"prompt": "Where is my parcel?", "answers": {"base": "parcel parcel", "sft": "On its way.\nSoon.",
                                                                   "ppo": ""}}],
    }  # fmt: skip
    (root / "compare").mkdir()
    path = root / "compare" / "compare.json"
    path.write_text(json.dumps(compare, indent=1))
    return path


@pytest.fixture
def lineage(tmp_path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "runs"
    runs = build_lineage(root)
    write_compare(root, runs)
    return root, runs


def test_find_runs_reads_finished_runs_to_depth_two_once_each(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "sft", "sft", 3, wall_s=1)
    make_run(root / "group", "ppo", "ppo", 1, wall_s=2)  # depth 2
    make_run(root / "group", "dpo", "dpo", 2, wall_s=2)
    make_run(root / "a" / "b", "deep", "dpo", 0, wall_s=2)  # depth 3: not looked at
    unfinished = make_run(root, "unfinished", "sft", 0, wall_s=1)
    shutil.rmtree(unfinished / "final")  # a summary without final/: not finished
    (root / "no-summary" / "final").mkdir(parents=True)

    runs = report.find_runs([root, root / "sft"])  # the sft run twice: found once
    assert [(r.stage, r.seed, r.directory.name) for r in runs] == [("dpo", 2, "dpo"), ("ppo", 1, "ppo"),
                                                                   ("sft", 3, "sft")]  # fmt: skip
    ppo = runs[1]
    assert ppo.final == root / "group" / "ppo" / "final" and ppo.label == "ppo (seed 1)"
    assert ppo.summary["wall_s"] == 2 and ppo.config["run"]["seed"] == 1
    # a run directory given itself
    (only,) = report.find_runs([root / "group" / "dpo"])
    assert only.stage == "dpo" and only.directory == root / "group" / "dpo"


def test_find_runs_without_finished_runs_is_a_user_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no finished runs"):
        report.find_runs([tmp_path / "empty"])
    with pytest.raises(UserError, match="no such run directory"):
        report.find_runs([tmp_path / "missing"])


def test_upstream_follows_model_and_reward_model_but_not_pretraining(lineage):
    root, runs = lineage
    found = report.find_runs([root])
    by_final = {r.final.resolve(): r for r in found}
    of = {r.directory.name: r for r in found}
    names = {name: [x.directory.name for x in report.upstream(of[name], by_final)] for name in of}
    assert names["pretrain"] == []  # pretraining is the shared base: never counted
    assert names["sft"] == ["sft"] and names["sft-2"] == ["sft-2"]
    assert names["rm"] == ["rm", "sft"]
    # ppo: its model (sft) and ppo.reward_model (rm, itself from sft): sft counted once
    assert sorted(names["ppo"]) == ["ppo", "rm", "sft"] and sorted(names["ppo-2"]) == ["ppo-2", "rm", "sft"]
    assert sorted(names["grpo"]) == ["grpo", "rm", "sft"]  # grpo.reward as a reward model dir
    assert names["dpo"] == ["dpo", "sft"] and names["kto"] == ["kto", "sft"]
    assert report.data_used(report.upstream(of["ppo"], by_final)) == {"prompts": 20, "pairs": 40, "examples": 100}
    assert report.data_used(report.upstream(of["dpo"], by_final)) == {"pairs": 40, "examples": 100}
    # two stages that count the same thing add up
    assert report.data_used([of["rm"], of["dpo"], of["sft"]]) == {"pairs": 80, "examples": 100}


def test_method_rows_sum_costs_along_the_lineage_and_average_over_seeds(lineage):
    root, runs = lineage
    compare = json.loads((root / "compare" / "compare.json").read_text())
    table = report.method_rows(report.find_runs([root]), compare)
    assert list(table) == ["sft", "ppo", "dpo", "kto", "grpo"]  # METHODS order; rm and pretrain are no methods
    sqrt2 = math.sqrt(2)
    sft, ppo, dpo, kto, grpo = (table[m] for m in ("sft", "ppo", "dpo", "kto", "grpo"))
    assert [r.directory.name for r in ppo["runs"]] == ["ppo", "ppo-2"]
    # stage alone: sft [10, 14] -> 12 ± 2*sqrt(2); ppo [30, 50] -> 40 ± 10*sqrt(2)
    assert sft["wall_s"] == pytest.approx((12, 2 * sqrt2)) and ppo["wall_s"] == pytest.approx((40, 10 * sqrt2))
    # from the base model: ppo = ppo + rm (5) + sft seed 0 (10): [45, 65]; pretraining's 1000 s never counts
    assert ppo["chain_wall_s"] == pytest.approx((55, 10 * sqrt2))
    assert sft["chain_wall_s"] == pytest.approx((12, 2 * sqrt2))
    assert dpo["chain_wall_s"] == pytest.approx((18, sqrt2))  # [7 + 10, 9 + 10]
    assert kto["chain_wall_s"][0] == 16 and grpo["chain_wall_s"][0] == 35
    assert math.isnan(kto["chain_wall_s"][1]) and math.isnan(grpo["chain_wall_s"][1])  # one run: no spread
    # memory: peak [1000, 1400]; added by the stage: peak - rss at start = [800, 1200]
    assert ppo["peak_rss_mib"] == pytest.approx((1200, 200 * sqrt2))
    assert ppo["added_rss_mib"] == pytest.approx((1000, 200 * sqrt2))
    assert sft["added_rss_mib"] == pytest.approx((350, 50 * sqrt2))  # [500 - 200, 700 - 300]
    assert ppo["data"] == {"prompts": 20, "pairs": 40, "examples": 100}
    assert grpo["data"] == {"prompts": 20, "pairs": 40, "examples": 100}
    assert dpo["data"] == {"pairs": 40, "examples": 100} and sft["data"] == {"examples": 100}
    assert kto["data"] == {"votes": 30, "examples": 100}
    assert sorted(ppo["chain"]) == ["ppo", "rm", "sft"]
    # the comparison's figures, by (method, directory)
    assert sft["rm_score"] == pytest.approx((1.1, math.sqrt(0.02)))
    assert ppo["rm_score"] == pytest.approx((2.1, math.sqrt(0.08)))
    assert ppo["kl"] == pytest.approx((3.0, sqrt2)) and ppo["win_rate"] == pytest.approx((0.65, math.sqrt(0.02)))
    assert ppo["answer_length"] == pytest.approx((22, 2 * sqrt2))
    assert grpo["rm_score"][0] == 0.5 and math.isnan(grpo["rm_score"][1])
    # SFT's KL and win rate leave out the reference against itself: the other seed alone (0.4, 0.6)
    assert sft["kl"][0] == pytest.approx(0.4) and sft["win_rate"][0] == pytest.approx(0.6)
    assert math.isnan(sft["kl"][1]) and sft["scored"] == 2
    assert all(math.isnan(x) for key in ("rm_score", "kl", "win_rate", "answer_length") for x in kto[key])
    # without a comparison: costs only
    bare = report.method_rows(report.find_runs([root]), None)
    assert bare["ppo"]["chain_wall_s"] == pytest.approx((55, 10 * sqrt2)) and math.isnan(bare["ppo"]["rm_score"][0])


def test_conclusions_state_verdicts_costs_and_spread(lineage):
    root, _ = lineage
    compare = json.loads((root / "compare" / "compare.json").read_text())
    lines = report.conclusions(report.method_rows(report.find_runs([root]), compare))
    assert lines == [
        "PPO ends above SFT under the reward model: +1.00 (standard error 0.22 over 2 and 2 seeds), win rate "
        "against the SFT model 0.65 ± 0.14, KL to it 3.0 ± 1.4 nats per answer.",
        # 55 / 12 = 4.58x the time, 1200 / 600 = 2.0x the memory
        "PPO costs 4.6x SFT's time from the base model (sft, rm, ppo) and 2.0x its process's peak memory.",
        "DPO ends within noise of SFT under the reward model: +0.20 (standard error 0.11 over 2 and 2 seeds), "
        "win rate against the SFT model 0.50 ± 0.00, KL to it 1.0 ± 0.0 nats per answer.",
        "DPO costs 1.5x SFT's time from the base model (sft, dpo) and 1.0x its process's peak memory.",  # 18 / 12
        # 16 / 12; no verdict
        "KTO costs 1.3x SFT's time from the base model (sft, kto) and 1.0x its process's peak memory.",
        "GRPO costs 2.9x SFT's time from the base model (sft, rm, grpo) and 1.0x its process's peak memory.",  # 35 / 12
        # the second SFT seed's KL to the first (0.4; the first's own 0.0 left out); KTO has no KL figure
        "Another SFT seed ends 0.4 nats per answer away from the first SFT model; PPO moves it 3.0, DPO moves it "
        "1.0, GRPO moves it 3.0 (KL of the final policy to the SFT model it started from).",
        # GRPO's one run has no spread and stays out
        "Across seeds the reward-model score varies least for DPO (std 0.07) and most for PPO (std 0.28).",
    ]
    assert report.conclusions({k: v for k, v in report.method_rows(report.find_runs([root]), compare).items()
                               if k != "sft"}) == []  # fmt: skip  # nothing to compare against


def entry(score: float, std: float, seeds: int = 4) -> dict:
    return {"rm_score": (score, std), "win_rate": (0.5, 0.0), "kl": (1.0, 0.0), "chain_wall_s": (10.0, 0.0),
            "peak_rss_mib": (100.0, 0.0), "chain": ["dpo", "sft"], "scored": seeds}  # fmt: skip


# SFT 1.0 ± 0.375 and DPO x ± 0.5, 4 seeds each: standard error sqrt(0.375^2/4 + 0.5^2/4) = 0.625 / 2
# = 0.3125 exactly, the bar 2 x 0.3125 = 0.625 (every number here is exact in binary).
@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        (1.75, "above"),
        (1.625, "within noise of"),  # exactly on the bar: not beyond it
        (1.5, "within noise of"),
        (0.5, "within noise of"),
        (0.25, "below"),
        (1.0, "within noise of"),
    ],
)
def test_a_difference_counts_only_beyond_twice_its_standard_error(score, verdict):
    lines = report.conclusions({"sft": entry(1.0, 0.375), "dpo": entry(score, 0.5)})
    assert lines[0].startswith(f"DPO ends {verdict} SFT under the reward model: {score - 1.0:+.2f} ")
    assert "(standard error 0.31 over 4 and 4 seeds)" in lines[0]


def test_one_seed_gives_no_verdict():
    lines = report.conclusions({"sft": entry(1.0, 0.0, seeds=1), "dpo": entry(3.0, 0.0, seeds=3)})
    assert not any("SFT under the reward model" in line for line in lines)
    assert lines[0].startswith("DPO costs 1.0x SFT's time")


def test_comparison_table_rows(lineage):
    root, _ = lineage
    compare = json.loads((root / "compare" / "compare.json").read_text())
    lines = report.comparison_table(report.method_rows(report.find_runs([root]), compare))
    assert lines[0] == "| | SFT | PPO | DPO | KTO | GRPO |" and lines[1] == "|---|---|---|---|---|---|"
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[2:]}
    assert rows["seeds"] == "| seeds | 2 | 2 | 2 | 1 | 1 |"
    assert rows["learns from"].split(" | ")[2] == report.NEEDS["ppo"]
    assert rows["wall time of the stage, s"] == (
        "| wall time of the stage, s | 12.0 ± 2.8 | 40.0 ± 14.1 | 8.0 ± 1.4 | 6.0 | 20.0 |"
    )
    assert rows["wall time from the base model, s"].endswith("| 12.0 ± 2.8 | 55.0 ± 14.1 | 18.0 ± 1.4 | 16.0 | 35.0 |")
    assert rows["peak memory of the process, MiB"].endswith("| 600 ± 141 | 1200 ± 283 | 600 ± 0 | 600 | 600 |")
    assert rows["peak memory added by the stage, MiB"].endswith("| 350 ± 71 | 1000 ± 283 | 400 ± 0 | 400 | 400 |")
    assert rows["reward-model score of the final policy"].endswith(
        "| 1.10 ± 0.14 | 2.10 ± 0.28 | 1.30 ± 0.07 | – | 0.50 |"
    )
    assert rows["KL to the first SFT model, nats per answer (SFT: its other seeds)"].endswith(
        "| 0.4 | 3.0 ± 1.4 | 1.0 ± 0.0 | – | 3.0 |"
    )
    assert rows["win rate against the first SFT model under the reward model"].endswith(
        "| 0.60 | 0.65 ± 0.14 | 0.50 ± 0.00 | – | 0.25 |"
    )
    assert rows["answer length, tokens"].endswith("| 11 ± 1 | 22 ± 3 | 14 ± 0 | – | 30 |")
    data = rows["labelled data used (this stage and those before it)"].strip("| ").split(" | ")[1:]
    assert [set(cell.split(", ")) for cell in data] == [
        {"100 examples"}, {"20 prompts", "40 pairs", "100 examples"}, {"40 pairs", "100 examples"},
        {"30 votes", "100 examples"}, {"20 prompts", "40 pairs", "100 examples"},
    ]  # fmt: skip


def test_write_report_writes_the_table_conclusions_answers_runs_and_plots(lineage, tmp_path):
    root, runs = lineage
    out = tmp_path / "out"
    written = report.write_report([root], out)
    assert written == out / "report.md"
    text = written.read_text(encoding="utf-8")
    table = report.comparison_table(
        report.method_rows(report.find_runs([root]), json.loads((root / "compare" / "compare.json").read_text()))
    )
    assert "\n".join(table) in text
    assert "measured on cpu with 2 thread(s), 1 process(es)" in text
    assert "the same 8 held-out prompts (2 answer(s) each, sampled at temperature 1, seed 0, at most 16 tokens)" in text
    assert "- PPO ends above SFT under the reward model: +1.00" in text
    assert "- DPO ends within noise of SFT under the reward model: +0.20" in text
    assert "GRPO ends" not in text  # one seed: no verdict
    assert "![comparison](plots/comparison.png)" in text and "![curves](plots/curves.png)" in text
    for name in ("curves.png", "comparison.png"):
        assert (out / "plots" / name).read_bytes()[:8] == PNG
    # the showcase: every method's answer quoted line by line, an empty one shown as such
    assert "### Where is my parcel?" in text
    assert "**SFT**\n\n> On its way.\n> Soon." in text and "**PPO**\n\n> (empty)" in text
    assert "**BASE**\n\n> parcel parcel" in text
    # one line per run: 10 runs, pretraining and the reward model included
    # (with each run's last held-out figure: make_run logs eval_<metric> = 0.5 + seed at the last step)
    assert f"| {runs['ppo-2'].name} | ppo | 1 | 4 | 50.0 | 1400 | 20 prompts | reward 1.5 |" in text
    assert f"| {runs['pretrain'].name} | pretrain | 0 | 4 | 1000.0 | 900 | 50 rows, 5000 tokens | loss 0.5 |" in text
    assert len(re.findall(r"^\| [\w-]+ \| \w+ \| \d \| 4 \|", text, flags=re.M)) == 10
    assert text.startswith(f"# alignkit report\n\n10 runs from {root}; ")


def test_write_report_without_a_comparison_has_costs_but_no_policy_figures(tmp_path):
    root = tmp_path / "runs"
    base = make_run(root, "pretrain", "pretrain", 0, wall_s=100) / "final"
    make_run(root, "sft", "sft", 0, wall_s=10, data={"examples": 12}, model=base)
    written = report.write_report([root], root)
    text = written.read_text(encoding="utf-8")
    assert "No compare.json was found beside these runs" in text
    assert "| wall time from the base model, s | 10.0 |" in text
    assert "| reward-model score of the final policy | – |" in text
    assert (root / "plots" / "curves.png").read_bytes()[:8] == PNG
    assert not (root / "plots" / "comparison.png").exists()  # nothing to plot
    assert "![comparison]" not in text and "### What the figures say" not in text


def test_lineage_and_figures_survive_a_report_from_another_directory(tmp_path, monkeypatch):
    # As the demo does it: from `trained_here`, runs under the relative runs/demo, --model runs/demo/sft/final.
    trained_here = tmp_path / "project"
    root = trained_here / "runs" / "demo"
    make_run(root, "sft", "sft", 0, wall_s=10, model="runs/demo/pretrain/final")
    make_run(root, "rm", "rm", 0, wall_s=5, model="runs/demo/sft/final")
    make_run(root, "ppo", "ppo", 0, wall_s=30, model="runs/demo/sft/final",
             section={"reward_model": "runs/demo/rm/final"})  # fmt: skip
    policies = [{"method": m, "seed": 0, "directory": f"runs/demo/{m}", "rm_score": s, "kl": 1.0, "win_rate": 0.5,
                 "answer_length": 9} for m, s in (("sft", 1.0), ("ppo", 2.0))]  # fmt: skip
    (root / "compare").mkdir()
    (root / "compare" / "compare.json").write_text(json.dumps({"policies": policies}))

    monkeypatch.chdir(trained_here)  # from where the runs were made: all is found
    table = report.method_rows(report.find_runs([root]), json.loads((root / "compare" / "compare.json").read_text()))
    assert table["ppo"]["chain_wall_s"][0] == 45 and table["ppo"]["rm_score"][0] == 2.0

    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the same absolute run directory, from elsewhere
    compare = json.loads((root / "compare" / "compare.json").read_text())
    table = report.method_rows(report.find_runs([root]), compare, root / "compare")
    assert table["ppo"]["chain_wall_s"][0] == 45  # sft 10 + rm 5 + ppo 30
    assert table["ppo"]["rm_score"][0] == 2.0


@pytest.mark.slow
def test_cli_report_on_an_empty_directory_and_on_runs(lineage, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("report", tmp_path / "empty", timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no finished runs" in lines[0]

    root, _ = lineage
    result = run_cli("report", root, "--out", tmp_path / "out", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {tmp_path / 'out' / 'report.md'}"
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| seeds | 2 | 2 | 2 | 1 | 1 |" in text and "- DPO ends within noise of SFT" in text
    assert (tmp_path / "out" / "plots" / "comparison.png").read_bytes()[:8] == PNG


# -- the comparison of policies on the tiny fixtures ----------------------------------------------------

SEED, TOKENS = 3, 8
RECORDS = [{"prompt": q} for q in QUESTIONS]


def fixture_run(directory: Path, stage: str, seed: int, model: Path) -> report.Run:
    """A run directory whose final/ is `model`."""
    directory.mkdir(parents=True)
    (directory / "final").symlink_to(model, target_is_directory=True)
    return report.Run(directory, stage, seed, {}, {})


@pytest.fixture(scope="module")
def tuned_dir(policy_dir, tmp_path_factory) -> Path:
    """The tiny policy with its layers nudged: another policy on the same vocabulary."""
    from alignkit.models import load

    tokenizer, model = load.load_tokenizer(policy_dir), load.load_causal_lm(policy_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layers" in name:
                param.add_(0.05 * torch.randn(param.shape, generator=generator))
    path = tmp_path_factory.mktemp("report") / "tuned"
    load.save_pretrained(model, tokenizer, path, "sdpa")
    return path


@pytest.fixture(scope="module")
def compared(policy_dir, tuned_dir, reward_dir, tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    reference = fixture_run(root / "sft", "sft", 0, policy_dir)
    tuned = fixture_run(root / "ppo", "ppo", 5, tuned_dir)
    out = root / "compare"
    result = report.compare_policies(
        [reference, tuned], reference, reward_dir, RECORDS, out, base_dir=tiny_model_dir, showcase=["hi", "Refund?"],
        seed=SEED, max_new_tokens=TOKENS,
    )  # fmt: skip
    return result, out, reference, tuned


def test_compare_json_fields_and_answers(compared):
    result, out, reference, tuned = compared
    assert json.loads((out / "compare.json").read_text(encoding="utf-8")) == result
    assert result["reference"] == str(reference.directory) and result["prompts"] == len(QUESTIONS)
    assert result["samples_per_prompt"] == 1 and result["max_new_tokens"] == TOKENS and result["seed"] == SEED
    assert [(p["method"], p["seed"], p["directory"]) for p in result["policies"]] == [
        ("sft", 0, str(reference.directory)), ("ppo", 5, str(tuned.directory))
    ]  # fmt: skip
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(answers) == 2 * len(QUESTIONS)
    for policy in result["policies"]:
        rows = [a for a in answers if a["method"] == policy["method"] and a["seed"] == policy["seed"]]
        assert [a["prompt"] for a in rows] == QUESTIONS
        scores = torch.tensor([a["rm_score"] for a in rows])
        assert policy["rm_score"] == pytest.approx(float(scores.mean()), abs=1e-6)
        assert policy["rm_score_std"] == pytest.approx(float(scores.std()), abs=1e-6)
        assert 0 < policy["answer_length"] <= TOKENS and 0 <= policy["ended"] <= 1
    # the showcase: the base model and one run of each method, keyed by method
    assert [s["prompt"] for s in result["showcase"]] == ["hi", "Refund?"]
    for item in result["showcase"]:
        assert set(item["answers"]) == {"base", "sft", "ppo"}
        assert all(isinstance(a, str) for a in item["answers"].values())


def test_the_reference_against_itself_has_kl_zero_and_a_win_rate_between_0_and_1(compared, reward_dir):
    from alignkit.models import load
    from alignkit.stages import grpo

    result, out, reference, _ = compared
    sft = result["policies"][0]
    assert sft["kl"] == 0.0  # the same model on both sides: every log-ratio is exactly 0
    # naive: the reference's answers drawn with another seed, scored alone, compared prompt by prompt
    tokenizer = load.load_tokenizer(reference.final)
    scorer, _ = grpo.reward_of(str(reward_dir), torch.device("cpu"), 1024)
    model = load.load_causal_lm(reference.final)
    baseline = report.sample_answers(model, None, tokenizer, RECORDS, scorer, SEED + 7_919, TOKENS)
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert result["reference_rm_score"] == pytest.approx(float(baseline.scores.mean()), abs=1e-6)
    for policy in result["policies"]:
        mine = [a["rm_score"] for a in answers if a["method"] == policy["method"]]
        theirs = baseline.scores.tolist()
        wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(mine, theirs, strict=True))
        assert policy["win_rate"] == pytest.approx(wins / len(QUESTIONS), abs=1e-9)
    assert 0 < sft["win_rate"] < 1
    sft_texts = [a["answer"] for a in answers if a["method"] == "sft"]
    assert sft_texts != baseline.texts  # another seed: other answers


def test_kl_of_another_policy_equals_a_plain_forward_per_answer(compared, tuned_dir, policy_dir):
    """The Monte Carlo KL: per answer, the sum over its tokens (up to and including its end) of
    log pi(y_t) - log pi_ref(y_t), each row's unpadded prompt + answer through a plain forward."""
    from alignkit import rollout
    from alignkit.models import load
    from alignkit.stages import ppo

    result, out, _, _ = compared
    tokenizer = load.load_tokenizer(policy_dir)
    policy = ppo.open_policy(tuned_dir, tokenizer, "sdpa", frozen=True)
    ref = ppo.open_policy(policy_dir, tokenizer, "sdpa", frozen=True)
    texts = rollout.prompt_texts(tokenizer, QUESTIONS, chat=True)
    drawn = rollout.sample(policy, tokenizer, texts, rollout.Sampling(TOKENS, 1.0, 1.0, 0, SEED), 64)
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert tokenizer.batch_decode(drawn.response_ids, skip_special_tokens=True) == [
        a["answer"] for a in answers if a["method"] == "ppo"
    ]  # the same draw as the comparison's
    kls = []
    with torch.no_grad():
        for i in range(len(texts)):
            prompt = drawn.query_ids[i][drawn.query_mask[i].bool()]
            answer = drawn.response_ids[i][drawn.response_mask[i].bool()]
            ids = torch.cat([prompt, answer]).unsqueeze(0)
            total = []
            for model in (policy, ref):
                logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
                positions = torch.arange(len(prompt) - 1, ids.shape[1] - 1)
                total.append(logps[positions, ids[0, len(prompt) :]].sum())
            kls.append(float(total[0] - total[1]))
    ppo_row = result["policies"][1]
    assert ppo_row["kl"] == pytest.approx(sum(kls) / len(kls), abs=1e-4)
    assert abs(ppo_row["kl"]) > 1e-3  # another policy: not the reference's 0
    lengths = drawn.response_mask.sum(dim=1).float()
    assert ppo_row["answer_length"] == pytest.approx(float(lengths.mean()))


def test_two_samples_per_prompt_give_twice_the_answers(compared, reward_dir, tmp_path):
    _, _, reference, tuned = compared
    out = tmp_path / "compare"
    result = report.compare_policies([tuned], reference, reward_dir, RECORDS, out, seed=SEED, max_new_tokens=TOKENS,
                                     samples=2)  # fmt: skip
    assert result["prompts"] == len(QUESTIONS) and result["samples_per_prompt"] == 2 and result["showcase"] == []
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(answers) == 2 * len(QUESTIONS)
    assert [a["prompt"] for a in answers] == [q for q in QUESTIONS for _ in range(2)]
    scores = [a["rm_score"] for a in answers]
    assert result["policies"][0]["rm_score"] == pytest.approx(sum(scores) / len(scores), abs=1e-6)


def test_a_policy_with_another_vocabulary_is_a_user_error(compared, reward_dir, policy_dir, tmp_path):
    from alignkit.models import load

    _, _, reference, _ = compared
    other = tmp_path / "other"
    shutil.copytree(policy_dir, other)
    tokenizer = load.load_tokenizer(other)
    tokenizer.add_tokens(["<|refund|>"])
    tokenizer.save_pretrained(other)
    stranger = fixture_run(tmp_path / "dpo", "dpo", 0, other)
    with pytest.raises(UserError, match="tokenizer differs"):
        report.compare_policies([stranger], reference, reward_dir, RECORDS[:2], tmp_path / "out", max_new_tokens=2)


# -- the run summary the loop writes ----------------------------------------------------------------


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_an_sft_run_through_the_cli_writes_its_summary(tmp_path, tiny_model_dir):
    data = write_rows(tmp_path / "sft.jsonl", [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ANSWERS[i % len(ANSWERS)]}]}
        for i, q in enumerate(QUESTIONS + QUESTIONS[:4])
    ])  # fmt: skip  # 12 conversations, a quarter held out
    run_dir = tmp_path / "sft"
    result = run_cli(
        "sft", "--model", tiny_model_dir, "--data", data, "--output-dir", run_dir, "--max-steps", "3",
        "--batch-size", "4", "--micro-batch-size", "4", "--data.eval-fraction", "0.25", "--seed", "5",
        "--eval-every", "0", "--save-every", "0", *QUIET, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = re.search(r"(\d+) examples -> (\d+) kept .*; (\d+) held out", result.stdout)
    assert printed, result.stdout
    examples, kept, held_out = map(int, printed.groups())
    assert examples + held_out == 12 and held_out > 0 and kept == examples  # nothing dropped

    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert set(summary) == {"stage", "seed", "steps", "tokens", "train_s", "wall_s", "peak_rss_mib",
                            "rss_at_start_mib", "device", "processes", "threads", "resumed", "data"}  # fmt: skip
    assert summary["stage"] == "sft" and summary["seed"] == 5 and summary["steps"] == 3
    assert summary["data"] == {"examples": kept}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last = [m for m in metrics if "loss" in m][-1]
    assert last["step"] == 3 and summary["tokens"] == last["tokens"] > 0
    assert summary["wall_s"] > summary["train_s"] > 0  # wall time counts the set-up (data, model) too
    assert summary["train_s"] >= last["elapsed_s"]
    assert summary["peak_rss_mib"] >= summary["rss_at_start_mib"] > 0
    assert (summary["device"], summary["processes"], summary["threads"], summary["resumed"]) == ("cpu", 1, 1, False)
    (found,) = report.find_runs([tmp_path])
    assert found.directory == run_dir and found.stage == "sft" and found.seed == 5
    assert found.config["model"]["name_or_path"] == str(tiny_model_dir)


def test_a_reward_run_is_summarised_as_rm_with_its_pairs(tmp_path, tiny_model_dir):
    from alignkit.stages import reward

    pairs = [
        {"prompt": q, "chosen": ANSWERS[i % 3], "rejected": ANSWERS[(i + 1) % 3]} for i, q in enumerate(QUESTIONS * 2)
    ]
    train = write_rows(tmp_path / "train.jsonl", pairs[:12])
    held = write_rows(tmp_path / "held.jsonl", pairs[12:])
    args = ["--model", str(tiny_model_dir), "--data", str(train), "--data.eval-path", str(held), "--output-dir",
            str(tmp_path / "rm"), "--max-steps", "2", "--batch-size", "4", "--micro-batch-size", "4", "--seed", "2",
            "--eval-every", "0", "--save-every", "0", *QUIET]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        reward.run(config_mod.resolve(config_mod.RewardConfig, args))
    summary = json.loads((tmp_path / "rm" / "run_summary.json").read_text())
    assert summary["stage"] == "rm" and summary["seed"] == 2 and summary["steps"] == 2
    assert summary["data"] == {"pairs": 12}  # the training file's pairs, not the held-out ones
    assert summary["wall_s"] > summary["train_s"] > 0 and summary["peak_rss_mib"] >= summary["rss_at_start_mib"] > 0


# -- peak memory -------------------------------------------------------------------------------------------


def test_peak_rss_rises_with_an_allocation_and_reset_brings_it_back_to_the_current_rss():
    reset_peak_memory()
    before = peak_rss_mib()
    assert before == pytest.approx(peak_rss_mib("VmRSS"), abs=20)  # just reset: the peak is what is held now
    size = 200 * 2**20
    block = bytearray(size)
    block[::4096] = b"\x01" * len(range(0, size, 4096))  # touch every page: resident, not just reserved
    held = peak_rss_mib("VmRSS")
    peak = peak_rss_mib()
    assert peak >= held >= before + 190  # about 200 MiB more
    del block
    after_free = peak_rss_mib("VmRSS")
    assert after_free < held - 150 and peak_rss_mib() >= peak - 1  # freed, but the peak stands
    reset_peak_memory()
    assert peak_rss_mib() == pytest.approx(peak_rss_mib("VmRSS"), abs=20)
    assert peak_rss_mib() < peak - 150
