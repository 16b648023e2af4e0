"""Generate the embedded demo prompts for GRPO: customer questions with a step limit a rule can check.

Usage:
    python scripts/make_grpo_data.py [--out PATH] [--seed N]

The output is a gzipped JSONL file of ``{"prompt": ..., "max_steps": N}`` rows. Each prompt is one customer-service
question of the embedded preference data (``scripts/make_preference_data.py``; its answers are not used) followed by
an instruction in the question's language to answer in at most N numbered steps, N drawn from 2, 3 and 4.
`alignkit.rules:step_format` checks the rule: an opening line, steps numbered 1..n with 1 <= n <= N, and a closing
line. The same seed always produces a byte-identical file.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import parse_args, write_jsonl_gz  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1] / "src" / "alignkit" / "assets"
DEFAULT_OUT = ASSETS / "grpo.jsonl.gz"
DEFAULT_SEED = 20240901
EN = [
    "Please answer in at most {n} steps.",
    "Keep it to {n} steps or fewer, please.",
    "No more than {n} steps, please.",
]
ZH = ["请最多分{n}步回答。", "步骤请不要超过{n}步。", "请用不超过{n}个步骤说明。"]
ZH_NUMBERS = {2: "两", 3: "三", 4: "四"}


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT, DEFAULT_SEED)
    rng = random.Random(args.seed)
    with gzip.open(ASSETS / "preference.jsonl.gz", "rt", encoding="utf-8") as handle:
        questions = [json.loads(line)["prompt"] for line in handle]
    rows = []
    for question in questions:
        limit = rng.choice((2, 3, 4))
        if is_chinese(question):
            prompt = question + rng.choice(ZH).format(n=ZH_NUMBERS[limit])
        else:
            prompt = f"{question} {rng.choice(EN).format(n=limit)}"
        rows.append({"prompt": prompt, "max_steps": limit})
    payload = write_jsonl_gz(rows, args.out)
    print(f"wrote {len(rows)} prompts, {len(payload):,} bytes uncompressed, to {args.out}")


if __name__ == "__main__":
    main()
