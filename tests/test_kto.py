"""KTO (`alignkit kto`): every vote shape reads to the same votes (a preference pair to a good and a
bad one) and bad rows name their file:line; each vote's mismatched example pairs its prompt with
another vote's answer, the same for the same seed; the AUC equals a plain double loop; at step 0
(the policy is the reference) the loss is w x (1 - sigmoid(0)) per vote and the evaluation is
neutral; the stage learns which answers are good and writes a plain causal LM; bad input exits 2."""

from __future__ import annotations

import json
import math
import random
import re

import pytest
import torch
from transformers import AutoModelForCausalLM

from alignkit import losses
from alignkit.config import KTOConfig, resolve
from alignkit.data.encode import fit_to_length
from alignkit.data.formats import Vote, votes_of
from alignkit.errors import UserError
from alignkit.stages import kto, sft
from alignkit.train.distributed import DistInfo
from tests.conftest import ANSWERS, SUBJECTS, VERBS, run_cli
from tests.test_reward import assistant, rows_of, synthetic_pairs, user, write_rows

QUIET = ["--run.progress", "false", "--run.plots", "false", "--run.peak-tflops", "1"]
CPU = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------
# votes_of: every shape -> Vote; bad rows name file:line


def test_prompt_completion_label_as_text_and_conversational(tmp_path):
    system = {"role": "system", "content": "Be brief."}
    path, rows = rows_of(
        tmp_path,
        {"prompt": "Where is my parcel?", "completion": "On its way.", "label": True},  # the feedback export's votes
        {"prompt": "我要退款", "completion": "不行。", "label": False},
        {
            "prompt": [system, user("hi"), assistant("hello"), user("Refund?")],
            "completion": [assistant("Done.")],  # TRL's conversational form: a list of one message
            "label": 1,
        },
        {"prompt": [user("Refund?")], "completion": {"role": "assistant", "content": "No."}, "label": 0},
    )
    votes = [vote for row in rows for vote in votes_of(row)]
    assert votes == [
        Vote([user("Where is my parcel?")], "On its way.", True, f"{path}:1"),
        Vote([user("我要退款")], "不行。", False, f"{path}:2"),
        Vote([system, user("hi"), assistant("hello"), user("Refund?")], "Done.", True, f"{path}:3"),
        Vote([user("Refund?")], "No.", False, f"{path}:4"),
    ]
    assert all(type(v.desirable) is bool for v in votes)  # 1 / 0 become booleans


def test_messages_and_label_as_llamafactory_writes_them(tmp_path):
    """LLaMA-Factory's KTO rows: `messages` ending with the answer, and a boolean `label`."""
    turns = [user("Summarise: the parcel is late."), assistant("Late parcel."), user("Shorter?"), assistant("Late.")]
    path, rows = rows_of(
        tmp_path,
        {"messages": turns, "label": False},
        {"messages": [{"role": "system", "content": "Be kind."}, user("hi"), assistant("Hello!")], "label": True},
    )
    assert votes_of(rows[0]) == [Vote(turns[:3], "Late.", False, f"{path}:1")]
    assert votes_of(rows[1]) == [
        Vote([{"role": "system", "content": "Be kind."}, user("hi")], "Hello!", True, f"{path}:2")
    ]


def test_sharegpt_conversations_and_kto_tag(tmp_path):
    conversations = [{"from": "human", "value": "where is it"}, {"from": "gpt", "value": "coming"},
                     {"from": "human", "value": "when"}, {"from": "gpt", "value": "tomorrow"}]  # fmt: skip
    path, rows = rows_of(
        tmp_path,
        {"conversations": conversations, "kto_tag": True, "system": "Be brief."},
        {"conversations": conversations[:2], "kto_tag": False},
    )
    system = {"role": "system", "content": "Be brief."}
    assert votes_of(rows[0]) == [
        Vote([system, user("where is it"), assistant("coming"), user("when")], "tomorrow", True, f"{path}:1")
    ]
    assert votes_of(rows[1]) == [Vote([user("where is it")], "coming", False, f"{path}:2")]


