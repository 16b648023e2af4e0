"""The feedback store: prompts, the candidates a model gave for them, raters, and every rating.

SQLAlchemy 2 over SQLite by default (one file, WAL journal, every commit synced) or PostgreSQL by URL
(`postgresql://user@host/db`). One schema holds the four kinds of feedback:

- vote: good/bad on one candidate (value 1 or 0);
- score: 1-5 on one candidate (value);
- pair: a choice between two candidates (choice 'a', 'b' or 'tie' for candidate / other_candidate);
- correction: a better answer written by the rater (correction), for one candidate;

each with an optional comment, the rater and a timestamp; 'skip' rows record skipped prompts. A row
is never deleted: undo marks it `undone`. `client_key` makes a retried post idempotent (unique per
rater), so a rating acknowledged once is stored once, whatever the network did.

The schema is versioned (`meta.schema_version`); opening an older database upgrades it in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from alignkit.errors import UserError

SCHEMA_VERSION = 2
KINDS = ("vote", "score", "pair", "correction")
CHOICES = ("a", "b", "tie")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Rater(Base):
    __tablename__ = "raters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 hex; None: no sign-in
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Generation(Base):
    """One `feedback generate` run: which checkpoint, with which sampling settings."""

    __tablename__ = "generations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(Text)
    settings: Mapped[str] = mapped_column(Text, default="{}")  # JSON: temperature, top_p, seed, ...
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Prompt(Base):
    __tablename__ = "prompts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Candidate(Base):
    __tablename__ = "candidates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0 = A, 1 = B, ...
    text: Mapped[str] = mapped_column(Text)


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("rater_id", "client_key", name="uq_ratings_rater_client_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # vote, score, pair, correction, skip
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"))
    other_candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"))
    value: Mapped[int | None] = mapped_column(Integer)
    choice: Mapped[str | None] = mapped_column(String(8))
    correction: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    # added in schema version 2
    client_key: Mapped[str | None] = mapped_column(String(100))
    undone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


# Schema upgrades: MIGRATIONS[v] takes a database at version v to v + 1 (plain SQL that SQLite and
# PostgreSQL both run). A new database is created at SCHEMA_VERSION directly.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "ALTER TABLE ratings ADD COLUMN client_key VARCHAR(100)",
        "ALTER TABLE ratings ADD COLUMN undone BOOLEAN NOT NULL DEFAULT false",
        "CREATE UNIQUE INDEX uq_ratings_rater_client_key ON ratings (rater_id, client_key)",
    ],
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def database_url(db: str) -> str:
    """A URL as given (postgresql://..., sqlite:///...), or a file path -> SQLite."""
    if "://" in db:
        if db.startswith("postgresql://"):
            return "postgresql+psycopg://" + db[len("postgresql://") :]
        return db
    path = Path(db).expanduser()
    if path.exists() and path.is_dir():
        raise UserError(f"--db {db}: a directory; expected a database file or URL")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass
class RatingInput:
    """One rating as a rater gives it; checked by `Store.add_rating`."""

    prompt_id: int
    kind: str
    candidate_id: int | None = None
    other_candidate_id: int | None = None
    value: int | None = None
    choice: str | None = None
    correction: str | None = None
    comment: str | None = None
    client_key: str | None = None


class Store:
    """Open (creating or upgrading) the database at `db` (a file path or URL)."""

    def __init__(self, db: str):
        url = database_url(db)
        self.url = url
        self.sqlite = url.startswith("sqlite")
        try:
            if self.sqlite:
                self.engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
                _sqlite_pragmas(self.engine)
            else:
                self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)
            self.sessions = sessionmaker(self.engine, expire_on_commit=False)
            self._prepare_schema()
        except UserError:
            raise
        except Exception as exc:  # unreachable server, bad URL, unreadable file
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise UserError(f"--db {db}: cannot open the feedback database ({reason})") from None

    # -- schema ---------------------------------------------------------------------------------
    def _prepare_schema(self) -> None:
        tables = set(inspect(self.engine).get_table_names())
        if "ratings" not in tables:
            Base.metadata.create_all(self.engine)
            with self.session() as session:
                session.merge(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.url}: schema version {version} is newer than this alignkit ({SCHEMA_VERSION})")
        if version == SCHEMA_VERSION:
            return
        with self.engine.begin() as connection:  # all steps or none
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    connection.execute(text(statement))
            Meta.__table__.create(connection, checkfirst=True)
            connection.execute(text("DELETE FROM meta WHERE key = 'schema_version'"))
            connection.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"),
                               {"v": str(SCHEMA_VERSION)})  # fmt: skip

    def schema_version(self) -> int:
        with self.engine.connect() as connection:
            if "meta" not in inspect(connection).get_table_names():
                return 1
            row = connection.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
        return int(row[0]) if row else 1

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on an error."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # -- raters ---------------------------------------------------------------------------------
    def add_rater(self, name: str, admin: bool = False) -> str:
        """Create a rater (or give an existing one a new token); returns the token, stored only hashed."""
        name = name.strip()
        if not name or len(name) > 200 or "\x00" in name:
            raise UserError("rater name: empty, or over 200 characters, or holding a NUL; expected a plain name")
        token = secrets.token_urlsafe(24)
        with self.session() as session:
            rater = session.scalar(select(Rater).where(Rater.name == name))
            if rater is None:
                rater = Rater(name=name)
                session.add(rater)
            rater.token_hash, rater.is_admin = hash_token(token), admin or rater.is_admin
        return token

    def rater_by_token(self, token: str) -> Rater | None:
        if not token:
            return None
        with self.session() as session:
            return session.scalar(select(Rater).where(Rater.token_hash == hash_token(token)))

    def rater_named(self, session: Session, name: str) -> Rater:
        """The rater called `name`, created without a token (imported ratings) if missing."""
        rater = session.scalar(select(Rater).where(Rater.name == name))
        if rater is None:
            rater = Rater(name=name)
            session.add(rater)
            session.flush()
        return rater

    # -- prompts and candidates -----------------------------------------------------------------
    def add_generation(self, model: str, settings: dict) -> int:
        with self.session() as session:
            generation = Generation(model=model, settings=json.dumps(settings, sort_keys=True))
            session.add(generation)
            session.flush()
            return generation.id

    def add_prompt(self, prompt: str, candidates: list[str], generation_id: int | None = None) -> int:
        with self.session() as session:
            return self._add_prompt(session, prompt, candidates, generation_id).id

    @staticmethod
    def _add_prompt(session: Session, prompt: str, candidates: list[str], generation_id: int | None) -> Prompt:
        if any("\x00" in text for text in (prompt, *candidates)):
            raise ValueError("prompts and candidates may not contain NUL characters")
        row = Prompt(text=prompt, generation_id=generation_id)
        session.add(row)
        session.flush()
        session.add_all(Candidate(prompt_id=row.id, position=i, text=c) for i, c in enumerate(candidates))
        session.flush()
        return row

    def item(self, prompt_id: int) -> dict | None:
        """A prompt with its candidates (and where they came from)."""
        with self.session() as session:
            prompt = session.get(Prompt, prompt_id)
            if prompt is None:
                return None
            return self._item(session, prompt)

    @staticmethod
    def _item(session: Session, prompt: Prompt) -> dict:
        candidates = session.scalars(
            select(Candidate).where(Candidate.prompt_id == prompt.id).order_by(Candidate.position)
        ).all()
        generation = session.get(Generation, prompt.generation_id) if prompt.generation_id else None
        return {
            "prompt_id": prompt.id,
            "prompt": prompt.text,
            "candidates": [{"id": c.id, "position": c.position, "text": c.text} for c in candidates],
            "model": generation.model if generation else None,
            "settings": json.loads(generation.settings) if generation else None,
        }

    def next_item(self, rater_id: int) -> dict | None:
        """The oldest prompt this rater has neither rated nor skipped (undone actions don't count)."""
        with self.session() as session:
            acted = select(Rating.prompt_id).where(Rating.rater_id == rater_id, Rating.undone.is_(False))
            prompt = session.scalar(select(Prompt).where(Prompt.id.not_in(acted)).order_by(Prompt.id).limit(1))
            return self._item(session, prompt) if prompt is not None else None

    def progress(self, rater_id: int) -> dict:
        with self.session() as session:
            total = session.scalar(select(func.count(Prompt.id))) or 0
            rows = session.execute(
                select(Rating.kind, func.count(func.distinct(Rating.prompt_id)))
                .where(Rating.rater_id == rater_id, Rating.undone.is_(False))
                .group_by(Rating.kind)
            ).all()
            done = session.scalar(
                select(func.count(func.distinct(Rating.prompt_id))).where(
                    Rating.rater_id == rater_id, Rating.undone.is_(False)
                )
            )
        by_kind = {kind: count for kind, count in rows}
        return {"total": total, "done": done or 0, "remaining": total - (done or 0), "by_kind": by_kind}

    # -- ratings --------------------------------------------------------------------------------
    def add_rating(self, rater_id: int, rating: RatingInput) -> tuple[int, bool]:
        """Store a rating (or a skip); returns (id, created). A `client_key` seen before for this rater
        returns the stored rating's id, created False: a retried post is stored once."""
        try:
            with self.session() as session:
                if rating.client_key:
                    existing = self._by_client_key(session, rater_id, rating.client_key)
                    if existing is not None:
                        return existing, False
                self._check(session, rating)
                row = Rating(rater_id=rater_id, **rating.__dict__)
                session.add(row)
                session.flush()
                return row.id, True
        except IntegrityError:
            # the same client_key committed by a concurrent request between our check and insert
            if not rating.client_key:
                raise
            with self.session() as session:
                existing = self._by_client_key(session, rater_id, rating.client_key)
            if existing is None:
                raise
            return existing, False

    @staticmethod
    def _by_client_key(session: Session, rater_id: int, client_key: str) -> int | None:
        return session.scalar(select(Rating.id).where(Rating.rater_id == rater_id, Rating.client_key == client_key))

    @staticmethod
    def _check(session: Session, rating: RatingInput) -> None:
        """The rating fits its kind and names candidates of its own prompt; else a ValueError."""
        for name in ("correction", "comment", "client_key"):
            if "\x00" in (getattr(rating, name) or ""):
                raise ValueError(f"{name}: text may not contain NUL characters")
        if session.get(Prompt, rating.prompt_id) is None:
            raise ValueError(f"prompt {rating.prompt_id} does not exist")
        own = set(session.scalars(select(Candidate.id).where(Candidate.prompt_id == rating.prompt_id)))
        kind = rating.kind
        if kind == "skip":
            return
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)} or skip; got {kind!r}")
        if rating.candidate_id not in own:
            raise ValueError(f"candidate_id: expected a candidate of prompt {rating.prompt_id}")
        if kind == "vote" and rating.value not in (0, 1):
            raise ValueError("vote: value must be 1 (good) or 0 (bad)")
        if kind == "score" and (rating.value is None or not 1 <= rating.value <= 5):
            raise ValueError("score: value must be an integer from 1 to 5")
        if kind == "pair":
            if rating.other_candidate_id not in own or rating.other_candidate_id == rating.candidate_id:
                raise ValueError("pair: other_candidate_id must be another candidate of the same prompt")
            if rating.choice not in CHOICES:
                raise ValueError("pair: choice must be 'a', 'b' or 'tie'")
        if kind == "correction":
            corrected = (rating.correction or "").strip()
            if not corrected:
                raise ValueError("correction: the corrected answer is empty")
            if corrected == session.get(Candidate, rating.candidate_id).text.strip():
                raise ValueError("correction: identical to the answer it corrects")

    def undo(self, rater_id: int) -> dict | None:
        """Mark this rater's latest action (rating or skip) undone; returns it, or None."""
        with self.session() as session:
            row = session.scalar(
                select(Rating)
                .where(Rating.rater_id == rater_id, Rating.undone.is_(False))
                .order_by(Rating.id.desc())
                .limit(1)
            )
            if row is None:
                return None
            row.undone = True
            return rating_dict(row)

    def ratings(self, rater_id: int | None = None, include_undone: bool = False) -> list[dict]:
        with self.session() as session:
            query = select(Rating, Rater.name).join(Rater, Rater.id == Rating.rater_id).order_by(Rating.id)
            if rater_id is not None:
                query = query.where(Rating.rater_id == rater_id)
            if not include_undone:
                query = query.where(Rating.undone.is_(False))
            return [{**rating_dict(r), "rater": name} for r, name in session.execute(query).all()]

    def import_items(self, items: list[dict]) -> tuple[int, int]:
        """Prompts with candidates and ratings (rows of `feedback import`), in one transaction;
        returns (prompts, ratings) added."""
        added = 0
        with self.session() as session:
            for item in items:
                try:
                    prompt = self._add_prompt(session, item["prompt"], item["candidates"], None)
                except ValueError as exc:
                    raise UserError(f"{item.get('source', 'import')}: {exc}") from None
                ids = [c.id for c in session.scalars(
                    select(Candidate).where(Candidate.prompt_id == prompt.id).order_by(Candidate.position)
                )]  # fmt: skip
                for given in item.get("ratings", []):
                    rater = self.rater_named(session, given["rater"])
                    rating = RatingInput(
                        prompt_id=prompt.id,
                        kind=given["kind"],
                        candidate_id=ids[given["candidate"]] if given.get("candidate") is not None else None,
                        other_candidate_id=ids[given["other"]] if given.get("other") is not None else None,
                        value=given.get("value"),
                        choice=given.get("choice"),
                        correction=given.get("correction"),
                        comment=given.get("comment"),
                    )
                    try:
                        self._check(session, rating)
                    except ValueError as exc:
                        raise UserError(f"{item.get('source', 'import')}: {exc}") from None
                    session.add(Rating(rater_id=rater.id, **rating.__dict__))
                    added += 1
        return len(items), added

    # -- what the admin page shows --------------------------------------------------------------
    def stats(self) -> dict:
        with self.session() as session:
            live = Rating.undone.is_(False)
            by_kind = dict(session.execute(select(Rating.kind, func.count()).where(live).group_by(Rating.kind)).all())
            by_rater: dict[str, dict[str, int]] = {}
            for name, kind, count in session.execute(
                select(Rater.name, Rating.kind, func.count())
                .join(Rater, Rater.id == Rating.rater_id)
                .where(live)
                .group_by(Rater.name, Rating.kind)
            ).all():
                by_rater.setdefault(name, {})[kind] = count
            total = session.scalar(select(func.count(Prompt.id))) or 0
            rated = session.scalar(
                select(func.count(func.distinct(Rating.prompt_id))).where(live, Rating.kind != "skip")
            )
            done_by_rater = dict(
                session.execute(
                    select(Rating.rater_id, func.count(func.distinct(Rating.prompt_id)))
                    .where(live)
                    .group_by(Rating.rater_id)
                ).all()
            )
            raters = session.execute(select(Rater.id, Rater.name).where(Rater.token_hash.is_not(None))).all()
            queue = {name: total - done_by_rater.get(rater_id, 0) for rater_id, name in raters}
        return {
            "by_kind": {kind: by_kind.get(kind, 0) for kind in (*KINDS, "skip")},
            "by_rater": by_rater,
            "agreement": agreement(self.ratings()),
            "queue": {"prompts": total, "rated": rated or 0, "unrated": total - (rated or 0), "remaining": queue},
        }


