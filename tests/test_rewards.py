"""Reward functions for GRPO (alignkit.rewards): the demo's step-format rule on hand-written English
and Chinese answers; `load_function` for `demo`, `module:function` and `path/file.py:function`, its
errors naming the config key; `FunctionReward` handing row fields to the function only by declared
name or **kwargs, prompts as the rows hold them, and turning a bad return value or an exception
into one UserError that names the function."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alignkit import rewards
from alignkit.errors import UserError
from alignkit.stages import grpo

# ---------------------------------------------------------------------------------------------
# step_format: an opening line, steps 1..n (1 <= n <= max_steps, 3 by default), a closing line

OPENING, CLOSING = "Here's how:", "Thanks for your patience!"


def answer(*steps: str, opening: str | None = OPENING, closing: str | None = CLOSING) -> str:
    """An answer in the house format: the opening line, `N. step` lines numbered from 1, the closing line."""
    lines = [opening] if opening is not None else []
    lines += [f"{number}. {text}" for number, text in enumerate(steps, start=1)]
    lines += [closing] if closing is not None else []
    return "\n".join(lines)


ZH_STEPS = [
    "打开“我的订单”。",
    "选择对应订单，点击“申请售后”。",
    "选择“错发/漏发”，再选择补发或退款。",
    "寄回错发的商品。",
]
ZH_OPENING, ZH_CLOSING = "您好！很抱歉发错了商品。具体步骤如下：", "有任何问题随时找我们哦。"
STEPS = ["Open the orders page.", "Choose the item and press help.", "Pick a refund.", "Post the parcel back."]

GOOD_ANSWERS = {  # (answer, the row's max_steps)
    "one step": (answer(STEPS[0]), 3),
    "two steps": (answer(*STEPS[:2]), 2),
    "three of at most three": (answer(*STEPS[:3]), 3),
    "four of at most four": (answer(*STEPS), 4),
    "indented lines, blank lines around": ("\n  Here's how:\n  1. Open it.\n  2. Press help.\n\nBye!\n", 3),
    "no space after the dot": ("Sure:\n1.Open it.\n2.Press help.\nBye!", 3),
    "a closing paragraph": (answer(*STEPS[:2], closing="If that fails, write to us.\nWe answer within a day."), 3),
    "chinese": ("\n".join([ZH_OPENING, *(f"{i}. {s}" for i, s in enumerate(ZH_STEPS, 1)), ZH_CLOSING]), 4),
    "chinese one step": (f"{ZH_OPENING}\n1. 打开“我的订单”。\n{ZH_CLOSING}", 2),
}

BAD_ANSWERS = {
    "no steps": ("We are sorry. Please open the orders page and press help.\nThanks!", 3),
    "empty": ("", 3),
    "steps start at 2": ("Here's how:\n2. Open it.\n3. Press help.\nBye!", 3),
    "steps start at 0": ("Here's how:\n0. Open it.\n1. Press help.\nBye!", 3),
    "a skipped number": ("Here's how:\n1. Open it.\n3. Press help.\nBye!", 3),
    "a repeated number": ("Here's how:\n1. Open it.\n1. Press help.\nBye!", 3),
    "out of order": ("Here's how:\n2. Open it.\n1. Press help.\nBye!", 3),
    "more steps than max_steps": (answer(*STEPS[:3]), 2),
    "four steps, at most three": (answer(*STEPS), 3),
    "no opening line": (answer(*STEPS[:2], opening=None), 3),
    "no closing line (cut off after the last step)": (answer(*STEPS[:2], closing=None), 3),
    "cut off inside the last step": ("Here's how:\n1. Open it.\n2. Press", 3),
    "split by a non-numbered line": ("Here's how:\n1. Open it.\nThen:\n2. Press help.\nBye!", 3),
    "only the opening and closing lines": (answer(), 3),
    "chinese, five steps of at most four": (
        "\n".join([ZH_OPENING, *(f"{i}. {s}" for i, s in enumerate([*ZH_STEPS, "等待退款。"], 1)), ZH_CLOSING]),
        4,
    ),
    "chinese, no closing line": ("\n".join([ZH_OPENING, *(f"{i}. {s}" for i, s in enumerate(ZH_STEPS, 1))]), 4),
    "chinese, no opening line": ("\n".join([*(f"{i}. {s}" for i, s in enumerate(ZH_STEPS[:2], 1)), ZH_CLOSING]), 4),
}


@pytest.mark.parametrize("text, limit", list(GOOD_ANSWERS.values()), ids=list(GOOD_ANSWERS))
def test_step_format_passes_the_house_format(text, limit):
    assert rewards.step_format(["q"], [text], [limit]) == [1.0]


@pytest.mark.parametrize("text, limit", list(BAD_ANSWERS.values()), ids=list(BAD_ANSWERS))
def test_step_format_fails_everything_else(text, limit):
    assert rewards.step_format(["q"], [text], [limit]) == [0.0]


def test_step_format_scores_a_batch_row_by_row_with_each_rows_limit():
    texts = [answer(*STEPS), answer(*STEPS), answer(STEPS[0], closing=None), answer(*STEPS[:2])]
    assert rewards.step_format(["a", "b", "c", "d"], texts, [4, 3, 4, 2]) == [1.0, 0.0, 0.0, 1.0]


def test_step_format_without_max_steps_allows_three():
    texts = [answer(*STEPS[:3]), answer(*STEPS)]
    assert rewards.step_format(["a", "b"], texts) == [1.0, 0.0]  # no max_steps field at all
    assert rewards.step_format(["a", "b"], texts, [None, None]) == [1.0, 0.0]  # rows lacking it
    assert rewards.step_format(["a", "b"], texts, [None, 4]) == [1.0, 1.0]


def test_the_demo_reward_reads_each_demo_rows_max_steps():
    """`--grpo.reward demo` on the embedded prompts: every row asks for at most 2, 3 or 4 steps; a
    two-step answer passes everywhere, a four-step one exactly where the row allows four."""
    records = grpo.read_prompt_records("demo")
    limits = [r["max_steps"] for r in records]
    assert set(limits) == {2, 3, 4} and all(isinstance(r["prompt"], str) for r in records)
    score, described = grpo.reward_of("demo", torch.device("cpu"), 64)
    assert described == "reward function alignkit.rules:step_format"
    assert score(records, [answer(*STEPS[:2])] * len(records)).tolist() == [1.0] * len(records)
    four = score(records, [answer(*STEPS)] * len(records)).tolist()
    assert four == [float(limit == 4) for limit in limits]


def test_step_format_reads_max_steps_from_a_csv_prompts_file(tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text("prompt,max_steps\nWhere is my parcel?,2\nRefund?,4\n", encoding="utf-8")
    records = grpo.read_prompt_records(str(path))
    score = rewards.FunctionReward(rewards.step_format, "alignkit.rules:step_format")
    assert score(records, [answer(*STEPS)] * 2).tolist() == [0.0, 1.0]


# ---------------------------------------------------------------------------------------------
# load_function

KEY = "grpo.reward"
MODULE_TEXT = (
    "SCALE = 2.0\n\n\ndef length(prompts, completions, **_):\n    return [SCALE * len(c) for c in completions]\n"
)


@pytest.fixture
def isolated_imports(monkeypatch):
    """sys.path as it was before the test (load_function may add the working directory to it), and
    the tests' own modules (named shop_*) out of sys.modules again."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in [n for n in sys.modules if n.startswith("shop_")]:
        del sys.modules[name]