def test_a_preference_pair_is_a_good_vote_then_a_bad_one(tmp_path):
    path, rows = rows_of(
        tmp_path,
        {"prompt": "Where is my parcel?", "chosen": "On its way.", "rejected": "No idea."},
        {
            "conversations": [{"from": "human", "value": "退款"}],
            "chosen": {"from": "gpt", "value": "好的"},
            "rejected": {"from": "gpt", "value": "不行"},
        },
        {"chosen": "\n\nHuman: hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: hi\n\nAssistant: What."},
    )
    assert votes_of(rows[0]) == [
        Vote([user("Where is my parcel?")], "On its way.", True, f"{path}:1"),
        Vote([user("Where is my parcel?")], "No idea.", False, f"{path}:1"),
    ]
    assert votes_of(rows[1]) == [
        Vote([user("退款")], "好的", True, f"{path}:2"),
        Vote([user("退款")], "不行", False, f"{path}:2"),
    ]
    assert votes_of(rows[2]) == [
        Vote([user("hi")], "Hello!", True, f"{path}:3"),
        Vote([user("hi")], "What.", False, f"{path}:3"),
    ]


def test_read_votes_keeps_a_rows_votes_together(tmp_path):
    """A JSON list as LLaMA-Factory ships its KTO data (sources `path: row N`), and the embedded demo
    pairs: each a good and a bad vote on one prompt."""
    path = tmp_path / "kto.json"
    rows = [
        {"messages": [user("hi"), assistant("Hello!")], "label": True},
        {"prompt": "q", "chosen": "a", "rejected": "b"},
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    assert kto.read_votes(str(path)) == [
        [Vote([user("hi")], "Hello!", True, f"{path}: row 1")],
        [Vote([user("q")], "a", True, f"{path}: row 2"), Vote([user("q")], "b", False, f"{path}: row 2")],
    ]
    demo = kto.read_votes("demo")
    assert len(demo) > 100
    assert all([v.desirable for v in row] == [True, False] and row[0].prompt == row[1].prompt for row in demo)


GOOD_VOTE = {"prompt": "q", "completion": "a", "label": True}

BAD_VOTES = {
    "label a word": ({**GOOD_VOTE, "label": "yes"}, "'label' should be true (a good answer) or false, got 'yes'"),
    "label 2": ({**GOOD_VOTE, "label": 2}, "'label' should be true (a good answer) or false, got 2"),
    "label null": ({**GOOD_VOTE, "label": None}, "'label' should be true (a good answer) or false, got None"),
    "kto_tag a word": (
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "kto_tag": "good"},
        "'kto_tag' should be true (a good answer) or false",
    ),
    "missing completion": ({"prompt": "q", "label": True}, "a 'label' row needs 'prompt' and 'completion'"),
    "completion a user turn": ({**GOOD_VOTE, "completion": [user("a")]}, "'completion' should be an answer"),
    "prompt ends with assistant": (
        {**GOOD_VOTE, "prompt": [user("q"), assistant("a")]},
        "'prompt' should end with a user turn",
    ),
    "messages end with a user turn": (
        {"messages": [user("q"), assistant("a"), user("and?")], "label": True},
        "should end with an assistant turn",
    ),
    "sharegpt ends with a human turn": (
        {"conversations": [{"from": "human", "value": "q"}], "kto_tag": False},
        "should end with an assistant turn",
    ),
    "no label and no pair": (
        {"prompt": "q", "completion": "a"},
        "or a preference pair (chosen/rejected); found fields: completion, prompt",
    ),
    "pair missing rejected": ({"prompt": "q", "chosen": "a"}, "a vote needs a boolean 'label'"),
}


@pytest.mark.parametrize("row, message", list(BAD_VOTES.values()), ids=list(BAD_VOTES))
def test_bad_vote_rows_name_file_and_line(tmp_path, row, message):
    path, rows = rows_of(tmp_path, GOOD_VOTE, row)
    votes_of(rows[0])
    with pytest.raises(UserError, match=re.escape(f"{path}:2: ")) as caught:
        votes_of(rows[1])
    assert message in str(caught.value), str(caught.value)


# ---------------------------------------------------------------------------------------------
# encode_votes: the mismatched examples; auc


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    tokenizer, _ = sft.prepare(resolve(KTOConfig, ["--model", str(tiny_model_dir)]), tiny_model_dir)
    return tokenizer


def some_votes(count: int) -> list[Vote]:
    return [
        Vote([user(f"question {i}: where is parcel {i}?")], f"answer {i}: it left on day {i}.", i % 3 != 0, f"v:{i}")
        for i in range(count)
    ]


