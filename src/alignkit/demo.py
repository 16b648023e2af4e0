"""`alignkit demo`: the whole lifecycle on the embedded data, then the measured report.

tokenizer + pretrain -> sft (3 seeds) -> classify -> feedback (the embedded ratings imported into a
feedback store, or people rating in the web page with --interactive) -> rm -> ppo, dpo, grpo (3 seeds
each, all from the first SFT model) -> compare (every final policy before the same held-out prompts
and the same reward model) -> report.md. A stage whose output is there is skipped, an interrupted one
started again (from its last checkpoint if it wrote one). The profiles size each stage so that the
default fits about 10 minutes on 2 CPU cores and --quick well under one.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from alignkit.errors import UserError

SHOWCASE = [
    "我不能登录我的账号，我该怎么办？",
    "I can't log in to my account, what should I do?",
    "我的快递三天了还没到，怎么办？",
    "How do I return a damaged item?",
]


@dataclass(frozen=True)
class Profile:
    """Options each stage gets on top of its defaults, and the comparison's size."""

    pretrain: str
    sft: str
    classify: str
    rm: str
    ppo: str
    dpo: str
    grpo: str
    held_out: int  # preference prompts kept out of every stage, answered in the comparison
    answer_tokens: int  # tokens per answer in the comparison

    def args(self, stage: str) -> list[str]:
        return getattr(self, stage).split()


PROFILES = {
    "default": Profile(
        pretrain="--max-steps 60 --eval-every 0",
        sft="--run.epochs 3 --batch-size 8 --micro-batch-size 8 --lr 4e-3 --eval-every 0",
        classify="--max-steps 24 --eval-every 0",
        rm="--max-steps 30 --eval-every 0",
        ppo="--ppo.iterations 8 --ppo.rollout-batch-size 16 --batch-size 8 --micro-batch-size 8 --lr 1e-4 "
        "--ppo.max-new-tokens 96 --save-every 0",
        dpo="--max-steps 12 --eval-every 0",
        grpo="--grpo.iterations 12 --grpo.prompts-per-iteration 4 --grpo.group-size 4 --batch-size 16 "
        "--grpo.max-new-tokens 96 --save-every 0",
        held_out=48,
        answer_tokens=96,
    ),
    "quick": Profile(
        pretrain="--max-steps 12 --batch-size 8 --eval-every 0 --model.vocab-size 2048",
        sft="--max-steps 4 --eval-every 0",
        classify="--max-steps 2 --eval-every 0",
        rm="--max-steps 3 --eval-every 0",
        ppo="--ppo.iterations 2 --ppo.rollout-batch-size 8 --batch-size 8 --micro-batch-size 8 --ppo.ppo-epochs 1 "
        "--ppo.max-new-tokens 16",
        dpo="--max-steps 2 --eval-every 0",
        grpo="--grpo.iterations 2 --grpo.prompts-per-iteration 2 --grpo.group-size 4 --batch-size 8 "
        "--micro-batch-size 8 --grpo.max-new-tokens 16",
        held_out=8,
        answer_tokens=16,
    ),
}

POLICY_METHODS = ("ppo", "dpo", "grpo")


def run_name(stage: str, offset: int) -> str:
    return stage if offset == 0 else f"{stage}-{offset + 1}"


def stage_run(name: str, directory: Path, args: list[str]) -> Path:
    """One stage in this process through its CLI arguments: skipped when final/ is there, resumed
    when it has a checkpoint."""
    from alignkit import stages
    from alignkit.train.checkpoint import run_or_continue

    started = time.perf_counter()
    args = [*args, "--run.plots", "false"]  # the report draws every stage's curves; PNGs per metric cost seconds
    final = run_or_continue(name, directory, lambda a: stages.run(name, a), args)
    print(f"[demo] {directory}: {time.perf_counter() - started:.0f} s", flush=True)
    return final


def split_prompts(data_dir: Path, held_out: int, seed: int) -> tuple[Path, Path]:
    """The embedded preference pairs split once for every stage after SFT: held-out pairs (their
    prompts answered in the comparison, their pairs scoring the reward model and DPO) never train
    anything. Prompts the SFT set or the feedback file contain are never held out."""
    from alignkit.data.readers import read_rows, resolve_path, write_jsonl
    from alignkit.stages import reward

    train_file, held_file = data_dir / "pairs-train.jsonl", data_dir / "pairs-held-out.jsonl"
    if train_file.is_file() and held_file.is_file():
        return train_file, held_file
    pairs = [row.fields for row in read_rows(resolve_path("demo", demo=reward.DEMO_PREFERENCES))]
    seen = {_first_prompt(row.fields) for row in read_rows(resolve_path("demo", demo="sft.jsonl.gz"))}
    seen |= {row.fields["prompt"] for row in read_rows(resolve_path("demo", demo="feedback.jsonl.gz"))}
    eligible = [i for i, pair in enumerate(pairs) if pair["prompt"] not in seen]
    chosen = set(random.Random(seed).sample(eligible, held_out))
    write_jsonl(held_file, [p for i, p in enumerate(pairs) if i in chosen])
    write_jsonl(train_file, [p for i, p in enumerate(pairs) if i not in chosen])
    return train_file, held_file


