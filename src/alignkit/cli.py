"""The `alignkit` command: one Typer app, a command per stage plus tools (generate, demo).

Stage commands take every config key as `--section.key VALUE` (see `alignkit pretrain --help`);
bad input of any kind ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys

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


def stage_command(name: str, summary: str) -> None:
    """Register `alignkit NAME`: its options parsed into its config (alignkit.config.STAGES), then the
    stage's `run` (alignkit.stages.run)."""

    @app.command(name, context_settings=STAGE_CONTEXT, help=summary, add_help_option=False)
    def command(ctx: typer.Context) -> None:
        from alignkit import stages

        args = list(ctx.args)
        if "--help" in args or "-h" in args:
            print_stage_help(name, config_mod.STAGES[name], summary)
            return
        final = stages.run(name, args)
        if os.environ.get("RANK", "0") == "0":  # under torchrun, the main process speaks
            print(f"{name}: model written to {final}")


stage_command(
    "pretrain",
    "Next-token prediction on raw text, from scratch (tokenizer + named size) or from a checkpoint. "
    "With no options: a tiny model on the embedded demo corpus, in runs/pretrain.",
)
stage_command(
    "sft",
    "Supervised fine-tuning on prompt/answer pairs and chats (prompt_answer, messages, alpaca, sharegpt); "
    "only assistant tokens learn. Padding-free packing; LoRA with --lora.r. "
    "With no options: the demo pretrained model (trained first if missing) on the embedded customer-service set.",
)
stage_command(
    "classify",
    "Transfer learning: a pretrained body (--model minilm, a BERT-style encoder or one of our decoder LMs) keeps "
    "its parameters, its output layer is dropped and a new head learns the task (--task single|multi|regression); "
    "--freeze head-only|top:N|none; the best held-out model is kept in best/. "
    "With no options: MiniLM on the embedded customer-intent set.",
)

stage_command(
    "rm",
    "Reward model: a body (--model: the demo assistant, any local decoder or encoder) and a new scalar head "
    "(opens as AutoModelForSequenceClassification, num_labels=1), trained on preference pairs with Bradley-Terry "
    "(prompt/chosen/rejected, ShareGPT preference, HH-RLHF dialogues, the feedback export) or on scores "
    "(--rm.objective regression). With no options: the demo assistant's body on the embedded pairs.",
)
stage_command(
    "ppo",
    "RLHF with PPO: the policy (--model, from SFT) samples answers, the reward model (--ppo.reward-model) scores "
    "them, a frozen reference keeps it close (per-token KL), a critic gives GAE advantages; clipped policy and "
    "value losses. With no options: the demo assistant, the demo reward model, the embedded prompts.",
)

stage_command(
    "dpo",
    "Direct preference optimisation: the policy (--model, from SFT) learns from preference pairs (every shape rm "
    "reads, the feedback export's pairs included) with no reward model; the reference's log-probs are computed "
    "once from the starting weights. --dpo.loss-type sigmoid|ipo, --dpo.label-smoothing. "
    "With no options: the demo assistant on the embedded pairs.",
)

stage_command(
    "kto",
    "Kahneman-Tversky optimisation: the policy (--model, from SFT) learns from single answers voted good or bad "
    "(the feedback export's votes, messages + label, ShareGPT + kto_tag; preference pairs count as a good and a bad "
    "vote), with no reward model; --kto.desirable-weight / --kto.undesirable-weight balance the two. The "
    "reference's log-probs are computed once. With no options: the demo assistant on the embedded pairs as votes.",
)

stage_command(
    "grpo",
    "Group relative policy optimisation: the policy (--model, from SFT) samples --grpo.group-size answers per "
    "prompt; a reward function (--grpo.reward module:function or file.py:function, called as f(prompts, "
    "completions, **row fields)) or a reward model scores them; each answer's advantage is its reward against its "
    "group's; clipped ratio, optional KL to the reference (--grpo.beta). With no options: the demo assistant on "
    "embedded questions that ask for at most N steps, rewarded by a rule that checks the format.",
)


