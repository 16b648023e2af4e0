"""Stage configs: pydantic models composed of shared parts, read from YAML and dotted CLI overrides.

Precedence, lowest first: field defaults < the run directory's saved config.yaml (with --resume)
< --config FILE < command-line options. Every key is reachable as `--section.key VALUE`;
the common ones also have short flags (`--lr` is `--optim.lr`).
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignkit.errors import UserError


class Section(BaseModel):
    """A config part: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class ModelConfig(Section):
    name_or_path: str = Field(
        "tiny",
        description="named size (tiny, small, gpt2-124m) built from scratch, a local HF checkpoint dir, "
        "or demo (the demo pretrained model, trained first if missing)",
    )
    tokenizer: str | None = Field(
        None, description="tokenizer dir; default: the checkpoint's own, or one trained on the data"
    )
    vocab_size: int = Field(8192, gt=256, description="vocabulary size of a newly trained tokenizer")
    attn_implementation: str = Field("sdpa", description="attention kernel: sdpa, eager (or flash_attention_2)")


class DataConfig(Section):
    path: str = Field("demo", description="file or directory of training data; 'demo' is the embedded corpus")
    text_field: str | None = Field(None, description="field holding the text; default: text, else content")
    max_length: int = Field(256, gt=1, description="tokens per training row (context length)")
    eval_path: str | None = Field(None, description="held-out data; default: a split of the training data")
    eval_fraction: float = Field(0.02, ge=0, lt=1, description="share of documents held out when no eval_path")


class OptimConfig(Section):
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (not on norms and biases)")
    beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1")
    beta2: float = Field(0.95, ge=0, lt=1, description="AdamW beta2")
    eps: float = Field(1e-8, gt=0, description="AdamW epsilon")
    warmup_steps: int = Field(20, ge=0, description="linear warmup steps")
    schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="decay after warmup")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="final lr as a share of the peak")
    grad_clip: float = Field(1.0, ge=0, description="clip the global grad norm to this (0: off)")


class RunConfig(Section):
    output_dir: str = Field("runs/pretrain", description="run directory")
    max_steps: int | None = Field(None, gt=0, description="optimizer steps; default: from epochs")
    epochs: float = Field(1.0, gt=0, description="passes over the training data when max_steps is unset")
    batch_size: int = Field(32, gt=0, description="global batch: rows in one optimizer step, all processes")
    micro_batch_size: int = Field(8, gt=0, description="rows one process runs in one forward pass")
    seed: int = Field(0, description="seed of data order, initialisation and sampling")
    save_every: int = Field(200, ge=0, description="checkpoint every N steps (0: only at the end)")
    keep_last: int = Field(2, gt=0, description="complete checkpoints kept")
    log_every: int = Field(10, gt=0, description="write metrics every N steps")
    eval_every: int = Field(100, ge=0, description="evaluate every N steps (0: only at the end)")
    eval_batches: int = Field(20, gt=0, description="micro-batches per evaluation")
    resume: bool = Field(False, description="continue the run in output_dir from its newest checkpoint")
    overwrite: bool = Field(False, description="replace a non-empty output_dir")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 autocast on GPU, fp32 on CPU")
    peak_tflops: float | None = Field(
        None, gt=0, description="peak TFLOP/s for MFU; default: measured fp32 matmul (CPU) or the GPU's bf16 peak"
    )
    compile: bool = Field(
        False, description="torch.compile the model and loss (GPU, fixed-length rows: faster after a warm-up)"
    )
    parallel: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description="several processes (torchrun): ddp replicates the model; fsdp shards parameters, gradients "
        "and optimizer state (FSDP2) and checkpoints with torch.distributed.checkpoint",
    )
    activation_checkpointing: bool = Field(
        False, description="recompute each layer's activations in the backward pass: less memory, ~1/3 more compute"
    )
    plots: bool = Field(True, description="write PNG curves to plots/")
    progress: bool = Field(True, description="show a progress bar on a terminal")


