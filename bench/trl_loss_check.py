"""alignkit's DPO, KTO and GRPO losses against TRL's own code, on the same inputs (requirement: equal within 1e-6).

Runs in the benchmarks' TRL environment (bench/requirements-trl.txt, TRL 1.16.0), where alignkit is not installed;
src/alignkit/losses.py imports only torch, so it is loaded by path:

    OMP_NUM_THREADS=1 bench/.venv-trl/bin/python bench/trl_loss_check.py [--strict-fp64]

How TRL is called. TRL 1.x has no standalone loss functions: the losses live inside `DPOTrainer._compute_loss`,
`KTOTrainer._compute_loss` and `GRPOTrainer._compute_loss`, which call the model. Each trainer is made with
`object.__new__` and given the attributes its `__init__` copies from a real `DPOConfig` / `KTOConfig` / `GRPOConfig`,
a one-process stand-in for the accelerator, and a stand-in for a model patched by TRL's `add_fused_lm_head`:
`model(..., labels=labels, fused_lm_head=True)` returns TRL's `FusedCausalLMOutput` whose `log_probs` are given
per-token log-probabilities (0 where the label is -100, as the real head does). So everything from the per-token
log-probs to the loss is TRL's own code. The one exception is GRPO's advantage computation, which sits in the middle of
`GRPOTrainer._generate_and_score_completions` (generation, reward functions, ...): its lines are copied into
`trl_grpo_advantages` below, and the script checks that they still appear verbatim in the installed TRL's source.

Inputs. Per-token log-probs, log-ratio offsets, advantages and rewards are random multiples of 2^-10 (fixed seed), so
each value and each sum of them is exact in float32 and in float64. Every comparison runs twice, alignkit and TRL both
given the same float32 tensors ("fp32" columns), then the same float64 tensors ("fp64"). TRL computes in the dtype it
is given; so does alignkit's grpo_loss, but dpo_loss, kto_loss and group_advantages compute in float32 whatever the
input (`.float()` turns float64 into float32), so their "fp64" differences include alignkit's float32 rounding, which
exceeds 1e-6 for any loss value above 16 (the "fp32 ulp/2" column: half the float32 spacing at the largest loss). The
exit status is non-zero when a gated "fp32" difference exceeds 1e-6; with --strict-fp64, a gated "fp64" one too.
Rows marked "info" show known differences in definition (see the printed notes) and are never gated.

Mappings. DPO: alignkit returns the sum over pairs; it is divided by P and compared with TRL's mean, and pair by pair
by calling TRL with P = 1. TRL's IPO divides each answer's log-ratio by its number of completion tokens, so alignkit
gets the per-token-averaged log-probs (lengths are powers of two there, so the averages are exact too). KTO: alignkit's
sum over answers / N against TRL's mean of [desirable losses, undesirable losses]; alignkit gets TRL's KL estimate
mean(KL_logps - ref_KL_logps) unclamped (it clamps at 0 itself). GRPO: alignkit's normalise="sequence" against TRL's
loss_type "grpo" and normalise="token" against "bnpo" and "dapo" (with num_items_in_batch = the batch's tokens).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import inspect
import math
import sys
import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
import trl
from trl import DPOConfig, DPOTrainer, GRPOConfig, GRPOTrainer, KTOConfig, KTOTrainer
from trl.trainer.utils import FusedCausalLMOutput, nanstd

TOL = 1e-6
ROOT = Path(__file__).resolve().parents[1]
SEED = 1234
PROMPT_LEN = 3  # prompt tokens before each completion; the first holds the row's key for the model stand-in


def load_alignkit_losses():
    spec = importlib.util.spec_from_file_location("alignkit_losses", ROOT / "src" / "alignkit" / "losses.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ak = load_alignkit_losses()


# ---------------------------------------------------------------------------------------------------------------------
# Stand-ins for what TRL's _compute_loss reads besides its inputs


class OneProcessAccelerator:
    device = torch.device("cpu")
    num_processes = 1
    process_index = 0
    is_main_process = True
    sync_gradients = True

    def gather(self, tensor):
        return tensor

    def gather_for_metrics(self, tensor):
        return tensor

    def reduce(self, tensor, reduction="sum"):
        return tensor

    def autocast(self):
        return contextlib.nullcontext()

    def unwrap_model(self, model):
        return model


class FusedHeadStandIn:
    """A model as patched by TRL's add_fused_lm_head, called with fused_lm_head=True: log_probs[b, j] is the log-prob
    of token j + 1 of row b, 0 where labels[b, j + 1] == -100. The first token of each row is the row's key into the
    registered per-token tables."""

    training = False  # TRL's "eval" mode: no gradient-accumulation scaling, no token counters

    def __init__(self):
        self.rows: list[torch.Tensor] = []
        self.dtype = torch.float64

    def register(self, table: torch.Tensor) -> torch.Tensor:
        start = len(self.rows)
        self.rows.extend(table.unbind(0))
        return torch.arange(start, start + table.shape[0])

    def __call__(self, input_ids, labels, fused_lm_head=False, **kwargs):
        assert fused_lm_head, "TRL 1.16 calls the model with fused_lm_head=True in these losses"
        log_probs = torch.stack([self.rows[key] for key in input_ids[:, 0].tolist()]).to(self.dtype)
        label_mask = labels[:, 1:] != -100
        assert log_probs.shape == label_mask.shape, (log_probs.shape, label_mask.shape)
        log_probs = log_probs.masked_fill(~label_mask, 0.0)
        zeros = torch.zeros_like(log_probs)
        return FusedCausalLMOutput(
            loss=-log_probs.sum() / label_mask.sum().clamp(min=1),
            log_probs=log_probs,
            entropy=zeros,
            log_sum_sq_probs=zeros,
            mean_logits=zeros,
            is_top1=torch.zeros_like(label_mask),
            label_mask=label_mask,
        )


CONFIG_KWARGS = {"report_to": "none", "use_cpu": True, "bf16": False}


def bare_trainer(cls, args, model, **attributes):
    trainer = object.__new__(cls)
    trainer.args = args
    trainer.model = model
    trainer.ref_model = None
    trainer.accelerator = OneProcessAccelerator()
    trainer._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    trainer._total_train_tokens = 0
    trainer._tp_size = 1
    trainer.aux_loss_enabled = False
    for name, value in attributes.items():
        setattr(trainer, name, value)
    return trainer


def dpo_trainer(model, out_dir, **config):
    args = DPOConfig(output_dir=out_dir, precompute_ref_log_probs=True, **CONFIG_KWARGS, **config)
    # as DPOTrainer.__init__ (trl/trainer/dpo_trainer.py, "Training arguments")
    return bare_trainer(
        DPOTrainer,
        args,
        model,
        beta=args.beta,
        precompute_ref_logps=args.precompute_ref_log_probs,
        loss_types=args.loss_type,
        loss_weights=args.loss_weights or [1.0] * len(args.loss_type),
        ld_alpha=args.ld_alpha,
        f_divergence_type=args.f_divergence_type,
        f_alpha_divergence_coef=args.f_alpha_divergence_coef,
        label_smoothing=args.label_smoothing,
        use_weighting=args.use_weighting,
    )


def kto_trainer(model, out_dir, **config):
    args = KTOConfig(output_dir=out_dir, precompute_ref_log_probs=True, **CONFIG_KWARGS, **config)
    # as KTOTrainer.__init__ (trl/trainer/kto_trainer.py)
    return bare_trainer(
        KTOTrainer,
        args,
        model,
        beta=args.beta,
        precompute_ref_logps=args.precompute_ref_log_probs,
        loss_type=args.loss_type,
        desirable_weight=args.desirable_weight,
        undesirable_weight=args.undesirable_weight,
        calculate_KL=args.loss_type not in ["apo_zero_unpaired"],
    )


def grpo_trainer(model, out_dir, **config):
    args = GRPOConfig(output_dir=out_dir, **CONFIG_KWARGS, **config)
    # as GRPOTrainer.__init__ (trl/trainer/grpo_trainer.py)
    return bare_trainer(
        GRPOTrainer,
        args,
        model,
        beta=args.beta,
        loss_type=args.loss_type,
        epsilon_low=args.epsilon,
        epsilon_high=args.epsilon_high if args.epsilon_high is not None else args.epsilon,
        importance_sampling_level=args.importance_sampling_level,
        off_policy_mask_threshold=args.off_policy_mask_threshold,
        top_entropy_quantile=args.top_entropy_quantile,
        use_vllm=args.use_vllm,
        vllm_importance_sampling_correction=args.vllm_importance_sampling_correction,
        entropy_coef=args.entropy_coef,
        use_adaptive_entropy=args.use_adaptive_entropy,
        _entropy_bonus_enabled=args.entropy_coef != 0.0 or args.use_adaptive_entropy,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Inputs


def grid(gen: torch.Generator, shape, low: float, high: float) -> torch.Tensor:
    """Random multiples of 2^-10 in [low, high), float64 (exact in float32 too)."""
    values = torch.randint(round(low * 1024), round(high * 1024), shape, generator=gen, dtype=torch.int64)
    return values.double() / 1024


def completion_rows(model: FusedHeadStandIn, per_token: torch.Tensor, lengths: torch.Tensor):
    """Right-padded prompt + completion rows whose completion tokens have log-probs `per_token` (R, T) up to each
    row's length. Returns the tensors TRL's collators produce and each row's summed log-probs and token mask."""
    rows, width = per_token.shape
    token_mask = torch.arange(width)[None, :] < lengths[:, None]
    per_token = per_token * token_mask
    table = torch.zeros(rows, PROMPT_LEN + width - 1, dtype=torch.float64)
    table[:, PROMPT_LEN - 1 :] = per_token  # log_probs[:, j] scores token j + 1
    prompt_ids = torch.ones(rows, PROMPT_LEN, dtype=torch.long)
    prompt_ids[:, 0] = model.register(table)
    tensors = {
        "prompt_ids": prompt_ids,
        "prompt_mask": torch.ones(rows, PROMPT_LEN, dtype=torch.long),
        "completion_ids": torch.full((rows, width), 2, dtype=torch.long),
        "completion_mask": token_mask.long(),
    }
    return tensors, per_token.sum(1), per_token, token_mask