def rating_dict(row: Rating) -> dict:
    return {
        "id": row.id,
        "prompt_id": row.prompt_id,
        "kind": row.kind,
        "candidate_id": row.candidate_id,
        "other_candidate_id": row.other_candidate_id,
        "value": row.value,
        "choice": row.choice,
        "correction": row.correction,
        "comment": row.comment,
        "client_key": row.client_key,
        "undone": row.undone,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def agreement(ratings: list[dict]) -> dict:
    """Agreement between raters on shared items, pair by pair of raters (percent agreement):
    votes and scores on the same candidate, pairwise choices on the same two candidates (in either
    order). Scores also give the mean absolute difference."""
    items: dict[tuple, dict[str, object]] = {}
    for r in ratings:
        if r["kind"] in ("vote", "score"):
            key: tuple = (r["kind"], r["candidate_id"])
            value: object = r["value"]
        elif r["kind"] == "pair":
            a, b, choice = r["candidate_id"], r["other_candidate_id"], r["choice"]
            if a > b:  # the same question asked the other way round
                a, b, choice = b, a, {"a": "b", "b": "a"}.get(choice, choice)
            key, value = ("pair", a, b), choice
        else:
            continue
        items.setdefault(key, {})[r["rater"]] = value  # a rater's latest answer counts
    result: dict[str, dict] = {}
    for kind in ("vote", "score", "pair"):
        comparisons, same, distance = 0, 0, 0.0
        shared = 0
        for key, answers in items.items():
            if key[0] != kind or len(answers) < 2:
                continue
            shared += 1
            values = list(answers.values())
            for i in range(len(values)):
                for j in range(i + 1, len(values)):
                    comparisons += 1
                    same += values[i] == values[j]
                    if kind == "score":
                        distance += abs(values[i] - values[j])
        entry = {"shared_items": shared, "comparisons": comparisons}
        entry["agreement"] = same / comparisons if comparisons else None
        if kind == "score":
            entry["mean_abs_diff"] = distance / comparisons if comparisons else None
        result[kind] = entry
    return result


def _sqlite_pragmas(engine) -> None:
    """WAL (readers never wait for the writer), every commit synced, foreign keys on, and writes that
    take the lock at BEGIN (BEGIN IMMEDIATE), so concurrent writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