class PretrainConfig(Section):
    """Next-token prediction on raw text, from scratch or continued from a checkpoint."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    # Defaults tuned for the tiny model on the embedded corpus (about 3 minutes on 2 CPU cores);
    # larger models want a lower lr (configs/pretrain.yaml: small at 6e-4).
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=3e-3))
    run: RunConfig = Field(default_factory=lambda: RunConfig(batch_size=16, epochs=2, eval_every=50))


class SFTDataConfig(Section):
    path: str = Field("demo", description="file or directory of chat data; 'demo' is the embedded customer-service set")
    format: Literal["auto", "prompt_answer", "messages", "alpaca", "sharegpt"] = Field(
        "auto", description="row format; auto detects it from each row's fields"
    )
    max_length: int = Field(512, gt=1, description="tokens per example at most (older turns, then the end, are cut)")
    train_on: Literal["all_turns", "last_turn"] = Field(
        "all_turns", description="which assistant turns of a multi-turn chat learn"
    )
    packing: bool = Field(True, description="padding-free packing of a micro-batch into one row (false: padded rows)")
    eval_path: str | None = Field(None, description="held-out data; default: a split of the training data")
    eval_fraction: float = Field(0.05, ge=0, lt=1, description="share of examples held out when no eval_path")


class LoraConfig(Section):
    r: int = Field(0, ge=0, description="LoRA rank; 0 trains every weight (full fine-tuning)")
    alpha: float = Field(32.0, gt=0, description="LoRA scaling numerator (the update is scaled by alpha / r)")
    dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the LoRA branch")
    target_modules: list[str] = Field(
        default_factory=lambda: ["all-linear"], description="modules that get adapters; all-linear: every body linear"
    )


class SFTConfig(Section):
    """Supervised fine-tuning on prompt/answer pairs and chats: only assistant tokens learn."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="demo"))
    data: SFTDataConfig = Field(default_factory=SFTDataConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    # Defaults tuned for the tiny demo model on the embedded set (a few minutes on 2 CPU cores).
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=2e-3, warmup_steps=10, weight_decay=0.0))
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/sft", batch_size=16, micro_batch_size=16, epochs=8, eval_every=50
        )
    )


class ClassifyDataConfig(Section):
    path: str = Field("demo", description="labelled rows (jsonl/json/csv/tsv/parquet); 'demo': embedded intents")
    text_field: str | None = Field(None, description="field holding the text; default: text, else sentence, content")
    text_pair_field: str | None = Field(None, description="second text of a pair task; default: text_pair if present")
    label_field: str | None = Field(
        None, description="target field; default: label (single), labels (multi), score, else label (regression)"
    )
    max_length: int = Field(128, gt=1, description="tokens per example at most (the end is cut)")
    packing: bool = Field(True, description="padding-free packing of a micro-batch where the body allows it")
    eval_path: str | None = Field(None, description="held-out data; default: a split of the training data")
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="share of rows held out when no eval_path")


class HeadConfig(Section):
    task: Literal["single", "multi", "regression"] = Field(
        "single", description="single: N classes (cross-entropy); multi: multi-label (BCE); regression (MSE/Huber)"
    )
    freeze: str = Field(
        "none", description="none (train all), head-only (train only the new head), top:N (head + top N layers)"
    )
    pooling: Literal["auto", "cls", "mean", "last"] = Field(
        "auto",
        description="auto: what a sentence encoder declares (all-MiniLM-L6-v2: mean), else the class's own ([CLS] "
        "for encoders, last token for decoders); mean: token mean (BERT-style encoders; final/ then opens with "
        "trust_remote_code=True)",
    )
    head_lr: float | None = Field(None, gt=0, description="learning rate of the new head; default: optim.lr")
    layer_decay: float = Field(
        1.0, gt=0, le=1, description="layer-wise lr decay: each layer below the top trains at this times the lr above"
    )
    regression_loss: Literal["mse", "huber"] = Field("mse", description="loss of a regression head")
    huber_delta: float = Field(1.0, gt=0, description="where the Huber loss turns from quadratic to linear")
    threshold: float = Field(0.5, gt=0, lt=1, description="multi-label: a label is predicted when p >= threshold")
    metric: str | None = Field(
        None, description="eval metric that picks best/; default: accuracy, micro_f1 or spearman by task"
    )


