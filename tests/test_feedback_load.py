"""The feedback server under load, on loopback: 20 raters posting 50 ratings each at once; then the
same with the server killed by SIGKILL midway and restarted. Every rating the server acknowledged
must be in the database exactly once (clients retry unacknowledged posts with the same client_key).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from alignkit.feedback.store import Store

RATERS, PER_RATER = 20, 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`alignkit feedback serve` in a subprocess of its own."""

    def __init__(self, db: Path, port: int, log: Path):
        self.db, self.port, self.log = db, port, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "alignkit",
            "feedback",
            "serve",
            "--db",
            str(self.db),
            "--port",
            str(self.port),
        ]
        handle = self.log.open("a")
        self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 60 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def prepared(tmp_path):
    db = tmp_path / "load.db"
    store = Store(str(db))
    tokens = [store.add_rater(f"rater-{i}") for i in range(RATERS)]
    prompts = [store.add_prompt(f"prompt {i}", [f"answer {i}a", f"answer {i}b"]) for i in range(PER_RATER)]
    candidates = [[c["id"] for c in store.item(p)["candidates"]] for p in prompts]
    store.close()
    server = Server(db, free_port(), tmp_path / "server.log")
    yield db, tokens, prompts, candidates, server
    server.kill()


def rate_all(server: Server, token: str, rater: int, prompts, candidates, acknowledged: list, errors: Counter) -> None:
    """Post this rater's 50 ratings; an unanswered post is retried with the same client_key until the
    server acknowledges it (the server may be down for a while)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=15,
                      headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip
        for i, prompt_id in enumerate(prompts):
            kind = ("vote", "score")[i % 2]
            body = {"prompt_id": prompt_id, "kind": kind, "candidate_id": candidates[i][i % 2],
                    "value": (i % 2) if kind == "vote" else 1 + i % 5, "client_key": f"r{rater}-{i}"}  # fmt: skip
            for _ in range(600):
                try:
                    response = client.post("/api/ratings", json=body)
                except httpx.HTTPError:
                    errors["connection"] += 1
                    time.sleep(0.1)
                    continue
                if response.status_code in (200, 201):
                    acknowledged.append((f"rater-{rater}", body["client_key"], response.json()["id"]))
                    break
                errors[f"status {response.status_code}"] += 1
                time.sleep(0.1)
            else:
                raise AssertionError(f"rater {rater} rating {i} never acknowledged")


def run_raters(server, tokens, prompts, candidates, during=None) -> tuple[list, Counter]:
    acknowledged: list = []
    errors: Counter = Counter()
    threads = [
        threading.Thread(target=rate_all, args=(server, token, r, prompts, candidates, acknowledged, errors))
        for r, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    if during is not None:
        during(acknowledged)
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "raters did not finish"
    return acknowledged, errors


def check_database(db: Path, acknowledged: list) -> None:
    store = Store(str(db))
    rows = store.ratings(include_undone=True)
    store.close()
    keys = Counter((r["rater"], r["client_key"]) for r in rows)
    assert len(acknowledged) == RATERS * PER_RATER
    assert len(rows) == RATERS * PER_RATER, f"{len(rows)} rows for {len(acknowledged)} acknowledged ratings"
    assert max(keys.values()) == 1  # nothing stored twice
    stored_ids = {(r["rater"], r["client_key"]): r["id"] for r in rows}
    for rater, key, rating_id in acknowledged:  # every acknowledgement points at its stored row
        assert stored_ids[(rater, key)] == rating_id


@pytest.mark.slow
def test_twenty_raters_fifty_ratings_each(prepared):
    db, tokens, prompts, candidates, server = prepared
    server.start()
    acknowledged, errors = run_raters(server, tokens, prompts, candidates)
    assert not errors, errors
    check_database(db, acknowledged)


@pytest.mark.slow
def test_sigkill_midway_loses_nothing_acknowledged(prepared):
    db, tokens, prompts, candidates, server = prepared
    server.start()
    kills = []

    def kill_and_restart(acknowledged: list) -> None:
        while len(acknowledged) < RATERS * PER_RATER // 3:
            time.sleep(0.01)
        kills.append(len(acknowledged))
        server.kill()  # SIGKILL: no shutdown handler runs
        time.sleep(0.5)
        server.start()

    acknowledged, errors = run_raters(server, tokens, prompts, candidates, during=kill_and_restart)
    assert kills and kills[0] < RATERS * PER_RATER  # the kill came midway
    assert errors["connection"] > 0  # and the raters did see the server go away
    check_database(db, acknowledged)
