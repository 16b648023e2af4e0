"""The rating web app: a JSON API (documented at /docs and /openapi.json) and two pages built on it.

Security model:
- Every API call needs a rater token: `Authorization: Bearer TOKEN`, or the session cookie that
  signing in on the page sets (HttpOnly, SameSite=Strict). Tokens are stored only as SHA-256 hashes.
- A write made with the cookie must carry the CSRF token (`X-CSRF-Token`, equal to the `ak_csrf`
  cookie: double submit) and, when the browser names one, an Origin of this very server. A
  cross-site form post has neither, and is refused with 403.
- The admin page and admin API need an admin token; a rater sees and changes only their own data.
- Model outputs, prompts and comments reach the page as JSON and are put in with `textContent`:
  they render as text, never as HTML.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from alignkit.feedback.store import Rater, RatingInput, Store

SESSION_COOKIE, CSRF_COOKIE = "ak_session", "ak_csrf"
PAGES = Path(__file__).resolve().parent / "pages"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class SignIn(BaseModel):
    token: str = Field(description="the rater's token, as `alignkit feedback add-rater` printed it")


class RatingBody(BaseModel):
    prompt_id: int
    kind: Literal["vote", "score", "pair", "correction"]
    candidate_id: int = Field(description="the rated candidate; for a pair, candidate 'a'")
    other_candidate_id: int | None = Field(None, description="pair: candidate 'b'")
    value: int | None = Field(None, description="vote: 1 good, 0 bad; score: 1-5")
    choice: Literal["a", "b", "tie"] | None = Field(None, description="pair: which is better")
    correction: str | None = Field(None, max_length=100_000, description="correction: the better answer")
    comment: str | None = Field(None, max_length=10_000)
    client_key: str | None = Field(
        None, max_length=100, description="any unique string: a retried post with the same key is stored once"
    )


class SkipBody(BaseModel):
    prompt_id: int
    client_key: str | None = Field(None, max_length=100)


def create_app(store: Store) -> FastAPI:
    app = FastAPI(
        title="alignkit feedback",
        description="Rate model outputs: good/bad votes, 1-5 scores, pairwise choices and corrections.",
        version="1",
    )
    app.state.store = store

    @app.middleware("http")
    async def refuse_cross_site_writes(request: Request, call_next):
        """Cookie-authenticated writes must come from this origin with the CSRF token."""
        if request.method in UNSAFE and not _bearer(request):
            origin = request.headers.get("origin")
            if origin is not None and origin != _own_origin(request):
                return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
            signing_in = request.url.path == "/api/session" and request.method == "POST"
            cookie = request.cookies.get(CSRF_COOKIE)
            if not signing_in and (not cookie or request.headers.get("x-csrf-token") != cookie):
                if request.cookies.get(SESSION_COOKIE):
                    return JSONResponse({"detail": "missing or wrong CSRF token"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    def rater(request: Request) -> Rater:
        token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
        if not token:
            raise HTTPException(401, "sign in: a rater token is needed", headers={"WWW-Authenticate": "Bearer"})
        found = store.rater_by_token(token)
        if found is None:
            raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
        return found

    def admin(who: Rater = Depends(rater)) -> Rater:
        if not who.is_admin:
            raise HTTPException(403, "an admin token is needed")
        return who

    # -- pages ------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def rate_page() -> HTMLResponse:
        return _page("rate.html")

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_page(request: Request) -> HTMLResponse:
        try:
            admin(rater(request))  # 401 / 403 before any of the page is sent
        except HTTPException as exc:
            note = "Sign in with an admin token on the <a href='/'>rating page</a> first."
            return HTMLResponse(f"<!doctype html><title>admin</title><p>{exc.detail}. {note}</p>", exc.status_code)
        return _page("admin.html")

    # -- session ----------------------------------------------------------------------------------
    @app.post("/api/session", summary="Sign in with a token (sets the session and CSRF cookies)")
    def sign_in(body: SignIn, request: Request, response: Response) -> dict:
        found = store.rater_by_token(body.token)
        if found is None:
            raise HTTPException(401, "unknown token")
        options = dict(samesite="strict", path="/", secure=request.url.scheme == "https")
        response.set_cookie(SESSION_COOKIE, body.token, httponly=True, **options)
        response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, **options)
        return {"name": found.name, "is_admin": found.is_admin}

    @app.delete("/api/session", summary="Sign out")
    def sign_out(response: Response) -> dict:
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return {"signed_out": True}

    @app.get("/api/me", summary="Who the token belongs to")
    def me(who: Rater = Depends(rater)) -> dict:
        return {"name": who.name, "is_admin": who.is_admin}

    # -- rating -----------------------------------------------------------------------------------
    @app.get("/api/next", summary="The next prompt to rate, with its candidates (done: true when none is left)")
    def next_item(who: Rater = Depends(rater)) -> dict:
        item = store.next_item(who.id)
        return {"done": item is None, "item": item, "progress": store.progress(who.id)}

    @app.get("/api/items/{prompt_id}", summary="One prompt with its candidates")
    def get_item(prompt_id: int, who: Rater = Depends(rater)) -> dict:
        item = store.item(prompt_id)
        if item is None:
            raise HTTPException(404, f"prompt {prompt_id} does not exist")
        return item

    @app.post("/api/ratings", status_code=201, summary="Rate: vote, score, pair or correction")
    def add_rating(body: RatingBody, response: Response, who: Rater = Depends(rater)) -> dict:
        rating_id, created = _store_rating(store, who, RatingInput(**body.model_dump()))
        if not created:
            response.status_code = 200
        return {"id": rating_id, "created": created, "progress": store.progress(who.id)}

    @app.post("/api/skip", status_code=201, summary="Skip a prompt (undo brings it back)")
    def skip(body: SkipBody, response: Response, who: Rater = Depends(rater)) -> dict:
        rating_id, created = _store_rating(store, who, RatingInput(prompt_id=body.prompt_id, kind="skip",
                                                                   client_key=body.client_key))  # fmt: skip
        if not created:
            response.status_code = 200
        return {"id": rating_id, "created": created}

    @app.post("/api/undo", summary="Undo your latest rating or skip")
    def undo(who: Rater = Depends(rater)) -> dict:
        undone = store.undo(who.id)
        if undone is None:
            raise HTTPException(404, "nothing to undo")
        return {"undone": undone, "progress": store.progress(who.id)}

    @app.get("/api/progress", summary="How far you are")
    def progress(who: Rater = Depends(rater)) -> dict:
        return store.progress(who.id)

    @app.get("/api/ratings", summary="Your own ratings (an admin may name another rater)")
    def my_ratings(rater_name: str | None = None, who: Rater = Depends(rater)) -> list[dict]:
        if rater_name is not None and rater_name != who.name:
            if not who.is_admin:
                raise HTTPException(403, "you may read only your own ratings")
            return [r for r in store.ratings() if r["rater"] == rater_name]
        return store.ratings(who.id)

    # -- admin ------------------------------------------------------------------------------------
    @app.get("/api/admin/stats", summary="Counts by kind and rater, agreement between raters, the queue")
    def stats(who: Rater = Depends(admin)) -> dict:
        return store.stats()

    @app.get("/api/admin/ratings", summary="Every rating (admin)")
    def all_ratings(include_undone: bool = False, who: Rater = Depends(admin)) -> list[dict]:
        return store.ratings(include_undone=include_undone)

    return app


def _store_rating(store: Store, who: Rater, rating: RatingInput) -> tuple[int, bool]:
    try:
        return store.add_rating(who.id, rating)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


@functools.cache
def _page_html(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def _page(name: str) -> HTMLResponse:
    html = _page_html(name)
    policy = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    return HTMLResponse(html, headers={"Content-Security-Policy": policy + "frame-ancestors 'none'"})