def full_rows(tensors, index):
    """input_ids / attention_mask / completion_mask over prompt + completion, for the rows in `index`."""
    prompt_mask, completion_mask = tensors["prompt_mask"][index], tensors["completion_mask"][index]
    return {
        "input_ids": torch.cat([tensors["prompt_ids"][index], tensors["completion_ids"][index]], 1),
        "attention_mask": torch.cat([prompt_mask, completion_mask], 1),
        "completion_mask": torch.cat([torch.zeros_like(prompt_mask), completion_mask], 1),
    }


def cast(batch: dict, dtype: torch.dtype) -> dict:
    return {k: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}


def run_trl(trainer, model, batch, dtype) -> float:
    model.dtype = dtype
    with torch.no_grad():
        if isinstance(trainer, GRPOTrainer):
            loss = trainer._compute_loss(model, cast(batch, dtype))
        else:
            loss = trainer._compute_loss(model, cast(batch, dtype), return_outputs=False)
    assert loss.dtype == dtype, (loss.dtype, dtype)
    return float(loss)


# ---------------------------------------------------------------------------------------------------------------------
# Results. Each comparison gives alignkit and TRL the same tensors, once in float32 and once in float64.

DTYPES = (torch.float32, torch.float64)


@dataclass
class Row:
    loss: str
    setting: str
    size: str
    mean32: float  # |alignkit - TRL| of the batch's loss, both given float32 tensors
    mean64: float  # ... both given float64 tensors
    elem32: float | None  # the largest |alignkit - TRL| over single pairs / answers / sequences (one call each)
    elem64: float | None
    largest: float  # the largest |TRL loss| compared
    gated: bool = True