def _first_prompt(fields: dict) -> str | None:
    if isinstance(fields.get("prompt"), str):
        return fields["prompt"]
    messages = fields.get("messages") or []
    return messages[0].get("content") if messages else None


def collect_feedback(
    directory: Path, sft_final: Path, train_pairs: Path, interactive: bool, seed: int, port: int = 8000
) -> Path:
    """The feedback stage: the embedded ratings (three raters' pairwise choices, scores, votes and
    corrections) imported into a SQLite feedback store; with `interactive`, new candidates from the
    SFT model are served in the rating page until Enter is pressed. Exported as preference pairs."""
    from alignkit.data.readers import write_jsonl
    from alignkit.feedback.cli import read_import
    from alignkit.feedback.export import export_rows
    from alignkit.feedback.store import Store

    exported = directory / "pairs.jsonl"
    if exported.is_file() and not interactive:
        print(f"feedback: {exported} is there; skipped")
        return exported
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "feedback.db"
    store = Store(str(database))
    if interactive:  # first, so that the new candidates head each rater's queue
        add_candidates(store, sft_final, train_pairs, seed)
    if not (directory / ".imported").is_file():
        prompts, ratings = store.import_items(read_import("demo"))
        (directory / ".imported").write_text("demo\n")
        print(f"feedback: the embedded ratings imported into {database}: {prompts} prompts, {ratings} ratings")
    if interactive:
        serve_for_people(store, database, port)
    rows, dropped = export_rows(store, "pairs")
    write_jsonl(exported, rows)
    note = f" (dropped: {dropped})" if dropped else ""
    print(f"feedback: {len(rows)} preference pairs exported to {exported}{note}")
    return exported


def add_candidates(store, sft_final: Path, train_pairs: Path, seed: int, prompts: int = 8) -> None:
    """Two sampled answers of the SFT model to a few training prompts, stored for people to rate."""
    from alignkit import rollout
    from alignkit.models import load

    records = rollout.read_prompts(str(train_pairs))[:prompts]
    tokenizer, lm = load.load_tokenizer(sft_final), load.load_causal_lm(sft_final)
    questions = [rollout.prompt_of(r) for r in records]
    settings = {"temperature": 0.8, "top_p": 0.95, "seed": seed, "n": 2, "max_new_tokens": 128}
    candidates = [
        rollout.generate(lm, tokenizer, questions, rollout.Sampling(128, 0.8, 0.95, 0, seed + i), chat=True)
        for i in range(2)
    ]
    generation = store.add_generation(str(sft_final.resolve()), settings)
    for index, record in enumerate(records):
        store.add_prompt(rollout.question_of(record), [c[index].strip() for c in candidates], generation)


def serve_for_people(store, database: Path, port: int = 8000) -> None:
    """The rating page, served until Enter is pressed here."""
    import threading

    import uvicorn

    from alignkit.feedback.app import create_app

    token = store.add_rater("you", True)
    server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    print(
        f"feedback: rate the new answers at http://127.0.0.1:{port}/ with the token {token} (database {database}); "
        "press Enter here when done",
        flush=True,
    )
    try:
        input()
    except EOFError:  # no terminal to press Enter in: the page was served, go on with what is rated
        pass
    server.should_exit = True
    thread.join(timeout=10)