def test_demo_is_step_format():
    assert rewards.load_function("demo", KEY) is rewards.step_format


def test_module_colon_function_from_the_working_directory(tmp_path, monkeypatch, isolated_imports):
    (tmp_path / "shop_rewards_cwd.py").write_text(MODULE_TEXT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    function = rewards.load_function("shop_rewards_cwd:length", KEY)
    assert function(prompts=["p"], completions=["abc", ""]) == [6.0, 0.0]
    assert function.__module__ == "shop_rewards_cwd"


def test_module_colon_function_of_a_package(tmp_path, monkeypatch, isolated_imports):
    package = tmp_path / "shop_pkg_rewards"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "rules.py").write_text(MODULE_TEXT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    function = rewards.load_function("shop_pkg_rewards.rules:length", KEY)
    assert function(prompts=["p"], completions=["ab"]) == [4.0]


def test_file_path_colon_function(tmp_path, monkeypatch):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "my_reward.py").write_text(MODULE_TEXT, encoding="utf-8")
    function = rewards.load_function(f"{folder / 'my_reward.py'}:length", KEY)  # absolute
    assert function(prompts=["p"], completions=["abcd"]) == [8.0]
    monkeypatch.chdir(tmp_path)
    function = rewards.load_function("rules/my_reward.py:length", KEY)  # relative to the working directory
    assert function(prompts=["p"], completions=["a"]) == [2.0]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no_colon_here", "grpo.reward: expected module:function or path/file.py:function, got 'no_colon_here'"),
        (":length", "grpo.reward: expected module:function"),
        ("shop_rewards_err:", "grpo.reward: expected module:function"),
        ("missing/x.py:f", "grpo.reward: missing/x.py: no such file"),
        ("no_such_module_anywhere:f", "grpo.reward: cannot import no_such_module_anywhere (ModuleNotFoundError"),
        ("raising.py:f", "grpo.reward: cannot import raising.py (RuntimeError: the shop is closed)"),
        ("shop_raising_err:f", "grpo.reward: cannot import shop_raising_err (RuntimeError: the shop is closed)"),
        ("broken.py:f", "grpo.reward: cannot import broken.py (SyntaxError"),
        ("shop_rewards_err:nothing", "grpo.reward: shop_rewards_err has no function 'nothing'"),
        ("shop_rewards_err:SCALE", "grpo.reward: shop_rewards_err has no function 'SCALE'"),  # not callable
        ("good.py:nothing", "grpo.reward: good.py has no function 'nothing'"),
    ],
)
def test_load_function_errors_name_the_key(tmp_path, monkeypatch, isolated_imports, spec, message):
    raising = "raise RuntimeError('the shop is closed')\n\n\ndef f(prompts, completions):\n    return []\n"
    for name, text in [("raising.py", raising), ("shop_raising_err.py", raising), ("broken.py", "def f(:\n"),
                       ("shop_rewards_err.py", MODULE_TEXT), ("good.py", MODULE_TEXT)]:  # fmt: skip
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as caught:
        rewards.load_function(spec, KEY)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_reward_file_with_a_dataclass_loads(tmp_path):
    (tmp_path / "rules_dc.py").write_text(
        "from __future__ import annotations\n\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass Rule:\n"
        "    limit: int\n\n\ndef short(prompts, completions, **_):\n"
        "    return [float(len(c) < Rule(5).limit) for c in completions]\n",
        encoding="utf-8",
    )
    function = rewards.load_function(f"{tmp_path / 'rules_dc.py'}:short", KEY)
    assert function(prompts=["p", "p"], completions=["abc", "abcdefg"]) == [1.0, 0.0]