RESULTS: list[Row] = []


def half_ulp32(value: float) -> float:
    x = torch.tensor(abs(value), dtype=torch.float32)
    return float(torch.nextafter(x, torch.tensor(math.inf)) - x) / 2


def compare(loss, setting, size, count, ours, theirs, per_element=True, gated=True):
    """ours(index, dtype) and theirs(index, dtype): the loss of the rows in `index` (alignkit's sum / units, TRL's
    loss), on tensors of `dtype`. Compared over all `count` rows at once and, with per_element, one row at a time."""
    everything = list(range(count))
    mean, elem, largest = {}, {}, 0.0
    for dtype in DTYPES:
        trl_value = theirs(everything, dtype)
        mean[dtype] = abs(ours(everything, dtype) - trl_value)
        largest = max(largest, abs(trl_value))
        if per_element:
            elem[dtype] = 0.0
            for i in everything:
                trl_value = theirs([i], dtype)
                elem[dtype] = max(elem[dtype], abs(ours([i], dtype) - trl_value))
                largest = max(largest, abs(trl_value))
    f32, f64 = DTYPES
    RESULTS.append(Row(loss, setting, size, mean[f32], mean[f64], elem.get(f32), elem.get(f64), largest, gated))


# ---------------------------------------------------------------------------------------------------------------------
# DPO


