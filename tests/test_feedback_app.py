"""The feedback web app's API and its security rules, through FastAPI's test client (no browser)."""

from __future__ import annotations

import sqlite3

import pytest
from starlette.testclient import TestClient

from alignkit.feedback.app import create_app
from alignkit.feedback.store import Store

SCRIPT = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"
INJECTION = "'); DROP TABLE ratings; --"


@pytest.fixture
def setup(tmp_path):
    """A store with two raters, an admin and three prompts of two candidates each."""
    store = Store(str(tmp_path / "fb.db"))
    tokens = {name: store.add_rater(name) for name in ("ann", "bob")}
    tokens["boss"] = store.add_rater("boss", admin=True)
    prompts = [
        store.add_prompt("How do I reset my password?", ["Click 'forgot password'.", SCRIPT]),
        store.add_prompt(INJECTION, [INJECTION, "fine"]),
        store.add_prompt("Third", ["x", "y"]),
    ]
    client = TestClient(create_app(store))
    yield store, client, tokens, prompts
    store.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def candidates(client, token) -> list[int]:
    return [c["id"] for c in client.get("/api/next", headers=bearer(token)).json()["item"]["candidates"]]


def test_no_token_is_401_everywhere(setup):
    _, client, _, prompts = setup
    for method, path in [("GET", "/api/next"), ("GET", "/api/me"), ("GET", "/api/progress"), ("GET", "/api/ratings"),
                         ("POST", "/api/undo"), ("GET", "/api/admin/stats"), ("GET", "/admin")]:  # fmt: skip
        assert client.request(method, path).status_code == 401, path
    body = {"prompt_id": prompts[0], "kind": "score", "candidate_id": 1, "value": 3}
    assert client.post("/api/ratings", json=body).status_code == 401
    assert client.get("/api/next", headers=bearer("not-a-token")).status_code == 401
    assert client.post("/api/session", json={"token": "not-a-token"}).status_code == 401


def test_rater_cannot_reach_admin_or_other_raters_data(setup):
    store, client, tokens, prompts = setup
    bob_candidate = candidates(client, tokens["bob"])[0]
    body = {"prompt_id": prompts[0], "kind": "score", "candidate_id": bob_candidate, "value": 4, "comment": "bob's"}
    assert client.post("/api/ratings", headers=bearer(tokens["bob"]), json=body).status_code == 201
    ann = bearer(tokens["ann"])
    assert client.get("/admin", headers=ann).status_code == 403
    assert client.get("/api/admin/stats", headers=ann).status_code == 403
    assert client.get("/api/admin/ratings", headers=ann).status_code == 403
    assert client.get("/api/ratings", headers=ann, params={"rater_name": "bob"}).status_code == 403
    assert client.get("/api/ratings", headers=ann).json() == []  # her own: none
    # ann's undo cannot touch bob's rating
    assert client.post("/api/undo", headers=ann).status_code == 404
    assert [r["undone"] for r in store.ratings(include_undone=True)] == [False]
    # the admin sees everything
    boss = bearer(tokens["boss"])
    assert client.get("/admin", headers=boss).status_code == 200
    assert [r["comment"] for r in client.get("/api/ratings", headers=boss, params={"rater_name": "bob"}).json()] == [
        "bob's"
    ]
    assert client.get("/api/admin/stats", headers=boss).json()["by_kind"]["score"] == 1


def test_model_output_with_script_is_data_not_markup(setup):
    _, client, tokens, _ = setup
    item = client.get("/api/next", headers=bearer(tokens["ann"])).json()["item"]
    assert item["candidates"][1]["text"] == SCRIPT  # JSON carries it verbatim...
    page = client.get("/").text
    assert "<script>alert" not in page  # ...and no page is ever rendered with it inside
    assert "innerHTML" not in page and "textContent" in page  # the page puts text in as text
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]


