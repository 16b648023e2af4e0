"""DPO (`alignkit dpo`): each answer's summed log-prob on a packed micro-batch equals a plain
per-answer forward; at the first step the policy is the reference, so the loss is log 2 and every
implicit reward 0; the stage learns a preference and writes a plain causal LM; bad input exits 2."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re

import pytest
import torch
from transformers import AutoModelForCausalLM

from alignkit.config import DPOConfig, resolve
from alignkit.data import packing
from alignkit.data.formats import PreferencePair
from alignkit.models import load
from alignkit.models.tokenizer import ensure_chat_template
from alignkit.stages import dpo
from tests.conftest import run_cli
from tests.test_reward import synthetic_pairs, write_rows

QUIET = ["--run.progress", "false", "--run.plots", "false", "--run.peak-tflops", "1"]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_packed_answer_logps_equal_a_plain_forward_per_answer(tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    ensure_chat_template(tokenizer)
    model = load.load_causal_lm(tiny_model_dir).eval()
    load.fit_embeddings(model, tokenizer)
    pairs = [
        PreferencePair([{"role": "user", "content": p}], c, r, f"x:{i}")
        for i, (p, c, r) in enumerate([("where is it", "on its way", "no"), ("refund please", "done today", "later")])
    ]
    encoded, dropped = dpo.encode_pairs(tokenizer, pairs, 64)
    assert dropped == 0
    examples = [c for c, _ in encoded] + [r for _, r in encoded]
    packing.use_packed_attention(model)
    with torch.no_grad():
        packed = dpo.answer_logps(model, dpo.collate(examples, True, tokenizer.pad_token_id))
        padded = dpo.answer_logps(model, dpo.collate(examples, False, tokenizer.pad_token_id))
        averaged = dpo.answer_logps(model, dpo.collate(examples, True, tokenizer.pad_token_id), average=True)
        expected = []
        for example in examples:
            ids = torch.from_numpy(example.input_ids).unsqueeze(0)
            logps = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            learned = torch.from_numpy(example.loss_mask[1:])
            expected.append(logps[torch.arange(len(ids[0]) - 1), ids[0, 1:]][learned].sum())
    expected = torch.stack(expected)
    torch.testing.assert_close(packed, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(padded, expected, atol=1e-4, rtol=1e-5)
    counts = torch.tensor([int(e.loss_mask[1:].sum()) for e in examples], dtype=expected.dtype)
    torch.testing.assert_close(averaged, expected / counts, atol=1e-5, rtol=1e-5)


def test_dpo_starts_at_log_2_and_learns_a_preference(tmp_path, tiny_model_dir):
    """The reference is the starting model, so at step 0 every log-ratio is 0: loss log 2, rewards 0.
    Chosen answers carry a distinctive word; a few dozen steps make the held-out implicit rewards
    prefer them."""
    train = write_rows(tmp_path / "train.jsonl", synthetic_pairs(64, seed=20))
    held = write_rows(tmp_path / "held.jsonl", synthetic_pairs(24, seed=21))
    out = tmp_path / "dpo"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        final = dpo.run(resolve(DPOConfig, [
            "--model", str(tiny_model_dir), "--data", str(train), "--data.eval-path", str(held),
            "--max-steps", "16", "--batch-size", "8", "--micro-batch-size", "8", "--lr", "2e-3",
            "--dpo.beta", "0.5", "--eval-every", "0", "--output-dir", str(out), *QUIET,
        ]))  # fmt: skip
    evals = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "eval_loss" in r]
    start, end = evals[0], evals[-1]
    assert start["step"] == 0 and start["eval_loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert start["eval_reward_margin"] == pytest.approx(0, abs=1e-5)
    assert end["eval_reward_accuracy"] >= 0.8 and end["eval_loss"] < start["eval_loss"]
    assert AutoModelForCausalLM.from_pretrained(final).config.model_type == "llama"


def test_dpo_bad_row_exits_2_naming_file_and_line(tmp_path, tiny_model_dir):
    rows = synthetic_pairs(3, seed=1)
    del rows[2]["rejected"]
    data = write_rows(tmp_path / "pairs.jsonl", rows)
    result = run_cli(
        "dpo", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(tmp_path / "never")
    )
    assert result.returncode == 2
    assert re.match(rf"error: {re.escape(str(data))}:3: ", result.stderr.strip())
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "never").exists()


@pytest.mark.parametrize("lora", [False, True])
def test_online_reference_gives_the_cached_runs_numbers(tmp_path, tiny_model_dir, lora):
    """The online reference (a frozen copy, or with LoRA the model with its adapters off) is the
    starting model, as the cached log-probs are: the two runs log the same losses and evaluations.
    Two steps of 8 use 16 of the 24 pairs, so the cache holds only those (the others are NaN, which
    would turn a loss NaN if a step read one)."""
    train = write_rows(tmp_path / "train.jsonl", synthetic_pairs(24, seed=30))
    held = write_rows(tmp_path / "held.jsonl", synthetic_pairs(8, seed=31))
    records = {}
    for mode in ("cached", "online"):
        out = tmp_path / mode
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            dpo.run(resolve(DPOConfig, [
                "--model", str(tiny_model_dir), "--data", str(train), "--data.eval-path", str(held),
                "--max-steps", "2", "--batch-size", "8", "--micro-batch-size", "4", "--lr", "2e-3",
                "--dpo.reference", mode, "--lora.r", "4" if lora else "0", "--eval-every", "0", "--log-every", "1",
                "--output-dir", str(out), *QUIET,
            ]))  # fmt: skip
        records[mode] = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for cached, online in zip(records["cached"], records["online"], strict=True):
        for key in ("loss", "eval_loss", "eval_reward_margin", "eval_reward_accuracy"):
            if key in cached:
                assert online[key] == pytest.approx(cached[key], rel=1e-4, abs=1e-5), key
    assert records["online"][-1]["eval_reward_margin"] != 0  # the policy moved away from the reference


def test_the_cached_reference_covers_only_the_pairs_the_steps_use(tmp_path, tiny_model_dir, monkeypatch):
    """A run shorter than an epoch computes the reference log-probs of the pairs its steps read, and
    only those: the rest stay NaN."""
    train = write_rows(tmp_path / "train.jsonl", synthetic_pairs(24, seed=40))
    tasks = []
    init = dpo.DPOTask.__init__

    def keep(self, *args, **kwargs):
        init(self, *args, **kwargs)
        tasks.append(self)

    monkeypatch.setattr(dpo.DPOTask, "__init__", keep)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        dpo.run(resolve(DPOConfig, [
            "--model", str(tiny_model_dir), "--data", str(train), "--data.eval-fraction", "0", "--max-steps", "2",
            "--batch-size", "8", "--micro-batch-size", "4", "--output-dir", str(tmp_path / "dpo"), *QUIET,
        ]))  # fmt: skip
    (task,) = tasks
    used = set(torch.cat([task.order.step_rows(step) for step in (1, 2)]).tolist())
    computed = set(torch.nonzero(torch.isfinite(task.ref_train).all(dim=1)).flatten().tolist())
    assert len(used) == 16 and computed == used
    assert torch.isnan(task.ref_train[sorted(set(range(24)) - used)]).all()