def answer_index(tokenizer, vote: Vote, example, votes: list[Vote]) -> int:
    """Which vote's answer `example` is `vote`'s prompt with (the only one it matches)."""
    matches = [
        j
        for j, other in enumerate(votes)
        if fit_to_length(tokenizer, [*vote.prompt, assistant(other.completion)], 256, "last_turn")[0].input_ids.tolist()
        == example.input_ids.tolist()
    ]
    assert len(matches) == 1, matches
    return matches[0]


@pytest.mark.parametrize("count", [2, 3, 7])
def test_mismatched_examples_pair_each_prompt_with_another_votes_answer(tokenizer, count):
    votes = some_votes(count)
    encoded, dropped = kto.encode_votes(tokenizer, votes, 256, seed=5)
    assert dropped == 0 and len(encoded) == count
    partners = []
    for i, (matched, mismatched, desirable) in enumerate(encoded):
        assert desirable == votes[i].desirable
        assert answer_index(tokenizer, votes[i], matched, votes) == i
        assert matched.loss_mask.any() and mismatched.loss_mask.any()  # both learn the answer tokens only
        partners.append(answer_index(tokenizer, votes[i], mismatched, votes))
    assert all(j != i for i, j in enumerate(partners))  # never the vote's own answer
    assert sorted(partners) == list(range(count))  # every answer serves as a mismatch once
    if count == 2:
        assert partners == [1, 0]

    again, _ = kto.encode_votes(tokenizer, votes, 256, seed=5)
    assert all(a[1].input_ids.tolist() == b[1].input_ids.tolist() for a, b in zip(again, encoded, strict=True))
    if count == 7:  # another seed, another pairing
        reseeded, _ = kto.encode_votes(tokenizer, votes, 256, seed=6)
        assert [answer_index(tokenizer, v, e[1], votes) for v, e in zip(votes, reseeded, strict=True)] != partners


def test_a_vote_whose_answer_does_not_fit_is_dropped(tokenizer):
    votes = some_votes(3)
    long_prompt = Vote([user("word " * 300)], "short", True, "v:long")
    encoded, dropped = kto.encode_votes(tokenizer, [*votes, long_prompt], 64, seed=0)
    assert dropped == 1 and len(encoded) == 3


def naive_auc(scores: list[float], positive: list[bool]) -> float:
    wins, pairs = 0.0, 0
    for score_good, good in zip(scores, positive, strict=True):
        for score_bad, bad in zip(scores, positive, strict=True):
            if good and not bad:
                pairs += 1
                wins += 1.0 if score_good > score_bad else 0.5 if score_good == score_bad else 0.0
    return wins / pairs if pairs else math.nan


def test_auc_equals_a_double_loop_ties_included():
    rng = random.Random(0)
    for _ in range(30):
        size = rng.randint(2, 12)
        scores = [float(rng.randint(-3, 3)) for _ in range(size)]  # many ties
        positive = [rng.random() < 0.5 for _ in range(size)]
        expected = naive_auc(scores, positive)
        if math.isnan(expected):
            assert math.isnan(kto.auc(scores, positive))
        else:
            assert kto.auc(scores, positive) == pytest.approx(expected, abs=1e-12)
    assert kto.auc([1.0, 2.0, 3.0], [True, False, False]) == 0.0
    assert kto.auc([1.0, 2.0, 3.0], [False, True, True]) == 1.0
    assert kto.auc([0.0, 0.0, 0.0, 0.0], [True, False, True, False]) == 0.5
    assert math.isnan(kto.auc([1.0, 2.0], [True, True])) and math.isnan(kto.auc([1.0, 2.0], [False, False]))


# ---------------------------------------------------------------------------------------------
# the task: its loss and evaluation


W_D, W_U, BETA = 1.5, 0.5, 0.3


def build_task(model_dir):
    """A KTOTask on 11 votes (4 good + 4 bad, then 3 more good; micro-batches of 4), its model and
    votes; the weights of good and bad votes differ, so a vote taken for the other kind shows."""
    config = resolve(KTOConfig, [
        "--model", str(model_dir), "--batch-size", "8", "--micro-batch-size", "4",
        "--kto.desirable-weight", str(W_D), "--kto.undesirable-weight", str(W_U), "--kto.beta", str(BETA),
    ])  # fmt: skip
    tokenizer, model = sft.prepare(config, model_dir)
    pairs = synthetic_pairs(7, seed=3)
    votes = [Vote([user(r["prompt"])], a, good, f"x:{i}") for i, r in enumerate(pairs)
             for a, good in ((r["chosen"], True), (r["rejected"], False))]  # fmt: skip
    votes = [*votes[:8], *(v for v in votes[8:] if v.desirable)]
    train, _ = kto.encode_votes(tokenizer, votes, 128, seed=0)
    held_out, _ = kto.encode_votes(tokenizer, votes[::-1], 128, seed=1)
    return kto.KTOTask(model, tokenizer, train, held_out, config, CPU), model, votes


