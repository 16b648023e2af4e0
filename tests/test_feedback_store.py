"""The feedback store and its exports, every test on SQLite and on a real PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    text,
)

from alignkit.data.readers import write_jsonl
from alignkit.errors import UserError
from alignkit.feedback.export import EXPORT_KINDS, export_rows
from alignkit.feedback.store import SCHEMA_VERSION, RatingInput, Store, database_url

TABLES = {"meta", "raters", "generations", "prompts", "candidates", "ratings"}
EVIL = [
    "'); DROP TABLE ratings; --",
    "Robert'); DROP TABLE raters;--",
    '" OR 1=1; DELETE FROM prompts; --',
    "%s %(x)s :name ? $1 \\'; -- ünïcødé 中文",
]


@pytest.fixture
def store(db_url):
    store = Store(db_url)
    yield store
    store.close()


def rater(store: Store, name: str, admin: bool = False) -> tuple[int, str]:
    token = store.add_rater(name, admin=admin)
    return store.rater_by_token(token).id, token


def rows(store: Store, sql: str, **params) -> list[tuple]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params).all()]


def count(store: Store, table: str) -> int:
    return rows(store, f"SELECT COUNT(*) FROM {table}")[0][0]


def three_candidates(store: Store, prompt: str = "p") -> tuple[int, list[int]]:
    prompt_id = store.add_prompt(prompt, [f"{prompt}-A", f"{prompt}-B", f"{prompt}-C"])
    return prompt_id, [c["id"] for c in store.item(prompt_id)["candidates"]]


def rate(store: Store, rater_id: int, prompt_id: int, kind: str, **fields) -> int:
    rating_id, created = store.add_rating(rater_id, RatingInput(prompt_id=prompt_id, kind=kind, **fields))
    assert created
    return rating_id


# -- raters ---------------------------------------------------------------------------------------------------------


def test_rater_token_is_stored_only_as_its_sha256(store):
    token = store.add_rater("  alice  ")
    assert len(token) >= 32
    alice = store.rater_by_token(token)
    assert alice is not None and alice.name == "alice" and alice.is_admin is False
    assert alice.token_hash == hashlib.sha256(token.encode()).hexdigest()
    table = rows(store, "SELECT * FROM raters")
    assert len(table) == 1
    assert not any(token in str(value) for row in table for value in row)  # the raw token is nowhere
    assert alice.token_hash in table[0]
    assert store.rater_by_token("not-a-token") is None
    assert store.rater_by_token("") is None

    # a new token for the same rater replaces the old one: same row, old token dead
    again = store.add_rater("alice")
    assert again != token
    assert store.rater_by_token(token) is None
    assert store.rater_by_token(again).id == alice.id
    assert count(store, "raters") == 1

    admin_token = store.add_rater("root", admin=True)
    assert store.rater_by_token(admin_token).is_admin is True
    assert store.rater_by_token(store.add_rater("root")).is_admin is True  # a new token keeps admin
    with pytest.raises(UserError, match="empty"):
        store.add_rater("   ")


# -- prompts, candidates, queue -------------------------------------------------------------------------------------


def test_prompts_candidates_and_queue_order(store):
    generation = store.add_generation("runs/sft", {"temperature": 0.7, "seed": 3})
    first = store.add_prompt("first?", ["one", "two"], generation_id=generation)
    second = store.add_prompt("second?", ["x", "y", "z"])
    third = store.add_prompt("third?", ["only"])
    item = store.item(first)
    assert item["prompt"] == "first?"
    assert [(c["position"], c["text"]) for c in item["candidates"]] == [(0, "one"), (1, "two")]
    assert item["model"] == "runs/sft" and item["settings"] == {"temperature": 0.7, "seed": 3}
    assert store.item(second)["model"] is None and store.item(second)["settings"] is None
    assert store.item(third + 100) is None

    alice, _ = rater(store, "alice")
    bob, _ = rater(store, "bob")
    assert store.next_item(alice)["prompt_id"] == first
    assert store.progress(alice) == {"total": 3, "done": 0, "remaining": 3, "by_kind": {}}

    rate(store, alice, first, "score", candidate_id=item["candidates"][1]["id"], value=4)
    assert store.next_item(alice)["prompt_id"] == second
    rate(store, alice, second, "skip")
    assert store.next_item(alice)["prompt_id"] == third
    assert store.progress(alice) == {"total": 3, "done": 2, "remaining": 1, "by_kind": {"score": 1, "skip": 1}}
    assert store.next_item(bob)["prompt_id"] == first  # one rater's work does not move another's queue

    only = store.item(third)["candidates"][0]["id"]
    rate(store, alice, third, "vote", candidate_id=only, value=1)
    assert store.next_item(alice) is None
    assert store.progress(alice)["remaining"] == 0


# -- the four kinds -------------------------------------------------------------------------------------------------


def test_each_kind_is_stored_with_comment_rater_and_time(store):
    alice, _ = rater(store, "alice")
    prompt, (a, b, _c) = three_candidates(store)
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=5)
    ids = [
        rate(store, alice, prompt, "vote", candidate_id=a, value=0, comment="wrong"),
        rate(store, alice, prompt, "score", candidate_id=b, value=5, comment="great"),
        rate(store, alice, prompt, "pair", candidate_id=a, other_candidate_id=b, choice="b", comment="B better"),
        rate(store, alice, prompt, "correction", candidate_id=a, correction="The right answer.", comment="fixed"),
    ]
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=5)
    stored = store.ratings()
    assert [r["id"] for r in stored] == ids
    assert {r["rater"] for r in stored} == {"alice"}
    assert {r["prompt_id"] for r in stored} == {prompt}
    vote, score, pair, correction = stored
    assert (vote["kind"], vote["candidate_id"], vote["value"], vote["comment"]) == ("vote", a, 0, "wrong")
    assert (score["kind"], score["candidate_id"], score["value"], score["comment"]) == ("score", b, 5, "great")
    assert (pair["kind"], pair["candidate_id"], pair["other_candidate_id"], pair["choice"], pair["comment"]) == (
        "pair", a, b, "b", "B better",
    )  # fmt: skip
    assert (correction["kind"], correction["correction"], correction["comment"]) == (
        "correction", "The right answer.", "fixed",
    )  # fmt: skip
    for r in stored:
        assert r["undone"] is False and r["client_key"] is None
        assert before <= dt.datetime.fromisoformat(r["created_at"]) <= after  # UTC, naive
    assert store.ratings(rater_id=alice + 1000) == []


def test_invalid_ratings_raise_value_error_and_store_nothing(store):
    alice, _ = rater(store, "alice")
    prompt, (a, b, _c) = three_candidates(store, "mine")
    _other, (foreign, _, _) = three_candidates(store, "other")
    cases = [
        (RatingInput(prompt, "score", candidate_id=a, value=6), "score: value must be an integer from 1 to 5"),
        (RatingInput(prompt, "score", candidate_id=a, value=0), "score: value"),
        (RatingInput(prompt, "score", candidate_id=a), "score: value"),
        (RatingInput(prompt, "vote", candidate_id=a, value=2), "vote: value must be 1"),
        (RatingInput(prompt, "vote", candidate_id=a, value=-1), "vote: value"),
        (RatingInput(prompt, "pair", candidate_id=a, other_candidate_id=a, choice="a"), "pair: other_candidate_id"),
        (RatingInput(prompt, "pair", candidate_id=a, other_candidate_id=foreign, choice="a"), "pair: other_cand"),
        (RatingInput(prompt, "pair", candidate_id=a, other_candidate_id=b, choice="c"), "pair: choice"),
        (RatingInput(prompt, "vote", candidate_id=foreign, value=1), "candidate_id: expected a candidate of prompt"),
        (RatingInput(prompt, "score", value=3), "candidate_id"),
        (RatingInput(prompt, "correction", candidate_id=a, correction="  \n "), "correction: the corrected answer"),
        (RatingInput(prompt, "correction", candidate_id=a), "correction: the corrected answer is empty"),
        (RatingInput(prompt, "correction", candidate_id=a, correction=" mine-A\n"), "correction: identical to the"),
        (RatingInput(prompt, "like", candidate_id=a, value=1), "kind: expected one of"),
        (RatingInput(prompt + 1000, "vote", candidate_id=a, value=1), "does not exist"),
    ]
    for rating, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            store.add_rating(alice, rating)
    assert count(store, "ratings") == 0
    # the boundaries are accepted
    for value in (1, 5):
        rate(store, alice, prompt, "score", candidate_id=a, value=value)
    rate(store, alice, prompt, "pair", candidate_id=b, other_candidate_id=a, choice="tie")
    assert count(store, "ratings") == 3


# -- idempotence and undo -------------------------------------------------------------------------------------------


def test_client_key_makes_a_retried_rating_idempotent(store):
    alice, _ = rater(store, "alice")
    bob, _ = rater(store, "bob")
    prompt, (a, b, _c) = three_candidates(store)
    first = store.add_rating(alice, RatingInput(prompt, "score", candidate_id=a, value=3, client_key="k-1"))
    assert first[1] is True
    retry = store.add_rating(alice, RatingInput(prompt, "score", candidate_id=a, value=3, client_key="k-1"))
    assert retry == (first[0], False)
    # even a retry whose body differs answers with the stored rating and changes nothing
    assert store.add_rating(alice, RatingInput(prompt, "vote", candidate_id=b, value=1, client_key="k-1")) == (
        first[0], False,
    )  # fmt: skip
    assert rows(store, "SELECT kind, value FROM ratings WHERE client_key = 'k-1'") == [("score", 3)]
    # the key is unique per rater, not globally; another key is another rating
    bob_id, bob_created = store.add_rating(bob, RatingInput(prompt, "score", candidate_id=a, value=3, client_key="k-1"))
    assert bob_created and bob_id != first[0]
    assert store.add_rating(alice, RatingInput(prompt, "score", candidate_id=a, value=3, client_key="k-2"))[1]
    assert count(store, "ratings") == 3


def test_client_key_race_is_caught_by_the_unique_constraint(store, monkeypatch):
    """Two requests with one key both pass the look-up before either commits: the unique (rater, key)
    constraint refuses the second insert, and the store answers with the first row."""
    alice, _ = rater(store, "alice")
    prompt, (a, _b, _c) = three_candidates(store)
    first, _ = store.add_rating(alice, RatingInput(prompt, "vote", candidate_id=a, value=1, client_key="race"))
    real = store._by_client_key
    calls = []

    def stale_then_real(session, rater_id, key):
        calls.append(key)
        # the first look-up misses the concurrent commit
        return None if len(calls) == 1 else real(session, rater_id, key)

    monkeypatch.setattr(store, "_by_client_key", stale_then_real)
    again = store.add_rating(alice, RatingInput(prompt, "vote", candidate_id=a, value=1, client_key="race"))
    assert again == (first, False)
    assert len(calls) == 2
    assert count(store, "ratings") == 1


def test_undo_marks_the_latest_action_and_requeues_its_prompt(store):
    alice, _ = rater(store, "alice")
    bob, _ = rater(store, "bob")
    first, (a, _b, _c) = three_candidates(store, "first")
    second, _ = three_candidates(store, "second")
    scored = rate(store, alice, first, "score", candidate_id=a, value=2)
    skipped = rate(store, alice, second, "skip")
    bobs = rate(store, bob, first, "vote", candidate_id=a, value=1)  # later than alice's, but not hers
    assert store.next_item(alice) is None

    undone = store.undo(alice)
    assert undone["id"] == skipped and undone["kind"] == "skip" and undone["undone"] is True
    assert store.next_item(alice)["prompt_id"] == second
    assert store.undo(alice)["id"] == scored
    assert store.next_item(alice)["prompt_id"] == first
    assert store.progress(alice) == {"total": 2, "done": 0, "remaining": 2, "by_kind": {}}
    assert store.undo(alice) is None  # nothing left to undo

    assert store.ratings(rater_id=alice) == []
    kept = store.ratings(rater_id=alice, include_undone=True)
    assert [(r["id"], r["undone"]) for r in kept] == [(scored, True), (skipped, True)]  # never deleted
    assert [r["id"] for r in store.ratings()] == [bobs]
    assert rows(store, "SELECT undone FROM ratings WHERE id = :id", id=bobs) == [(False,)]
    assert store.stats()["by_kind"] == {"vote": 1, "score": 0, "pair": 0, "correction": 0, "skip": 0}


# -- hostile text ---------------------------------------------------------------------------------------------------


def test_sql_injection_strings_are_stored_verbatim(store):
    evil_rater = store.add_rater(EVIL[1])
    evil_id = store.rater_by_token(evil_rater).id
    assert store.rater_by_token(evil_rater).name == EVIL[1]
    prompt = store.add_prompt(EVIL[0], EVIL)
    item = store.item(prompt)
    assert item["prompt"] == EVIL[0]
    assert [c["text"] for c in item["candidates"]] == EVIL
    ids = [c["id"] for c in item["candidates"]]
    a, b = ids[0], ids[3]
    for i, evil in enumerate(EVIL):
        fixed = ids[(i + 1) % len(ids)]  # another candidate: a correction identical to its answer is refused
        rate(store, evil_id, prompt, "correction", candidate_id=fixed, correction=evil, comment=evil, client_key=evil)
        rate(store, evil_id, prompt, "pair", candidate_id=a, other_candidate_id=b, choice="a", comment=EVIL[-1 - i])
    stored = store.ratings()
    assert [r["comment"] for r in stored] == [x for i, evil in enumerate(EVIL) for x in (evil, EVIL[-1 - i])]
    assert [r["correction"] for r in stored if r["kind"] == "correction"] == EVIL
    assert [r["client_key"] for r in stored if r["kind"] == "correction"] == EVIL
    assert {r["rater"] for r in stored} == {EVIL[1]}
    assert (
        store.add_rating(evil_id, RatingInput(prompt, "vote", candidate_id=a, value=1, client_key=EVIL[0]))[1] is False
    )

    assert TABLES <= set(inspect(store.engine).get_table_names())
    assert (count(store, "ratings"), count(store, "raters"), count(store, "prompts"), count(store, "candidates")) == (
        2 * len(EVIL), 1, 1, len(EVIL),
    )  # fmt: skip
    assert [r["answer"] for r in export_rows(store, "corrections")[0]] == EVIL
    assert {(r["prompt"], r["chosen"], r["rejected"]) for r in export_rows(store, "pairs")[0]} == {
        (EVIL[0], EVIL[0], EVIL[3])
    }


# -- agreement and stats --------------------------------------------------------------------------------------------


def test_agreement_on_a_hand_built_case(store):
    """Alice and Bob on one prompt with candidates A, B, C:

    votes   A: alice 1, bob 1 (agree); B: alice 1, bob 1 then 0 (bob's latest, 0, counts: disagree);
            C: alice only (not shared)                       -> 2 shared, 2 comparisons, agreement 1/2
    scores  A: 5 vs 4 (|d| 1); B: 2 vs 2 (agree, |d| 0); C: 1 vs 4 (|d| 3; bob's later 1 is undone,
            so it does not count)                             -> 3 shared, agreement 1/3, mean |d| (1+0+3)/3 = 4/3
    pairs   (A,B): alice 'a', bob asks (B,A) and says 'b' -> the same answer (agree);
            (A,C): alice 'tie', bob 'a' (disagree); (B,C): alice only
                                                              -> 2 shared, 2 comparisons, agreement 1/2
    """
    alice, _ = rater(store, "alice")
    bob, _ = rater(store, "bob")
    prompt, (a, b, c) = three_candidates(store)
    for who, candidate, value in [(alice, a, 1), (bob, a, 1), (alice, b, 1), (bob, b, 1), (bob, b, 0), (alice, c, 0)]:
        rate(store, who, prompt, "vote", candidate_id=candidate, value=value)
    for who, candidate, value in [(alice, a, 5), (bob, a, 4), (alice, b, 2), (bob, b, 2), (alice, c, 1), (bob, c, 4)]:
        rate(store, who, prompt, "score", candidate_id=candidate, value=value)
    pairs = [(alice, a, b, "a"), (bob, b, a, "b"), (alice, a, c, "tie"), (bob, a, c, "a"), (alice, b, c, "b")]
    for who, first, other, choice in pairs:
        rate(store, who, prompt, "pair", candidate_id=first, other_candidate_id=other, choice=choice)
    rate(store, bob, prompt, "score", candidate_id=c, value=1)
    assert store.undo(bob)["value"] == 1

    agreement = store.stats()["agreement"]
    assert agreement["vote"] == {"shared_items": 2, "comparisons": 2, "agreement": pytest.approx(1 / 2)}
    assert agreement["score"] == {
        "shared_items": 3, "comparisons": 3, "agreement": pytest.approx(1 / 3), "mean_abs_diff": pytest.approx(4 / 3),
    }  # fmt: skip
    assert agreement["pair"] == {"shared_items": 2, "comparisons": 2, "agreement": pytest.approx(1 / 2)}


def test_agreement_counts_every_pair_of_raters(store):
    """Three raters on one candidate: 3 comparisons of 1 shared item. Scores 5, 4, 5: pairs (5,4) |d| 1,
    (5,5) agree |d| 0, (4,5) |d| 1 -> agreement 1/3, mean |d| 2/3. Votes 1, 1, 0: one agreeing pair of 3."""
    prompt, (a, _b, _c) = three_candidates(store)
    for name, score, vote in [("alice", 5, 1), ("bob", 4, 1), ("carol", 5, 0)]:
        who, _ = rater(store, name)
        rate(store, who, prompt, "score", candidate_id=a, value=score)
        rate(store, who, prompt, "vote", candidate_id=a, value=vote)
    agreement = store.stats()["agreement"]
    assert agreement["score"] == {
        "shared_items": 1, "comparisons": 3, "agreement": pytest.approx(1 / 3), "mean_abs_diff": pytest.approx(2 / 3),
    }  # fmt: skip
    assert agreement["vote"] == {"shared_items": 1, "comparisons": 3, "agreement": pytest.approx(1 / 3)}


def test_agreement_is_none_without_shared_items(store):
    alice, _ = rater(store, "alice")
    prompt, (a, _b, _c) = three_candidates(store)
    rate(store, alice, prompt, "score", candidate_id=a, value=3)
    agreement = store.stats()["agreement"]
    assert agreement["score"] == {"shared_items": 0, "comparisons": 0, "agreement": None, "mean_abs_diff": None}
    assert agreement["vote"]["agreement"] is None and agreement["pair"]["agreement"] is None


def test_stats_counts(store):
    alice, _ = rater(store, "alice")
    bob, _ = rater(store, "bob")
    p1, (a1, b1, _) = three_candidates(store, "p1")
    p2, (a2, _, _) = three_candidates(store, "p2")
    p3, _ = three_candidates(store, "p3")
    rate(store, alice, p1, "vote", candidate_id=a1, value=1)
    rate(store, alice, p1, "score", candidate_id=b1, value=4)
    rate(store, alice, p3, "skip")
    rate(store, bob, p1, "pair", candidate_id=a1, other_candidate_id=b1, choice="a")
    rate(store, bob, p2, "correction", candidate_id=a2, correction="better")
    rate(store, bob, p2, "skip")
    assert store.undo(bob)["kind"] == "skip"
    # imported ratings come from a rater without a token: counted, but without a queue
    assert store.import_items([
        {"prompt": "p4", "candidates": ["x", "y"], "ratings": [{"rater": "carol", "kind": "score", "candidate": 1,
                                                               "value": 2}]},
    ]) == (1, 1)  # fmt: skip

    stats = store.stats()
    assert stats["by_kind"] == {"vote": 1, "score": 2, "pair": 1, "correction": 1, "skip": 1}
    assert stats["by_rater"] == {
        "alice": {"vote": 1, "score": 1, "skip": 1},
        "bob": {"pair": 1, "correction": 1},
        "carol": {"score": 1},
    }
    # rated: p1, p2 (bob's correction), p4 (carol); p3 has only alice's skip, which is not a rating
    assert stats["queue"] == {"prompts": 4, "rated": 3, "unrated": 1, "remaining": {"alice": 2, "bob": 2}}


# -- exports --------------------------------------------------------------------------------------------------------


def test_exports(store, tmp_path):
    alice, _ = rater(store, "alice")
    bob, _ = rater(store, "bob")
    chosen_prompt = store.add_prompt("choose", ["A", "B", "C"])
    a, b, c = (x["id"] for x in store.item(chosen_prompt)["candidates"])
    rate(store, alice, chosen_prompt, "pair", candidate_id=a, other_candidate_id=b, choice="a")
    rate(store, bob, chosen_prompt, "pair", candidate_id=a, other_candidate_id=c, choice="b")
    rate(store, alice, chosen_prompt, "pair", candidate_id=b, other_candidate_id=c, choice="tie")
    rate(store, bob, chosen_prompt, "pair", candidate_id=c, other_candidate_id=b, choice="a")
    store.undo(bob)  # an undone choice is not exported

    scored_prompt = store.add_prompt("score", ["X", "Y", "Z"])
    x, y, z = (r["id"] for r in store.item(scored_prompt)["candidates"])
    for who, candidate, value in [(alice, x, 5), (bob, x, 3), (alice, y, 4), (alice, z, 1)]:  # means 4, 4, 1
        rate(store, who, scored_prompt, "score", candidate_id=candidate, value=value)
    rate(store, alice, scored_prompt, "vote", candidate_id=x, value=1)
    rate(store, bob, scored_prompt, "vote", candidate_id=z, value=0)
    rate(store, bob, scored_prompt, "correction", candidate_id=z, correction="Z, but right.")

    pairs, dropped = export_rows(store, "pairs")
    assert sorted((p["prompt"], p["chosen"], p["rejected"], p["source"]) for p in pairs) == [
        ("choose", "A", "B", "pair"),
        ("choose", "C", "A", "pair"),
        ("score", "X", "Z", "scores"),
        ("score", "Y", "Z", "scores"),
    ]
    assert dropped == {"ties": 1, "equal_scores": 1}

    scores, dropped = export_rows(store, "scores")
    assert dropped == {}
    assert sorted((s["prompt"], s["completion"], s["score"], s["ratings"]) for s in scores) == [
        ("score", "X", 4.0, 2),
        ("score", "Y", 4.0, 1),
        ("score", "Z", 1.0, 1),
    ]

    votes, _ = export_rows(store, "votes")
    assert votes == [
        {"prompt": "score", "completion": "X", "label": True},
        {"prompt": "score", "completion": "Z", "label": False},
    ]
    assert export_rows(store, "corrections") == ([{"prompt": "score", "answer": "Z, but right."}], {})
    with pytest.raises(ValueError, match="kind: expected one of"):
        export_rows(store, "everything")
    assert EXPORT_KINDS == ("pairs", "scores", "votes", "corrections")

    out = tmp_path / "out" / "pairs.jsonl"
    write_jsonl(out, pairs)
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == pairs
    assert sorted(p.name for p in out.parent.iterdir()) == ["pairs.jsonl"]  # no temp file left


# -- schema versions ------------------------------------------------------------------------------------------------


def version_1_tables() -> MetaData:
    """The schema as alignkit's first feedback release wrote it: no client_key, no undone, no unique index."""
    metadata = MetaData()
    Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))
    Table(
        "raters", metadata, Column("id", Integer, primary_key=True), Column("name", String(200), unique=True),
        Column("token_hash", String(64), unique=True), Column("is_admin", Boolean), Column("created_at", DateTime),
    )  # fmt: skip
    Table(
        "generations", metadata, Column("id", Integer, primary_key=True), Column("model", Text),
        Column("settings", Text), Column("created_at", DateTime),
    )  # fmt: skip
    Table(
        "prompts", metadata, Column("id", Integer, primary_key=True), Column("text", Text),
        Column("generation_id", ForeignKey("generations.id")), Column("created_at", DateTime),
    )  # fmt: skip
    Table(
        "candidates", metadata, Column("id", Integer, primary_key=True),
        Column("prompt_id", ForeignKey("prompts.id"), index=True), Column("position", Integer), Column("text", Text),
    )  # fmt: skip
    Table(
        "ratings", metadata, Column("id", Integer, primary_key=True),
        Column("rater_id", ForeignKey("raters.id"), index=True), Column("prompt_id", ForeignKey("prompts.id")),
        Column("kind", String(16)), Column("candidate_id", ForeignKey("candidates.id")),
        Column("other_candidate_id", ForeignKey("candidates.id")), Column("value", Integer),
        Column("choice", String(8)), Column("correction", Text), Column("comment", Text),
        Column("created_at", DateTime),
    )  # fmt: skip
    return metadata


