"""Reward model (`alignkit rm`, `alignkit score`): every preference shape reads to the same pairs and
bad rows name their file:line; prompt + answer are encoded as the body reads them (the answer's end
survives truncation); the packed training loss equals Bradley-Terry on the model's own padded
forward; the stage runs end to end, starts from the source body with a new 1-output head, freezes
what it is told to and learns; `score` gives what plain transformers gives."""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from alignkit.config import RewardConfig, resolve
from alignkit.data import packing
from alignkit.data.formats import PreferencePair, ScoredAnswer, preference_of, scored_of, split_hh_dialogue
from alignkit.data.readers import read_rows
from alignkit.errors import UserError
from alignkit.losses import bradley_terry_loss
from alignkit.models import load
from alignkit.stages import reward
from alignkit.stages.classify import Encoded
from alignkit.train import loop
from alignkit.train.distributed import DistInfo
from tests.conftest import ANSWERS, SUBJECTS, VERBS, run_cli

QUIET = ["--run.progress", "false", "--run.plots", "false", "--run.peak-tflops", "1"]
CPU = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
WORD = "refund"  # the distinctive word of every chosen answer in the synthetic pairs


pytestmark = pytest.mark.usefixtures("one_thread")


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_of(tmp_path: Path, *records: dict, name: str = "rows.jsonl"):
    """Rows read from a real JSONL file, so their sources are `path:line`."""
    path = write_rows(tmp_path / name, list(records))
    return path, read_rows(path)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def synthetic_pairs(count: int, seed: int, margins: bool = False) -> list[dict]:
    """Customer-service prompts; the chosen answer has WORD somewhere in it, the rejected one does not."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        words = rng.choice(ANSWERS).split()
        words.insert(rng.randint(0, len(words)), WORD)
        row = {"prompt": f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}.", "chosen": " ".join(words),
               "rejected": rng.choice(ANSWERS)}  # fmt: skip
        if margins and index % 4 == 0:
            row["margin"] = 0.5
        rows.append(row)
    return rows


def rendered(tokenizer, prompt: list[dict], answer: str) -> str:
    return tokenizer.apply_chat_template([*prompt, assistant(answer)], tokenize=False)


def padded_rewards(model, tokenizer, texts: list[str]) -> torch.Tensor:
    """Plain transformers: the texts right-padded in one batch through the model's own forward."""
    tokenizer.padding_side = "right"
    batch = tokenizer(texts, padding=True, add_special_tokens=False, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any(), "the texts should differ in length, so padding is exercised"
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.squeeze(-1)


def metrics_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def run_quietly(args: list[str]) -> Path:
    """`reward.run` in this process (faster than the CLI), its progress output swallowed."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return reward.run(resolve(RewardConfig, [*args, *QUIET]))


# ---------------------------------------------------------------------------------------------
# Formats: every preference shape -> PreferencePair; bad rows name file:line


def test_prompt_chosen_rejected_as_text(tmp_path):
    path, rows = rows_of(tmp_path, {"prompt": "Where is my parcel?", "chosen": "On its way.", "rejected": "No idea."})
    assert preference_of(rows[0]) == PreferencePair([user("Where is my parcel?")], "On its way.", "No idea.",
                                                    f"{path}:1", None)  # fmt: skip


def test_trl_conversational_form(tmp_path):
    prompt = [{"role": "system", "content": "Be brief."}, user("hi"), assistant("hello"), user("我要退款")]
    path, rows = rows_of(
        tmp_path,
        {"prompt": prompt, "chosen": [assistant("好的，三天内到账。")], "rejected": [assistant("No.")]},
        {"prompt": prompt, "chosen": assistant("one message, no list"), "rejected": "plain text"},
    )
    first, second = (preference_of(r) for r in rows)
    assert first == PreferencePair(prompt, "好的，三天内到账。", "No.", f"{path}:1")
    assert (second.prompt, second.chosen, second.rejected) == (prompt, "one message, no list", "plain text")


def test_sharegpt_preference_with_system(tmp_path):
    turns = [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}, {"from": "human", "value": "c"}]
    row = {
        "conversations": turns,
        "chosen": {"from": "gpt", "value": "d"},
        "rejected": {"from": "gpt", "value": "e"},
        "system": "You are a helpful agent.",
    }
    path, rows = rows_of(tmp_path, row)
    pair = preference_of(rows[0])
    assert pair.prompt == [{"role": "system", "content": "You are a helpful agent."}, user("a"), assistant("b"),
                           user("c")]  # fmt: skip
    assert (pair.chosen, pair.rejected, pair.source, pair.margin) == ("d", "e", f"{path}:1", None)


def test_hh_rlhf_dialogues_split_at_the_last_assistant_turn(tmp_path):
    chosen = "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d"
    rejected = "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: e"
    realistic = (
        "\n\nHuman: My parcel is late.\nOrder 12.\n\nAssistant: Sorry! Which courier?"
        "\n\nHuman: DHL\n\nAssistant: Here is the tracking page:\n1. open it\n2. enter 12"
    )
    path, rows = rows_of(
        tmp_path,
        {"chosen": chosen, "rejected": rejected},
        {"chosen": realistic, "rejected": realistic.rsplit("\n\nAssistant:", 1)[0] + "\n\nAssistant: Not my job."},
    )
    first, second = (preference_of(r) for r in rows)
    assert first == PreferencePair([user("a"), assistant("b"), user("c")], "d", "e", f"{path}:1")
    assert second.prompt == [user("My parcel is late.\nOrder 12."), assistant("Sorry! Which courier?"), user("DHL")]
    assert second.chosen == "Here is the tracking page:\n1. open it\n2. enter 12"
    assert second.rejected == "Not my job."
    assert split_hh_dialogue(rows[0], chosen, "chosen") == ([user("a"), assistant("b"), user("c")], "d")


def test_margin_field_is_kept(tmp_path):
    _, rows = rows_of(
        tmp_path,
        {"prompt": "q", "chosen": "a", "rejected": "b", "margin": 2},
        {"prompt": "q", "chosen": "a", "rejected": "b", "margin": 0.25},
        {"prompt": "q", "chosen": "a", "rejected": "b"},
    )
    margins = [preference_of(r).margin for r in rows]
    assert margins == [2.0, 0.25, None] and isinstance(margins[0], float)


GOOD_PAIR = {"prompt": "q", "chosen": "a", "rejected": "b"}


BAD_ROWS = {
    "missing rejected": ({"prompt": "q", "chosen": "a"}, "needs 'chosen' and 'rejected'.*found fields: chosen, prompt"),
    "number answer": ({"prompt": "q", "chosen": 5, "rejected": "b"}, "'chosen' should be an answer"),
    "two answer messages": (
        {"prompt": "q", "chosen": "a", "rejected": [assistant("x"), assistant("y")]},
        "'rejected' should be an answer",
    ),
    "user turn as answer": ({"prompt": "q", "chosen": [user("no")], "rejected": "b"}, "'chosen' should be an answer"),
    "prompt ends with assistant": (
        {"prompt": [user("q"), assistant("a")], "chosen": "x", "rejected": "y"},
        "'prompt' should end with a user turn",
    ),
    "number prompt": ({"prompt": 7, "chosen": "x", "rejected": "y"}, "'prompt' should be a non-empty list"),
    "sharegpt ends with gpt": (
        {
            "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
            "chosen": {"from": "gpt", "value": "x"},
            "rejected": {"from": "gpt", "value": "y"},
        },
        "'conversations' should end with a human turn",
    ),
    "hh without assistant": (
        {"chosen": "\n\nHuman: hello", "rejected": "\n\nHuman: hello\n\nAssistant: hi"},
        "'chosen' and 'rejected' share no 'Assistant:' turn",
    ),
    "hh without human": (
        {"chosen": "\n\nAssistant: x\n\nAssistant: a", "rejected": "\n\nAssistant: x\n\nAssistant: b"},
        "'chosen' should have a human turn before its last assistant turn",
    ),
    "hh not text": (
        {"chosen": ["\n\nHuman: hi\n\nAssistant: a"], "rejected": "\n\nHuman: hi\n\nAssistant: b"},
        "without a 'prompt', 'chosen' and 'rejected' should be whole dialogues",
    ),
    "text margin": ({**GOOD_PAIR, "margin": "high"}, "'margin' should be a finite number, got 'high'"),
    "boolean margin": ({**GOOD_PAIR, "margin": True}, "'margin' should be a finite number, got True"),
}


@pytest.mark.parametrize("row, message", list(BAD_ROWS.values()), ids=list(BAD_ROWS))
def test_bad_preference_rows_name_file_and_line(tmp_path, row, message):
    path, rows = rows_of(tmp_path, GOOD_PAIR, row)
    preference_of(rows[0])
    with pytest.raises(UserError, match=re.escape(f"{path}:2: ") + ".*" + message):
        preference_of(rows[1])


def test_scored_answers(tmp_path):
    path, rows = rows_of(
        tmp_path,
        {"prompt": "Where is my parcel?", "completion": "On its way.", "score": 0.75},
        {"messages": [{"role": "system", "content": "Be kind."}, user("hi"), assistant("hello"), user("refund?"),
                      assistant("Done.")], "score": -1},
        {"prompt": "q", "answer": "a", "reward": 3},
        {"prompt": "q", "response": "a"},
    )  # fmt: skip
    first, second, third, fourth = (scored_of(r, score_required=False) for r in rows)
    assert first == ScoredAnswer([user("Where is my parcel?")], "On its way.", 0.75, f"{path}:1")
    assert second == ScoredAnswer([{"role": "system", "content": "Be kind."}, user("hi"), assistant("hello"),
                                   user("refund?")], "Done.", -1.0, f"{path}:2")  # fmt: skip
    assert (third.answer, third.score) == ("a", 3.0)
    assert fourth.score is None
    with pytest.raises(UserError, match=re.escape(f"{path}:4: ") + "expected a numeric 'score'"):
        scored_of(rows[3])


@pytest.mark.parametrize("score", ["good", None, True, [1]])
def test_non_numeric_score_names_file_and_line(tmp_path, score):
    path, rows = rows_of(tmp_path, {"prompt": "q", "completion": "a", "score": 1}, {"prompt": "q", "completion": "a",
                                                                                    "score": score})  # fmt: skip
    scored_of(rows[0])
    with pytest.raises(UserError, match=re.escape(f"{path}:2: 'score' should be a finite number")):
        scored_of(rows[1], score_required=False)


@pytest.mark.parametrize(
    "row",
    [
        {**GOOD_PAIR, "margin": float("nan")},
        {**GOOD_PAIR, "margin": float("inf")},
        {"prompt": "q", "completion": "a", "score": float("inf")},
    ],
)
def test_non_finite_margin_or_score_is_a_user_error(tmp_path, row):
    path, rows = rows_of(tmp_path, row)  # json.dumps writes NaN / Infinity, which json.loads reads back
    read = preference_of if "chosen" in row else scored_of
    with pytest.raises(UserError, match=re.escape(f"{path}:1: ")):
        read(rows[0])


# ---------------------------------------------------------------------------------------------
# Encoding: prompt + answer as the body reads them


def test_decoder_encoding_ends_with_the_answers_end_of_turn_and_cuts_the_prompts_start(tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    system = {"role": "system", "content": "Be kind."}
    prompts = [[user("my order arrived late. " * 12)], [system, user("hi"), assistant("hello"), user("refund?")]]
    answers = ["We are sorry about that.", "Thank you."]
    full = reward.encode_answers(tokenizer, prompts, answers, 1000, np.array([1.0, 2.0], dtype=np.float32))
    end_of_turn = tokenizer("<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert full.token_type_ids is None and full.targets.tolist() == [1.0, 2.0]
    for ids, prompt, answer in zip(full.input_ids, prompts, answers, strict=True):
        text = rendered(tokenizer, prompt, answer)
        assert text.endswith(f"{answer}<|im_end|>\n")
        assert ids.tolist() == tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids[-len(end_of_turn) :].tolist() == end_of_turn  # pooled at the answer's end-of-turn region
    assert len(full.input_ids[0]) > 40 and len(full.input_ids[1]) > 20

    cut = reward.encode_answers(tokenizer, prompts, answers, 20)
    assert tokenizer.truncation_side == "right"  # restored after cutting on the left
    assert cut.targets.tolist() == [0.0, 0.0]
    for short, long, answer in zip(cut.input_ids, full.input_ids, answers, strict=True):
        assert short.tolist() == long[-20:].tolist()  # the prompt's start is gone, the answer's end survives
        assert tokenizer.decode(short).endswith(f"{answer}<|im_end|>\n")
    assert not tokenizer.decode(cut.input_ids[0]).startswith("<|im_start|>user")


def test_encoder_encoding_is_a_text_pair_with_token_type_ids():
    tokenizer = load.load_tokenizer(load.minilm_dir())
    assert not tokenizer.chat_template
    prompts = [[user("where is my parcel?")], [{"role": "system", "content": "Be kind."}, user("refund?")]]
    answers = ["it is on its way.", "yes, within three days."]
    encoded = reward.encode_answers(tokenizer, prompts, answers, 512)
    expected = tokenizer(["where is my parcel?", "System: Be kind.\nUser: refund?"], answers)
    assert [x.tolist() for x in encoded.input_ids] == expected["input_ids"]
    assert [x.tolist() for x in encoded.token_type_ids] == expected["token_type_ids"]
    types = encoded.token_type_ids[0]
    answer_ids = encoded.input_ids[0][types == 1]
    assert tokenizer.decode(answer_ids, skip_special_tokens=True) == "it is on its way."
    assert (types[: np.argmax(types)] == 0).all() and (types[np.argmax(types) :] == 1).all()

    long_prompt = [[user("my order arrived late and nobody answers the phone. " * 10)]]
    cut = reward.encode_answers(tokenizer, long_prompt, ["sorry, we will call you today."], 24)
    ids, types = cut.input_ids[0], cut.token_type_ids[0]
    assert len(ids) == 24 and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.decode(ids[types == 1], skip_special_tokens=True) == "sorry, we will call you today."


def test_encode_pairs_lays_out_chosen_then_rejected_with_margins_twice(tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    pairs = [
        PreferencePair([user("a")], "good one", "bad", "f:1"),
        PreferencePair([user("b"), assistant("c"), user("d")], "fine", "rude answer here", "f:2", margin=2.0),
        PreferencePair([user("e")], "ok", "no", "f:3", margin=0.0),
    ]
    encoded = reward.encode_pairs(tokenizer, pairs, 256, margin=0.5)
    assert len(encoded) == 6
    assert encoded.targets.tolist() == [0.5, 2.0, 0.0, 0.5, 2.0, 0.0]  # a row's own margin wins, even 0
    for index, pair in enumerate(pairs):
        chosen = reward.encode_answers(tokenizer, [pair.prompt], [pair.chosen], 256).input_ids[0]
        rejected = reward.encode_answers(tokenizer, [pair.prompt], [pair.rejected], 256).input_ids[0]
        assert encoded.input_ids[index].tolist() == chosen.tolist()
        assert encoded.input_ids[3 + index].tolist() == rejected.tolist()


# ---------------------------------------------------------------------------------------------
# The loss: packed micro-batch == Bradley-Terry on the model's own padded forward


def test_task_loss_on_a_packed_micro_batch_equals_bradley_terry_on_the_padded_forward(tmp_path, tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    pairs = [
        PreferencePair([user(f"{SUBJECTS[i]} {VERBS[i]}.")], ANSWERS[i % 3] + " " + WORD * (i % 2),
                       ANSWERS[(i + 1) % 3][: 20 + 7 * i], f"f:{i}", margin=1.5 if i % 3 == 0 else None)
        for i in range(6)
    ]  # fmt: skip
    config = resolve(RewardConfig, ["--model", str(tiny_model_dir), "--output-dir", str(tmp_path / "run"),
                                    "--batch-size", "4", "--micro-batch-size", "4", "--rm.margin", "0.25"])  # fmt: skip
    train = reward.encode_pairs(tokenizer, pairs, 256, config.rm.margin)
    loop.seed_everything(0)
    model, block_of = reward.build_reward_model(tiny_model_dir, tokenizer, "sdpa", "auto", "none")
    with torch.no_grad():
        model.score.weight.normal_(0, 0.5)  # rewards far enough apart that the comparison means something
    task = reward.RewardTask(model, tokenizer, train, Encoded([], None, np.zeros(0)), config, block_of)
    packing.use_packed_attention(model)
    model.eval()
    assert task.packed and task.rows == 6 and task.eval_at_start
    assert task.best_metric == ("eval_accuracy", True)

    [batch] = task.micro_batches(1, CPU)
    rows = task.order.rank_micro_batches(1, CPU, 4)[0].tolist()
    assert "cu_seq_lens_q" in batch.tensors and batch.tensors["input_ids"].shape[0] == 1  # one padding-free row
    assert batch.units == 4
    assert batch.tokens == sum(len(train.input_ids[i]) for i in rows) + sum(len(train.input_ids[6 + i]) for i in rows)
    loss_sum, extra = task.loss(model, batch)
    packed = reward.rewards_of(model, batch.tensors).detach()

    texts = [rendered(tokenizer, pairs[i].prompt, pairs[i].chosen) for i in rows]
    texts += [rendered(tokenizer, pairs[i].prompt, pairs[i].rejected) for i in rows]
    padded = padded_rewards(model, tokenizer, texts)
    torch.testing.assert_close(packed, padded, atol=1e-4, rtol=1e-4)
    chosen, rejected = padded[:4], padded[4:]
    margins = torch.tensor([0.25 if pairs[i].margin is None else pairs[i].margin for i in rows])
    expected, count = bradley_terry_loss(chosen, rejected, margins)
    assert count.item() == 4 and abs(chosen - rejected).max() > 0.05
    torch.testing.assert_close(loss_sum.detach(), expected, atol=1e-4, rtol=1e-4)
    assert extra["accuracy"].item() == (chosen > rejected).sum().item()
    torch.testing.assert_close(extra["margin"], (chosen - rejected).sum(), atol=1e-4, rtol=1e-4)
    loss_sum.backward()
    assert model.score.weight.grad.abs().sum() > 0 and model.model.layers[0].mlp.up_proj.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------
# The stage end to end


@pytest.fixture(scope="module")
def rm_run(tmp_path_factory, tiny_model_dir):
    """`alignkit rm` through the CLI on 40 pairs (some with a margin), 8 held out in their own file."""
    root = tmp_path_factory.mktemp("rm")
    data = write_rows(root / "pairs.jsonl", synthetic_pairs(40, seed=1, margins=True))
    held = write_rows(root / "held.jsonl", synthetic_pairs(8, seed=2))
    out = root / "run"
    result = run_cli(
        "rm", "--model", tiny_model_dir, "--data", data, "--data.eval-path", held, "--max-steps", "4",
        "--batch-size", "8", "--micro-batch-size", "4", "--eval-every", "2", "--output-dir", out, *QUIET,
    )  # fmt: skip
    return result, out, held


def test_rm_cli_end_to_end(rm_run, tiny_model_dir):
    result, out, held = rm_run
    assert result.returncode == 0, result.stderr
    assert "rm: pairwise objective; 40 training pairs, 8 held out" in result.stdout
    assert "rm: final held-out metrics" in result.stdout and f"rm: model written to {out / 'final'}" in result.stdout

    final = out / "final"
    model = AutoModelForSequenceClassification.from_pretrained(final)
    assert type(model).__name__ == "LlamaForSequenceClassification"
    assert model.config.num_labels == 1 and model.score.weight.shape == (1, 192)
    saved = load_file(str(final / "model.safetensors"))
    assert "score.weight" in saved and not any("lm_head" in k for k in saved)
    assert not any("lm_head" in n for n, _ in model.named_parameters())
    assert set(json.loads((final / "eval_report.json").read_text())) == {
        "accuracy", "margin", "chosen_reward", "rejected_reward"}  # fmt: skip
    assert (out / "best" / "config.json").is_file()

    records = metrics_of(out)
    evals = [r for r in records if "eval_loss" in r]
    assert [r["step"] for r in evals] == [0, 2, 4]
    assert all(0 <= r["eval_accuracy"] <= 1 and "eval_margin" in r for r in evals)
    assert [r["step"] for r in records if "loss" in r] == [4]
    assert {"accuracy", "margin", "grad_norm"} <= set(next(r for r in records if "loss" in r))

    # step 0 is the untrained baseline: the source body + the seeded new head, scored on the held-out pairs
    tokenizer = load.load_tokenizer(tiny_model_dir)
    loop.seed_everything(0)  # what `reward.run` does just before building the model (run.seed 0)
    fresh, _ = reward.build_reward_model(tiny_model_dir, tokenizer, "sdpa", "auto", "none")
    causal = dict(AutoModelForCausalLM.from_pretrained(tiny_model_dir).named_parameters())
    for name, param in fresh.named_parameters():
        if name != "score.weight":
            assert torch.equal(param, causal[name]), f"{name} is not the source checkpoint's"
    assert {n for n, _ in fresh.named_parameters()} == {n for n in causal if not n.startswith("lm_head")} | {
        "score.weight"}  # fmt: skip
    pairs = reward.read_pairs(str(held))
    rewards = reward.score_encoded(fresh.eval(), reward.encode_pairs(tokenizer, pairs, 512, 0.0), 16, False, 0)
    baseline = reward.pairwise_metrics(rewards[:8], rewards[8:])
    loss, count = bradley_terry_loss(rewards[:8], rewards[8:])
    assert evals[0]["eval_loss"] == pytest.approx(loss.item() / count.item(), abs=1e-4)
    for key in ("accuracy", "margin", "chosen_reward", "rejected_reward"):
        assert evals[0][f"eval_{key}"] == pytest.approx(baseline[key], abs=1e-4), key


def test_head_only_freeze_leaves_the_body_bit_identical(tmp_path, tiny_model_dir):
    data = write_rows(tmp_path / "pairs.jsonl", synthetic_pairs(16, seed=3))
    final = run_quietly(["--model", str(tiny_model_dir), "--data", str(data), "--rm.freeze", "head-only",
                         "--max-steps", "3", "--batch-size", "4", "--micro-batch-size", "4", "--lr", "1e-2",
                         "--eval-every", "0", "--output-dir", str(tmp_path / "run")])  # fmt: skip
    trained = AutoModelForSequenceClassification.from_pretrained(final)
    causal = dict(AutoModelForCausalLM.from_pretrained(tiny_model_dir).named_parameters())
    for name, param in trained.named_parameters():
        if name != "score.weight":
            assert torch.equal(param, causal[name]), f"{name} moved although frozen"
    loop.seed_everything(0)
    fresh, block_of = reward.build_reward_model(tiny_model_dir, load.load_tokenizer(tiny_model_dir), "sdpa", "auto",
                                                "head-only")  # fmt: skip
    assert [n for n, p in fresh.named_parameters() if p.requires_grad] == ["score.weight"]
    assert block_of["score.weight"] == "head"
    assert not torch.equal(trained.score.weight, fresh.score.weight)  # the head learned


def test_regression_objective_on_scored_answers(tmp_path, tiny_model_dir):
    rng = random.Random(4)
    rows = []
    for index in range(24):
        answer, score = rng.choice(ANSWERS), rng.uniform(-1, 1)
        prompt = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}."
        if index % 2:
            rows.append({"prompt": prompt, "completion": answer, "score": round(score, 3)})
        else:
            rows.append({"messages": [user(prompt), assistant(answer)], "score": round(score, 3)})
    data = write_rows(tmp_path / "scored.jsonl", rows)
    final = run_quietly(["--model", str(tiny_model_dir), "--data", str(data), "--rm.objective", "regression",
                         "--max-steps", "3", "--batch-size", "6", "--micro-batch-size", "6", "--eval-every", "0",
                         "--data.eval-fraction", "0.25", "--output-dir", str(tmp_path / "run")])  # fmt: skip
    records = metrics_of(tmp_path / "run")
    evals = [r for r in records if "eval_loss" in r]
    assert [r["step"] for r in evals] == [0, 3]
    assert all({"eval_spearman", "eval_pearson", "eval_mse", "eval_mae"} <= set(r) for r in evals)
    assert all(-1 <= r["eval_spearman"] <= 1 for r in evals)
    assert "eval_accuracy" not in evals[-1]
    assert np.isfinite([r["loss"] for r in records if "loss" in r]).all()
    model = AutoModelForSequenceClassification.from_pretrained(final)
    assert model.config.num_labels == 1 and model.config.problem_type == "regression"
    assert set(json.loads((final / "eval_report.json").read_text())) == {"mse", "mae", "pearson", "spearman"}


# ---------------------------------------------------------------------------------------------
# alignkit score


def test_score_matches_plain_transformers(rm_run, tmp_path):
    result, out, held = rm_run
    assert result.returncode == 0, result.stderr
    final = out / "final"
    model = AutoModelForSequenceClassification.from_pretrained(final).eval()
    tokenizer = AutoTokenizer.from_pretrained(final)

    scores = tmp_path / "scores.jsonl"
    cli = run_cli("score", "--model", final, "--data", held, "--out", scores, "--batch-size", "5")
    assert cli.returncode == 0, cli.stderr
    assert f"score: rewards written to {scores}" in cli.stdout
    records = [json.loads(line) for line in scores.read_text(encoding="utf-8").splitlines()]
    originals = [json.loads(line) for line in held.read_text(encoding="utf-8").splitlines()]
    assert [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in records] == originals
    chosen = padded_rewards(model, tokenizer, [rendered(tokenizer, [user(r["prompt"])], r["chosen"]) for r in records])
    rejected = padded_rewards(model, tokenizer, [rendered(tokenizer, [user(r["prompt"])], r["rejected"])
                                                 for r in records])  # fmt: skip
    assert [r["chosen_reward"] for r in records] == pytest.approx(chosen.tolist(), abs=1e-4)
    assert [r["rejected_reward"] for r in records] == pytest.approx(rejected.tolist(), abs=1e-4)
    printed = re.search(r"score: accuracy (\S+)", cli.stdout)
    assert printed, cli.stdout
    assert float(printed.group(1)) == pytest.approx((chosen > rejected).float().mean().item(), abs=1e-4)

    answers = write_rows(tmp_path / "answers.jsonl", [
        {"prompt": "where is my parcel?", "answer": "It is on its way."},
        {"messages": [{"role": "system", "content": "Be kind."}, user("hi"), assistant("hello"), user("我要退款"),
                      assistant("好的，三天内到账。")]},
        {"prompt": "refund?", "completion": "Not my problem, to be honest, go away."},
    ])  # fmt: skip
    metrics = reward.score(str(final), str(answers), str(tmp_path / "answers-scored.jsonl"), batch_size=2)
    assert metrics == {}  # no scores in the rows: nothing to compare with
    scored = [json.loads(line) for line in (tmp_path / "answers-scored.jsonl").read_text().splitlines()]
    conversations = [[user("where is my parcel?"), assistant("It is on its way.")],
                     [{"role": "system", "content": "Be kind."}, user("hi"), assistant("hello"), user("我要退款"),
                      assistant("好的，三天内到账。")],
                     [user("refund?"), assistant("Not my problem, to be honest, go away.")]]  # fmt: skip
    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    expected = padded_rewards(model, tokenizer, texts)
    assert [r["reward"] for r in scored] == pytest.approx(expected.tolist(), abs=1e-4)
    assert "chosen_reward" not in scored[0]

    bad = write_rows(tmp_path / "bad.jsonl", [*synthetic_pairs(2, seed=5), {"prompt": "q", "chosen": "a"}])
    with pytest.raises(UserError, match=re.escape(f"{bad}:3: ")):
        reward.score(str(final), str(bad), str(tmp_path / "never.jsonl"))
    assert not (tmp_path / "never.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# Bad input


def test_bad_row_and_unknown_key_end_in_one_line_and_exit_2(tmp_path, tiny_model_dir):
    bad = write_rows(tmp_path / "bad.jsonl", [*synthetic_pairs(2, seed=6), {"prompt": "q", "chosen": "only one"},
                                              *synthetic_pairs(2, seed=7)])  # fmt: skip
    never = tmp_path / "never"
    result = run_cli("rm", "--model", tiny_model_dir, "--data", bad, "--output-dir", never, *QUIET)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}:3: "), result.stderr
    assert "'rejected'" in lines[0]
    assert not never.exists()  # nothing half-written

    result = run_cli("rm", "--rm.objectiv", "regression", "--output-dir", never)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: unknown config key 'rm.objectiv'; did you mean --rm.objective?"], result.stderr
    assert not never.exists()


@pytest.mark.parametrize("option, value", [("--rm.freeze", "top:9"), ("--rm.pooling", "cls")])
def test_bad_freeze_or_pooling_names_the_rm_key(tmp_path, tiny_model_dir, option, value):
    data = write_rows(tmp_path / "pairs.jsonl", synthetic_pairs(4, seed=8))
    with pytest.raises(UserError, match=re.escape(option[2:]) + ": "):
        run_quietly(["--model", str(tiny_model_dir), "--data", str(data), option, value,
                     "--output-dir", str(tmp_path / "never")])  # fmt: skip
    assert not (tmp_path / "never").exists()


# ---------------------------------------------------------------------------------------------
# Learning


def test_rm_learns_a_distinctive_word(tmp_path, tiny_model_dir):
    """64 pairs whose chosen answers carry WORD and whose rejected ones do not: 20 steps of 8 pairs
    take held-out accuracy from chance to (nearly) 1: over 10 run/data seeds it ended between 0.94 and 1.0."""
    train = write_rows(tmp_path / "train.jsonl", synthetic_pairs(64, seed=10))
    held = write_rows(tmp_path / "held.jsonl", synthetic_pairs(32, seed=11))
    final = run_quietly(["--model", str(tiny_model_dir), "--data", str(train), "--data.eval-path", str(held),
                         "--max-steps", "20", "--batch-size", "8", "--micro-batch-size", "8", "--lr", "1e-3",
                         "--optim.warmup-steps", "2", "--eval-every", "0",
                         "--output-dir", str(tmp_path / "run")])  # fmt: skip
    evals = [r for r in metrics_of(tmp_path / "run") if "eval_loss" in r]
    assert [r["step"] for r in evals] == [0, 20]
    start, end = evals
    assert start["eval_accuracy"] <= 0.75  # the fresh head is near chance
    assert end["eval_accuracy"] >= 0.85 and end["eval_margin"] > 1.0
    assert end["eval_loss"] < 0.5 * start["eval_loss"]
    assert json.loads((final / "eval_report.json").read_text())["accuracy"] == end["eval_accuracy"]


def test_hh_pair_whose_dialogues_part_before_their_last_turn(tmp_path):
    """In a few HH-RLHF rows the two dialogues differ before their last assistant turn: the prompt is
    what both share up to an assistant turn, and each answer is everything after it."""
    chosen = "\n\nHuman: a\n\nAssistant: b1  Human: c\n\nAssistant: d"
    rejected = "\n\nHuman: a\n\nAssistant: b2"
    _, rows = rows_of(tmp_path, {"chosen": chosen, "rejected": rejected})
    pair = preference_of(rows[0])
    assert pair.prompt == [{"role": "user", "content": "a"}]
    assert (pair.chosen, pair.rejected) == ("b1  Human: c\n\nAssistant: d", "b2")