class ClassifyConfig(Section):
    """Transfer learning: a pretrained body, its output layer dropped, a new head for the task."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="minilm"))
    data: ClassifyDataConfig = Field(default_factory=ClassifyDataConfig)
    head: HeadConfig = Field(default_factory=HeadConfig)
    # BERT's fine-tuning recipe (AdamW with beta2 0.999, weight decay 0.01, short warmup, linear decay to 0),
    # at a rate that suits MiniLM-sized bodies; 5 epochs of the embedded intents take about a minute on 2 cores.
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(
            lr=2e-4, beta2=0.999, warmup_steps=10, weight_decay=0.01, schedule="linear", min_lr_ratio=0.0
        )
    )
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/classify", batch_size=32, micro_batch_size=32, epochs=5, eval_every=20, save_every=0
        )
    )


class RewardDataConfig(Section):
    path: str = Field(
        "demo",
        description="preference pairs (prompt/chosen/rejected, ShareGPT preference, HH-RLHF dialogues, the feedback "
        "export) or scored answers (regression); 'demo': embedded customer-service pairs",
    )
    max_length: int = Field(512, gt=1, description="tokens per prompt + answer at most (the prompt's start is cut)")
    packing: bool = Field(True, description="padding-free packing of a micro-batch where the body allows it")
    eval_path: str | None = Field(None, description="held-out data; default: a split of the training data")
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="share of rows held out when no eval_path")


class RewardHeadConfig(Section):
    objective: Literal["pairwise", "regression"] = Field(
        "pairwise", description="pairwise: Bradley-Terry on chosen/rejected; regression: MSE on scores"
    )
    margin: float = Field(
        0.0, ge=0, description="pairwise: the chosen reward must beat the rejected by this (a row's 'margin' wins)"
    )
    freeze: str = Field("none", description="none, head-only, or top:N (head + top N layers)")
    pooling: Literal["auto", "cls", "mean", "last"] = Field(
        "auto", description="auto: last token for decoders; for encoders what a sentence encoder declares, else [CLS]"
    )
    head_lr: float | None = Field(None, gt=0, description="learning rate of the new head; default: optim.lr")


class RewardConfig(Section):
    """A reward model: a body and a new scalar head (num_labels=1), trained on people's preferences."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="demo-sft"))
    data: RewardDataConfig = Field(default_factory=RewardDataConfig)
    rm: RewardHeadConfig = Field(default_factory=RewardHeadConfig)
    # Defaults tuned for the demo SFT model on the embedded pairs (a minute or two on 2 CPU cores).
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=10, weight_decay=0.0, min_lr_ratio=0.0)
    )
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/rm", batch_size=16, micro_batch_size=16, epochs=2, eval_every=20, save_every=0
        )
    )


class PPODataConfig(Section):
    path: str = Field(
        "demo", description="prompts: rows with a 'prompt' or chat 'messages' (any answer is ignored); 'demo': embedded"
    )
    max_prompt_length: int = Field(256, gt=1, description="prompt tokens at most (the start of longer ones is cut)")
    eval_path: str | None = Field(None, description="held-out prompts; default: a split of the training prompts")
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="share of prompts held out when no eval_path")
    eval_prompts: int = Field(64, gt=0, description="held-out prompts scored at each evaluation, at most")


class RolloutSection(Section):
    """What the RL stages that sample their own answers (PPO, GRPO) share."""

    iterations: int = Field(30, gt=0, description="rollouts (each followed by its updates) unless run.max_steps")
    max_new_tokens: int = Field(128, gt=0, description="answer tokens at most")
    temperature: float = Field(1.0, gt=0, description="sampling temperature of rollouts (log-probs use it too)")
    top_k: int = Field(0, ge=0, description="sample among the k likeliest tokens (0: all)")
    generation_batch_size: int = Field(
        64, gt=0, description="answers sampled per generate call (a call runs until its longest answer ends)"
    )
    clip: float = Field(0.2, gt=0, description="policy ratio clip range")
    missing_eos_penalty: float = Field(0.0, ge=0, description="subtracted from the score of answers that never end")
    sample_every: int = Field(5, ge=0, description="write sample answers every N iterations (0: never)")