def write_version_1(db_url: str) -> None:
    metadata = version_1_tables()
    engine = create_engine(database_url(db_url))
    try:
        metadata.create_all(engine)
        t = metadata.tables
        created = dt.datetime(2024, 5, 1, 12, 0, 0)
        with engine.begin() as connection:
            connection.execute(insert(t["meta"]).values(key="schema_version", value="1"))
            token_hash = hashlib.sha256(b"tok").hexdigest()
            connection.execute(
                insert(t["raters"]).values(id=1, name="old", token_hash=token_hash, is_admin=False, created_at=created)
            )
            connection.execute(insert(t["prompts"]).values(id=1, text="old prompt", created_at=created))
            connection.execute(insert(t["candidates"]), [
                {"id": 1, "prompt_id": 1, "position": 0, "text": "old A"},
                {"id": 2, "prompt_id": 1, "position": 1, "text": "old B"},
            ])  # fmt: skip
            connection.execute(insert(t["ratings"]).values(id=1, rater_id=1, prompt_id=1, kind="score", candidate_id=2,
                                                           value=4, comment="from v1", created_at=created))  # fmt: skip
            if connection.dialect.name == "postgresql":  # explicit ids: move the sequences past them
                for table in ("raters", "prompts", "candidates", "ratings"):
                    connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 10)"))
        assert "client_key" not in {c["name"] for c in inspect(engine).get_columns("ratings")}
    finally:
        engine.dispose()


