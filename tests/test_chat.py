"""The chat engine, driven through StringIO on a tiny untrained model (what it says does not matter,
only that it is streamed, multi-turn, and the same as a direct greedy `generate`)."""

from __future__ import annotations

import io
import json

import pytest
import torch
from transformers import LlamaForCausalLM

from alignkit.chat import chat
from alignkit.errors import UserError
from alignkit.models import load
from alignkit.models.tokenizer import end_of_turn_ids, train_tokenizer
from tests.conftest import make_documents


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("chat") / "model"
    tokenizer = train_tokenizer(make_documents(200), 512)
    torch.manual_seed(0)
    model = load.build_causal_lm("tiny", tokenizer, max_length=64)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


@pytest.fixture
def prompts(monkeypatch):
    """Every prompt and answer the model sees, as token ids, recorded around the real `generate`."""
    calls: list[tuple[list[int], list[int]]] = []
    original = LlamaForCausalLM.generate

    def spy(self, *args, **kwargs):
        output = original(self, *args, **kwargs)
        prompt = kwargs["input_ids"][0].tolist()
        calls.append((prompt, output[0, len(prompt) :].tolist()))
        return output

    monkeypatch.setattr(LlamaForCausalLM, "generate", spy)
    return calls


def run(model_dir, text: str, **kwargs) -> str:
    out = io.StringIO()
    chat(str(model_dir), **{"max_new_tokens": 8, "input_stream": io.StringIO(text), "output_stream": out, **kwargs})
    return out.getvalue()


def test_answers_stream_turns_accumulate_and_reset_clears(model_dir, prompts):
    output = run(model_dir, "hello\n\n/reset\nhi again\nand more\n/bogus\n/exit\nnever read\n", system="Be brief.")
    tokenizer = load.load_tokenizer(model_dir)
    texts = [tokenizer.decode(prompt) for prompt, _ in prompts]
    replies = [tokenizer.decode(answer, skip_special_tokens=True) for _, answer in prompts]

    assert output.startswith(f"chatting with {model_dir}") and "/reset clears the conversation" in output
    assert len(prompts) == 3  # the empty line, /reset, /bogus and /exit reach no model; nothing after /exit
    assert (
        output.count("assistant> ") == 3 and "(conversation cleared)" in output and "unknown command /bogus" in output
    )
    # streamed: each answer is written between "assistant> " and the next prompt
    answers = [chunk.split("\nyou> ")[0] for chunk in output.split("assistant> ")[1:]]
    assert [a.strip() for a in answers] == [r.strip() for r in replies]
    assert all(r.strip() for r in replies)
    # the system turn is always there; /reset forgets "hello"; the third turn carries the second
    assert all(t.startswith("<|im_start|>system\nBe brief.<|im_end|>\n") for t in texts)
    assert (
        texts[1]
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi again<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "hello" not in texts[1] and "hello" not in texts[2]
    assert f"<|im_start|>user\nhi again<|im_end|>\n<|im_start|>assistant\n{replies[1]}<|im_end|>\n" in texts[2]
    assert texts[2].endswith("<|im_start|>user\nand more<|im_end|>\n<|im_start|>assistant\n")


def test_greedy_answer_is_the_direct_generate_answer(model_dir):
    output = run(model_dir, "my refund is missing\n", max_new_tokens=12)
    tokenizer = load.load_tokenizer(model_dir)
    model = load.load_causal_lm(model_dir).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "my refund is missing"}], add_generation_prompt=True, tokenize=False
    )
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    direct = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=12,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=end_of_turn_ids(tokenizer),
    )
    expected = tokenizer.decode(direct[0, ids.shape[1] :], skip_special_tokens=True)
    assert expected.strip()
    assert output.split("assistant> ")[1].rstrip("\n").removesuffix("\nyou> ").strip() == expected.strip()
    assert output.endswith("you> \n")  # EOF ends the chat cleanly


def test_sampling_is_reproducible_with_a_seed(model_dir):
    first = run(model_dir, "hello\nhello\n", temperature=1.0, top_k=50, seed=3)
    assert first == run(model_dir, "hello\nhello\n", temperature=1.0, top_k=50, seed=3)
    assert first != run(model_dir, "hello\nhello\n", temperature=1.0, top_k=50, seed=4)


def test_old_turns_are_dropped_to_fit_the_context(tmp_path, model_dir, prompts):
    small = tmp_path / "small"
    small.mkdir()
    for f in model_dir.iterdir():
        (small / f.name).write_bytes(f.read_bytes())
    config = json.loads((small / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 64}))

    turns = "".join(f"turn {i}: my parcel arrived late\n" for i in range(5)) + ("long " * 80) + "\n"
    output = run(small, turns, system="Be brief.", max_new_tokens=16)
    tokenizer = load.load_tokenizer(small)
    texts = [tokenizer.decode(prompt) for prompt, _ in prompts]
    assert len(prompts) == 5 and all(len(prompt) <= 64 - 16 for prompt, _ in prompts)
    assert output.count("(older turns dropped") == 1
    assert all(t.startswith("<|im_start|>system\nBe brief.") for t in texts)
    assert "turn 0" not in texts[-1] and "turn 4" in texts[-1]
    assert "too long for the model's 64-token context" in output


def test_missing_model_or_template_is_a_user_error(tmp_path, model_dir):
    with pytest.raises(UserError, match="no such model directory"):
        run(tmp_path / "nowhere", "")
    bare = tmp_path / "base"
    bare.mkdir()
    for f in model_dir.iterdir():
        if f.name != "chat_template.jinja":
            (bare / f.name).write_bytes(f.read_bytes())
    settings = json.loads((bare / "tokenizer_config.json").read_text())
    settings.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(UserError, match="has no chat template; chat needs an assistant model"):
        run(bare, "hello\n")
    with pytest.raises(UserError, match="max_new_tokens"):
        run(model_dir, "", max_new_tokens=0)
