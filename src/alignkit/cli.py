"""The `alignkit` command: one Typer app, a command per stage plus tools (generate, demo).

Stage commands take every config key as `--section.key VALUE` (see `alignkit pretrain --help`);
bad input of any kind ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from alignkit import config as config_mod
from alignkit.errors import TrainingError, UserError

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing reaches the network at run time
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    help="Train language models through the whole assistant lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

STAGE_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def print_stage_help(name: str, config_cls: type, summary: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(120, Console().width), soft_wrap=False)
    console.print(f"[bold]alignkit {name}[/bold] [OPTIONS]\n\n{summary}\n")
    console.print(
        "Every config key is an option: --section.key VALUE or --section.key=VALUE (booleans may omit the value).\n"
        "--config FILE reads a YAML file first; options given here override it.\n"
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("option", "short", "type", "default", "meaning"):
        table.add_column(column, overflow="fold", no_wrap=column != "meaning")
    for row in config_mod.help_rows(config_cls):
        table.add_row(*row)
    console.print(table)


def stage_command(name: str, config_cls: type, runner: Callable[[Any], Any], summary: str) -> None:
    """Register `alignkit NAME` parsing its own options into `config_cls`."""

    @app.command(name, context_settings=STAGE_CONTEXT, help=summary, add_help_option=False)
    def command(ctx: typer.Context) -> None:
        args = list(ctx.args)
        if "--help" in args or "-h" in args:
            print_stage_help(name, config_cls, summary)
            return
        runner(config_mod.resolve(config_cls, args))


def _pretrain(config: config_mod.PretrainConfig) -> None:
    from alignkit.stages import pretrain

    final = pretrain.run(config)
    print(f"pretrain: model written to {final}")


stage_command(
    "pretrain",
    config_mod.PretrainConfig,
    _pretrain,
    "Next-token prediction on raw text, from scratch (tokenizer + named size) or from a checkpoint. "
    "With no options: a tiny model on the embedded demo corpus, in runs/pretrain.",
)


@app.command()
def generate(
    model: str = typer.Option(..., "--model", help="a model directory (e.g. runs/pretrain/final)"),
    prompt: list[str] = typer.Option(..., "--prompt", "-p", help="prompt text; repeat for several"),
    max_new_tokens: int = typer.Option(64, help="tokens to generate at most"),
    temperature: float = typer.Option(0.0, help="0: greedy; > 0: sample"),
    top_p: float = typer.Option(1.0, help="nucleus sampling mass"),
    top_k: int = typer.Option(0, help="sample among the k likeliest tokens (0: all)"),
    seed: int = typer.Option(0, help="sampling seed"),
    chat: bool = typer.Option(False, help="wrap each prompt in the chat template (for assistants)"),
) -> None:
    """Continue prompts with a model: greedy or sampled, batched, with a KV cache."""
    from alignkit.models import load
    from alignkit.rollout import Sampling
    from alignkit.rollout import generate as run_generate

    if temperature < 0 or not 0 < top_p <= 1 or top_k < 0 or max_new_tokens < 1:
        raise UserError("generate: expected temperature >= 0, 0 < top_p <= 1, top_k >= 0, max_new_tokens >= 1")
    tokenizer = load.load_tokenizer(load.checkpoint_dir(model))
    lm = load.load_causal_lm(model)
    sampling = Sampling(max_new_tokens, temperature, top_p, top_k, seed)
    for text, completion in zip(prompt, run_generate(lm, tokenizer, prompt, sampling, chat=chat), strict=True):
        print(f"{text}{completion}" if not chat else completion)
        print()


@app.command()
def demo(quick: bool = typer.Option(False, help="a much smaller run, for a smoke test")) -> None:
    """The lifecycle on the embedded demo data (today: tokenizer + pretraining, then samples)."""
    from alignkit.models import load
    from alignkit.rollout import Sampling
    from alignkit.rollout import generate as run_generate
    from alignkit.stages import pretrain
    from alignkit.train.checkpoint import latest_checkpoint

    out = "runs/demo-quick/pretrain" if quick else "runs/demo/pretrain"
    final = os.path.join(out, "final")
    if os.path.isdir(final):
        print(f"pretrain: {final} is there; skipped")
    else:
        args = ["--output-dir", out]
        if quick:
            args += ["--max-steps", "20", "--batch-size", "8", "--eval-every", "0", "--model.vocab-size", "2048"]
        if os.path.isdir(out) and latest_checkpoint(out) is not None:
            args.append("--resume")
        elif os.path.isdir(out):
            args.append("--overwrite")
        pretrain.run(config_mod.resolve(config_mod.PretrainConfig, args))
    tokenizer = load.load_tokenizer(final)
    lm = load.load_causal_lm(final)
    prompts = ["How do I reset my password?", "I can't log in to my account, what should I do?", "我的订单"]
    completions = run_generate(lm, tokenizer, prompts, Sampling(max_new_tokens=48, temperature=0.8, top_p=0.95))
    for text, completion in zip(prompts, completions, strict=True):
        print(f"--- {text}{completion}\n")


def main() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        app()
    except (UserError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
