"""PPO end to end on a tiny random policy and an untrained reward model: sampling (left padding,
masks after an answer's end, seeds), the actor-critic forward against plain unpadded passes, the
on-policy first step, the CLI's outputs and metrics, exact resume from the middle of an iteration,
the adaptive KL controller and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from alignkit import losses, rollout
from alignkit.config import PPOConfig, resolve
from alignkit.models import load
from alignkit.models.tokenizer import end_of_turn_ids
from alignkit.stages import ppo, reward
from tests.conftest import QUESTIONS, run_cli

QUIET = ["--run.progress", "false", "--run.plots", "false"]
pytestmark = pytest.mark.usefixtures("one_thread")


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gpt2_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A random 2-layer GPT-2 (learned absolute positions) with the tiny model's tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = load.load_tokenizer(tiny_model_dir)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=256, n_embd=64, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GPT2LMHeadModel(config)
    path = tmp_path_factory.mktemp("ppo") / "gpt2"
    load.save_pretrained(model, tokenizer, path, "sdpa")
    return path


@pytest.fixture(scope="session")
def prompts_file(tmp_path_factory) -> Path:
    rows = [{"prompt": f"{QUESTIONS[i % len(QUESTIONS)]} (ticket {i})"} for i in range(24)]
    path = tmp_path_factory.mktemp("ppo") / "prompts.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def open_policy(path: Path):
    tokenizer = load.load_tokenizer(path)
    model = load.load_causal_lm(path).eval()
    load.fit_embeddings(model, tokenizer)
    return model, tokenizer


def ppo_args(run_dir: Path, policy: Path, rm: Path, prompts: Path, *extra) -> list[str]:
    return [
        "--model", str(policy), "--ppo.reward-model", str(rm), "--data", str(prompts), "--output-dir", str(run_dir),
        "--ppo.max-new-tokens", "8", "--eval-every", "0", *QUIET, *map(str, extra),
    ]  # fmt: skip


def read_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def train_records(records: list[dict]) -> dict[int, dict]:
    return {r["step"]: r for r in records if "loss" in r}


def capture_tasks(monkeypatch) -> list:
    """Every PPOTask ppo.run builds, kept for inspection after the run, with the steps it ran."""
    tasks = []

    class Captured(ppo.PPOTask):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps_run: list[int] = []
            tasks.append(self)

        def micro_batches(self, step, dist):
            self.steps_run.append(step)
            return super().micro_batches(step, dist)

    monkeypatch.setattr(ppo, "PPOTask", Captured)
    return tasks


def causal_lm_weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).state_dict()


# -- sampling ------------------------------------------------------------------------------------


def test_sample_left_pads_masks_after_the_end_and_depends_only_on_the_seed(policy_dir):
    model, tokenizer = open_policy(policy_dir)
    texts = rollout.prompt_texts(tokenizer, QUESTIONS * 2, chat=True)
    sampling = rollout.Sampling(max_new_tokens=12, temperature=1.0, seed=7)
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    drawn = rollout.sample(model, tokenizer, texts, sampling, batch_size=4)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is untouched

    pad, stops = tokenizer.pad_token_id, end_of_turn_ids(tokenizer)
    width = drawn.query_ids.shape[1]
    for i, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        left = width - len(ids)
        assert drawn.query_mask[i].tolist() == [0] * left + [1] * len(ids)
        assert drawn.query_ids[i, left:].tolist() == ids
        assert drawn.query_ids[i, :left].tolist() == [pad] * left
    assert drawn.query_mask[:, 0].min() == 0 and drawn.query_mask[:, -1].min() == 1

    responses, masks = drawn.response_ids.tolist(), drawn.response_mask.tolist()
    assert drawn.response_ids.shape[1] == 12  # some answer ran to max_new_tokens
    for i in range(len(texts)):
        ends = [t for t, token in enumerate(responses[i]) if token in stops]
        assert drawn.ended[i].item() == bool(ends)
        length = ends[0] + 1 if ends else 12
        assert masks[i] == [True] * length + [False] * (12 - length)  # up to and including the end
        assert responses[i][length:] == [pad] * (12 - length)
        assert pad not in responses[i][:length]
    lengths = drawn.response_mask.sum(1).tolist()
    assert 0 < drawn.ended.sum() < len(texts) and len(set(lengths)) > 2, lengths  # the masks are exercised

    torch.manual_seed(999)  # another global state: the same draw
    again = rollout.sample(model, tokenizer, texts, sampling, batch_size=4)
    for field in ("query_ids", "query_mask", "response_ids", "response_mask", "ended"):
        assert torch.equal(getattr(again, field), getattr(drawn, field)), field
    other = rollout.sample(model, tokenizer, texts, rollout.Sampling(12, 1.0, seed=8), batch_size=4)
    assert not torch.equal(other.response_ids, drawn.response_ids)

    # too-long prompts lose their start, never the generation prompt that opens the answer
    cut = rollout.sample(model, tokenizer, texts[:4], rollout.Sampling(2), batch_size=4, max_prompt_length=10)
    assert cut.query_ids.shape[1] == 10
    for i, text in enumerate(texts[:4]):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert cut.query_ids[i, cut.query_mask[i].bool()].tolist() == ids[-10:]


def test_greedy_generate_equals_the_greedy_sample_and_unpadded_generation(tiny_model_dir):
    """On the untouched tiny model (greedy answers run to max_new_tokens): generate's texts are the
    greedy sample's tokens decoded, and each equals what transformers gives for the prompt alone."""
    model, tokenizer = open_policy(tiny_model_dir)
    greedy = rollout.Sampling(max_new_tokens=10)
    texts = rollout.prompt_texts(tokenizer, QUESTIONS, chat=True)
    answers = rollout.generate(model, tokenizer, QUESTIONS, greedy, chat=True, batch_size=4)
    drawn = rollout.sample(model, tokenizer, texts, greedy, batch_size=4)
    assert answers == tokenizer.batch_decode(drawn.response_ids, skip_special_tokens=True)
    assert all(answers)
    stops = end_of_turn_ids(tokenizer)
    for text, answer in zip(texts, answers, strict=True):
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
        alone = model.generate(
            input_ids=ids, max_new_tokens=10, do_sample=False, eos_token_id=stops, pad_token_id=tokenizer.pad_token_id
        )
        assert tokenizer.decode(alone[0, ids.shape[1] :], skip_special_tokens=True) == answer