def test_sql_injection_strings_are_stored_verbatim(setup, tmp_path):
    store, client, tokens, prompts = setup
    headers = bearer(tokens["ann"])
    client.post("/api/skip", headers=headers, json={"prompt_id": prompts[0]})
    item = client.get("/api/next", headers=headers).json()["item"]
    assert item["prompt"] == INJECTION and item["candidates"][0]["text"] == INJECTION
    body = {"prompt_id": item["prompt_id"], "kind": "correction", "candidate_id": item["candidates"][1]["id"],
            "correction": INJECTION, "comment": INJECTION, "client_key": INJECTION}  # fmt: skip
    assert client.post("/api/ratings", headers=headers, json=body).status_code == 201
    stored = client.get("/api/ratings", headers=headers).json()[-1]
    assert stored["correction"] == stored["comment"] == stored["client_key"] == INJECTION
    tables = {row[0] for row in sqlite3.connect(tmp_path / "fb.db").execute("SELECT name FROM sqlite_master")}
    assert {"ratings", "prompts", "candidates", "raters", "meta"} <= tables


def test_cross_site_writes_are_refused(setup):
    store, client, tokens, prompts = setup
    assert client.post("/api/session", json={"token": tokens["ann"]}).status_code == 200
    csrf = client.cookies.get("ak_csrf")
    cid = candidates(client, tokens["ann"])[0]  # reads need no CSRF token
    form = {"prompt_id": str(prompts[0]), "kind": "vote", "candidate_id": str(cid), "value": "1"}
    # a form posted from another site: the browser sends the cookie (if SameSite let it) but no CSRF token
    refused = client.post("/api/ratings", data=form, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert client.post("/api/ratings", data=form).status_code == 403  # no Origin, still no CSRF token
    body = {"prompt_id": prompts[0], "kind": "vote", "candidate_id": cid, "value": 1}
    wrong = client.post("/api/ratings", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    foreign = client.post("/api/ratings", json=body, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert (
        client.post(
            "/api/session", json={"token": tokens["bob"]}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    assert store.ratings() == []  # nothing got through
    ok = client.post("/api/ratings", json=body, headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert ok.status_code == 201, ok.text
    session_cookie = [c for c in client.cookies.jar if c.name == "ak_session"][0]
    assert session_cookie.has_nonstandard_attr("HttpOnly")


def test_tokens_are_stored_hashed(setup, tmp_path):
    _, _, tokens, _ = setup
    database = sqlite3.connect(tmp_path / "fb.db")
    dump = "\n".join(database.iterdump())
    for token in tokens.values():
        assert token not in dump


def test_rating_flow_skip_undo_progress_and_validation(setup):
    store, client, tokens, prompts = setup
    headers = bearer(tokens["ann"])
    first = client.get("/api/next", headers=headers).json()
    assert first["progress"] == {"total": 3, "done": 0, "remaining": 3, "by_kind": {}}
    a, b = [c["id"] for c in first["item"]["candidates"]]
    bad = [
        {"kind": "score", "candidate_id": a, "value": 6},
        {"kind": "vote", "candidate_id": a, "value": 2},
        {"kind": "pair", "candidate_id": a, "other_candidate_id": a, "choice": "a"},
        {"kind": "pair", "candidate_id": a, "other_candidate_id": b, "choice": "both"},
        {"kind": "correction", "candidate_id": a, "correction": "  "},
        {"kind": "score", "candidate_id": 999, "value": 3},
        {"kind": "praise", "candidate_id": a},
    ]
    for body in bad:
        response = client.post("/api/ratings", headers=headers, json={"prompt_id": prompts[0], **body})
        assert response.status_code == 422, body
    pair = {"prompt_id": prompts[0], "kind": "pair", "candidate_id": a, "other_candidate_id": b, "choice": "b",
            "client_key": "k-1"}  # fmt: skip
    created = client.post("/api/ratings", headers=headers, json=pair)
    again = client.post("/api/ratings", headers=headers, json=pair)
    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["id"] == again.json()["id"] and len(store.ratings()) == 1
    assert client.get("/api/next", headers=headers).json()["item"]["prompt_id"] == prompts[1]
    client.post("/api/skip", headers=headers, json={"prompt_id": prompts[1]})
    assert client.get("/api/next", headers=headers).json()["item"]["prompt_id"] == prompts[2]
    assert client.post("/api/undo", headers=headers).json()["undone"]["kind"] == "skip"
    assert client.get("/api/next", headers=headers).json()["item"]["prompt_id"] == prompts[1]
    assert client.get("/api/progress", headers=headers).json()["done"] == 1


def test_openapi_documents_the_api(setup):
    _, client, _, _ = setup
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/next", "/api/ratings", "/api/skip", "/api/undo", "/api/session", "/api/admin/stats"):
        assert path in paths
    assert "/admin" not in paths  # pages are not API
