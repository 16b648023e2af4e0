"""Generate the embedded demo preference data for the reward model and PPO (English and Chinese).

Usage:
    python scripts/make_preference_data.py [--out PATH] [--seed N]

The output is a gzipped JSONL file of ``{"prompt": ..., "chosen": ..., "rejected": ...}`` rows. The prompt is one
customer-service question, made from the intents and phrasings of the SFT set (``scripts/make_sft_data.py``) with
fresh slot values and a different seed, so the rows are not copies of SFT rows; no prompt appears twice. The chosen
answer is in the SFT house style (acknowledgement, numbered steps, where to get more help, a polite close); about a
quarter of them (more often where the rejected answer is a long one) are cut down to two steps, so a good answer is
not always a long one. The rejected answer is worse in
one of six ways, spread evenly over the rows of each language:

- curt: a one-line brush-off ("Please contact support." / "请联系客服。");
- vague: sympathy and filler, but no steps;
- wrong: a full, polite answer whose steps belong to a different question;
- rude: a blaming tone, sometimes wrapped around the right steps;
- truncated: the chosen answer cut off after its first line, its first step, or partway through a step;
- wrong_language: a good answer to the same question, in the other language.

Long-but-bad (wrong, rude, wrong-language) and short-but-good answers are mixed in so that neither length nor the
mere presence of numbered steps separates chosen from rejected. The same seed always produces a byte-identical file.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import parse_args, write_jsonl_gz  # noqa: E402
from make_sft_data import (  # noqa: E402
    PACKS,
    PromptCycler,
    _fields,
    answer_length,
    make_ctx,
    render_answer,
    render_prompt,
)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "alignkit" / "assets" / "preference.jsonl.gz"
DEFAULT_SEED = 20240705
ROWS_PER_LANG = 300
# Chance that the chosen answer is cut down to two steps: higher where the rejected answer is a long one.
SHORT_CHOSEN = dict(curt=0.1, vague=0.1, wrong=0.4, rude=0.4, truncated=0.1, wrong_language=0.4)
KINDS = ("curt", "vague", "wrong", "rude", "truncated", "wrong_language")
OTHER_LANG = dict(en="zh", zh="en")

# ---------------------------------------------------------------------------
# Pieces of the bad answers
# ---------------------------------------------------------------------------

BAD = dict(
    en=dict(
        curt=[
            "Please contact support.",
            "Contact customer service.",
            "See the Help Centre.",
            "Check the website.",
            "We can't help with that.",
            "Try again later.",
            "Read the FAQ.",
        ],
        vague=[
            "Issues like this can have a number of causes, so it's hard to say exactly what happened.",
            "It usually sorts itself out, so you may want to wait a little and try again.",
            "Our systems are working as expected, so it could be something on your side.",
            "You could have a look around the app or the website; the information should be there somewhere.",
            "We take feedback like this seriously and will keep it in mind for the future.",
            "Things like this happen from time to time, and there are several things that might help.",
            "It depends on a few factors, so the answer can vary from case to case.",
        ],
        vague_close=["Let us know if anything changes.", "Hope that helps.", "Thanks for your message.", ""],
        rude_open=[
            "Honestly, this is explained on our website.",
            "You should have read the instructions before writing in.",
            "This is the third time today someone has asked this.",
            "If you had checked properly, you wouldn't need to ask.",
            "That's not our fault, it's something you did.",
            "I don't see why this is so hard.",
        ],
        rude_lead=["Fine, here's what you should have done:", "Just do this:", "Again, the steps are:"],
        rude_close=[
            "Please don't contact us again about this.",
            "Try to pay attention next time.",
            "We can't hold everyone's hand.",
            "Read the Help Centre before writing in next time.",
            "If it still doesn't work, it's probably something on your end.",
        ],
    ),
    zh=dict(
        curt=[
            "请联系客服。",
            "请看帮助中心。",
            "自己去网站上看。",
            "这个我们处理不了。",
            "请稍后再试。",
            "请查看常见问题。",
        ],
        vague=[
            "这种情况原因很多，具体是什么原因不好说。",
            "一般过一阵子就好了，您可以等等再试试。",
            "我们这边系统一切正常，可能是您那边的问题。",
            "您可以在App或网站上找找看，相关信息应该都有。",
            "您的反馈我们已经收到，会作为参考。",
            "这种情况偶尔会发生，可以试试别的办法。",
            "这个要看具体情况，每个人都不太一样。",
        ],
        vague_close=["有变化再联系我们。", "希望对您有帮助。", "感谢您的留言。", ""],
        rude_open=[
            "这个网站上写得清清楚楚，自己看一下不行吗？",
            "肯定是您自己操作错了。",
            "这种问题今天已经问了好几遍了。",
            "您要是仔细看过说明，就不用来问了。",
            "这不是我们的问题，是您自己的原因。",
            "这么简单的事情也要问？",
        ],
        rude_lead=["行吧，按下面做：", "自己照着做：", "再说一遍，步骤是："],
        rude_close=[
            "以后请先看说明再来问。",
            "别再为这个事找客服了。",
            "下次仔细点。",
            "还不行的话，多半是您自己那边的问题。",
        ],
    ),
)

# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def split_answer(text: str) -> tuple[str, list[str], str]:
    """A house-style answer as (acknowledgement and lead, numbered step lines, help and close)."""
    lines = text.split("\n")
    head, steps, tail = lines[0], lines[1:-1], lines[-1]
    assert steps and all(line.split(". ", 1)[0].isdigit() for line in steps), text
    return head, steps, tail


def short_answer(text: str) -> str:
    """The same answer with only its first two steps."""
    head, steps, tail = split_answer(text)
    return "\n".join([head, *steps[:2], tail])


def curt(rng: random.Random, lang: str, **_) -> str:
    return rng.choice(BAD[lang]["curt"])


def vague(rng: random.Random, lang: str, intent: dict, ctx: dict, **_) -> str:
    bad, sp = BAD[lang], PACKS[lang]["sp"]
    parts = [rng.choice(intent["empathy"]).format_map(ctx)] if rng.random() < 0.5 else []
    parts += rng.sample(bad["vague"], rng.choice([1, 2, 2, 3]))
    parts.append(rng.choice(bad["vague_close"]))
    return sp.join(part for part in parts if part)


def wrong(rng: random.Random, lang: str, intent: dict, ctx: dict, mentioned: set[str], **_) -> str:
    """A polite answer with another topic's steps; half the time it even opens with the right acknowledgement."""
    pack = PACKS[lang]
    other = rng.choice([i for i in pack["intents"] if i["topic"] != intent["topic"] and i["topic"] != "general"])
    if rng.random() < 0.5:
        disguised = dict(other, topic=intent["topic"], empathy=intent["empathy"], help=intent.get("help"))
        try:
            return render_answer(rng, pack, disguised, ctx, mentioned, greet=True)
        except RuntimeError:  # no mix within the length limits; fall back to the other intent as it is
            pass
    return render_answer(rng, pack, other, ctx, mentioned, greet=True)