def check_dpo(gen, out_dir):
    width = 16
    settings = [
        # (setting, alignkit kwargs, TRL config for the batch, TRL config for one pair, gated, averaged log-probs)
        ("sigmoid b=0.1", {"beta": 0.1}, {"loss_type": "sigmoid", "beta": 0.1}, None, True, False),
        ("sigmoid b=0.5", {"beta": 0.5}, {"loss_type": "sigmoid", "beta": 0.5}, None, True, False),
        # TRL 1.16's "sigmoid" has no label smoothing. The same cDPO loss is, in TRL's code, its sigmoid and robust
        # losses combined with weights 2(1-e) and -(1-2e) (batch mean), and its aot_unpaired loss for a single pair
        # (which sorts the batch's log-ratios: nothing to sort with P = 1)
        (
            "sigmoid b=0.1 ls=0.1",
            {"beta": 0.1, "label_smoothing": 0.1},
            {"loss_type": ["sigmoid", "robust"], "loss_weights": [1.8, -0.8], "beta": 0.1, "label_smoothing": 0.1},
            {"loss_type": "aot_unpaired", "beta": 0.1, "label_smoothing": 0.1},
            True,
            False,
        ),
        (
            "sigmoid b=0.1 ls=0.1 vs TRL 'sigmoid'",
            {"beta": 0.1, "label_smoothing": 0.1},
            {"loss_type": "sigmoid", "beta": 0.1, "label_smoothing": 0.1},
            None,
            False,
            False,
        ),
        (
            "ipo b=0.1 (avg logps)",
            {"beta": 0.1, "loss_type": "ipo"},
            {"loss_type": "ipo", "beta": 0.1},
            None,
            True,
            True,
        ),
        (
            "ipo b=0.5 (avg logps)",
            {"beta": 0.5, "loss_type": "ipo"},
            {"loss_type": "ipo", "beta": 0.5},
            None,
            True,
            True,
        ),
    ]
    for pairs in (1, 8, 64):
        model = FusedHeadStandIn()
        for setting, ours_kwargs, config, pair_config, gated, averaged in settings:
            if averaged:  # powers of two, so the per-token averages are exact
                lengths = 2 ** torch.randint(0, 5, (2 * pairs,), generator=gen)
            else:
                lengths = torch.randint(1, width + 1, (2 * pairs,), generator=gen)
            tensors, sums, _, _ = completion_rows(model, -grid(gen, (2 * pairs, width), 1 / 1024, 4), lengths)
            ref = sums + grid(gen, (2 * pairs,), -8, 8)  # rows [chosen; rejected]
            scale = lengths.double() if averaged else torch.ones(2 * pairs, dtype=torch.float64)
            logps, ref_logps = sums / scale, ref / scale
            trainer = dpo_trainer(model, out_dir, **config)
            pair_trainer = dpo_trainer(model, out_dir, **(pair_config or config))

            def ours(index, dtype, kwargs=ours_kwargs, logps=logps, ref_logps=ref_logps, pairs=pairs):
                c, r = index, [i + pairs for i in index]
                x, y = logps.to(dtype), ref_logps.to(dtype)
                loss, _ = ak.dpo_loss(x[c], x[r], y[c], y[r], **kwargs)
                return float(loss) / len(index)

            def theirs(index, dtype, trainer=trainer, pair_trainer=pair_trainer, tensors=tensors, ref=ref, pairs=pairs):
                rejected = [i + pairs for i in index]
                batch = full_rows(tensors, index + rejected)
                batch.update(ref_chosen_logps=ref[index], ref_rejected_logps=ref[rejected])
                chosen_trainer = trainer if len(index) == pairs else pair_trainer
                return run_trl(chosen_trainer, chosen_trainer.model, batch, dtype)

            compare("DPO", setting, f"P={pairs}", pairs, ours, theirs, gated=gated)