class PPOSection(RolloutSection):
    reward_model: str = Field(
        "demo-rm", description="reward model dir (AutoModelForSequenceClassification, 1 output); demo-rm: the demo's"
    )
    critic: str = Field(
        "auto",
        description="critic's start: reward (the reward model's body and head), policy (the policy's body, new head), "
        "a directory, or auto (reward when it reads the policy's tokens, else policy)",
    )
    rollout_batch_size: int = Field(32, gt=0, description="prompts sampled per iteration (all processes)")
    ppo_epochs: int = Field(2, gt=0, description="passes over each rollout; run.batch_size rows per optimizer step")
    gamma: float = Field(1.0, ge=0, le=1, description="GAE discount")
    lam: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    value_clip: float = Field(0.2, gt=0, description="value clip range around the rollout's values")
    vf_coef: float = Field(0.1, ge=0, description="weight of the critic's loss")
    kl_coef: float = Field(0.05, ge=0, description="per-token KL penalty to the reference (start value if adaptive)")
    kl_estimator: Literal["k1", "k2", "k3"] = Field("k1", description="per-token KL estimate in the reward")
    adaptive_kl: bool = Field(False, description="adapt kl_coef so the measured KL tracks kl_target")
    kl_target: float = Field(3.0, gt=0, description="adaptive KL: the target KL per answer (nats)")
    kl_horizon: int = Field(10000, gt=0, description="adaptive KL: horizon in samples")
    whiten_advantages: bool = Field(True, description="normalise advantages to mean 0, std 1 per rollout")
    missing_eos_penalty: float = Field(1.0, ge=0, description="subtracted from the score of answers that never end")
    critic_lr: float | None = Field(None, gt=0, description="critic's learning rate; default: optim.lr")


class PPOConfig(Section):
    """RLHF with PPO: policy, frozen reference, reward model and critic."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="demo-sft"))
    data: PPODataConfig = Field(default_factory=PPODataConfig)
    ppo: PPOSection = Field(default_factory=PPOSection)
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=5e-5, warmup_steps=0, weight_decay=0.0, schedule="constant")
    )
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/ppo", batch_size=16, micro_batch_size=16, log_every=1, eval_every=20, save_every=20,
        )
    )  # fmt: skip


class DPODataConfig(Section):
    path: str = Field(
        "demo",
        description="preference pairs (prompt/chosen/rejected, ShareGPT preference, HH-RLHF dialogues, the feedback "
        "export's pairs); 'demo': embedded customer-service pairs",
    )
    max_length: int = Field(
        512, gt=1, description="tokens per prompt + answer at most (older turns, then the end, cut)"
    )
    packing: bool = Field(True, description="padding-free packing of a micro-batch's answers into one row")
    eval_path: str | None = Field(None, description="held-out pairs; default: a split of the training pairs")
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="share of pairs held out when no eval_path")


class DPOSection(Section):
    beta: float = Field(0.1, gt=0, description="strength of the implicit KL leash to the reference")
    loss_type: Literal["sigmoid", "ipo"] = Field(
        "sigmoid", description="sigmoid: DPO; ipo: squared loss on per-token average log-ratios"
    )
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="conservative DPO: assumed share of flipped labels")
    reference: Literal["cached", "online"] = Field(
        "cached",
        description="cached: the reference's log-probs computed once before training; online: a frozen reference "
        "(with LoRA: the model with its adapters off) runs beside the policy at every step",
    )


class DPOConfig(Section):
    """Direct preference optimisation: no reward model; the reference's log-probs computed once (or online)."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="demo-sft"))
    data: DPODataConfig = Field(default_factory=DPODataConfig)
    dpo: DPOSection = Field(default_factory=DPOSection)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=5e-5, warmup_steps=10, weight_decay=0.0, min_lr_ratio=0.0)
    )
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/dpo", batch_size=16, micro_batch_size=8, epochs=1, eval_every=10, save_every=0
        )
    )


class KTODataConfig(DPODataConfig):
    path: str = Field(
        "demo",
        description="good/bad votes (prompt/completion/label as the feedback export writes them, messages + label, "
        "ShareGPT + kto_tag) or preference pairs (chosen: good, rejected: bad); 'demo': the embedded pairs as votes",
    )


class KTOSection(Section):
    beta: float = Field(0.1, gt=0, description="strength of the implicit KL leash to the reference")
    desirable_weight: float = Field(1.0, gt=0, description="weight of the loss on good answers")
    undesirable_weight: float = Field(1.0, gt=0, description="weight of the loss on bad answers")