# ---------------------------------------------------------------------------------------------
# FunctionReward

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "我要退款"}]
RECORDS = [
    {"prompt": "Where is my parcel?", "answer": "on its way", "max_steps": 2, "lang": "en"},
    {"messages": MESSAGES, "answer": "退款", "lang": "zh"},  # no max_steps
    {"prompt": "Refund?", "max_steps": 4},  # no answer, no lang
]
ANSWERS = ["It is coming.", "好的。", "Yes."]


def recorder(calls: list):
    """Functions of several signatures that note what they were called with."""

    def declared(prompts, completions, answer, max_steps=None):
        calls.append({"prompts": prompts, "completions": completions, "answer": answer, "max_steps": max_steps})
        return [1.0] * len(completions)

    def keyword_only(*, prompts, completions, lang):
        calls.append({"prompts": prompts, "completions": completions, "lang": lang})
        return [2] * len(completions)  # ints become floats

    def everything(prompts, completions, **fields):
        calls.append({"prompts": prompts, "completions": completions, **fields})
        return np.arange(len(completions), dtype=np.float64)  # any sequence of numbers

    def nothing(prompts, completions):
        calls.append({"prompts": prompts, "completions": completions})
        return torch.tensor([0.5] * len(completions))

    return declared, keyword_only, everything, nothing


