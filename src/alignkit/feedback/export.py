"""Ratings -> training data, in the row shapes the training stages read as they are.

- pairs: {"prompt", "chosen", "rejected"} for the reward model and DPO. From pairwise choices (ties
  dropped and counted) and from scores: two candidates of one prompt whose mean scores differ give a
  pair (equal means dropped and counted).
- scores: {"prompt", "completion", "score", "ratings"} for a regression reward model: the mean score
  of each rated candidate.
- votes: {"prompt", "completion", "label"} (true = good) for KTO, one row per vote.
- corrections: {"prompt", "answer"} for SFT: the rater's better answer.

Only live ratings count (undone ones do not).
"""

from __future__ import annotations

from collections import defaultdict

from alignkit.feedback.store import Store

EXPORT_KINDS = ("pairs", "scores", "votes", "corrections")


def export_rows(store: Store, kind: str) -> tuple[list[dict], dict[str, int]]:
    """(rows, counts of what was dropped and why)."""
    ratings = store.ratings()
    items: dict[int, dict] = {}

    def item(prompt_id: int) -> dict:
        if prompt_id not in items:
            items[prompt_id] = store.item(prompt_id)
        return items[prompt_id]

    def text_of(prompt_id: int, candidate_id: int) -> str:
        return next(c["text"] for c in item(prompt_id)["candidates"] if c["id"] == candidate_id)

    dropped: dict[str, int] = defaultdict(int)
    rows: list[dict] = []
    if kind == "pairs":
        for r in ratings:
            if r["kind"] != "pair":
                continue
            if r["choice"] == "tie":
                dropped["ties"] += 1
                continue
            chosen, rejected = r["candidate_id"], r["other_candidate_id"]
            if r["choice"] == "b":
                chosen, rejected = rejected, chosen
            rows.append(_pair(item(r["prompt_id"])["prompt"], text_of(r["prompt_id"], chosen),
                              text_of(r["prompt_id"], rejected), "pair"))  # fmt: skip
        for prompt_id, means in _mean_scores(ratings).items():
            ordered = sorted(means.items(), key=lambda kv: -kv[1][0])
            for i in range(len(ordered)):
                for j in range(i + 1, len(ordered)):
                    (high, (high_mean, _)), (low, (low_mean, _)) = ordered[i], ordered[j]
                    if high_mean == low_mean:
                        dropped["equal_scores"] += 1
                        continue
                    prompt = item(prompt_id)["prompt"]
                    rows.append(_pair(prompt, text_of(prompt_id, high), text_of(prompt_id, low), "scores"))
    elif kind == "scores":
        for prompt_id, means in _mean_scores(ratings).items():
            for candidate_id, (mean, count) in means.items():
                rows.append({"prompt": item(prompt_id)["prompt"], "completion": text_of(prompt_id, candidate_id),
                             "score": mean, "ratings": count})  # fmt: skip
    elif kind == "votes":
        for r in ratings:
            if r["kind"] == "vote":
                completion = text_of(r["prompt_id"], r["candidate_id"])
                good = r["value"] == 1
                rows.append({"prompt": item(r["prompt_id"])["prompt"], "completion": completion, "label": good})
    elif kind == "corrections":
        for r in ratings:
            if r["kind"] == "correction":
                rows.append({"prompt": item(r["prompt_id"])["prompt"], "answer": r["correction"]})
    else:
        raise ValueError(f"kind: expected one of {', '.join(EXPORT_KINDS)}; got {kind!r}")
    return rows, dict(dropped)


def _pair(prompt: str, chosen: str, rejected: str, source: str) -> dict:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "source": source}


def _mean_scores(ratings: list[dict]) -> dict[int, dict[int, tuple[float, int]]]:
    """prompt id -> candidate id -> (mean score, number of scores)."""
    scores: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in ratings:
        if r["kind"] == "score":
            scores[r["prompt_id"]][r["candidate_id"]].append(r["value"])
    return {
        prompt_id: {cid: (sum(v) / len(v), len(v)) for cid, v in by_candidate.items()}
        for prompt_id, by_candidate in scores.items()
    }