def rude(rng: random.Random, lang: str, full: str, **_) -> str:
    """Blaming the customer; with all the right steps (long and correct, but still worse) more often than not."""
    bad, sp = BAD[lang], PACKS[lang]["sp"]
    opening = sp.join(rng.sample(bad["rude_open"], rng.choice([1, 1, 2])))
    closing = sp.join(rng.sample(bad["rude_close"], rng.choice([1, 2])))
    if rng.random() < 0.6:
        _, steps, _ = split_answer(full)
        return f"{opening}{sp}{rng.choice(bad['rude_lead'])}\n" + "\n".join(steps) + f"\n{closing}"
    return f"{opening}{sp}{closing}"


def truncated(rng: random.Random, lang: str, chosen: str, **_) -> str:
    """The chosen answer cut off: after its first line, after its first step, or partway through its second step."""
    head, steps, _ = split_answer(chosen)
    cut = rng.choice(["line", "step", "mid"] if len(steps) > 1 else ["line", "step"])
    if cut == "line":
        return head
    if cut == "step":
        return f"{head}\n{steps[0]}"
    number, body = steps[1].split(" ", 1)
    if lang == "en":
        words = body.split()
        body = " ".join(words[: rng.randint(1, max(1, len(words) // 2))])
    else:
        body = body[: rng.randint(2, max(2, len(body) // 2))]
    return f"{head}\n{steps[0]}\n{number} {body}"


def wrong_language(rng: random.Random, lang: str, intent: dict, **_) -> str:
    """A good answer to the same question, in the other language (with that language's shops and slots)."""
    pack = PACKS[OTHER_LANG[lang]]
    same = next(i for i in pack["intents"] if i["key"] == intent["key"])
    return render_answer(rng, pack, same, make_ctx(rng, pack), set(), greet=True)


REJECTERS = dict(curt=curt, vague=vague, wrong=wrong, rude=rude, truncated=truncated, wrong_language=wrong_language)


def lang_rows(rng: random.Random, lang: str, seen: set[str], stats: Counter) -> list[dict]:
    pack, intents = PACKS[lang], PACKS[lang]["intents"]
    cycler = PromptCycler(rng)
    kinds = [KINDS[i % len(KINDS)] for i in range(ROWS_PER_LANG)]
    rng.shuffle(kinds)
    rows = []
    for index, kind in enumerate(kinds):
        intent = intents[index % len(intents)]
        for _ in range(100):
            ctx = make_ctx(rng, pack)
            template = cycler.next(intent)
            prompt = render_prompt(rng, pack, template, ctx)
            if prompt not in seen:
                break
        else:
            raise RuntimeError(f"{lang}/{intent['key']}: too many duplicate prompts; add more templates")
        seen.add(prompt)
        mentioned = _fields(template)
        full = render_answer(rng, pack, intent, ctx, mentioned, greet=True)
        short = rng.random() < SHORT_CHOSEN[kind]
        chosen = short_answer(full) if short else full
        given = dict(lang=lang, intent=intent, ctx=ctx, mentioned=mentioned, chosen=chosen, full=full)
        rejected = REJECTERS[kind](rng, **given)
        assert rejected and rejected != chosen, (kind, prompt)
        rows.append(dict(prompt=prompt, chosen=chosen, rejected=rejected))
        stats[lang] += 1
        stats[kind] += 1
        stats["short_chosen"] += short
        stats["rejected_longer"] += len(rejected) > len(chosen)
        stats["rejected_has_steps"] += "\n1. " in rejected
        stats["chosen_len"] += answer_length(lang, chosen)
        stats["rejected_len"] += answer_length(lang, rejected)
    return rows


def generate(seed: int = DEFAULT_SEED) -> tuple[list[dict], Counter]:
    """Return the shuffled preference rows (half English, half Chinese) and counts describing them."""
    rng = random.Random(seed)
    seen: set[str] = set()
    stats: Counter = Counter()
    rows = lang_rows(rng, "en", seen, stats) + lang_rows(rng, "zh", seen, stats)
    rng.shuffle(rows)
    return rows, stats


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT, DEFAULT_SEED)
    rows, stats = generate(args.seed)
    payload = write_jsonl_gz(rows, args.out)
    total = len(rows)
    kinds = ", ".join(f"{kind} {stats[kind]}" for kind in KINDS)
    print(
        f"wrote {total} rows (en {stats['en']}, zh {stats['zh']}; rejected: {kinds}), "
        f"{len(payload):,} bytes uncompressed, {args.out.stat().st_size:,} bytes compressed -> {args.out}\n"
        f"short chosen {stats['short_chosen'] / total:.0%}, "
        f"rejected longer than chosen {stats['rejected_longer'] / total:.0%}, "
        f"rejected with numbered steps {stats['rejected_has_steps'] / total:.0%}"
    )


if __name__ == "__main__":
    main()
