"""`alignkit demo`: the whole lifecycle end to end (the quick profile), its report, and the
interactive feedback step."""

from __future__ import annotations

import json
import re
import socket
import statistics
import threading

import pytest
from conftest import QUESTIONS, run_cli

from alignkit import demo

pytestmark = pytest.mark.usefixtures("one_thread")

METHODS = ("sft", "ppo", "dpo", "grpo")


def table_row(report: str, name: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {name} |"))
    return [cell.strip() for cell in line.strip("|").split("|")[1:]]


@pytest.mark.slow
def test_demo_quick_runs_every_stage_writes_the_report_and_skips_what_is_done(tmp_path):
    first = run_cli("demo", "--quick", cwd=tmp_path, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    root = tmp_path / "runs" / "demo-quick"
    runs = ["pretrain", "classify", "rm"] + [demo.run_name(m, k) for m in METHODS for k in range(3)]
    for name in runs:
        summary = json.loads((root / name / "run_summary.json").read_text())
        assert (root / name / "final" / "config.json").is_file(), name
        assert summary["stage"] == name.split("-")[0] and summary["wall_s"] > 0 and summary["peak_rss_mib"] > 0
    assert [
        json.loads((root / demo.run_name("ppo", k) / "run_summary.json").read_text())["seed"] for k in range(3)
    ] == [
        0,
        1,
        2,
    ]

    # the feedback stage: the embedded ratings went into a real store, and its pairs train the reward model
    exported = (root / "feedback" / "pairs.jsonl").read_text().splitlines()
    assert (root / "feedback" / "feedback.db").is_file() and len(exported) > 100
    rm_pairs = json.loads((root / "rm" / "run_summary.json").read_text())["data"]["pairs"]
    embedded = len((root / "data" / "pairs-train.jsonl").read_text().splitlines())
    assert rm_pairs == embedded + len(exported)

    # held-out prompts never train anything after SFT
    held = {json.loads(x)["prompt"] for x in (root / "data" / "pairs-held-out.jsonl").read_text().splitlines()}
    trained = {json.loads(x)["prompt"] for x in (root / "data" / "pairs-train.jsonl").read_text().splitlines()}
    assert len(held) == demo.PROFILES["quick"].held_out and not held & trained

    # the comparison: every final policy before the same prompts and reward model
    compare = json.loads((root / "compare" / "compare.json").read_text())
    assert sorted((p["method"], p["seed"]) for p in compare["policies"]) == sorted(
        (m, k) for m in METHODS for k in range(3)
    )
    assert compare["prompts"] == demo.PROFILES["quick"].held_out
    sft0 = next(p for p in compare["policies"] if p["method"] == "sft" and p["seed"] == 0)
    assert sft0["kl"] == 0.0  # the reference against itself
    answers = [json.loads(x) for x in (root / "compare" / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 12 * compare["prompts"]
    ppo_scores = [a["rm_score"] for a in answers if a["method"] == "ppo" and a["seed"] == 1]
    assert next(p for p in compare["policies"] if p["method"] == "ppo" and p["seed"] == 1)["rm_score"] == (
        pytest.approx(statistics.fmean(ppo_scores), abs=1e-6)
    )
    prompts = [item["prompt"] for item in compare["showcase"]]
    assert (
        "我不能登录我的账号，我该怎么办？" in prompts and "I can't log in to my account, what should I do?" in prompts
    )
    assert set(compare["showcase"][0]["answers"]) == {"base", *METHODS}

    # the report: its numbers are the runs' own
    report = (root / "report.md").read_text()
    assert table_row(report, "seeds") == ["3", "3", "3", "3"]
    walls = [json.loads((root / demo.run_name("dpo", k) / "run_summary.json").read_text())["wall_s"] for k in range(3)]
    cell = table_row(report, "wall time of the stage, s")[METHODS.index("dpo")]
    assert cell == f"{statistics.fmean(walls):.1f} ± {statistics.stdev(walls):.1f}"
    scores = [p["rm_score"] for p in compare["policies"] if p["method"] == "grpo"]
    cell = table_row(report, "reward-model score of the final policy")[METHODS.index("grpo")]
    assert cell == f"{statistics.fmean(scores):.2f} ± {statistics.stdev(scores):.2f}"
    assert "我不能登录我的账号，我该怎么办？" in report and "### What the figures say" in report
    for image in ("curves.png", "comparison.png"):
        assert (root / "plots" / image).read_bytes()[:4] == b"\x89PNG"

    again = run_cli("demo", "--quick", cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    skipped = re.findall(r"^(\S+): \S+ is there; skipped", again.stdout, flags=re.M)
    assert sorted(skipped) == sorted(
        ["pretrain", "classify", "rm", "feedback", "compare"] + [m for m in METHODS for _ in range(3)]
    )

    # the report command reads the same runs from elsewhere and writes the same table
    out = tmp_path / "elsewhere"
    result = run_cli("report", root, "--out", out, cwd=tmp_path.parent, timeout=120)
    assert result.returncode == 0, result.stderr
    table = [line for line in report.splitlines() if line.startswith("| ")]
    assert [line for line in (out / "report.md").read_text().splitlines() if line.startswith("| ")][:12] == table[:12]


def test_demo_rejects_bad_options(tmp_path):
    result = run_cli("demo", "--quick", "--seeds", "0", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: --seeds: expected at least 1; got 0"
    ]
    assert not (tmp_path / "runs").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_interactive_feedback_serves_the_page_and_exports_what_people_rate(policy_dir, tmp_path, monkeypatch, capsys):
    import httpx

    prompts = tmp_path / "pairs.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": q, "chosen": "yes", "rejected": "no"}) + "\n" for q in QUESTIONS))
    port = _free_port()
    rated = []

    def person_rates(*_args) -> str:
        token = re.search(r"with the token (\S+)", capsys.readouterr().out).group(1)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(100):  # the server starts in a thread
                try:
                    client.get("/api/progress")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.05)
            assert client.get("/").status_code == 200  # the rating page
            assert client.post("/api/session", json={"token": token}).status_code == 200
            headers = {"X-CSRF-Token": client.cookies.get("ak_csrf"), "Origin": base}
            item = client.get("/api/next").json()["item"]
            assert item["settings"]["seed"] == 0  # the SFT model's new candidates come first
            a, b = (c["id"] for c in item["candidates"][:2])
            body = {"prompt_id": item["prompt_id"], "kind": "pair", "candidate_id": a, "other_candidate_id": b,
                    "choice": "b"}  # fmt: skip
            assert client.post("/api/ratings", json=body, headers=headers).status_code == 201
            rated.append((item["prompt"], [c["text"] for c in item["candidates"]]))
        return ""

    monkeypatch.setattr("builtins.input", person_rates)
    exported = demo.collect_feedback(tmp_path / "feedback", policy_dir, prompts, True, seed=0, port=port)
    rows = [json.loads(x) for x in exported.read_text().splitlines()]
    ((prompt, candidates),) = rated
    mine = [r for r in rows if r["prompt"] == prompt and r["chosen"] == candidates[1]]
    assert len(mine) == 1 and mine[0]["rejected"] == candidates[0]
    assert len(rows) > 100  # the embedded ratings' pairs are there too
    imported_once = len(rows)
    # run again without people: nothing is imported twice
    again = demo.collect_feedback(tmp_path / "feedback", policy_dir, prompts, False, seed=0, port=port)
    assert len(again.read_text().splitlines()) == imported_once


