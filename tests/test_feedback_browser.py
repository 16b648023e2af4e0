"""The rating and admin pages in a real browser: Debian's headless Chromium, driven by Playwright.

The API tests prove the server's rules; this test proves that the pages a rater actually uses keep
them: that every button and key posts the rating it claims to, that model output renders as text and
never runs as script, that undo and the progress line follow what was clicked, that the admin page
counts what was stored, and that `feedback export` turns the clicks into the training rows they mean.

The server is the real one (`alignkit feedback serve` in a subprocess, on loopback), the database a
SQLite file prepared through `Store`. Playwright only drives /usr/bin/chromium (`executable_path`):
it never downloads a browser, and this test needs no network. A missing browser or Playwright fails
the test with a line that says what to install; nothing here is skipped.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from alignkit.feedback.store import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 30
PAGE_TIMEOUT_MS = 10_000

XSS_ANSWER = "<script>window.__xss=1</script><b>bold</b>"
# (prompt, [answer A, answer B]); the page serves prompts oldest first, so in this order.
PROMPTS = [
    ("Where is my order?", ["It left the warehouse yesterday.", XSS_ANSWER]),
    ("I was charged twice.", ["Please wait.", "We have refunded the second charge; it shows in 3-5 days."]),
    ("How do I reset my password?", ["Use the 'forgot password' link.", "Open Settings, then Security, then Reset."]),
    ("The courier lost my parcel.", ["Too bad.", "Sorry; we will send a new one today."]),
    ("Can I change the delivery address?", ["No.", "Yes, until the parcel has shipped: open the order."]),
]
# What the rater types as the better answer: several lines, non-ASCII, and markup that must stay text.
CORRECTION = "We are sorry: a replacement leaves today.\nTracking follows by e-mail — <i>no charge</i>."


@dataclass
class Feedback:
    """A running feedback server and what the database was prepared with."""

    url: str
    db: Path
    rater_token: str
    admin_token: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    """Poll until the server answers HTTP (any status); fail early, with its log, if it exits."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"feedback serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            direct.open(url + "/openapi.json", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"feedback serve did not answer on {url} within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def feedback(tmp_path) -> Iterator[Feedback]:
    """A database with a rater, an admin and PROMPTS, served by `alignkit feedback serve`; the server
    is killed at the end whatever happened."""
    db = tmp_path / "feedback.db"
    store = Store(str(db))
    rater_token = store.add_rater("rita")
    admin_token = store.add_rater("boss", admin=True)
    for prompt, answers in PROMPTS:
        store.add_prompt(prompt, answers)
    store.close()

    port, log = free_port(), tmp_path / "server.log"
    command = [sys.executable, "-m", "alignkit", "feedback", "serve", "--db", str(db), "--port", str(port)]
    with log.open("w") as log_handle:
        server = subprocess.Popen(
            command, stdout=log_handle, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, server, log)
        yield Feedback(url, db, rater_token, admin_token)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def playwright_or_fail():
    """Playwright's sync API and Debian's Chromium, or a failure naming what to install."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (`make system`, as root)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright is missing ({exc}): pip install -e '.[test]' (or `make install`)")
    return sync_playwright, expect


def export_all(db: Path, out_dir: Path) -> dict[str, list[dict]]:
    """`alignkit feedback export --kind KIND` for every kind, in subprocesses as a user runs it (all at
    once: each spends most of its time importing); kind -> the rows of its JSONL file."""
    running = {}
    for kind in ("votes", "scores", "pairs", "corrections"):
        out = out_dir / f"{kind}.jsonl"
        command = [sys.executable, "-m", "alignkit", "feedback", "export", "--kind", kind]
        command += ["--db", str(db), "--out", str(out)]
        running[kind] = (out, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    rows = {}
    for kind, (out, process) in running.items():
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, f"feedback export --kind {kind} failed:\n{output}"
        rows[kind] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows


def table_rows(page, selector: str) -> list[list[str]]:
    """The cells of an HTML table, row by row, header row included."""
    return page.eval_on_selector(selector, "table => [...table.rows].map(r => [...r.cells].map(c => c.textContent))")


def test_rate_every_kind_in_chromium_then_admin_counts_and_exports(feedback: Feedback, tmp_path):
    """One rater rates the five prompts, one kind after another (a vote, a score, a pairwise choice, a
    correction after an undone vote, a score by keyboard); the admin page and the exports must show
    exactly those ratings."""
    sync_playwright, expect = playwright_or_fail()
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    prompts, answers = [prompt for prompt, _ in PROMPTS], [answer_texts for _, answer_texts in PROMPTS]
    total = len(PROMPTS)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            rater_context = browser.new_context()
            rater_context.set_default_timeout(PAGE_TIMEOUT_MS)
            page = rater_context.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            progress, shown_prompt, status = page.locator("#progress"), page.locator("#prompt"), page.locator("#status")

            def answer(letter: str):
                """The candidate box labelled 'Answer A' / 'Answer B' on the shown prompt."""
                return page.locator(".cand").filter(has=page.locator(".label", has_text=f"Answer {letter}"))

            def expect_shown(prompt_index: int, done: int) -> None:
                """The page moved on: this prompt is shown and the progress line counts `done`."""
                expect(progress).to_have_text(f"{done} of {total} done")
                expect(shown_prompt).to_have_text(prompts[prompt_index])

            # Not signed in: the page asks for a token; a wrong one is refused on the page.
            page.goto(feedback.url + "/")
            expect(page.locator("#signin")).to_be_visible()
            page.fill("#token", "not-a-token")
            page.click("#signin-form button[type=submit]")
            expect(status).to_contain_text("sign-in failed")
            page.fill("#token", feedback.rater_token)
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#who")).to_have_text("rita")
            expect_shown(0, done=0)

            # Prompt 1: the script-and-markup answer is shown as the characters it is, and never runs.
            expect(answer("B").locator("pre.text")).to_have_text(XSS_ANSWER)
            assert answer("B").locator("pre.text b, pre.text script").count() == 0
            assert page.evaluate("window.__xss") is None, "a candidate's <script> ran in the page"
            answer("A").get_by_role("button", name="Good").click()  # vote: answer A is good
            expect(status).to_have_text("saved: vote")
            expect_shown(1, done=1)

            # Prompt 2: a score button.
            answer("B").locator("button.score[data-value='4']").click()  # score: answer B 4
            expect(status).to_have_text("saved: score")
            expect_shown(2, done=2)

            # Prompt 3: the pair buttons (first menu: answer A, second: answer B).
            page.click("#pair-b-better")  # pair: answer B better than answer A
            expect(status).to_have_text("saved: pair")
            expect_shown(3, done=3)

            # Prompt 4: a Bad vote given by mistake and undone; the prompt comes back to be corrected.
            answer("A").get_by_role("button", name="Bad").click()
            expect_shown(4, done=4)
            page.click("#undo")
            expect(status).to_have_text("undone: vote")
            expect_shown(3, done=3)
            answer("A").get_by_role("button", name="Correct…").click()
            correction_box = answer("A").locator("textarea.fix-text")
            expect(correction_box).to_be_visible()
            expect(correction_box).to_have_value(answers[3][0])  # prefilled with the answer to correct
            correction_box.fill(CORRECTION)
            answer("A").get_by_role("button", name="Send correction").click()
            expect(status).to_have_text("saved: correction")
            expect_shown(4, done=4)

            # Prompt 5: the keyboard alone: j selects answer B, 2 scores it.
            page.keyboard.press("j")
            expect(answer("B")).to_have_class("cand selected")
            page.keyboard.press("2")
            expect(status).to_have_text("saved: score")
            expect(progress).to_have_text(f"{total} of {total} done")
            expect(page.locator("#done")).to_be_visible()
            assert page.evaluate("window.__xss") is None
            assert page_errors == [], f"errors in the rating page: {page_errors}"

            # The admin page is the admin's alone: the rater's cookie gets 403, no cookie 401.
            assert page.goto(feedback.url + "/admin").status == 403
            stranger = browser.new_context()
            assert stranger.new_page().goto(feedback.url + "/admin").status == 401
            stranger.close()

            # The admin signs in on the rating page, in a context (cookie jar) of their own.
            admin_context = browser.new_context()
            admin_context.set_default_timeout(PAGE_TIMEOUT_MS)
            admin_page = admin_context.new_page()
            admin_page.goto(feedback.url + "/")
            admin_page.fill("#token", feedback.admin_token)
            admin_page.click("#signin-form button[type=submit]")
            expect(admin_page.locator("#who")).to_have_text("boss (admin)")
            assert admin_page.goto(feedback.url + "/admin").status == 200
            expect(admin_page.locator("#when")).to_contain_text("as of")  # the tables are filled
            by_kind = dict(table_rows(admin_page, "#by-kind")[1:])
            assert by_kind == {"vote": "1", "score": "2", "pair": "1", "correction": "1", "skip": "0"}
            by_rater = {row[0]: row[1:] for row in table_rows(admin_page, "#by-rater")[1:]}
            assert by_rater == {"rita": ["1", "2", "1", "1", "0", "5"]}  # vote score pair correction skip total
            queue = dict(table_rows(admin_page, "#queue")[1:])
            assert queue["rated by someone"] == "5" and queue["left for rita"] == "0" and queue["left for boss"] == "5"
        finally:
            browser.close()

    # The clicks, as training data. The undone Bad vote is in none of the files.
    exported = export_all(feedback.db, tmp_path / "exports")
    assert exported["votes"] == [{"prompt": prompts[0], "completion": answers[0][0], "label": True}]
    assert exported["scores"] == [
        {"prompt": prompts[1], "completion": answers[1][1], "score": 4.0, "ratings": 1},
        {"prompt": prompts[4], "completion": answers[4][1], "score": 2.0, "ratings": 1},
    ]
    # One scored candidate a prompt gives no score pairs: the only pair is the pairwise choice.
    assert exported["pairs"] == [
        {"prompt": prompts[2], "chosen": answers[2][1], "rejected": answers[2][0], "source": "pair"}
    ]
    assert exported["corrections"] == [{"prompt": prompts[3], "answer": CORRECTION}]
