"""SFT end to end: LoRA touches only adapters and merges exactly; a tiny pretrained model learns a
dozen Alpaca pairs and answers them word for word through plain transformers, stopping by itself;
the CLI's inspect-data, generate --prompts and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignkit.config import SFTConfig, resolve
from alignkit.models.tokenizer import end_of_turn_ids
from alignkit.stages import sft
from tests.conftest import TINY_ARGS, run_cli

QUIET = ["--run.progress", "false", "--run.plots", "false"]

# A dozen Alpaca-format pairs of our own (instruction, input, output).
ALPACA_ROWS = [
    ("How do I reset my password?", "", "Open the sign-in page and press Forgot password."),
    ("Where is my parcel?", "Order 4411", "Order 4411 left our warehouse today."),
    ("Can I change my delivery address?", "", "Yes, until the order ships: open My orders."),
    ("Translate to English.", "谢谢", "Thank you."),
    ("Say hello.", "", "Hello! How can I help you today?"),
    ("我的退款什么时候到账？", "", "退款会在三到五个工作日内到账。"),
    ("List two payment methods.", "", "Card and bank transfer."),
    ("What are your opening hours?", "", "We are open from 9 am to 6 pm."),
    ("Summarise.", "The parcel was late because of snow.", "Snow delayed the parcel."),
    ("Is the kettle in stock?", "Electric kettle", "Yes, the electric kettle is in stock."),
    ("我不能登录我的账号，我该怎么办？", "", "请点击“忘记密码”重新设置。"),
    ("How do I return an item?", "", "Start a return from My orders within 30 days."),
]


def write_alpaca(path: Path) -> Path:
    rows = [{"instruction": i, "input": x, "output": o} for i, x, o in ALPACA_ROWS]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def prompt_of(instruction: str, extra: str) -> str:
    return f"{instruction}\n{extra}" if extra else instruction


def sft_config(tmp_path, model_dir, data, *extra):
    args = ["--model", str(model_dir), "--data", str(data), "--output-dir", str(tmp_path / "run"), *QUIET, *extra]
    return resolve(SFTConfig, args)


def test_lora_trains_only_adapters_and_the_merged_model_equals_base_plus_adapter(tmp_path, tiny_model_dir):
    from peft import PeftModel

    data = write_alpaca(tmp_path / "alpaca.json")
    config = sft_config(
        tmp_path, tiny_model_dir, data, "--lora.r", "4", "--lora.alpha", "8", "--max-steps", "4",
        "--batch-size", "4", "--micro-batch-size", "2", "--lr", "1e-2", "--data.eval-fraction", "0",
    )  # fmt: skip
    final = sft.run(config)

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    original = base.state_dict()
    trained = load_file(str(tmp_path / "run" / "checkpoints" / "step-4" / "model.safetensors"))
    adapters = [k for k in trained if "lora_" in k]
    assert adapters and all(".mlp." in k or ".self_attn." in k for k in adapters)  # every body linear, not lm_head
    assert {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in adapters} == {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
    }  # fmt: skip
    for key, value in trained.items():
        if "lora_" in key:
            continue
        name = key.removeprefix("base_model.model.").replace(".base_layer", "")
        torch.testing.assert_close(value, original[name], rtol=0, atol=0, msg=f"{name} changed")
    assert any(trained[k].abs().sum() > 0 for k in adapters if "lora_B" in k)  # B starts at zero: it learned

    assert (final / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(final)
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), final / "adapter")
    ids = torch.randint(5, 500, (2, 24))
    with torch.no_grad():
        expected = with_adapter(input_ids=ids).logits
        got = merged(input_ids=ids).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(got, base(input_ids=ids).logits, atol=1e-3)
    assert json.loads((final / "config.json").read_text()).get("_attn_implementation") in (None, "sdpa")


@pytest.mark.slow
def test_a_tiny_pretrained_model_learns_a_dozen_pairs_and_stops_by_itself(tmp_path, corpus):
    base = tmp_path / "pretrain"
    result = run_cli("pretrain", "--data", corpus, "--output-dir", base, "--max-steps", "30", *TINY_ARGS)
    assert result.returncode == 0, result.stderr
    data = write_alpaca(tmp_path / "alpaca.json")
    result = run_cli(
        "sft", "--model", base / "final", "--data", data, "--output-dir", tmp_path / "sft", "--batch-size", "12",
        "--micro-batch-size", "12", "--max-steps", "120", "--lr", "3e-3", "--optim.schedule", "constant",
        "--data.eval-fraction", "0", "--save-every", "0", *QUIET,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "12 examples -> 12 kept" in result.stdout

    # Plain transformers, the chat template from the saved tokenizer, greedy decoding.
    final = tmp_path / "sft" / "final"
    tokenizer = AutoTokenizer.from_pretrained(final)
    model = AutoModelForCausalLM.from_pretrained(final).eval()
    stops = end_of_turn_ids(tokenizer)
    for instruction, extra, output in ALPACA_ROWS:
        messages = [{"role": "user", "content": prompt_of(instruction, extra)}]
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        generated = model.generate(**inputs, max_new_tokens=60, do_sample=False)[0, inputs["input_ids"].shape[1] :]
        assert generated[-1].item() in stops, f"did not stop: {tokenizer.decode(generated)!r}"
        assert tokenizer.decode(generated, skip_special_tokens=True) == output


@pytest.mark.slow
def test_cli_inspect_data_generate_file_and_bad_input(tmp_path, tiny_model_dir):
    data = write_alpaca(tmp_path / "alpaca.json")
    result = run_cli("inspect-data", "--model", tiny_model_dir, "--data", data, "--show", "1", "--max-length", "24")
    assert result.returncode == 0, result.stderr
    assert "examples 12" in result.stdout and "learning" in result.stdout and "truncated" in result.stdout

    prompts = tmp_path / "prompts.jsonl"
    rows = [{"prompt": "Where is my parcel?", "id": 1}, {"messages": [{"role": "user", "content": "你好"}], "id": 2}]
    prompts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "answers" / "out.jsonl"
    result = run_cli(
        "generate", "--model", tiny_model_dir, "--prompts", prompts, "--out", out, "--chat", "--max-new-tokens", "5"
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [a["id"] for a in answers] == [1, 2] and all(isinstance(a["answer"], str) for a in answers)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "answer": "b"}\n{"text": "no chat here"}\n', encoding="utf-8")
    cases = [
        (("sft", "--model", tiny_model_dir, "--data", bad), f"{bad}:2: fits no chat format"),
        (("sft", "--model", "tiny", "--data", data), "'tiny' is a size, not a checkpoint"),
        (("sft", "--model", tmp_path / "nope", "--data", data), "no such model directory"),
        (("sft", "--model", tiny_model_dir, "--data", data, "--data.format", "chatml"), "data.format"),
        (("sft", "--model", tiny_model_dir, "--data", data, "--lora.r", "-1"), "lora.r"),
        (("generate", "--model", tiny_model_dir, "--prompts", bad), f"{bad}:2: expected a 'prompt' string"),
    ]
    for args, message in cases:
        result = run_cli(*args, "--output-dir", tmp_path / "never") if args[0] == "sft" else run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("lora", [[], ["--lora.r", "4"]], ids=["full", "lora"])
def test_resume_reproduces_the_run_exactly(tmp_path, tiny_model_dir, lora):
    """Train 6 steps with a checkpoint at 3; throw away everything after step 3 and resume: the
    per-step losses and the final weights equal the uninterrupted run's to the bit."""
    import shutil

    data = write_alpaca(tmp_path / "alpaca.json")
    args = [
        "--max-steps", "6", "--batch-size", "4", "--micro-batch-size", "2", "--save-every", "3", "--log-every", "1",
        "--lr", "5e-3", "--data.eval-fraction", "0.2", "--eval-every", "2", "--optim.warmup-steps", "2", *lora,
    ]  # fmt: skip
    sft.run(sft_config(tmp_path, tiny_model_dir, data, *args))
    run_dir = tmp_path / "run"

    def losses():
        lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return [(x["step"], x.get("loss"), x.get("eval_loss")) for x in lines]

    before, weights = losses(), load_file(str(run_dir / "checkpoints" / "step-6" / "model.safetensors"))
    shutil.rmtree(run_dir / "checkpoints" / "step-6")
    shutil.rmtree(run_dir / "final")
    sft.run(sft_config(tmp_path, tiny_model_dir, data, *args, "--resume"))
    assert losses() == before
    resumed = load_file(str(run_dir / "checkpoints" / "step-6" / "model.safetensors"))
    assert resumed.keys() == weights.keys()
    assert all(torch.equal(resumed[k], weights[k]) for k in weights)