# ---------------------------------------------------------------------------------------------------------------------
# KTO


def check_kto(gen, out_dir):
    width = 16
    settings = [
        # (setting, beta, desirable weight, undesirable weight, mean KL offset)
        ("b=0.1 w=1/1 KL>0", 0.1, 1.0, 1.0, 0.5),
        ("b=0.1 w=1/1 KL<0 (clamped)", 0.1, 1.0, 1.0, -0.5),
        ("b=0.5 w=1/1.5 KL>0", 0.5, 1.0, 1.5, 0.75),
        ("b=0.1 w=1.33/1 KL>0", 0.1, 1.33, 1.0, 0.25),
    ]
    for answers in (2, 9, 64):
        model = FusedHeadStandIn()
        for setting, beta, w_d, w_u, kl_offset in settings:
            desirable = torch.rand(answers, generator=gen) < 0.5
            desirable[:2] = torch.tensor([True, False])  # both kinds in every batch
            lengths = torch.randint(1, width + 1, (answers,), generator=gen)
            tensors, sums, _, _ = completion_rows(model, -grid(gen, (answers, width), 1 / 1024, 4), lengths)
            ref = sums + grid(gen, (answers,), -8, 8)
            # the mismatched (prompt, completion) rows TRL estimates the KL on, as many as the answers
            kl_lengths = torch.randint(1, width + 1, (answers,), generator=gen)
            kl_tensors, kl_sums, _, _ = completion_rows(model, -grid(gen, (answers, width), 1 / 1024, 4), kl_lengths)
            ref_kl = kl_sums - grid(gen, (answers,), kl_offset - 0.25, kl_offset + 0.25)
            trainer = kto_trainer(model, out_dir, beta=beta, desirable_weight=w_d, undesirable_weight=w_u)

            def ours(index, dtype, sums=sums, ref=ref, desirable=desirable, kl_sums=kl_sums, ref_kl=ref_kl, kw=None):
                # TRL's estimate: (KL_logps - ref_KL_logps).mean(), then .clamp(min=0) (alignkit clamps itself)
                kl = (kl_sums.to(dtype) - ref_kl.to(dtype)).mean()
                loss, _ = ak.kto_loss(sums.to(dtype)[index], ref.to(dtype)[index], desirable[index], kl, **kw)
                return float(loss) / len(index)

            def theirs(
                index,
                dtype,
                trainer=trainer,
                tensors=tensors,
                kl_tensors=kl_tensors,
                ref=ref,
                ref_kl=ref_kl,
                desirable=desirable,
            ):
                batch = full_rows(tensors, index)
                batch.update({f"KL_{k}": v for k, v in full_rows(kl_tensors, list(range(len(ref_kl)))).items()})
                batch.update(label=desirable[index], ref_logps=ref[index], ref_KL_logps=ref_kl)
                return run_trl(trainer, trainer.model, batch, dtype)

            kw = {"beta": beta, "desirable_weight": w_d, "undesirable_weight": w_u}
            size = f"N={answers} ({int(desirable.sum())} desirable)"
            compare("KTO", setting, size, answers, functools.partial(ours, kw=kw), theirs)


# ---------------------------------------------------------------------------------------------------------------------
# GRPO


