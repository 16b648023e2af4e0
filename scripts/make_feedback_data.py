"""Generate the embedded demo feedback (our own ratings of our own candidate answers).

Usage:
    python scripts/make_feedback_data.py [--out PATH] [--seed N]

Each row is what `alignkit feedback import` reads: a prompt from the demo SFT set, two candidate answers
(the house-style answer and a weaker one: curt, unhelpful, or missing the steps), in a random order, and
ratings by three imaginary raters of all four kinds (pairwise choices with a few ties, 1-5 scores, good/bad
votes, and corrections that rewrite the weak answer in the house style). Raters mostly agree and sometimes
do not, so the admin page has agreement to show. The same seed always produces a byte-identical file.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import parse_args, write_jsonl_gz  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "alignkit" / "assets" / "feedback.jsonl.gz"
SFT = ROOT / "src" / "alignkit" / "assets" / "sft.jsonl.gz"
DEFAULT_SEED = 20240801
ITEMS = 48
RATERS = ("demo-ann", "demo-bo", "demo-cy")

WEAK_EN = [
    "Please contact support.",
    "I don't know. Try again later.",
    "That is not something we can help with.",
    "Check the website.",
]
WEAK_ZH = ["请联系客服。", "不清楚，请稍后再试。", "这个我们帮不了您。", "请自己去网站上看看。"]


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def weak_answer(good: str, rng: random.Random) -> str:
    """A worse answer to the same prompt: a canned brush-off, or the good one's first line alone."""
    if rng.random() < 0.5:
        return rng.choice(WEAK_ZH if is_chinese(good) else WEAK_EN)
    return good.split("\n")[0]


def ratings_for(good_index: int, rng: random.Random, good: str) -> list[dict]:
    weak_index = 1 - good_index
    ratings = []
    for rater in RATERS:
        agrees = rng.random() < 0.85  # raters mostly see the same thing
        better = good_index if agrees else weak_index
        if rng.random() < 0.08:
            ratings.append({"rater": rater, "kind": "pair", "candidate": 0, "other": 1, "choice": "tie"})
        else:
            ratings.append({"rater": rater, "kind": "pair", "candidate": 0, "other": 1, "choice": "ab"[better]})
        high, low = rng.choice((4, 5)), rng.choice((1, 2))
        ratings.append({"rater": rater, "kind": "score", "candidate": good_index, "value": high if agrees else low})
        ratings.append({"rater": rater, "kind": "score", "candidate": weak_index, "value": low if agrees else 3})
        ratings.append({"rater": rater, "kind": "vote", "candidate": good_index, "value": 1 if agrees else 0})
        ratings.append({"rater": rater, "kind": "vote", "candidate": weak_index, "value": 0})
    corrector = rng.choice(RATERS)
    ratings.append({"rater": corrector, "kind": "correction", "candidate": weak_index, "correction": good,
                    "comment": "rewritten in the house style"})  # fmt: skip
    return ratings


def generate(seed: int) -> list[dict]:
    rng = random.Random(seed)
    with gzip.open(SFT, "rt", encoding="utf-8") as handle:
        pairs = [row for row in map(json.loads, handle) if "prompt" in row]
    rows = []
    for row in rng.sample(pairs, ITEMS):
        good_index = rng.randrange(2)
        candidates = [None, None]
        candidates[good_index] = row["answer"]
        candidates[1 - good_index] = weak_answer(row["answer"], rng)
        rows.append({"prompt": row["prompt"], "candidates": candidates,
                     "ratings": ratings_for(good_index, rng, row["answer"])})  # fmt: skip
    return rows


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT, DEFAULT_SEED)
    rows = generate(args.seed)
    payload = write_jsonl_gz(rows, args.out)
    ratings = sum(len(r["ratings"]) for r in rows)
    print(f"wrote {len(rows)} prompts, {ratings} ratings, {len(payload):,} bytes uncompressed, to {args.out}")


if __name__ == "__main__":
    main()