def test_sample_leaves_the_tokenizer_as_it_was(tiny_model_dir):
    model, tokenizer = open_policy(tiny_model_dir)
    sides = (tokenizer.padding_side, tokenizer.truncation_side)
    rollout.sample(model, tokenizer, ["hi", "hello there"], rollout.Sampling(2), max_prompt_length=8)
    assert (tokenizer.padding_side, tokenizer.truncation_side) == sides


# -- the actor-critic forward --------------------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_actor_critic_forward_equals_unpadded_passes(request, family, policy_dir, reward_dir):
    """Left-padded rows give each response position the logits and values of the row alone. Llama's
    rotary positions are relative, so only the mask is tested there; GPT-2 learns absolute
    positions, so there the position ids must count real tokens only. The critic starts from the
    reward model (auto, the same vocabulary) for Llama and from the policy's body for GPT-2."""
    path = policy_dir if family == "llama" else request.getfixturevalue("gpt2_dir")
    policy, tokenizer = open_policy(path)
    reward_model, reward_tokenizer, _ = reward.open_reward_model(reward_dir)
    spec = "auto" if family == "llama" else "policy"
    critic, source = ppo.build_critic(spec, path, reward_dir, reward_model, tokenizer, reward_tokenizer, "sdpa")
    assert source == (str(reward_dir) if family == "llama" else "policy")
    model = ppo.ActorCritic(policy, critic).eval()
    texts = rollout.prompt_texts(tokenizer, QUESTIONS, chat=True)
    drawn = rollout.sample(policy, tokenizer, texts, rollout.Sampling(12, 1.0, seed=3), batch_size=8)
    rows = ppo.sequences_of(drawn)
    queries, length = drawn.query_ids.shape[1], drawn.response_ids.shape[1]
    assert torch.equal(rows["input_ids"], torch.cat([drawn.query_ids, drawn.response_ids], 1))
    assert torch.equal(rows["response_mask"], drawn.response_mask.float())

    with torch.no_grad():
        logits, values = model(rows["input_ids"], rows["attention_mask"], rows["position_ids"], length)
        assert logits.shape == (len(texts), length, len(tokenizer)) and values.shape == (len(texts), length)
        for i in range(len(texts)):
            prompt = int(drawn.query_mask[i].sum())
            ids = torch.cat([drawn.query_ids[i, queries - prompt :], drawn.response_ids[i]]).unsqueeze(0)
            alone = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            before = slice(prompt - 1, prompt - 1 + length)  # the positions that predict response tokens
            expected = policy(**alone).logits[0, before]
            torch.testing.assert_close(logits[i], expected, atol=1e-4, rtol=1e-4, msg=f"row {i} logits")
            hidden = critic.base_model(**alone).last_hidden_state[0, before]
            torch.testing.assert_close(values[i], critic.score(hidden).squeeze(-1), atol=1e-4, rtol=1e-4)

        # the reference's log-probs read the rows the same way (here the reference is the policy)
        reference = ppo.response_logprobs(policy, rows, 1.0)
        torch.testing.assert_close(reference, losses.token_logprobs(logits, drawn.response_ids, 1.0))

        if family == "gpt2":  # the check above can fail: positions that count the padding change the answer
            counting_pads = torch.arange(rows["input_ids"].shape[1]).expand_as(rows["input_ids"])
            wrong, _ = model(rows["input_ids"], rows["attention_mask"], counting_pads, length)
            padded = int(drawn.query_mask.sum(1).argmin())
            assert not torch.allclose(wrong[padded], logits[padded], atol=1e-2)