def check_grpo(gen, out_dir):
    clip = 0.2
    settings = [
        # (setting, alignkit normalise, TRL loss_type, beta, TRL use_bias_correction_kl, gated)
        ("grpo b=0", "sequence", "grpo", 0.0, False, True),
        ("bnpo b=0", "token", "bnpo", 0.0, False, True),
        ("dapo b=0", "token", "dapo", 0.0, False, True),
        ("grpo b=0.04 k3", "sequence", "grpo", 0.04, False, True),
        ("bnpo b=0.04 k3", "token", "bnpo", 0.04, False, True),
        ("dapo b=0.04 k3", "token", "dapo", 0.04, False, True),
        # TRL 1.16's default (use_bias_correction_kl=True) multiplies the k3 KL by the importance ratio; alignkit not
        ("dapo b=0.04 k3, TRL use_bias_correction_kl", "token", "dapo", 0.04, True, False),
    ]
    for groups, group_size, width in ((2, 4, 8), (4, 8, 24), (8, 16, 48)):
        rows = groups * group_size
        model = FusedHeadStandIn()
        for setting, normalise, loss_type, beta, bias_correction, gated in settings:
            lengths = torch.randint(1, width + 1, (rows,), generator=gen)
            tensors, _, logps, mask = completion_rows(model, -grid(gen, (rows, width), 1 / 1024, 4), lengths)
            old = (logps + grid(gen, (rows, width), -0.25, 0.25)) * mask  # ratios beyond 1 +- clip too
            ref = (logps + grid(gen, (rows, width), -0.5, 0.5)) * mask
            advantages = grid(gen, (rows,), -4, 4)
            trainer = grpo_trainer(
                model, out_dir, loss_type=loss_type, beta=beta, epsilon=clip, use_bias_correction_kl=bias_correction
            )

            def ours(index, dtype, logps=logps, old=old, ref=ref, advantages=advantages, mask=mask, kw=None):
                x, o, r, a = (t.to(dtype)[index] for t in (logps, old, ref, advantages))
                total, units, _ = ak.grpo_loss(x, o, r, a, mask[index], clip, **kw)
                return float(total / units)

            def theirs(index, dtype, trainer=trainer, tensors=tensors, old=old, ref=ref, advantages=advantages):
                batch = {k: v[index] for k, v in tensors.items()}
                batch.update(
                    advantages=advantages[index],
                    old_per_token_logps=old[index],
                    ref_per_token_logps=ref[index],
                    num_items_in_batch=tensors["completion_mask"][index].sum(),  # TRL: the generation batch's tokens
                )
                return run_trl(trainer, trainer.model, batch, dtype)

            kw = {"beta": beta, "normalise": normalise}
            size = f"{groups}x{group_size} T<={width}"
            # per sequence for "grpo" only: one sequence's loss is its token mean
            per_element = loss_type == "grpo"
            compare("GRPO", setting, size, rows, functools.partial(ours, kw=kw), theirs, per_element, gated)


# Copied from TRL 1.16.0, trl/trainer/grpo_trainer.py, GRPOTrainer._generate_and_score_completions, lines 2763-2787
# (multi_objective_aggregation="sum_then_normalize") and 2810, with `self.` dropped; one reward function of weight 1.
# TRL_ADVANTAGE_LINES are checked to appear verbatim, in this order, in the installed TRL's source.
TRL_ADVANTAGE_LINES = """
rewards = (rewards_per_func * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
if self.scale_rewards in ["group", "none"]:
if num_generations > 1:
std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
advantages = rewards - mean_grouped_rewards
if self.scale_rewards != "none":
advantages = advantages / (std_rewards + 1e-4)
advantages = torch.nan_to_num(advantages, nan=0.0)
"""


