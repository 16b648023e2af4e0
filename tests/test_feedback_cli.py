"""`alignkit feedback` end to end: generate candidates with a model, add raters, import the demo
ratings, export every kind as training data the stages read; bad input ends in one line, exit 2."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import run_cli

from alignkit.data.formats import conversation_of
from alignkit.data.readers import read_rows
from alignkit.feedback.store import Store


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_generate_stores_candidates_with_their_origin(tmp_path, tiny_model_dir):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "Where is my parcel?"}\n{"messages": [{"role": "user", "content": "Hi"}]}\n')
    db = tmp_path / "fb.db"
    result = run_cli("feedback", "generate", "--model", str(tiny_model_dir), "--prompts", str(prompts), "--n", "3",
                     "--db", str(db), "--max-new-tokens", "8", "--temperature", "1.0", "--seed", "7")  # fmt: skip
    assert result.returncode == 0, result.stderr
    store = Store(str(db))
    first, second = store.item(1), store.item(2)
    assert first["prompt"] == "Where is my parcel?" and second["prompt"] == "Hi"
    assert len(first["candidates"]) == 3 and [c["position"] for c in first["candidates"]] == [0, 1, 2]
    assert first["settings"] == {"max_new_tokens": 8, "n": 3, "seed": 7, "temperature": 1.0, "top_p": 0.95}
    assert first["model"] == str(tiny_model_dir.resolve())
    # candidate i is sampled with seed + i: not all three the same
    assert len({c["text"] for c in first["candidates"]}) > 1


@pytest.mark.slow
def test_import_demo_then_export_every_kind(tmp_path):
    db = str(tmp_path / "fb.db")
    token = run_cli("feedback", "add-rater", "alice", "--db", db)
    assert token.returncode == 0 and len(token.stdout.strip()) >= 32
    assert token.stdout.strip() not in "\n".join(sqlite3.connect(db).iterdump())
    imported = run_cli("feedback", "import", "demo", "--db", db)
    assert imported.returncode == 0, imported.stderr
    assert "48 prompts, 768 ratings" in imported.stdout
    outputs = {}
    for kind in ("pairs", "scores", "votes", "corrections"):
        out = tmp_path / f"{kind}.jsonl"
        result = run_cli("feedback", "export", "--kind", kind, "--db", db, "--out", str(out))
        assert result.returncode == 0, result.stderr
        outputs[kind] = read_jsonl(out)
    assert "ties dropped" in run_cli("feedback", "export", "--kind", "pairs", "--db", db,
                                     "--out", str(tmp_path / "again.jsonl")).stdout  # fmt: skip
    assert all(set(row) >= {"prompt", "chosen", "rejected"} and row["chosen"] != row["rejected"]
               for row in outputs["pairs"])  # fmt: skip
    assert all(1 <= row["score"] <= 5 for row in outputs["scores"])
    assert {row["label"] for row in outputs["votes"]} == {True, False}
    # corrections are SFT rows: the SFT reader takes them as they are
    for row in read_rows(tmp_path / "corrections.jsonl"):
        conversation = conversation_of(row, "auto")
        assert conversation[-1]["role"] == "assistant" and conversation[0]["role"] == "user"


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    db = tmp_path / "fb.db"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok", "candidates": ["a", "b"], "ratings": []}\n'
                   '{"prompt": "p", "candidates": ["a", "b"], "ratings": [{"rater": "x", "kind": "score", '
                   '"candidate": 0, "value": 9}]}\n')  # fmt: skip
    result = run_cli("feedback", "import", str(bad), "--db", str(db))
    assert result.returncode == 2 and "bad.jsonl:2" in result.stderr and "1 to 5" in result.stderr
    assert "Traceback" not in result.stderr
    assert Store(str(db)).stats()["queue"]["prompts"] == 0  # all or nothing: the good first row is not kept
    index = tmp_path / "index.jsonl"
    index.write_text(
        '{"prompt": "p", "candidates": ["a"], "ratings": [{"rater": "x", "kind": "vote", "candidate": 3}]}\n'
    )
    result = run_cli("feedback", "import", str(index), "--db", str(db))
    assert result.returncode == 2 and "index.jsonl:1" in result.stderr and "candidate" in result.stderr
    for args, expected in [
        (("export", "--kind", "everything", "--out", str(tmp_path / "x.jsonl"), "--db", str(db)), "--kind"),
        (("add-rater", "ann", "--db", str(tmp_path)), "--db"),
        (
            (
                "export",
                "--kind",
                "pairs",
                "--out",
                str(tmp_path / "x.jsonl"),
                "--db",
                "postgresql://nobody@127.0.0.1:1/none",
            ),
            "cannot open",
        ),
        (("generate", "--model", str(tmp_path / "missing"), "--prompts", str(bad), "--db", str(db)), "missing"),
        (("generate", "--model", str(tmp_path), "--prompts", str(bad), "--n", "7", "--db", str(db)), "--n"),
    ]:
        result = run_cli("feedback", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x.jsonl").exists()