def plain_answer_logp(model, example) -> float:
    """The summed log-prob of an example's answer tokens from a plain unpacked forward of it alone."""
    ids = torch.from_numpy(example.input_ids).unsqueeze(0)
    logps = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
    learned = torch.from_numpy(example.loss_mask[1:])
    return logps[torch.arange(len(ids[0]) - 1), ids[0, 1:]][learned].sum().item()


def test_at_step_0_the_loss_is_half_of_each_votes_weight_and_the_evaluation_is_neutral(tiny_model_dir):
    """The reference is the starting model, so every log-ratio is 0 and z0 = 0: each vote's loss is
    its weight x (1 - sigmoid(0)) = w / 2; held out, the implicit rewards are 0, their AUC 0.5."""
    task, model, votes = build_task(tiny_model_dir)
    model.train()
    batches = task.micro_batches(1, CPU)
    assert len(batches) == 2
    for batch in batches:
        good = int(batch.tensors["desirable"].sum())
        bad = len(batch.tensors["desirable"]) - good
        loss, stats = task.loss(model, batch)
        assert batch.units == 4
        assert loss.item() == pytest.approx((W_D * good + W_U * bad) * (1 - 1 / (1 + math.exp(0))), abs=1e-5)
        assert stats["kl"].item() == pytest.approx(0.0, abs=1e-5)
        assert stats["desirable_share"].item() == good  # a count: the loop divides by the votes
    model.eval()
    with torch.no_grad():
        metrics = task.evaluate(model, CPU)
    good = sum(v.desirable for v in votes)
    assert metrics["eval_loss"] == pytest.approx((W_D * good + W_U * (len(votes) - good)) / 2 / len(votes), abs=1e-5)
    assert metrics["eval_auc"] == 0.5
    assert metrics["eval_desirable_reward"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["eval_undesirable_reward"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["eval_reward_margin"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["eval_kl"] == pytest.approx(0.0, abs=1e-5)


def test_once_the_policy_moves_z0_is_the_mismatched_examples_mean_log_ratio(tiny_model_dir):
    """The reference's log-probs are the starting model's, of each vote's example and its mismatched
    one; after the weights move, the loss of a micro-batch is kto_loss of the votes' own log-ratios
    with z0 = the mean log-ratio of their mismatched examples (not of their own answers)."""
    task, model, _ = build_task(tiny_model_dir)
    model.eval()
    with torch.no_grad():
        start = [[plain_answer_logp(model, item[0]), plain_answer_logp(model, item[1])] for item in task.train]
        torch.testing.assert_close(task.ref_train, torch.tensor(start), atol=1e-4, rtol=1e-5)
        generator = torch.Generator().manual_seed(0)
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
        indices = [0, 3, 5, 8]
        batch = task._batch(task.train, indices, task.ref_train)
        loss, stats = task.loss(model, batch)
        matched = torch.tensor([plain_answer_logp(model, task.train[i][0]) for i in indices])
        mismatched = torch.tensor([plain_answer_logp(model, task.train[i][1]) for i in indices])
    ref = task.ref_train[indices]
    z0 = (mismatched - ref[:, 1]).mean()
    assert abs(z0 - (matched - ref[:, 0]).mean()) > 1e-2  # the two choices differ here
    assert stats["kl"].item() == pytest.approx(len(indices) * z0.item(), rel=1e-3, abs=1e-4)
    desirable = torch.tensor([task.train[i][2] for i in indices])
    assert 0 < desirable.sum() < len(indices)
    expected, _ = losses.kto_loss(matched, ref[:, 0], desirable, z0, BETA, W_D, W_U)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-5)


# ---------------------------------------------------------------------------------------------
# the stage from the command line


RUDE = ["No.", "That is your problem, not ours.", "Read the website.", "肯定是您自己操作错了。"]


def vote_pairs(count: int, seed: int) -> list[dict]:
    """Customer-service prompts; the chosen answer is one of the polite ANSWERS, the rejected one rude."""
    rng = random.Random(seed)
    return [{"prompt": f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}.", "chosen": rng.choice(ANSWERS),
             "rejected": rng.choice(RUDE)} for _ in range(count)]  # fmt: skip


def vote_rows(count: int, seed: int) -> list[dict]:
    """Votes of several shapes on `vote_pairs`: a pair, prompt/completion/label rows, messages + label."""
    rows = []
    for index, pair in enumerate(vote_pairs(count, seed)):
        shape = index % 3
        if shape == 0:  # a pair: a good and a bad vote
            rows.append(pair)
        elif shape == 1:
            rows.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": True})
            rows.append({"prompt": pair["prompt"], "completion": pair["rejected"], "label": False})
        else:
            rows.append({"messages": [user(pair["prompt"]), assistant(pair["chosen"])], "label": True})
            rows.append({"messages": [user(pair["prompt"]), assistant(pair["rejected"])], "label": 0})
    return rows


def test_kto_cli_learns_which_answers_are_good(tmp_path, tiny_model_dir):
    train = write_rows(tmp_path / "votes.jsonl", vote_rows(48, seed=20))
    held = write_rows(tmp_path / "held.jsonl", vote_pairs(12, seed=21))
    out = tmp_path / "kto"
    result = run_cli(
        "kto", "--model", tiny_model_dir, "--data", train, "--data.eval-path", held, "--output-dir", out,
        "--max-steps", "8", "--batch-size", "8", "--micro-batch-size", "8", "--lr", "1e-3", "--kto.beta", "0.1",
        "--optim.warmup-steps", "0", "--eval-every", "4", "--log-every", "1", *QUIET,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "96 votes, 48 good (0 dropped" in result.stdout and "24 held out" in result.stdout, result.stdout

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval_loss" in r]
    assert [r["step"] for r in evals] == [0, 4, 8]
    start, end = evals[0], evals[-1]
    keys = {"eval_loss", "eval_kl", "eval_auc", "eval_desirable_reward", "eval_undesirable_reward"}
    assert keys | {"eval_reward_margin"} <= start.keys()
    assert start["eval_auc"] == 0.5 and start["eval_reward_margin"] == pytest.approx(0.0, abs=1e-5)
    assert start["eval_loss"] == pytest.approx(0.5, abs=1e-5)  # weights 1: each vote 1 - sigmoid(0)
    assert end["eval_auc"] >= 0.8 and end["eval_reward_margin"] > 0, end
    assert end["eval_desirable_reward"] > end["eval_undesirable_reward"]
    steps = [r for r in records if "loss" in r]
    assert len(steps) == 8 and all({"kl", "desirable_share", "lr", "grad_norm"} <= r.keys() for r in steps)
    assert all(0 <= r["desirable_share"] <= 1 for r in steps)
    assert sum(r["desirable_share"] for r in steps) / len(steps) == pytest.approx(0.5, abs=0.15)

    model = AutoModelForCausalLM.from_pretrained(out / "final")
    assert model.config.model_type == "llama" and model.config.vocab_size >= 512


def test_all_good_votes_exit_2_in_one_line(tmp_path, tiny_model_dir):
    rows = [{"prompt": p["prompt"], "completion": p["chosen"], "label": True} for p in synthetic_pairs(6, seed=2)]
    data = write_rows(tmp_path / "votes.jsonl", rows)
    never = tmp_path / "never"
    result = run_cli("kto", "--model", tiny_model_dir, "--data", data, "--output-dir", never, *QUIET)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {data}: KTO needs both good and bad votes; the training votes are all good"
    ), result.stderr
    assert not never.exists()


def test_a_bad_label_exits_2_naming_file_and_line(tmp_path, tiny_model_dir):
    rows = vote_rows(3, seed=1)
    rows[2]["label"] = "maybe"
    data = write_rows(tmp_path / "votes.jsonl", rows)
    never = tmp_path / "never"
    result = run_cli("kto", "--model", tiny_model_dir, "--data", data, "--output-dir", never, *QUIET)
    assert result.returncode == 2
    assert re.fullmatch(
        rf"error: {re.escape(str(data))}:3: 'label' should be true \(a good answer\) or false, got 'maybe'",
        result.stderr.strip(),
    ), result.stderr
    assert "Traceback" not in result.stderr and not never.exists()