def check_port(port: int) -> None:
    """The rating page's port is free, or one clear error (uvicorn would fail in its thread)."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UserError(f"--port: 127.0.0.1:{port} is not free ({exc.strerror}); pass another") from None


def reward_data(directory: Path, train_pairs: Path, people_pairs: Path) -> Path:
    """The pairs the reward model and DPO learn from: the embedded training pairs and the pairs people
    gave in the feedback store, side by side in one directory."""
    import shutil

    directory.mkdir(parents=True, exist_ok=True)
    for source, name in ((train_pairs, "embedded.jsonl"), (people_pairs, "feedback.jsonl")):
        if not (directory / name).is_file():
            shutil.copyfile(source, directory / f".{name}.tmp")
            (directory / f".{name}.tmp").replace(directory / name)
    return directory


DEMO_ROOTS = {False: Path("runs/demo"), True: Path("runs/demo-quick")}


def ensure(stage: str, quick: bool = False) -> Path:
    """final/ of the demo's pretrained model, first SFT model or reward model (`demo`, `demo-sft`,
    `demo-rm`), with the stages before it run first where missing."""
    from alignkit.train import loop

    outer = loop.CURRENT  # a stage that starts from the demo's models, if one is being set up
    final = run(DEMO_ROOTS[quick], quick=quick, upto=stage)
    if outer is not None:
        loop.restart_accounting(outer)  # training the demo's models is not the outer stage's cost
    return final


def run(
    root: Path,
    seed: int = 0,
    seeds: int = 3,
    quick: bool = False,
    interactive: bool = False,
    upto: str | None = None,
    port: int = 8000,
) -> Path:
    """The lifecycle in `root`; returns report.md, or with `upto` (pretrain, sft or rm) that stage's
    final/ as soon as it is there (one SFT seed, no classify)."""
    from alignkit import report
    from alignkit.data.readers import read_rows

    if seeds < 1:
        raise UserError(f"--seeds: expected at least 1; got {seeds}")
    if upto not in (None, "pretrain", "sft", "rm"):
        raise UserError(f"demo: no stage '{upto}' to stop at (pretrain, sft, rm)")
    profile = PROFILES["quick" if quick else "default"]
    made = {"seed": seed, "profile": "quick" if quick else "default"}
    record = root / "demo.json"
    if record.is_file():
        before = json.loads(record.read_text())
        if {k: before.get(k) for k in made} != made:
            raise UserError(
                f"{root} holds a demo made with --seed {before.get('seed')} ({before.get('profile')} profile); "
                "pass --output-dir for another seed or profile"
            )
    if interactive and (root / "rm" / "final").is_dir():
        raise UserError(f"--interactive: {root / 'rm'} is trained already; pass --output-dir to rate for a new run")
    if interactive:
        check_port(port)
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    if not record.is_file():
        record.write_text(json.dumps(made) + "\n")
    train_pairs, held_pairs = split_prompts(root / "data", profile.held_out, seed)

    base = stage_run("pretrain", root / "pretrain", ["--seed", str(seed), *profile.args("pretrain")])
    if upto == "pretrain":
        return base
    sft_args = ["--model", str(base), *profile.args("sft")]
    sfts = [
        stage_run("sft", root / run_name("sft", k), [*sft_args, "--seed", str(seed + k)])
        for k in range(1 if upto else seeds)
    ]
    sft_final = sfts[0]
    if not (sft_final.parent / "run_summary.json").is_file():
        raise UserError(
            f"{sft_final.parent}: no run_summary.json (a run from an older alignkit?); "
            f"remove {root} or pass --output-dir to start afresh"
        )
    if upto == "sft":
        return sft_final
    if upto is None:
        shown = report.greedy_answers(sft_final, SHOWCASE[:2], True, profile.answer_tokens)
        print("\n".join(f"[demo] the SFT model, greedy | {q}\n{a}\n" for q, a in zip(SHOWCASE, shown, strict=False)))
        classifier = stage_run("classify", root / "classify", ["--seed", str(seed), *profile.args("classify")])
        if (classifier / "eval_report.json").is_file():
            figures = json.loads((classifier / "eval_report.json").read_text())
            print("[demo] classify (MiniLM body + new intent head), held-out: " + "  ".join(
                f"{k} {v:.3f}" for k, v in figures.items() if isinstance(v, float)))  # fmt: skip
    people = collect_feedback(root / "feedback", sft_final, train_pairs, interactive, seed, port)
    pairs = reward_data(root / "data" / "pairs", train_pairs, people)
    rm_final = stage_run(
        "rm", root / "rm",
        ["--model", str(sft_final), "--data", str(pairs), "--data.eval-path", str(held_pairs), "--seed", str(seed),
         *profile.args("rm")],
    )  # fmt: skip
    if upto == "rm":
        return rm_final
    # PPO and GRPO hold nothing out: the comparison answers the held-out prompts with every final policy
    prompts = ["--model", str(sft_final), "--data", str(train_pairs), "--data.eval-fraction", "0"]
    for k in range(seeds):
        seeded = ["--seed", str(seed + k)]
        stage_run("ppo", root / run_name("ppo", k),
                  [*prompts, "--ppo.reward-model", str(rm_final), *seeded, *profile.args("ppo")])  # fmt: skip
        stage_run("dpo", root / run_name("dpo", k),
                  ["--model", str(sft_final), "--data", str(pairs), "--data.eval-path", str(held_pairs), *seeded,
                   *profile.args("dpo")])  # fmt: skip
        stage_run("grpo", root / run_name("grpo", k),
                  [*prompts, "--grpo.reward", str(rm_final), *seeded, *profile.args("grpo")])  # fmt: skip

    compare_file = root / "compare" / "compare.json"
    runs = report.find_runs([root])
    policies = [r for r in runs if r.stage in ("sft", *POLICY_METHODS)]
    done = json.loads(compare_file.read_text())["policies"] if compare_file.is_file() else None
    names = sorted(r.directory.name for r in policies)  # another --seeds: compare again
    if done is not None and sorted(Path(p["directory"]).name for p in done) == names:
        print(f"compare: {compare_file} is there; skipped")
    else:
        reference = next(r for r in runs if r.final.resolve() == sft_final.resolve())
        records = [{"prompt": row.fields["prompt"]} for row in read_rows(held_pairs)]
        print(f"compare: {len(policies)} policies answer {len(records)} held-out prompts", flush=True)
        report.compare_policies(
            policies, reference, rm_final, records, root / "compare",
            base_dir=base, showcase=SHOWCASE, seed=seed, max_new_tokens=profile.answer_tokens,
        )  # fmt: skip
    written = report.write_report([root], root)
    print(f"[demo] the lifecycle took {time.perf_counter() - started:.0f} s; report: {written}")
    return written
