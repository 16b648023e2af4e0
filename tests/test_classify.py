"""Transfer learning: the body keeps the source checkpoint's weights, the old output layer is gone and
the new head has the task's shape; frozen parameters are bit-identical after training; packed and
padded forward passes agree; final/ opens with AutoModelForSequenceClassification and predicts
what alignkit predicts; labels, metrics, best/ and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from alignkit.config import ClassifyConfig, resolve
from alignkit.data import packing
from alignkit.data.formats import LabelledRow
from alignkit.errors import UserError
from alignkit.models import heads, load
from alignkit.models.heads import Labels
from alignkit.stages import classify
from tests.conftest import run_cli

QUIET = ["--run.progress", "false", "--run.plots", "false"]
MINILM = load.minilm_dir()

# Our own labelled messages: three intents, English and Chinese.
INTENT_ROWS = [
    ("I can't sign in to my account", "account"), ("my password does not work any more", "account"),
    ("请帮我重置密码", "account"), ("账号登录不上去", "account"),
    ("where is my parcel?", "delivery"), ("the courier never came", "delivery"),
    ("我的包裹还没到", "delivery"), ("快递显示已签收但我没收到", "delivery"),
    ("I want my money back", "refund"), ("please refund the broken kettle", "refund"),
    ("我要退款", "refund"), ("退货后什么时候退钱？", "refund"),
]  # fmt: skip


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def intents(tmp_path) -> Path:
    return write_rows(tmp_path / "intents.jsonl", [{"text": t, "label": lab} for t, lab in INTENT_ROWS])


def config_for(tmp_path, model, data, *extra) -> ClassifyConfig:
    args = ["--model", str(model), "--data", str(data), "--output-dir", str(tmp_path / "run"), *QUIET]
    return resolve(ClassifyConfig, [*args, "--batch-size", "4", "--micro-batch-size", "4", *extra])


def body_weights(directory: Path) -> dict[str, torch.Tensor]:
    """The source checkpoint's tensors, keyed without the architecture prefix (bert. / model.)."""
    return {k.split(".", 1)[1] if k.startswith(("bert.", "model.")) else k: v
            for k, v in load_file(str(directory / "model.safetensors")).items()}  # fmt: skip


def strip(name: str) -> str:
    return name.split(".", 1)[1] if name.startswith(("bert.", "model.")) else name


def test_new_head_on_minilm_body_keeps_every_body_weight(tmp_path):
    tokenizer = load.load_tokenizer(MINILM)
    labels = Labels("single", ["account", "delivery", "refund"])
    model, head = heads.build_classifier(MINILM, labels, tokenizer)
    assert head == ["classifier.bias", "classifier.weight"]
    assert model.classifier.weight.shape == (3, 384)
    assert model.config.id2label == {0: "account", 1: "delivery", 2: "refund"}
    source = body_weights(MINILM)
    body = {strip(n): p for n, p in model.named_parameters() if n not in head}
    assert set(body) <= set(source)
    for name, param in body.items():
        assert torch.equal(param, source[name]), name