def test_version_1_database_is_upgraded_in_place(db_url):
    write_version_1(db_url)
    store = Store(db_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION == 2
        columns = {c["name"] for c in inspect(store.engine).get_columns("ratings")}
        assert {"client_key", "undone"} <= columns
        unique = {i["name"]: i for i in inspect(store.engine).get_indexes("ratings")}["uq_ratings_rater_client_key"]
        assert unique["unique"] and unique["column_names"] == ["rater_id", "client_key"]
        (old,) = store.ratings()
        assert (old["id"], old["kind"], old["value"], old["comment"], old["rater"]) == (1, "score", 4, "from v1", "old")
        assert old["undone"] is False and old["client_key"] is None
        assert old["created_at"] == "2024-05-01T12:00:00"
        assert store.rater_by_token("tok").name == "old"
        old_rater = store.rater_by_token("tok").id
        assert store.next_item(old_rater) is None  # the v1 rating still counts as done

        # the new columns work: idempotent client_key, undo
        first = store.add_rating(old_rater, RatingInput(1, "vote", candidate_id=1, value=1, client_key="after"))
        assert first[1] is True
        assert store.add_rating(old_rater, RatingInput(1, "vote", candidate_id=1, value=1, client_key="after")) == (
            first[0], False,
        )  # fmt: skip
        assert rows(store, "SELECT COUNT(*) FROM ratings WHERE client_key = 'after'") == [(1,)]
        assert store.undo(old_rater)["id"] == first[0]
        assert store.undo(old_rater)["id"] == 1
        assert store.next_item(old_rater)["prompt_id"] == 1
        new_prompt = store.add_prompt("new", ["n"])
        assert new_prompt > 1
    finally:
        store.close()

    # opening it again is a no-op at the current version
    again = Store(db_url)
    try:
        assert again.schema_version() == 2
        assert rows(again, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
        assert len(again.ratings(include_undone=True)) == 2
    finally:
        again.close()


def test_a_new_database_starts_at_the_current_version_and_a_newer_one_is_refused(db_url):
    store = Store(db_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert TABLES <= set(inspect(store.engine).get_table_names())
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    finally:
        store.close()
    with pytest.raises(UserError, match="schema version 99 is newer"):
        Store(db_url)


# -- opening errors -------------------------------------------------------------------------------------------------


def test_unreachable_postgresql_is_a_user_error():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        UserError, match=f"--db postgresql://nobody@127.0.0.1:{port}/x: cannot open the feedback database"
    ):
        Store(f"postgresql://nobody@127.0.0.1:{port}/x")


def test_a_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="a directory; expected a database file or URL"):
        Store(str(tmp_path))
