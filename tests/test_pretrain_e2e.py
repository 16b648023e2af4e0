"""The pretrain command as a user runs it, in subprocesses: outputs, exact resume after SIGKILL,
bad input, and 2 processes under torchrun."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY_ARGS, run_cli

pytestmark = pytest.mark.slow


def losses(run_dir) -> dict[int, float]:
    lines = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return {line["step"]: line["loss"] for line in lines if "loss" in line}


def weights(run_dir) -> dict[str, torch.Tensor]:
    return load_file(Path(run_dir) / "final" / "model.safetensors")


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "pre"
    result = run_cli(
        "pretrain", "--data", corpus, "--output-dir", out, *TINY_ARGS, "--max-steps", "40", "--lr", "3e-3",
        "--eval-every", "20", "--log-every", "5", "--run.plots", "true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_pretrain_writes_a_run_directory_that_transformers_opens(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert {"config.yaml", "metrics.jsonl", "checkpoints", "final", "plots", "tokenizer"} <= {
        p.name for p in trained.iterdir()
    }
    lines = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    train = [line for line in lines if "loss" in line]
    evals = [line for line in lines if "eval_loss" in line]
    assert [line["step"] for line in train] == list(range(5, 41, 5))
    assert [line["step"] for line in evals] == [20, 40]
    assert {"lr", "grad_norm", "tokens_per_s", "mfu"} <= set(train[0])
    assert train[-1]["loss"] < train[0]["loss"] - 1.0, "the loss should clearly fall"
    assert (trained / "plots" / "loss.png").stat().st_size > 1000

    tokenizer = AutoTokenizer.from_pretrained(trained / "final")
    model = AutoModelForCausalLM.from_pretrained(trained / "final")
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id
    encoded = tokenizer("Customer: my order", return_tensors="pt")
    output = model.generate(**encoded, max_new_tokens=8, do_sample=False)
    assert output.shape[1] > encoded["input_ids"].shape[1]


def test_generate_command_greedy_and_sampled(trained):
    greedy = run_cli(
        "generate", "--model", trained / "final", "-p", "Customer: my", "-p", "Agent:", "--max-new-tokens", 6
    )
    assert greedy.returncode == 0, greedy.stderr
    again = run_cli(
        "generate", "--model", trained / "final", "-p", "Customer: my", "-p", "Agent:", "--max-new-tokens", 6
    )
    assert greedy.stdout == again.stdout and greedy.stdout.startswith("Customer: my")
    sampled = run_cli(
        "generate", "--model", trained / "final", "-p", "Agent:", "--temperature", "1.0", "--top-p", "0.9",
        "--top-k", "20", "--seed", "3", "--max-new-tokens", 6,
    )  # fmt: skip
    assert sampled.returncode == 0, sampled.stderr


def test_continued_pretraining_from_a_checkpoint_uses_its_tokenizer(trained, corpus, tmp_path):
    out = tmp_path / "continued"
    result = run_cli("pretrain", "--model", trained / "final", "--data", corpus, "--output-dir", out, *TINY_ARGS,
                     "--max-steps", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "final" / "tokenizer.json").read_text() == (trained / "final" / "tokenizer.json").read_text()
    first = losses(out)
    assert first and list(first.values())[0] < 6.0  # starts from the trained model, not from ln(512) ~ 6.2


def start(corpus, out, steps, *extra):
    command = [sys.executable, "-m", "alignkit", "pretrain", "--data", str(corpus), "--output-dir", str(out),
               *TINY_ARGS, "--max-steps", str(steps), "--save-every", "1", "--log-every", "1", "--eval-every", "4",
               "--seed", "5", "--run.keep-last", "2", *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)


def test_sigkill_at_any_moment_then_resume_reproduces_the_run_exactly(corpus, tmp_path):
    """Real kill -9s of the training process: first the moment a checkpoint is being written (a
    half-written `.tmp-step-N` is left behind, checked), then at random moments; the resumed run
    must give the same per-step losses to the last bit and the same final weights as an
    uninterrupted run."""
    steps = 12
    reference = start(corpus, tmp_path / "reference", steps)
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    out = tmp_path / "killed"
    checkpoints = out / "checkpoints"
    rng = random.Random(0)
    kills, torn = 0, 0
    process = start(corpus, out, steps)
    for attempt in range(6):
        deadline = time.time() + 120
        if attempt < 3 and not torn:  # hunt for a checkpoint in the middle of being written
            while time.time() < deadline and process.poll() is None:
                if checkpoints.is_dir() and any(p.startswith(".tmp-") for p in os.listdir(checkpoints)):
                    break
                time.sleep(0.0005)
        else:  # after a first checkpoint, at a random moment
            while time.time() < deadline and process.poll() is None and not list(out.glob("checkpoints/step-*")):
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.6))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        torn += any(p.startswith(".tmp-") for p in os.listdir(checkpoints)) if checkpoints.is_dir() else 0
        process = start(corpus, out, steps, "--resume")
    assert process.wait(timeout=300) == 0, process.stderr.read()
    assert kills >= 3, "the run ended before it could be killed three times; the test proved nothing"
    assert torn >= 1, "no kill landed while a checkpoint was being written"
    assert losses(out) == losses(tmp_path / "reference")  # bit-identical floats
    assert sorted(losses(out)) == list(range(1, steps + 1))
    got, want = weights(out), weights(tmp_path / "reference")
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert not any(p.startswith(".tmp-") for p in os.listdir(checkpoints))


BAD_INPUT = [
    ("malformed.jsonl", '{"text": "ok"}\n{"text": oops}\n', [], r"malformed\.jsonl:2: not valid JSON"),
    ("nofield.jsonl", '{"text": "ok"}\n{"body": "x"}\n', [], r"nofield\.jsonl:2: expected a 'text'"),
    ("empty.jsonl", "", [], r"empty\.jsonl: no rows"),
    (None, None, ["--data", "/nonexistent/corpus.jsonl"], r"/nonexistent/corpus\.jsonl: no such file"),
    (None, None, ["--model", "/nonexistent/model"], r"/nonexistent/model: no such model directory"),
    (None, None, ["--optim.lrr", "1"], r"unknown config key 'optim\.lrr'; did you mean --optim\.lr"),
    (None, None, ["--max-steps", "ten"], r"config key run\.max_steps: .*'ten'"),
]


@pytest.mark.parametrize("name,content,args,message", BAD_INPUT)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(corpus, tmp_path, name, content, args, message):
    data = corpus
    if name:
        data = tmp_path / name
        data.write_text(content)
    out = tmp_path / "out"
    result = run_cli("pretrain", "--data", data, "--output-dir", out, *TINY_ARGS, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    import re

    assert re.search(message, lines[0]), lines[0]
    assert not out.exists(), "nothing may be written for bad input"


def test_non_empty_output_dir_without_resume_or_overwrite(corpus, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run_cli("pretrain", "--data", corpus, "--output-dir", out, *TINY_ARGS)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {out}: output directory is not empty; pass --resume to continue it or --overwrite"
    )
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_two_processes_under_torchrun_give_the_same_curve_as_one(corpus, tmp_path):
    common = ["pretrain", "--data", str(corpus), *TINY_ARGS, "--max-steps", "6", "--log-every", "1",
              "--eval-every", "3", "--save-every", "0"]  # fmt: skip
    single = run_cli(*common, "--output-dir", tmp_path / "one")
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    double = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
         "-m", "alignkit", *common, "--output-dir", str(tmp_path / "two"), "--micro-batch-size", "2"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert double.returncode == 0, double.stderr
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(one) == sorted(two) == list(range(1, 7))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-5, abs=1e-6)
    evals = [[json.loads(x).get("eval_loss") for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
             for d in ("one", "two")]  # fmt: skip
    assert [e for e in evals[0] if e] == pytest.approx([e for e in evals[1] if e], rel=1e-5)
    assert not (tmp_path / "two" / "config.yaml").read_text().count("rank"), "one config, written once"