def test_demo_refuses_another_seed_or_profile_in_the_same_directory(tmp_path):
    root = tmp_path / "made"
    root.mkdir()
    (root / "demo.json").write_text(json.dumps({"seed": 0, "profile": "quick"}))
    result = run_cli("demo", "--quick", "--seed", "1", "--output-dir", root, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {root} holds a demo made with --seed 0 (quick profile); pass --output-dir for another seed or profile"
    ]
    assert [p.name for p in root.iterdir()] == ["demo.json"]  # nothing else written


def test_interactive_refuses_a_trained_reward_model_and_a_busy_port(tmp_path):
    from alignkit.errors import UserError

    root = tmp_path / "made"
    (root / "rm" / "final").mkdir(parents=True)
    with pytest.raises(UserError, match="is trained already; pass --output-dir"):
        demo.run(root, quick=True, interactive=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UserError, match=r"--port: 127\.0\.0\.1:\d+ is not free"):
            demo.check_port(busy.getsockname()[1])


def test_training_the_demo_models_inside_a_stage_is_not_that_stage_s_cost(monkeypatch, tmp_path):
    """`alignkit ppo` with the demo's models trains them first when missing: the PPO run's clock, peak
    memory and seed start again once they are there."""
    import time
    from types import SimpleNamespace

    import torch

    from alignkit.train import loop

    env = loop.Env(SimpleNamespace(device=torch.device("cpu")), tmp_path, SimpleNamespace(run=SimpleNamespace(seed=7)),
                   None, None)  # fmt: skip
    loop.restart_accounting(env)
    before = env.started

    def nested_demo(root, quick=False, upto=None):  # what demo.run does to the process, in brief
        inner = loop.Env(env.dist, tmp_path / "inner", SimpleNamespace(run=SimpleNamespace(seed=1)), None, None)
        loop.restart_accounting(inner)
        torch.rand(5)
        time.sleep(0.05)
        return tmp_path / upto

    monkeypatch.setattr(demo, "run", nested_demo)
    assert demo.ensure("sft") == tmp_path / "sft"
    assert env.started > before + 0.04  # the clock starts after the demo models
    drawn = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(drawn, torch.rand(3))  # and the stage's own seed again