class KTOConfig(Section):
    """Kahneman-Tversky optimisation: single answers voted good or bad; the reference's log-probs computed once."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="demo-sft"))
    data: KTODataConfig = Field(default_factory=KTODataConfig)
    kto: KTOSection = Field(default_factory=KTOSection)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=5e-5, warmup_steps=10, weight_decay=0.0, min_lr_ratio=0.0)
    )
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/kto", batch_size=16, micro_batch_size=8, epochs=1, eval_every=10, save_every=0
        )
    )


class GRPODataConfig(PPODataConfig):
    path: str = Field(
        "demo",
        description="prompts: rows with a 'prompt' or chat 'messages'; other fields reach a reward function by name; "
        "'demo': embedded customer questions with a step-format rule",
    )


class GRPOSection(RolloutSection):
    reward: str = Field(
        "demo",
        description="module:function (or path/file.py:function) called as f(prompts, completions, **row fields) -> "
        "list of floats; or a reward model dir; demo: the embedded step-format rule",
    )
    group_size: int = Field(8, ge=2, description="answers sampled per prompt; advantages compare within the group")
    prompts_per_iteration: int = Field(8, gt=0, description="prompts per rollout (all processes); rows = x group_size")
    epochs: int = Field(1, gt=0, description="passes over each rollout; run.batch_size answers per optimizer step")
    scale_rewards: bool = Field(True, description="divide by the group's reward std (false: Dr. GRPO, centring only)")
    beta: float = Field(0.0, ge=0, description="weight of the k3 KL to the frozen reference in the loss (0: none)")
    loss_normalisation: Literal["token", "sequence"] = Field(
        "token", description="token: mean over all answer tokens of the step; sequence: mean of per-answer means"
    )
    eval_kl: bool = Field(True, description="load the frozen reference to report held-out KL even when beta is 0")


class GRPOConfig(Section):
    """Group relative policy optimisation: G answers per prompt, rewards compared within each group."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name_or_path="demo-sft"))
    data: GRPODataConfig = Field(default_factory=GRPODataConfig)
    grpo: GRPOSection = Field(default_factory=GRPOSection)
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=1e-4, warmup_steps=0, weight_decay=0.0, schedule="constant")
    )
    run: RunConfig = Field(
        default_factory=lambda: RunConfig(
            output_dir="runs/grpo", batch_size=64, micro_batch_size=16, log_every=1, eval_every=10, save_every=20,
        )
    )  # fmt: skip


# Every stage by its CLI name; its code is alignkit.stages.<module> (see alignkit.stages.MODULES).
STAGES: dict[str, type[Section]] = {
    "pretrain": PretrainConfig,
    "sft": SFTConfig,
    "classify": ClassifyConfig,
    "rm": RewardConfig,
    "ppo": PPOConfig,
    "dpo": DPOConfig,
    "kto": KTOConfig,
    "grpo": GRPOConfig,
}

SHORT_FLAGS: dict[str, str] = {
    "model": "model.name_or_path",
    "data": "data.path",
    "output-dir": "run.output_dir",
    "max-steps": "run.max_steps",
    "epochs": "run.epochs",
    "batch-size": "run.batch_size",
    "micro-batch-size": "run.micro_batch_size",
    "max-length": "data.max_length",
    "lr": "optim.lr",
    "seed": "run.seed",
    "save-every": "run.save_every",
    "log-every": "run.log_every",
    "eval-every": "run.eval_every",
    "resume": "run.resume",
    "overwrite": "run.overwrite",
    "task": "head.task",
    "freeze": "head.freeze",
}


