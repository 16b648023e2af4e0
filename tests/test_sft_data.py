"""SFT data: every format becomes the right conversation, and exactly the answer tokens (plus their
end-of-turn token) learn, checked token by token against a naive segment-by-segment reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alignkit.data.encode import encode_conversation, encode_dataset, fit_to_length
from alignkit.data.formats import conversation_of, detect_chat_format
from alignkit.data.readers import Row, read_rows
from alignkit.errors import UserError
from alignkit.models import load
from alignkit.models.tokenizer import IM_END, IM_START, ensure_chat_template

SYSTEM = {"role": "system", "content": "You are the shop's assistant."}


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


# (row fields, the conversation it must become)
FORMAT_CASES = {
    "prompt_answer": (
        {"prompt": "Where is my order?", "answer": "Sorry for the wait. It ships today."},
        [user("Where is my order?"), assistant("Sorry for the wait. It ships today.")],
    ),
    "prompt_completion": (
        {"prompt": "Reset my password", "completion": "Open the login page and press Forgot password."},
        [user("Reset my password"), assistant("Open the login page and press Forgot password.")],
    ),
    "question_answer": (
        {"question": "我的订单在哪里？", "answer": "很抱歉让您久等了。", "system": SYSTEM["content"]},
        [SYSTEM, user("我的订单在哪里？"), assistant("很抱歉让您久等了。")],
    ),
    "conversational_prompt_completion": (
        {"prompt": [SYSTEM, user("Hi")], "completion": [assistant("Hello! How can I help?")]},
        [SYSTEM, user("Hi"), assistant("Hello! How can I help?")],
    ),
    "messages": (
        {"messages": [SYSTEM, user("My parcel is late."), assistant("Sorry! Let me check."), user("Thanks"),
                      assistant("It arrives tomorrow.")]},
        [SYSTEM, user("My parcel is late."), assistant("Sorry! Let me check."), user("Thanks"),
         assistant("It arrives tomorrow.")],
    ),
    "alpaca": (
        {"instruction": "Summarise the refund policy.", "input": "Refunds take 5 days.", "output": "Five days.",
         "system": SYSTEM["content"], "history": [["Hello", "Hi! How can I help?"]]},
        [SYSTEM, user("Hello"), assistant("Hi! How can I help?"),
         user("Summarise the refund policy.\nRefunds take 5 days."), assistant("Five days.")],
    ),
    "sharegpt": (
        {"conversations": [{"from": "system", "value": SYSTEM["content"]}, {"from": "human", "value": "退货怎么办？"},
                           {"from": "gpt", "value": "请打开订单页面。"}, {"from": "human", "value": "谢谢"},
                           {"from": "gpt", "value": "不客气！"}]},
        [SYSTEM, user("退货怎么办？"), assistant("请打开订单页面。"), user("谢谢"), assistant("不客气！")],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load.load_tokenizer(tiny_model_dir)


def naive_chatml(tokenizer, messages, learn_turns=None):
    """Reference: tokenize each piece of the ChatML rendering on its own; assistant content and its
    <|im_end|> learn (only the turns in learn_turns, if given)."""
    ids, mask = [], []
    assistant_index = -1
    for message in messages:
        is_assistant = message["role"] == "assistant"
        assistant_index += is_assistant
        learns = is_assistant and (learn_turns is None or assistant_index in learn_turns)
        for text, piece_learns in (
            (f"{IM_START}{message['role']}\n", False),
            (message["content"], learns),
            (IM_END, learns),
            ("\n", False),
        ):
            piece = tokenizer(text, add_special_tokens=False)["input_ids"]
            ids += piece
            mask += [piece_learns] * len(piece)
    return np.array(ids), np.array(mask)


@pytest.mark.parametrize("case", sorted(FORMAT_CASES))
def test_every_format_becomes_its_conversation_and_only_answers_learn(case, tokenizer):
    fields, expected = FORMAT_CASES[case]
    messages = conversation_of(Row(fields, "data.jsonl:7"))
    assert messages == expected
    example = encode_conversation(tokenizer, messages)
    ref_ids, ref_mask = naive_chatml(tokenizer, expected)
    np.testing.assert_array_equal(example.input_ids, ref_ids)
    np.testing.assert_array_equal(example.loss_mask, ref_mask)
    # and in words: the learning tokens are each answer followed by its end-of-turn token
    learned = tokenizer.decode(example.input_ids[example.loss_mask])
    assert learned == "".join(m["content"] + IM_END for m in expected if m["role"] == "assistant")


def test_forced_format_and_last_turn_only(tokenizer):
    fields, expected = FORMAT_CASES["messages"]
    messages = conversation_of(Row(fields, "x:1"), "messages")
    example = encode_conversation(tokenizer, messages, train_on="last_turn")
    ref_ids, ref_mask = naive_chatml(tokenizer, expected, learn_turns={1})
    np.testing.assert_array_equal(example.input_ids, ref_ids)
    np.testing.assert_array_equal(example.loss_mask, ref_mask)
    assert tokenizer.decode(example.input_ids[example.loss_mask]) == "It arrives tomorrow." + IM_END


def test_a_models_own_template_is_used(tiny_model_dir, tmp_path):
    """A Llama-3-style template with its own end-of-turn token: answers and <|eot_id|> learn."""
    tokenizer = load.load_tokenizer(tiny_model_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|eot_id|>", "<|header|>"]})
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|header|>{{ m['role'] }}: {{ m['content'] }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|header|>assistant: {% endif %}"
    )
    messages = [user("Hello"), assistant("Hi there"), user("Bye"), assistant("Goodbye")]
    example = encode_conversation(tokenizer, messages)
    assert example.input_ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(example.input_ids[example.loss_mask]) == "Hi there<|eot_id|>Goodbye<|eot_id|>"


def test_a_tokenizer_without_template_gets_ours_with_single_token_markers(tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    tokenizer.chat_template = None
    assert not ensure_chat_template(tokenizer)  # the markers are in our vocabulary already
    assert tokenizer.chat_template and tokenizer.convert_tokens_to_ids(IM_END) != tokenizer.unk_token_id


def test_truncation_drops_old_turns_first_then_cuts_the_end(tokenizer):
    long_turns = [user("word " * 30), assistant("old answer " * 10)] * 3
    messages = [SYSTEM, *long_turns[:-1], assistant("the last answer")]
    full = encode_conversation(tokenizer, messages)
    limit = len(encode_conversation(tokenizer, [SYSTEM, *messages[-2:]])) + 5
    assert len(full) > limit
    example, truncated = fit_to_length(tokenizer, messages, limit, "all_turns")
    assert truncated and len(example) <= limit
    text = tokenizer.decode(example.input_ids)
    assert text.startswith(f"{IM_START}system\n{SYSTEM['content']}") and "the last answer" in text
    # a single exchange longer than the limit is cut at the end and keeps the answer's start
    example, truncated = fit_to_length(tokenizer, [user("hi"), assistant("yes " * 80)], 20, "all_turns")
    assert truncated and len(example) == 20 and example.loss_mask.any()


def test_examples_with_no_answer_token_left_are_dropped_and_counted(tokenizer):
    conversations = [
        ([user("short"), assistant("fine")], "d.jsonl:1"),
        ([user("long prompt " * 50), assistant("never seen")], "d.jsonl:2"),
    ]
    examples, stats = encode_dataset(tokenizer, conversations, max_length=32)
    assert [e.source for e in examples] == ["d.jsonl:1"]
    assert (stats.examples, stats.kept, stats.dropped, stats.truncated) == (2, 1, 1, 1)
    assert stats.dropped_sources == ["d.jsonl:2"]
    assert stats.learning_tokens == int(examples[0].loss_mask.sum()) and stats.tokens == len(examples[0])
    assert "1 dropped" in stats.summary()


def test_batch_encoding_equals_one_by_one(tokenizer):
    conversations = [(FORMAT_CASES[c][1], c) for c in sorted(FORMAT_CASES)]
    examples, _ = encode_dataset(tokenizer, conversations, max_length=512)
    for example, (messages, _) in zip(examples, conversations, strict=True):
        alone = encode_conversation(tokenizer, messages)
        np.testing.assert_array_equal(example.input_ids, alone.input_ids)
        np.testing.assert_array_equal(example.loss_mask, alone.loss_mask)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"text": "just text"}, "fits no chat format"),
        ({"messages": [user("hi")]}, "should end with an assistant turn"),
        ({"messages": [user("hi"), user("again"), assistant("x")]}, "turn 2 of the conversation is 'user'"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "has role 'robot'"),
        ({"conversations": [{"from": "human"}]}, "should be an object with 'from' and 'value'"),
        ({"instruction": "x", "output": 3}, "'output' should be a string"),
        ({"instruction": "x", "output": "y", "history": [["only one"]]}, "list of [user, assistant] pairs"),
    ],
)
def test_bad_rows_name_file_line_and_what_was_expected(fields, message):
    with pytest.raises(UserError, match="data.jsonl:3") as error:
        conversation_of(Row(fields, "data.jsonl:3"))
    assert message in str(error.value)


def test_forcing_a_format_the_row_does_not_fit(tmp_path):
    with pytest.raises(UserError, match="expected 'conversations'"):
        conversation_of(Row({"prompt": "a", "answer": "b"}, "x:1"), "sharegpt")


def test_detection_reads_real_file_shapes(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [FORMAT_CASES[c][0] for c in ("prompt_answer", "messages", "alpaca", "sharegpt")]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    detected = [detect_chat_format(row) for row in read_rows(path)]
    assert detected == ["prompt_answer", "messages", "alpaca", "sharegpt"]