def trl_grpo_advantages(rewards_per_func, reward_weights, num_generations, scale_rewards, device="cpu"):
    rewards = (rewards_per_func * reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    if scale_rewards in ["group", "none"]:
        if num_generations > 1:
            std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
            std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
        else:
            std_rewards = torch.zeros_like(rewards)
    advantages = rewards - mean_grouped_rewards
    if scale_rewards != "none":
        advantages = advantages / (std_rewards + 1e-4)
    advantages = torch.nan_to_num(advantages, nan=0.0)
    return advantages


def check_copied_lines():
    source = [line.strip() for line in inspect.getsource(GRPOTrainer._generate_and_score_completions).splitlines()]
    position = 0
    for line in TRL_ADVANTAGE_LINES.strip().splitlines():
        try:
            position = source.index(line, position) + 1
        except ValueError:
            sys.exit(f"TRL's advantage code changed: {line!r} not found in GRPOTrainer._generate_and_score_completions")


def check_advantages(gen):
    check_copied_lines()
    for rewards_kind in ("continuous", "binary"):
        for group_size in (2, 4, 8, 16):
            rows = 8 * group_size
            if rewards_kind == "continuous":
                rewards = grid(gen, (rows,), -4, 4)
            else:  # 0/1 rewards: some groups all equal (std 0)
                rewards = (torch.rand(rows, generator=gen) < 0.3).double()
                rewards[:group_size] = 0.0
            for scale in (True, False):
                mode = "group" if scale else "none"
                diff, largest = {}, 0.0
                for dtype in DTYPES:
                    ours = ak.group_advantages(rewards.to(dtype), group_size, scale=scale)  # alignkit's default eps
                    weights = torch.ones(1, dtype=dtype)
                    theirs = trl_grpo_advantages(rewards.to(dtype)[:, None], weights, group_size, mode)
                    diff[dtype] = float((ours.double() - theirs.double()).abs().max())
                    largest = max(largest, float(theirs.abs().max()))
                f32, f64 = DTYPES
                setting = f"{rewards_kind}, scale_rewards={mode}"
                RESULTS.append(Row("GRPO adv", setting, f"8x{group_size}", diff[f32], diff[f64], None, None, largest))


# ---------------------------------------------------------------------------------------------------------------------


def report(strict_fp64: bool) -> int:
    def fmt(value):
        return "-" if value is None else f"{value:.2e}"

    header = (
        f"{'loss':9} {'setting':44} {'size':22} {'mean fp32':>9} {'mean fp64':>9} {'elem fp32':>9} {'elem fp64':>9} "
        f"{'max|loss|':>9} {'fp32 ulp/2':>10}  status"
    )
    print(header)
    print("-" * len(header))
    failures = 0
    for row in RESULTS:
        gated_values = [row.mean32, row.elem32] + ([row.mean64, row.elem64] if strict_fp64 else [])
        worst_fp64 = max(v for v in (row.mean64, row.elem64) if v is not None)
        if not row.gated:
            status = "info (not gated)"
        elif any(v is not None and v > TOL for v in gated_values):
            status = "FAIL"
            failures += 1
        elif worst_fp64 > TOL:
            status = "ok (fp64 > 1e-6)"
        else:
            status = "ok"
        print(
            f"{row.loss:9} {row.setting:44} {row.size:22} {fmt(row.mean32):>9} {fmt(row.mean64):>9} "
            f"{fmt(row.elem32):>9} {fmt(row.elem64):>9} {row.largest:9.3g} {half_ulp32(row.largest):10.1e}  {status}"
        )
    print()
    print("Per loss and setting, the largest |alignkit - TRL| over sizes and elements (gated rows):")
    summary = defaultdict(lambda: [0.0, 0.0])
    for row in RESULTS:
        if row.gated:
            entry = summary[(row.loss, row.setting)]
            entry[0] = max(entry[0], row.mean32, row.elem32 or 0.0)
            entry[1] = max(entry[1], row.mean64, row.elem64 or 0.0)
    for (loss, setting), (worst32, worst64) in summary.items():
        print(f"  {loss:9} {setting:44} fp32 {worst32:.2e}   fp64 {worst64:.2e}")
    print()
    gate = "float32 and float64 inputs" if strict_fp64 else "float32 inputs (--strict-fp64: float64 too)"
    print(f"tolerance {TOL:g} against {gate}: {'FAILED (' + str(failures) + ' rows)' if failures else 'passed'}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict-fp64", action="store_true", help="also gate the float64 differences")
    options = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    gen = torch.Generator().manual_seed(SEED)
    print(f"TRL {trl.__version__}, torch {torch.__version__}; alignkit from {ROOT / 'src/alignkit/losses.py'}")
    print(
        "TRL code called: DPOTrainer._compute_loss, KTOTrainer._compute_loss, GRPOTrainer._compute_loss "
        "(trl/trainer/{dpo,kto,grpo}_trainer.py) on a fused-LM-head stand-in;"
    )
    print("replicated (verified verbatim): GRPO advantages, grpo_trainer.py lines 2763-2787 + 2810, with TRL's nanstd.")
    print("DPO ipo: both sides get per-token AVERAGED log-probs (TRL divides each log-ratio by the completion length).")
    print(
        "DPO ls=0.1: TRL 1.16 'sigmoid' ignores label_smoothing; compared with TRL's sigmoid + robust losses "
        "(weights 1.8, -0.8) for the batch and its aot_unpaired loss (P=1) per pair."
    )
    print(
        "GRPO: TRL 1.16's default use_bias_correction_kl=True multiplies the k3 KL by the importance ratio; the gated "
        "rows set it False. DPO/KTO/group_advantages compute in float32 even on float64 inputs."
    )
    print()
    with tempfile.TemporaryDirectory() as out_dir:
        check_dpo(gen, out_dir)
        check_kto(gen, out_dir)
        check_grpo(gen, out_dir)
    check_advantages(gen)
    return report(options.strict_fp64)


if __name__ == "__main__":
    sys.exit(main())