def fields_of(config_cls: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Every leaf key of a config class as `section.key` -> pydantic FieldInfo."""
    leaves: dict[str, Any] = {}
    for name, info in config_cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            leaves.update(fields_of(annotation, f"{prefix}{name}."))
        else:
            leaves[f"{prefix}{name}"] = info
    return leaves


def _is_bool(info: Any) -> bool:
    return info.annotation is bool


def _is_list(info: Any) -> bool:
    annotation = info.annotation
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return any(typing.get_origin(c) in (list, tuple) for c in candidates)


def _unknown_key(key: str, valid: list[str], where: str) -> UserError:
    names = valid + list(SHORT_FLAGS)
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    if not close:  # match on the last part, e.g. "learning_rate" vs "optim.lr"
        tail = key.split(".")[-1]
        close = [v for v in valid if difflib.get_close_matches(tail, [v.split(".")[-1]], cutoff=0.6)][:3]
    hint = f"; did you mean {', '.join('--' + c for c in close)}?" if close else "; see --help for the valid keys"
    return UserError(f"{where}unknown config key '{key}'{hint}")


def _is_optional(info: Any) -> bool:
    """The field accepts None (`X | None`), so 'null' / 'none' on the command line means None."""
    return type(None) in typing.get_args(info.annotation)


def _parse_value(raw: str, info: Any) -> Any:
    """CLI strings go to pydantic, which converts numbers and booleans; lists and null parse as YAML."""
    if raw.lower() in ("null", "none", "~") and _is_optional(info):
        return None
    if _is_list(info):
        return yaml.safe_load(raw) if raw.startswith("[") else [s for s in raw.split(",") if s]
    return raw


def parse_cli(args: list[str], config_cls: type[BaseModel]) -> tuple[dict[str, Any], str | None]:
    """`--section.key value` / `--key=value` / short flags -> (flat overrides, --config path)."""
    valid = fields_of(config_cls)
    overrides: dict[str, Any] = {}
    config_file: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise UserError(f"unexpected argument '{arg}'; options look like --optim.lr 3e-4")
        name, has_value, inline = arg[2:].partition("=")
        if name == "config":
            if not has_value and i + 1 >= len(args):
                raise UserError("--config needs a YAML file")
            config_file = inline if has_value else args[i + 1]
            i += 1 if has_value else 2
            continue
        key = SHORT_FLAGS.get(name, name)
        key = ".".join(part.replace("-", "_") for part in key.split("."))
        if key not in valid:
            raise _unknown_key(name, list(valid), "")
        info = valid[key]
        if has_value:
            value, i = inline, i + 1
        elif _is_bool(info) and (i + 1 >= len(args) or args[i + 1].startswith("--")):
            value, i = "true", i + 1
        elif i + 1 < len(args):
            value, i = args[i + 1], i + 2
        else:
            raise UserError(f"option --{name} needs a value ({_type_name(info)})")
        overrides[key] = _parse_value(value, info)
    return overrides, config_file


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_yaml(path: str | Path, config_cls: type[BaseModel]) -> dict[str, Any]:
    """A YAML config file -> flat `section.key` dict; unknown keys name the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(tree, dict):
        raise UserError(f"{path}: expected a mapping of config sections, got {type(tree).__name__}")
    flat = _flatten(tree)
    valid = fields_of(config_cls)
    for key in flat:
        if key not in valid:
            raise _unknown_key(key, list(valid), f"{path}: ")
    return flat


def _type_name(info: Any) -> str:
    annotation = info.annotation
    if typing.get_origin(annotation) is Literal:
        return "|".join(str(a) for a in typing.get_args(annotation))
    if isinstance(annotation, types.UnionType):
        return "|".join(getattr(a, "__name__", str(a)).replace("NoneType", "none") for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def validate(config_cls: type[BaseModel], flat: dict[str, Any], source: str = "config key") -> Any:
    """Flat overrides -> a validated config; the first error names its key and what was expected."""
    # Start from the stage's own defaults, so overriding one key of a section keeps the stage's
    # defaults for the others (a stage may default a section differently from the shared part).
    merged = {**_flatten(config_cls().model_dump()), **flat}
    try:
        return config_cls.model_validate(_nest(merged))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        got = error.get("input")
        raise UserError(f"{source} {key}: {error['msg'].lower()} (got {got!r})") from None


def resolve(config_cls: type[BaseModel], args: list[str]) -> Any:
    """Command-line arguments -> the fully resolved stage config (see the module docstring)."""
    cli, config_file = parse_cli(args, config_cls)
    from_file = read_yaml(config_file, config_cls) if config_file else {}
    config = validate(config_cls, {**from_file, **cli})
    saved = Path(config.run.output_dir) / "config.yaml"
    if config.run.resume and saved.is_file():
        base = read_yaml(saved, config_cls)
        base.pop("run.resume", None)
        base.pop("run.overwrite", None)
        config = validate(config_cls, {**base, **from_file, **cli})
    return config


def dump(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def help_rows(config_cls: type[BaseModel]) -> list[tuple[str, str, str, str, str]]:
    """(option, short flag, type, default, doc) for every key, for `alignkit STAGE --help`."""
    valid = fields_of(config_cls)
    defaults = _flatten(config_cls().model_dump(mode="json"))
    short_for = {v: k for k, v in SHORT_FLAGS.items()}
    return [
        (
            f"--{key}",
            f"--{short_for[key]}" if key in short_for else "",
            _type_name(info),
            repr(defaults.get(key)),
            info.description or "",
        )
        for key, info in valid.items()
    ]