def test_row_fields_reach_the_function_by_declared_name_or_kwargs():
    calls: list[dict] = []
    declared, keyword_only, everything, nothing = recorder(calls)
    prompts = ["Where is my parcel?", MESSAGES, "Refund?"]  # as the rows hold them: text or messages

    assert rewards.FunctionReward(declared, "f:declared")(RECORDS, ANSWERS).tolist() == [1.0] * 3
    assert calls[-1] == {"prompts": prompts, "completions": ANSWERS, "answer": ["on its way", "退款", None],
                         "max_steps": [2, None, 4]}  # fmt: skip

    scores = rewards.FunctionReward(keyword_only, "f:keyword_only")(RECORDS, ANSWERS)
    assert scores.dtype == torch.float32 and scores.tolist() == [2.0] * 3
    assert calls[-1] == {"prompts": prompts, "completions": ANSWERS, "lang": ["en", "zh", None]}

    assert rewards.FunctionReward(everything, "f:everything")(RECORDS, ANSWERS).tolist() == [0.0, 1.0, 2.0]
    assert calls[-1] == {"prompts": prompts, "completions": ANSWERS, "answer": ["on its way", "退款", None],
                         "max_steps": [2, None, 4], "lang": ["en", "zh", None]}  # fmt: skip
    assert "prompt" not in calls[-1] and "messages" not in calls[-1]  # the prompt comes as `prompts` only

    assert rewards.FunctionReward(nothing, "f:nothing")(RECORDS, ANSWERS).tolist() == [0.5] * 3
    assert calls[-1] == {"prompts": prompts, "completions": ANSWERS}
    assert calls[-1]["prompts"][1] is MESSAGES  # the row's own messages, not a rendering of them


def test_a_field_no_row_has_is_not_passed():
    """A declared field that no row has is left to the function's default."""
    calls: list[dict] = []
    declared = recorder(calls)[0]
    records = [{"prompt": "a", "answer": "x"}, {"prompt": "b", "answer": "y"}]
    rewards.FunctionReward(declared, "f:declared")(records, ["1", "2"])
    assert calls[-1]["max_steps"] is None and calls[-1]["answer"] == ["x", "y"]


def failing(prompts, completions, **_):
    raise KeyError("answer")


BAD_RETURNS = {
    "too few values": (lambda prompts, completions: [1.0], "returned 1 values for 3 answers"),
    "too many values": (lambda prompts, completions: [1.0] * 4, "returned 4 values for 3 answers"),
    "a word": (lambda prompts, completions: [1.0, "good", 0.0], "should return a list of numbers"),
    "None in the list": (lambda prompts, completions: [1.0, None, 0.0], "should return a list of numbers"),
    "not a list": (lambda prompts, completions: None, "should return a list of numbers"),
    "one number": (lambda prompts, completions: 1.0, "should return a list of numbers"),
    "nan": (lambda prompts, completions: [1.0, math.nan, 0.0], "returned a value that is not finite"),
    "inf": (lambda prompts, completions: [1.0, 0.0, -math.inf], "returned a value that is not finite"),
    "an exception": (failing, "failed: KeyError: 'answer'"),
}


@pytest.mark.parametrize("function, message", list(BAD_RETURNS.values()), ids=list(BAD_RETURNS))
def test_bad_results_are_one_user_error_naming_the_function(function, message):
    with pytest.raises(UserError, match=re.escape(f"reward function my_rules.py:score {message}")):
        rewards.FunctionReward(function, "my_rules.py:score")(RECORDS, ANSWERS)


def test_a_function_missing_a_required_field_is_a_user_error():
    def needs_reference(prompts, completions, reference):
        return [0.0] * len(completions)

    with pytest.raises(UserError, match=r"reward function r:needs_reference failed: TypeError: .*'reference'"):
        rewards.FunctionReward(needs_reference, "r:needs_reference")(RECORDS, ANSWERS)


def test_reward_of_a_file_path_gives_a_function_reward(tmp_path):
    path = Path(tmp_path / "lengths.py")
    path.write_text(MODULE_TEXT, encoding="utf-8")
    score, described = grpo.reward_of(f"{path}:length", torch.device("cpu"), 64)
    assert isinstance(score, rewards.FunctionReward) and described == f"reward function {path}:length"
    assert score(RECORDS, ANSWERS).tolist() == [2.0 * len(a) for a in ANSWERS]


def test_step_format_reads_conversational_completions_and_loads_by_path_alone(tmp_path):
    """TRL passes a conversational completion as a list of assistant messages; rules.py imports only
    the standard library, so a trainer without alignkit loads it by its path."""
    text = "Sure.\n1. Open the app.\n2. Tap Help.\nThanks!"
    assert rewards.step_format(["q"], [[{"role": "assistant", "content": text}]], [2]) == [1.0]
    source = Path(rewards.__file__).with_name("rules.py").read_text(encoding="utf-8")
    assert not [line for line in source.splitlines() if line.startswith(("import ", "from ")) and "alignkit" in line]
    function = rewards.load_function(f"{Path(rewards.__file__).with_name('rules.py')}:step_format", KEY)
    assert function(["q"], [text], [1]) == [0.0] and function(["q"], [text], [2]) == [1.0]