def test_decoder_body_loses_its_lm_head_and_gets_a_score_head(tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    model, head = heads.build_classifier(tiny_model_dir, Labels("regression", ["score"]), tokenizer)
    assert head == ["score.weight"] and model.score.weight.shape == (1, 192)
    assert not any("lm_head" in n for n, _ in model.named_parameters())
    source = body_weights(tiny_model_dir)
    for name, param in model.named_parameters():
        if name not in head:
            assert torch.equal(param, source[strip(name)]), name


@pytest.mark.parametrize("body", ["minilm", "minilm-mean", "decoder"])
def test_packed_logits_equal_the_models_own_padded_forward(body, tiny_model_dir):
    directory = MINILM if body.startswith("minilm") else tiny_model_dir
    tokenizer = load.load_tokenizer(directory)
    pooling = {"minilm": "cls", "minilm-mean": "mean"}.get(body, "auto")
    model, _ = heads.build_classifier(directory, Labels("single", ["a", "b", "c"]), tokenizer, pooling=pooling)
    model.eval()
    rows = [LabelledRow(text, None, "a", "x") for text, _ in INTENT_ROWS]
    data = classify.encode(tokenizer, rows, None, 64)
    indices = list(range(len(rows)))
    with torch.no_grad():
        padded = heads.pooled_logits(model, classify.collate(data, indices, False, tokenizer.pad_token_id))
        packing.use_packed_attention(model)
        packed = heads.pooled_logits(model, classify.collate(data, indices, True, tokenizer.pad_token_id))
        alone = torch.cat([model(input_ids=torch.from_numpy(ids)[None]).logits for ids in data.input_ids])
    assert heads.packed_family(model) == ("encoder" if body.startswith("minilm") else "decoder")
    torch.testing.assert_close(packed, padded, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-4)


def test_head_only_training_leaves_the_body_bit_identical_and_final_predicts_the_same(tmp_path):
    data = intents(tmp_path)
    config = config_for(
        tmp_path, "minilm", data, "--freeze", "head-only", "--max-steps", "3", "--lr", "1e-2",
        "--data.eval-fraction", "0.25", "--eval-every", "1", "--head.pooling", "cls",
    )  # fmt: skip
    final = classify.run(config)
    trained = AutoModelForSequenceClassification.from_pretrained(final)
    assert trained.config.num_labels == 3 and trained.config.problem_type == "single_label_classification"
    assert trained.config.id2label == {0: "account", 1: "delivery", 2: "refund"}
    source = body_weights(MINILM)
    for name, param in trained.named_parameters():
        if name.startswith("classifier."):
            continue
        assert torch.equal(param, source[strip(name)]), f"{name} moved although frozen"
    # the new head did learn (it starts random, so compare with a fresh one of the same seed)
    fresh, _ = heads.build_classifier(MINILM, Labels("single", ["account", "delivery", "refund"]),
                                      load.load_tokenizer(MINILM), pooling="cls")  # fmt: skip
    assert not torch.equal(trained.classifier.weight, fresh.classifier.weight)

    # predict (alignkit, packed) == plain transformers on each text alone
    out = tmp_path / "pred.jsonl"
    metrics = classify.predict(str(final), str(data), str(out))
    assert set(metrics) >= {"accuracy", "macro_f1"}
    predicted = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(final)
    with torch.no_grad():
        for record in predicted:
            probs = torch.softmax(trained(**tokenizer(record["text"], return_tensors="pt")).logits[0], -1)
            expected = dict(zip(["account", "delivery", "refund"], probs.tolist(), strict=True))
            assert record["probabilities"] == pytest.approx(expected, abs=1e-5)
            assert record["predicted"] == max(expected, key=expected.get)
    assert (tmp_path / "run" / "best" / "config.json").is_file()
    report = json.loads((final / "eval_report.json").read_text())
    assert {"accuracy", "macro_f1", "f1_account", "f1_delivery", "f1_refund"} <= set(report)


def test_top_n_freezing_trains_only_the_top_layers_and_head_has_its_own_lr(tmp_path):
    data = intents(tmp_path)
    config = config_for(
        tmp_path, "minilm", data, "--freeze", "top:1", "--max-steps", "2", "--lr", "1e-3",
        "--head.head-lr", "1e-2", "--data.eval-fraction", "0", "--head.pooling", "cls",
    )  # fmt: skip
    final = classify.run(config)
    trained = dict(AutoModelForSequenceClassification.from_pretrained(final).named_parameters())
    source = body_weights(MINILM)
    moved = {name for name, param in trained.items() if not name.startswith("classifier.")
             and not torch.equal(param, source[strip(name)])}  # fmt: skip
    assert moved and all(n.startswith(("bert.encoder.layer.5.", "bert.pooler.")) for n in moved), sorted(moved)
    assert any(n.startswith("bert.encoder.layer.5.") for n in moved)

    model, head = heads.build_classifier(MINILM, Labels("single", ["a", "b"]), load.load_tokenizer(MINILM))
    block_of = heads.apply_freeze(model, head, "top:1")
    task = classify.ClassifyTask(
        model, None, classify.Encoded([np.array([1, 2])], None, np.zeros(1)),
        classify.Encoded([], None, np.zeros(0)), Labels("single", ["a", "b"]), block_of, config,
    )  # fmt: skip
    optimizer = classify.loop.build_optimizer(model, config.optim, torch.device("cpu"), task.lr_of)
    head_params = {id(p) for n, p in model.named_parameters() if n in head}
    for group in optimizer.param_groups:
        in_head = {id(p) in head_params for p in group["params"]}
        assert len(in_head) == 1 and group["lr"] == (1e-2 if in_head.pop() else 1e-3)


def test_multi_label_and_regression_on_a_decoder_body(tmp_path, tiny_model_dir):
    multi = write_rows(tmp_path / "multi.jsonl", [
        {"text": t, "labels": [lab] + (["urgent"] if i % 3 == 0 else [])} for i, (t, lab) in enumerate(INTENT_ROWS)
    ])  # fmt: skip
    final = classify.run(config_for(tmp_path, tiny_model_dir, multi, "--task", "multi", "--max-steps", "2"))
    model = AutoModelForSequenceClassification.from_pretrained(final)
    assert model.config.problem_type == "multi_label_classification"
    assert sorted(model.config.label2id) == ["account", "delivery", "refund", "urgent"]
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("eval_micro_f1" in line for line in lines)

    scores = write_rows(tmp_path / "scores.csv.jsonl", [{"text": t, "score": float(i % 5 + 1)}
                                                        for i, (t, _) in enumerate(INTENT_ROWS)])  # fmt: skip
    config = config_for(tmp_path / "r", tiny_model_dir, scores, "--task", "regression", "--max-steps", "2",
                        "--head.regression-loss", "huber")  # fmt: skip
    final = classify.run(config)
    model = AutoModelForSequenceClassification.from_pretrained(final)
    assert model.config.num_labels == 1 and model.config.problem_type == "regression"
    out = tmp_path / "values.jsonl"
    metrics = classify.predict(str(final), str(scores), str(out))
    assert set(metrics) == {"mse", "mae", "pearson", "spearman"}
    assert all(isinstance(json.loads(x)["predicted"], float) for x in out.read_text().splitlines())


def test_mean_pooling_ships_its_class_and_final_predicts_the_same_through_plain_transformers(tmp_path):
    data = intents(tmp_path)
    config = config_for(tmp_path, "minilm", data, "--head.pooling", "mean", "--max-steps", "2", "--lr", "1e-3",
                        "--data.eval-fraction", "0")  # fmt: skip
    final = classify.run(config)
    assert (final / "mean_pool.py").is_file()
    model = AutoModelForSequenceClassification.from_pretrained(final, trust_remote_code=True).eval()
    assert type(model).__name__ == "BertMeanPoolForSequenceClassification"
    out = tmp_path / "pred.jsonl"
    classify.predict(str(final), str(data), str(out))
    tokenizer = AutoTokenizer.from_pretrained(final)
    texts = [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()]
    batch = tokenizer(texts, padding=True, return_tensors="pt")  # padded: the mean must skip the padding
    with torch.no_grad():
        expected = torch.softmax(model(**batch).logits, -1)
    for record, probs in zip((json.loads(x) for x in out.read_text().splitlines()), expected, strict=True):
        assert list(record["probabilities"].values()) == pytest.approx(probs.tolist(), abs=1e-5)


def minilm_declaring(directory: Path, modes: dict | None) -> Path:
    """MiniLM's files linked into `directory`, with its own Pooling declaration (modes), or none."""
    directory.mkdir()
    for item in MINILM.iterdir():
        if item.is_file() and item.name != "modules.json":
            (directory / item.name).symlink_to(item)
    if modes is not None:
        shutil.copy(MINILM / "modules.json", directory / "modules.json")
        (directory / "1_Pooling").mkdir()
        (directory / "1_Pooling" / "config.json").write_text(json.dumps(modes))
    return directory


def test_auto_pooling_is_the_one_a_sentence_encoder_declares(tmp_path):
    """all-MiniLM-L6-v2 declares mean pooling (modules.json -> 1_Pooling/config.json); auto reads it.
    Without the declaration, or with [CLS] declared, auto is the class's own ([CLS] through the pooler)."""
    labels, tokenizer = Labels("single", ["a", "b"]), load.load_tokenizer(MINILM)
    assert heads.declared_pooling(MINILM) == "mean"
    model, _ = heads.build_classifier(MINILM, labels, tokenizer)
    assert type(model).__name__ == "BertMeanPoolForSequenceClassification"
    bare = minilm_declaring(tmp_path / "bare", None)
    assert heads.declared_pooling(bare) is None
    assert type(heads.build_classifier(bare, labels, tokenizer)[0]).__name__ == "BertForSequenceClassification"
    modes = json.loads((MINILM / "1_Pooling" / "config.json").read_text())
    modes.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    declares_cls = minilm_declaring(tmp_path / "cls", modes)
    assert heads.declared_pooling(declares_cls) == "cls"
    assert type(heads.build_classifier(declares_cls, labels, tokenizer)[0]).__name__ == "BertForSequenceClassification"
    modes.update(pooling_mode_max_tokens=True)  # two modes at once: none that a head could follow
    assert heads.declared_pooling(minilm_declaring(tmp_path / "two", modes)) is None


def test_pooling_must_fit_the_body(tiny_model_dir):
    tokenizer = load.load_tokenizer(tiny_model_dir)
    for pooling, message in (("mean", "mean is offered for BERT-style encoders"), ("cls", "cls does not fit")):
        with pytest.raises(UserError, match=message):
            heads.build_classifier(tiny_model_dir, Labels("single", ["a", "b"]), tokenizer, pooling=pooling)
    with pytest.raises(UserError, match="last does not fit a bert body"):
        heads.build_classifier(MINILM, Labels("single", ["a", "b"]), load.load_tokenizer(MINILM), pooling="last")


def test_label_discovery_orders_numeric_names_by_value():
    rows = [LabelledRow("x", None, name, "f:1") for name in ("10", "2", "0", "2")]
    assert classify.discover_labels(rows, "single").names == ["0", "2", "10"]
    rows = [LabelledRow("x", None, name, "f:1") for name in ("pos", "neg")]
    assert classify.discover_labels(rows, "single").names == ["neg", "pos"]


@pytest.mark.slow
def test_cli_classify_demo_and_bad_input(tmp_path, tiny_model_dir):
    data = intents(tmp_path)
    held = write_rows(tmp_path / "held.jsonl", [{"text": "hello", "label": "shipping"}])
    bad_score = write_rows(tmp_path / "bad.jsonl", [{"text": "a", "score": "high"}])
    no_text = write_rows(tmp_path / "notext.jsonl", [{"body": "a", "label": "x"}])
    cases = [
        (("--data", data, "--freeze", "top:9"), "head.freeze: expected none, head-only or top:N with 0 <= N <= 6"),
        (("--data", data, "--data.eval-path", held), f"{held}:1: label 'shipping' is not among the training labels"),
        (("--data", bad_score, "--task", "regression"), f"{bad_score}:1: 'score' should be a number"),
        (("--data", no_text), f"{no_text}:1: expected a 'text' (or 'sentence', 'content') field"),
        (("--data", data, "--model", "tiny"), "'tiny' is a size, not a body"),
        (("--data", data, "--head.metric", "bleu"), "head.metric: 'bleu' is not a single metric"),
    ]
    for args, message in cases:
        result = run_cli("classify", *args, "--output-dir", tmp_path / "never", *QUIET)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "never").exists()

    result = run_cli("classify", "--max-steps", "4", "--eval-every", "2", "--output-dir", tmp_path / "demo", *QUIET)
    assert result.returncode == 0, result.stderr
    assert "trainable" in result.stdout and "layer 5" in result.stdout and "head" in result.stdout
    assert "final held-out metrics" in result.stdout
    out = tmp_path / "demo-pred.jsonl"
    result = run_cli("predict", "--model", tmp_path / "demo" / "final", "--data", data, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "label 'account' is not among the training labels" in result.stdout  # demo intents differ: not scored
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(INTENT_ROWS)


def test_layer_decay_gives_each_block_its_lr():
    """lr 1e-3, decay 0.5, three layers: layer 2 (top) 1e-3, layer 1 5e-4, layer 0 2.5e-4, embeddings
    1.25e-4 (= 1e-3 x 0.5^3); what sits above the layers trains at lr, the head at its own 1e-2."""
    block_of = {"emb.w": "embeddings", "l0.w": "layer 0", "l1.w": "layer 1", "l2.w": "layer 2", "pool.w": "top",
                "score.w": "head"}  # fmt: skip
    lrs = heads.layer_lrs(block_of, 1e-3, 0.5, 1e-2)
    expected = {"emb.w": 1.25e-4, "l0.w": 2.5e-4, "l1.w": 5e-4, "l2.w": 1e-3, "pool.w": 1e-3, "score.w": 1e-2}
    assert lrs == pytest.approx(expected)
    assert heads.layer_lrs(block_of, 1e-3, 1.0, None) == pytest.approx(dict.fromkeys(block_of, 1e-3))


def test_layer_decay_reaches_the_optimizer(tmp_path):
    """The classify task's optimizer groups carry the decayed rates: MiniLM's 6 layers, decay 0.8."""
    config = resolve(ClassifyConfig, ["--head.layer-decay", "0.8", "--lr", "1e-4"])
    labels = Labels(task="single", names=["neg", "pos"])
    model, head = heads.build_classifier(MINILM, labels, load.load_tokenizer(MINILM))
    block_of = heads.apply_freeze(model, head, "none")
    task = classify.ClassifyTask(
        model, None, classify.Encoded([np.array([1, 2])], None, np.zeros(1)),
        classify.Encoded([], None, np.zeros(0)), labels, block_of, config,
    )  # fmt: skip
    optimizer = classify.loop.build_optimizer(model, config.optim, torch.device("cpu"), task.lr_of)
    rates = sorted({round(group["lr"], 12) for group in optimizer.param_groups})
    assert rates == sorted({round(1e-4 * 0.8**k, 12) for k in range(7)})