# -- the stage -----------------------------------------------------------------------------------


def test_the_first_step_is_on_policy_and_only_the_policy_and_critic_move(
    tmp_path, monkeypatch, policy_dir, reward_dir, prompts_file
):
    """One iteration, one epoch, one minibatch: the ratio at step 1 is exactly 1 (the rollout's
    log-probs are the policy's own); after the step the reference and the reward model are the
    starting checkpoints to the bit, the policy and the critic are not."""
    tasks = capture_tasks(monkeypatch)
    run_dir = tmp_path / "run"
    args = ppo_args(
        run_dir, policy_dir, reward_dir, prompts_file, "--ppo.iterations", 1, "--ppo.ppo-epochs", 1,
        "--ppo.rollout-batch-size", 4, "--batch-size", 4, "--micro-batch-size", 2, "--data.eval-fraction", 0,
        "--lr", "1e-3", "--save-every", 0,
    )  # fmt: skip
    final = ppo.run(resolve(PPOConfig, args))
    records = read_records(run_dir)
    assert [r["step"] for r in records] == [1]  # nothing held out: no evaluation
    first = records[0]
    assert first["clipfrac"] == 0.0 and first["approx_kl"] < 1e-10, first
    assert first["iteration"] == 1 and first["kl"] == 0.0  # the policy is the reference at the rollout

    (task,) = tasks
    start = causal_lm_weights(policy_dir)
    reference = task.reference.state_dict()
    assert reference.keys() == start.keys()
    assert all(torch.equal(reference[k], start[k]) for k in start), "the reference moved"
    assert not any(p.requires_grad for p in task.reference.parameters())
    scorer = task.score_fn.model.state_dict()
    reward_start = AutoModelForSequenceClassification.from_pretrained(reward_dir, dtype=torch.float32).state_dict()
    assert all(torch.equal(scorer[k], reward_start[k]) for k in reward_start), "the reward model moved"

    trained = causal_lm_weights(final)
    assert any(not torch.equal(trained[k], start[k]) for k in start), "the policy did not move"
    critic = AutoModelForSequenceClassification.from_pretrained(final / "critic", dtype=torch.float32).state_dict()
    assert not torch.equal(critic["score.weight"], reward_start["score.weight"]), "the critic did not move"