@app.command()
def score(
    model: str = typer.Option(..., "--model", help="a reward model directory (e.g. runs/rm/final)"),
    data: str = typer.Option(..., "--data", help="prompt/answer rows, or preference rows (chosen/rejected)"),
    out: str = typer.Option("scores.jsonl", "--out", help="JSONL: each row with its reward(s)"),
    batch_size: int = typer.Option(32, help="answers per forward pass"),
    max_length: int = typer.Option(512, help="tokens per prompt + answer at most"),
) -> None:
    """Score answers with a reward model: 'reward' per prompt/answer row, or 'chosen_reward' and
    'rejected_reward' per preference row (with the pairwise accuracy)."""
    from alignkit.stages import reward

    if batch_size < 1 or max_length < 2:
        raise UserError("score: expected --batch-size >= 1, --max-length >= 2")
    metrics = reward.score(model, data, out, batch_size, max_length)
    print(f"score: rewards written to {out}")
    if metrics:
        print("score: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


@app.command()
def predict(
    model: str = typer.Option(..., "--model", help="a classifier directory (e.g. runs/classify/final)"),
    data: str = typer.Option(..., "--data", help="rows with 'text' (and 'text_pair'); targets optional"),
    out: str = typer.Option("predictions.jsonl", "--out", help="JSONL: each row with its prediction"),
    batch_size: int = typer.Option(64, help="rows per forward pass"),
    threshold: float = typer.Option(0.5, help="multi-label: a label is predicted when p >= threshold"),
    max_length: int = typer.Option(512, help="tokens per example at most"),
) -> None:
    """Predict with a classifier or regression head: label and probabilities, or value, per row."""
    from alignkit.stages import classify

    if batch_size < 1 or not 0 < threshold < 1 or max_length < 2:
        raise UserError("predict: expected --batch-size >= 1, 0 < --threshold < 1, --max-length >= 2")
    metrics = classify.predict(model, data, out, batch_size, threshold, max_length)
    print(f"predict: predictions written to {out}")
    if metrics:
        print("predict: metrics against the rows' targets: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


@app.command("inspect-data")
def inspect_data(
    model: str = typer.Option("demo", "--model", help="model dir whose tokenizer and chat template encode the data"),
    data: str = typer.Option("demo", "--data", help="chat data file or directory ('demo': the embedded set)"),
    data_format: str = typer.Option("auto", "--format", help="auto, prompt_answer, messages, alpaca, sharegpt"),
    max_length: int = typer.Option(512, help="tokens per example at most"),
    train_on: str = typer.Option("all_turns", help="all_turns or last_turn"),
    show: int = typer.Option(3, help="examples to print with their learning tokens highlighted"),
) -> None:
    """Show how SFT data is encoded: learning tokens highlighted, then totals."""
    from rich.console import Console
    from rich.text import Text

    from alignkit.data.encode import encode_dataset
    from alignkit.models import load
    from alignkit.models.tokenizer import ensure_chat_template
    from alignkit.stages import sft

    if train_on not in ("all_turns", "last_turn") or max_length < 2 or show < 0:
        raise UserError("inspect-data: expected --train-on all_turns|last_turn, --max-length >= 2, --show >= 0")
    items = sft.read_conversations(data, data_format)
    directory = load.resolve_pretrained(model)
    tokenizer = load.load_tokenizer(directory)
    ensure_chat_template(tokenizer)
    examples, stats = encode_dataset(tokenizer, items, max_length, train_on)
    console = Console(highlight=False)
    for example in examples[:show]:
        console.rule(example.source, style="dim")
        text = Text()
        for token_id, learns in zip(example.input_ids.tolist(), example.loss_mask.tolist(), strict=True):
            piece = tokenizer.decode([token_id])
            text.append(piece, style="bold green" if learns else "dim")
        console.print(text)
    console.rule(style="dim")
    console.print("[bold green]learning tokens[/] are bold green; the rest is context")
    console.print(
        f"examples {stats.examples}  kept {stats.kept}  truncated {stats.truncated}  dropped {stats.dropped}  "
        f"tokens {stats.tokens}  learning {stats.learning_tokens} "
        f"({100 * stats.learning_tokens / max(stats.tokens, 1):.1f}%)"
    )
    for source in stats.dropped_sources[:5]:
        console.print(f"dropped {source}: no answer token within max_length")


@app.command()
def generate(
    model: str = typer.Option(..., "--model", help="a model directory (e.g. runs/sft/final)"),
    prompt: list[str] = typer.Option(None, "--prompt", "-p", help="prompt text; repeat for several"),
    prompts: str = typer.Option(None, "--prompts", help="JSONL of prompts ('prompt' text or chat 'messages')"),
    out: str = typer.Option(None, "--out", help="write answers here as JSONL (default: print)"),
    max_new_tokens: int = typer.Option(64, help="tokens to generate at most"),
    temperature: float = typer.Option(0.0, help="0: greedy; > 0: sample"),
    top_p: float = typer.Option(1.0, help="nucleus sampling mass"),
    top_k: int = typer.Option(0, help="sample among the k likeliest tokens (0: all)"),
    seed: int = typer.Option(0, help="sampling seed"),
    batch_size: int = typer.Option(16, help="prompts per generate call"),
    chat: bool = typer.Option(False, help="wrap each text prompt in the chat template (for assistants)"),
) -> None:
    """Continue prompts with a model: greedy or sampled, batched, with a KV cache."""
    from alignkit import rollout
    from alignkit.data.readers import write_jsonl
    from alignkit.models import load

    if temperature < 0 or not 0 < top_p <= 1 or top_k < 0 or max_new_tokens < 1 or batch_size < 1:
        raise UserError(
            "generate: expected temperature >= 0, 0 < top_p <= 1, top_k >= 0, max_new_tokens >= 1, batch_size >= 1"
        )
    if bool(prompt) == bool(prompts):
        raise UserError("generate: give prompts with --prompt TEXT (repeatable) or --prompts FILE.jsonl, not both")
    records = rollout.read_prompts(prompts) if prompts else [{"prompt": p} for p in prompt]
    tokenizer = load.load_tokenizer(load.checkpoint_dir(model))
    lm = load.load_causal_lm(model)
    sampling = rollout.Sampling(max_new_tokens, temperature, top_p, top_k, seed)
    inputs = [rollout.prompt_of(r) for r in records]
    answers = rollout.generate(lm, tokenizer, inputs, sampling, chat=chat, batch_size=batch_size)
    if out:
        write_jsonl(out, [{**r, "answer": a} for r, a in zip(records, answers, strict=True)])
        print(f"generate: {len(answers)} answers written to {out}")
        return
    for record, answer in zip(records, answers, strict=True):
        shown = rollout.question_of(record)
        print(answer if chat or "messages" in record else f"{shown}{answer}")
        print()


@app.command("chat")
def chat_command(
    model: str = typer.Option("runs/sft/final", "--model", help="an assistant model directory"),
    system: str = typer.Option(None, help="a system turn to start every conversation with"),
    max_new_tokens: int = typer.Option(256, help="tokens per answer at most"),
    temperature: float = typer.Option(0.0, help="0: greedy; > 0: sample"),
    top_p: float = typer.Option(1.0, help="nucleus sampling mass"),
    top_k: int = typer.Option(0, help="sample among the k likeliest tokens (0: all)"),
    seed: int = typer.Option(0, help="sampling seed"),
) -> None:
    """Talk to a model in the terminal: multi-turn, streamed; /reset starts over, /exit quits."""
    from alignkit.chat import chat as run_chat

    if temperature < 0 or not 0 < top_p <= 1 or top_k < 0 or max_new_tokens < 1:
        raise UserError("chat: expected temperature >= 0, 0 < top_p <= 1, top_k >= 0, max_new_tokens >= 1")
    run_chat(model, system, max_new_tokens, temperature, top_p, top_k, seed)


@app.command()
def demo(
    quick: bool = typer.Option(False, help="a much smaller run (under a minute), for a smoke test"),
    seed: int = typer.Option(0, help="first seed: every stage's seed, and the seeds of repeated runs count from it"),
    seeds: int = typer.Option(3, help="runs of SFT, PPO, DPO and GRPO, each with its own seed (their spread)"),
    interactive: bool = typer.Option(False, help="serve the rating page and wait for people before the reward model"),
    port: int = typer.Option(8000, help="--interactive: the rating page's port"),
    output_dir: str = typer.Option(
        None, "--output-dir", help="default: runs/demo (runs/demo-quick with --quick; -seed{S} with --seed S)"
    ),
) -> None:
    """The whole lifecycle on the embedded data, then report.md: pretrain, SFT, classify, feedback, reward
    model, PPO, DPO and GRPO, and the measured SFT-versus-RLHF comparison."""
    from pathlib import Path

    from alignkit import demo as demo_mod

    default = ("runs/demo-quick" if quick else "runs/demo") + (f"-seed{seed}" if seed else "")
    root = Path(output_dir or default)
    demo_mod.run(root, seed=seed, seeds=seeds, quick=quick, interactive=interactive, port=port)


@app.command()
def report(
    run_dirs: list[str] = typer.Argument(..., help="run directories, or directories holding them (a demo's)"),
    out: str = typer.Option(None, "--out", help="where report.md and plots/ go; default: the first directory"),
) -> None:
    """report.md + PNG plots from finished runs: curves, costs, and (with a compare.json beside them, as
    the demo writes) the SFT-versus-RLHF table and the answers side by side."""
    from pathlib import Path

    from alignkit import report as report_mod

    paths = [Path(p) for p in run_dirs]
    written = report_mod.write_report(paths, Path(out) if out else paths[0])
    print(f"report: {written}")


from alignkit.feedback.cli import feedback_app  # noqa: E402

app.add_typer(feedback_app, name="feedback")


def main() -> None:
    if sys.argv[1:2] != ["feedback"]:  # the feedback tools never touch transformers' logging: no import
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
