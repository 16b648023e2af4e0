"""`alignkit feedback ...`: generate candidates, serve the rating page, add raters, import, export."""

from __future__ import annotations

from pathlib import Path

import typer

from alignkit.errors import UserError

DEFAULT_DB = "runs/feedback/feedback.db"
DB_HELP = "database: a SQLite file (created if missing) or postgresql://user:password@host/db"

feedback_app = typer.Typer(help="Human feedback: people rate model outputs in a web page; export training data.",
                           no_args_is_help=True)  # fmt: skip


def open_store(db: str):
    from alignkit.feedback.store import Store

    return Store(db)


@feedback_app.command()
def generate(
    model: str = typer.Option(..., "--model", help="the model to sample from (e.g. runs/sft/final)"),
    prompts: str = typer.Option(..., "--prompts", help="JSONL of prompts ('prompt' text or chat 'messages')"),
    n: int = typer.Option(2, "--n", help="candidates per prompt, 2-4"),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
    max_new_tokens: int = typer.Option(128, help="tokens per candidate at most"),
    temperature: float = typer.Option(0.8, help="sampling temperature (> 0: candidates should differ)"),
    top_p: float = typer.Option(0.95, help="nucleus sampling mass"),
    seed: int = typer.Option(0, help="sampling seed (candidate i uses seed + i)"),
) -> None:
    """Sample N answers a prompt and store them, tagged with the checkpoint and sampling settings."""
    from alignkit import rollout
    from alignkit.models import load

    if not 2 <= n <= 4:
        raise UserError(f"--n: expected 2 to 4 candidates a prompt; got {n}")
    if temperature <= 0 or not 0 < top_p <= 1 or max_new_tokens < 1:
        raise UserError("feedback generate: expected temperature > 0, 0 < top_p <= 1, max_new_tokens >= 1")
    records = rollout.read_prompts(prompts)
    directory = load.checkpoint_dir(model)
    store = open_store(db)
    tokenizer, lm = load.load_tokenizer(directory), load.load_causal_lm(directory)
    inputs = [rollout.prompt_of(r) for r in records]
    candidates = [
        rollout.generate(lm, tokenizer, inputs, rollout.Sampling(max_new_tokens, temperature, top_p, 0, seed + i),
                         chat=True)
        for i in range(n)
    ]  # fmt: skip
    settings = {"temperature": temperature, "top_p": top_p, "seed": seed, "n": n, "max_new_tokens": max_new_tokens}
    generation = store.add_generation(str(directory.resolve()), settings)
    for index, record in enumerate(records):
        store.add_prompt(rollout.question_of(record), [c[index].strip() for c in candidates], generation)
    print(f"feedback generate: {len(records)} prompts x {n} candidates stored in {db}")


@feedback_app.command()
def serve(
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, help="port"),
) -> None:
    """Serve the rating page (/), the admin page (/admin) and the JSON API (/docs)."""
    import uvicorn

    from alignkit.feedback.app import create_app

    store = open_store(db)
    print(f"feedback: rating page on http://{host}:{port}/ (admin: /admin, API: /docs), database {db}", flush=True)
    uvicorn.run(create_app(store), host=host, port=port, log_level="warning")


@feedback_app.command("add-rater")
def add_rater(
    name: str = typer.Argument(..., help="the rater's name"),
    admin: bool = typer.Option(False, "--admin", help="may open the admin page"),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Create a rater and print their token (shown once: only its hash is stored)."""
    token = open_store(db).add_rater(name, admin)
    print(token)


@feedback_app.command()
def export(
    kind: str = typer.Option(
        ..., "--kind", help="pairs (rm, dpo), scores (regression rm), votes (kto), corrections (sft)"
    ),
    out: Path = typer.Option(..., "--out", help="JSONL file to write"),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Write ratings as training data."""
    from alignkit.data.readers import write_jsonl
    from alignkit.feedback.export import EXPORT_KINDS, export_rows

    if kind not in EXPORT_KINDS:
        raise UserError(f"--kind: expected one of {', '.join(EXPORT_KINDS)}; got '{kind}'")
    rows, dropped = export_rows(open_store(db), kind)
    write_jsonl(out, rows)
    note = ", ".join(f"{count} {why.replace('_', ' ')} dropped" for why, count in dropped.items())
    print(f"feedback export: {len(rows)} {kind} rows written to {out}" + (f" ({note})" if note else ""))


@feedback_app.command("import")
def import_(
    file: str = typer.Argument(
        ..., help="JSONL: {prompt, candidates: [...], ratings: [{rater, kind, candidate, ...}]}"
    ),
    db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Load prompts, candidates and ratings from JSONL (all or nothing)."""
    items = read_import(file)
    prompts, ratings = open_store(db).import_items(items)
    print(f"feedback import: {prompts} prompts, {ratings} ratings added to {db}")


def read_import(path: str) -> list[dict]:
    """Rows of an import file, checked field by field (file:line in every message)."""
    from alignkit.data.readers import read_rows, resolve_path

    items = []
    for row in read_rows(resolve_path(path, demo="feedback.jsonl.gz")):
        fields = row.fields
        candidates = fields.get("candidates")
        if not isinstance(fields.get("prompt"), str) or not isinstance(candidates, list) or len(candidates) < 1:
            raise UserError(f"{row.source}: expected 'prompt' (text) and 'candidates' (a list of answers)")
        if not all(isinstance(c, str) for c in candidates):
            raise UserError(f"{row.source}: every candidate should be text")
        ratings = fields.get("ratings", [])
        for rating in ratings if isinstance(ratings, list) else [None]:
            if not isinstance(rating, dict) or not isinstance(rating.get("rater"), str) or "kind" not in rating:
                raise UserError(f"{row.source}: every rating needs 'rater' and 'kind'")
            for field in ("candidate", "other"):
                index = rating.get(field)
                if index is not None and not (isinstance(index, int) and 0 <= index < len(candidates)):
                    raise UserError(
                        f"{row.source}: rating '{field}' should index the candidates (0-{len(candidates) - 1})"
                    )
        items.append({"prompt": fields["prompt"], "candidates": candidates, "ratings": ratings, "source": row.source})
    if not items:
        raise UserError(f"{path}: no rows")
    return items