def test_cli_end_to_end(tmp_path, policy_dir, reward_dir, prompts_file):
    run_dir = tmp_path / "run"
    result = run_cli(
        "ppo", "--model", policy_dir, "--ppo.reward-model", reward_dir, "--data", prompts_file,
        "--ppo.iterations", "2", "--ppo.rollout-batch-size", "8", "--batch-size", "4", "--micro-batch-size", "2",
        "--ppo.max-new-tokens", "8", "--data.eval-prompts", "4", "--data.eval-fraction", "0.25",
        "--output-dir", run_dir, "--eval-every", "0", "--lr", "1e-3", "--run.progress", "false",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

    final = run_dir / "final"
    policy = AutoModelForCausalLM.from_pretrained(final)
    assert policy.config.vocab_size == 512
    critic = AutoModelForSequenceClassification.from_pretrained(final / "critic")
    assert critic.config.num_labels == 1
    start = causal_lm_weights(policy_dir)
    assert any(not torch.equal(policy.state_dict()[k], start[k]) for k in start), "the policy did not move"

    records = read_records(run_dir)
    evals = [r for r in records if "eval_reward" in r]
    assert [r["step"] for r in evals] == [0, 8]  # at the start (the SFT policy) and at the end
    assert evals[0]["eval_kl"] == pytest.approx(0.0, abs=1e-6)  # the policy is the reference
    assert {"eval_reward_std", "eval_answer_length", "eval_greedy_reward"} <= evals[0].keys()
    steps = train_records(records)
    assert sorted(steps) == list(range(1, 9))  # 2 iterations x 2 epochs x 8 / 4 minibatches
    per_step = {"loss", "policy_loss", "value_loss", "entropy", "clipfrac", "approx_kl", "vf_clipfrac", "lr"}
    assert all(per_step <= r.keys() for r in steps.values())
    rollout_stats = {"reward", "kl", "kl_coef", "explained_variance", "answer_length", "ended", "time_generate_s"}
    with_stats = [r for r in records if rollout_stats & r.keys()]
    assert [(r["step"], r["iteration"]) for r in with_stats] == [(1, 1), (5, 2)]  # once per iteration
    assert all(rollout_stats <= r.keys() for r in with_stats)
    assert 1 <= with_stats[0]["answer_length"] <= 8 and 0 <= with_stats[0]["ended"] <= 1

    samples = [json.loads(x) for x in (run_dir / "samples" / "iteration-00001.jsonl").read_text().splitlines()]
    assert len(samples) == 8 and all({"iteration", "prompt", "answer", "score"} <= s.keys() for s in samples)
    plots = list((run_dir / "plots").glob("*.png"))
    assert {"reward.png", "kl.png", "loss.png"} <= {p.name for p in plots}
    assert all(p.stat().st_size > 0 for p in plots)
    report = json.loads((final / "ppo_report.json").read_text())
    assert report["start_reward"] == evals[0]["eval_reward"] and report["final_reward"] == evals[-1]["eval_reward"]


# -- exact resume and the adaptive KL controller ---------------------------------------------------

KL_TARGET, KL_HORIZON = 0.05, 40
RESUME_ARGS = [
    "--ppo.iterations", 3, "--ppo.rollout-batch-size", 4, "--batch-size", 2, "--micro-batch-size", 2,
    "--ppo.ppo-epochs", 2, "--save-every", 6, "--log-every", 1, "--data.eval-prompts", 2, "--lr", "1e-3",
    "--ppo.adaptive-kl", "true", "--ppo.kl-target", KL_TARGET, "--ppo.kl-horizon", KL_HORIZON,
]  # fmt: skip
COMPARED = ["loss", "policy_loss", "value_loss", "entropy", "clipfrac", "approx_kl", "grad_norm"]
COMPARED += ["reward", "kl", "kl_coef", "explained_variance", "answer_length", "eval_reward", "eval_kl"]


@pytest.fixture(scope="module")
def adaptive_run(tmp_path_factory, policy_dir, reward_dir, prompts_file):
    """3 iterations of 4 steps (2 epochs x 2 minibatches) with the adaptive KL controller and a
    checkpoint at step 6, the middle of iteration 2: (run dir, metrics, step-12 weights)."""
    run_dir = tmp_path_factory.mktemp("ppo") / "adaptive"
    ppo.run(resolve(PPOConfig, ppo_args(run_dir, policy_dir, reward_dir, prompts_file, *RESUME_ARGS)))
    weights = load_file(str(run_dir / "checkpoints" / "step-12" / "model.safetensors"))
    return run_dir, read_records(run_dir), weights


def test_adaptive_kl_follows_the_controller(adaptive_run):
    _, records, _ = adaptive_run
    rollouts = [r for r in records if "iteration" in r]
    assert [(r["step"], r["iteration"]) for r in rollouts] == [(1, 1), (5, 2), (9, 3)]
    assert rollouts[0]["kl_coef"] == PPOConfig().ppo.kl_coef and rollouts[0]["kl"] == 0.0
    directions = []
    for before, after in zip(rollouts, rollouts[1:], strict=False):
        expected = losses.adaptive_kl_coef(before["kl_coef"], before["kl"], KL_TARGET, KL_HORIZON, 4)  # 4 answers
        assert after["kl_coef"] == pytest.approx(expected, rel=1e-12)
        moved = after["kl_coef"] - before["kl_coef"]
        assert moved != 0 and (moved > 0) == (before["kl"] > KL_TARGET)  # up above the target, down below
        directions.append(moved > 0)
    assert directions == [False, True]  # iteration 1: KL 0, below any target; iteration 2 above this one


def test_resume_from_the_middle_of_an_iteration_reproduces_the_run(
    adaptive_run, tmp_path, monkeypatch, policy_dir, reward_dir, prompts_file
):
    """Throw away everything after the checkpoint at step 6 (iteration 2 half done) and resume:
    the rest of the run, rollouts of iteration 3 included, equals the uninterrupted one. The
    rollout buffer, the KL coefficient and the RNG come from the checkpoint."""
    source, before, weights = adaptive_run
    defaults = PPOConfig().optim
    assert defaults.schedule == "constant" and defaults.warmup_steps == 0  # the lr does not depend on total_steps
    run_dir = tmp_path / "adaptive"
    shutil.copytree(source, run_dir)
    shutil.rmtree(run_dir / "checkpoints" / "step-12")
    shutil.rmtree(run_dir / "final")
    tasks = capture_tasks(monkeypatch)
    ppo.run(resolve(PPOConfig, [*ppo_args(run_dir, policy_dir, reward_dir, prompts_file, *RESUME_ARGS), "--resume"]))
    after = read_records(run_dir)
    (task,) = tasks
    assert task.steps_run == list(range(7, 13))  # resumed, not started afresh

    def picked(records):
        return [(r["step"], {k: r[k] for k in COMPARED if k in r}) for r in records]

    assert [r["step"] for r in after] == [r["step"] for r in before]
    resumed = picked(r for r in after if r["step"] > 6)
    assert resumed == picked(r for r in before if r["step"] > 6)
    assert "iteration" not in {k for r in after if r["step"] in (7, 8) for k in r}  # the saved rollout, not a new one
    trained = load_file(str(run_dir / "checkpoints" / "step-12" / "model.safetensors"))
    assert trained.keys() == weights.keys()
    assert all(torch.equal(trained[k], weights[k]) for k in weights)


def test_a_run_stopped_by_max_steps_continues_exactly(adaptive_run, tmp_path, policy_dir, reward_dir, prompts_file):
    """Stopped by run.max_steps 6 in the middle of iteration 2, then continued to 12 with --resume:
    the constant lr schedule does not depend on total_steps, so steps 7..12 are the uninterrupted
    run's (the stopped run's extra evaluation at step 6 aside)."""
    _, before, weights = adaptive_run
    run_dir = tmp_path / "adaptive"
    args = ppo_args(run_dir, policy_dir, reward_dir, prompts_file, *RESUME_ARGS)
    ppo.run(resolve(PPOConfig, [*args, "--run.max-steps", "6"]))
    ppo.run(resolve(PPOConfig, [*args, "--run.max-steps", "12", "--resume"]))
    after = read_records(run_dir)
    assert [r["step"] for r in after if "eval_reward" in r] == [0, 6, 12]

    def picked(records):
        return [(r["step"], {k: r[k] for k in COMPARED if k in r}) for r in records if r["step"] > 6]

    assert picked(r for r in after if "loss" in r or r["step"] == 12) == picked(before)
    trained = load_file(str(run_dir / "checkpoints" / "step-12" / "model.safetensors"))
    assert all(torch.equal(trained[k], weights[k]) for k in weights)


def test_resume_keeps_rollout_statistics_not_yet_logged(tmp_path, policy_dir, reward_dir, prompts_file):
    """log_every 2, 2 steps an iteration: iteration 2's rollout happens at step 3 and its statistics
    go into the record of step 4. A checkpoint at step 3 falls between the two."""
    run_dir = tmp_path / "run"
    args = ppo_args(
        run_dir, policy_dir, reward_dir, prompts_file, "--ppo.iterations", 2, "--ppo.rollout-batch-size", 2,
        "--batch-size", 2, "--micro-batch-size", 2, "--ppo.ppo-epochs", 2, "--log-every", 2, "--save-every", 3,
        "--data.eval-fraction", 0,
    )  # fmt: skip
    ppo.run(resolve(PPOConfig, args))
    before = read_records(run_dir)
    assert [(r["step"], r.get("iteration")) for r in before] == [(2, 1), (4, 2)]
    shutil.rmtree(run_dir / "checkpoints" / "step-4")
    shutil.rmtree(run_dir / "final")
    ppo.run(resolve(PPOConfig, [*args, "--resume"]))
    after = read_records(run_dir)
    assert [r["loss"] for r in after] == [r["loss"] for r in before]  # the training itself is exact
    assert [(r["step"], r.get("iteration")) for r in after] == [(2, 1), (4, 2)]


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_one_clear_line(tmp_path, policy_dir, reward_dir, prompts_file):
    cases = [
        (["--ppo.rollout-batch-size", "6", "--batch-size", "4", "--ppo.reward-model", reward_dir],
         "ppo.rollout_batch_size: a rollout of 6 answers must be a multiple of run.batch_size 4"),
        (["--ppo.reward-model", tmp_path / "no-rm"], f"{tmp_path / 'no-rm'}: no such model directory"),
    ]  # fmt: skip
    for extra, message in cases:
        never = tmp_path / "never"
        result = run_cli("ppo", "--model", policy_dir, "--data", prompts_file, "--output-dir", never, *QUIET, *extra)
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1, result.stderr
        assert not never.exists()


# -- the sampler -----------------------------------------------------------------------------------


def test_the_sampler_draws_from_the_tempered_distribution():
    """40,000 draws of one row: each token's frequency is within 4 standard errors of softmax(logits / T)."""
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]])
    sampler = rollout.CategoricalSampler(temperature=0.7)
    expected = torch.softmax(logits / 0.7, dim=-1)[0].double()
    torch.manual_seed(0)
    draws = sampler(None, logits.expand(40_000, -1)).argmax(dim=-1)
    frequencies = torch.bincount(draws, minlength=6).double() / len(draws)
    error = (expected * (1 - expected) / len(draws)).sqrt()
    assert torch.all((frequencies - expected).abs() < 4 * error + 1e-9), (frequencies, expected)
    one_hot = sampler(None, logits.expand(3, -1))
    assert torch.all((one_hot == 0).sum(dim=-1) == 1) and torch.all(torch.isinf(one_hot).sum(dim=-1) == 5)


@pytest.mark.parametrize("top_k, top_p", [(5, 1.0), (0, 0.8), (0, 0.3), (20, 0.9), (1, 1.0)])
def test_the_sampler_cuts_as_transformers_top_k_and_top_p_warpers_do(top_k, top_p):
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    torch.manual_seed(1)
    logits = torch.randn(64, 100) * 3
    cut = logits.clone()
    if top_k:
        cut = TopKLogitsWarper(top_k)(None, cut)
    if top_p < 1:
        cut = TopPLogitsWarper(top_p)(None, cut)
    probabilities = rollout.CategoricalSampler(1.0, top_k, top_p).probabilities(logits)
    assert torch.equal(probabilities > 0, torch.isfinite(cut))
    torch.testing.assert_close(probabilities, torch.softmax(cut, dim=-1))
    draws = rollout.CategoricalSampler(1.0, top_k, top_p)(None, logits).argmax(dim=-1)
    assert torch.all(torch.isfinite(cut[torch.arange(64), draws]))  # never outside the cut
