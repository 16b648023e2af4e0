"""Packing: hand-checked batch fields; an example's logits are the same packed among others as
alone; packed, padded and a naive reference give the same loss; accumulation 4 x 2 == batch 8."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alignkit.config import SFTConfig, validate
from alignkit.data import packing
from alignkit.data.encode import EncodedExample
from alignkit.losses import IGNORE_INDEX
from alignkit.models import load
from alignkit.stages import sft
from alignkit.train.distributed import DistInfo

SINGLE = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def example(ids, mask):
    return EncodedExample(np.array(ids, dtype=np.int64), np.array(mask, dtype=bool))


def test_pack_fields_by_hand():
    a = example([5, 6, 7, 8], [0, 0, 1, 1])
    b = example([9, 10, 11], [0, 1, 1])
    batch = packing.pack([a, b])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10, 11]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    assert batch["cu_seq_lens_q"].tolist() == [0, 4, 7] and batch["max_length_q"] == 4
    # position t is scored when token t+1 of the same example learns; an example's last position never is
    assert batch["keep"].tolist() == [[False, True, True, False, True, True, False]]
    assert batch["targets"].tolist() == [7, 8, 10, 11]

    padded = packing.pad([a, b], pad_id=0)
    assert padded["input_ids"].tolist() == [[5, 6, 7, 8], [9, 10, 11, 0]]
    assert padded["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert padded["keep"].tolist() == [[False, True, True, False], [True, True, False, False]]
    assert padded["targets"].tolist() == [7, 8, 10, 11]


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    lm = load.load_causal_lm(tiny_model_dir)
    packing.use_packed_attention(lm)
    return lm.eval()


def random_examples(count, seed=0, vocab=500):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        length = int(rng.integers(5, 40))
        mask = np.zeros(length, dtype=bool)
        mask[int(rng.integers(1, length - 1)) :] = True
        out.append(EncodedExample(rng.integers(5, vocab, length), mask))
    return out


def test_an_examples_logits_are_the_same_packed_among_others_as_alone(model):
    examples = random_examples(5)
    batch = packing.pack(examples)
    with torch.no_grad():
        inputs = {k: v for k, v in batch.items() if k not in ("keep", "targets")}
        packed_logits = model(**inputs).logits[0]
        bounds = batch["cu_seq_lens_q"].tolist()
        for index, item in enumerate(examples):
            alone = model(input_ids=torch.from_numpy(item.input_ids)[None]).logits[0]
            torch.testing.assert_close(packed_logits[bounds[index] : bounds[index + 1]], alone, atol=1e-5, rtol=1e-4)
        # and attention really is cut: without the boundaries the later examples' logits change
        leaky = model(input_ids=batch["input_ids"]).logits[0]
        assert not torch.allclose(leaky[bounds[1] : bounds[2]], packed_logits[bounds[1] : bounds[2]], atol=1e-3)


def naive_loss(model, examples):
    """Reference: each example alone, HF-style labels (token ids where the mask is set, -100 elsewhere),
    shifted by one, cross-entropy summed; divided by the number of learning tokens."""
    total, count = 0.0, 0
    for item in examples:
        ids = torch.from_numpy(item.input_ids)[None]
        labels = torch.where(torch.from_numpy(item.loss_mask), ids[0], torch.tensor(IGNORE_INDEX))
        logits = model(input_ids=ids).logits[0]
        total = total + F.cross_entropy(logits[:-1], labels[1:], ignore_index=IGNORE_INDEX, reduction="sum")
        count += int(item.loss_mask[1:].sum())
    return total / count


def test_packed_padded_and_naive_losses_agree(model):
    examples = random_examples(6, seed=1)
    with torch.no_grad():
        packed_sum, packed_count = sft.answer_loss(model, packing.pack(examples))
        padded_sum, padded_count = sft.answer_loss(model, packing.pad(examples, pad_id=0))
        reference = naive_loss(model, examples)
    assert int(packed_count) == int(padded_count) == sum(int(e.loss_mask[1:].sum()) for e in examples)
    torch.testing.assert_close(packed_sum / packed_count, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded_sum / padded_count, reference, atol=1e-5, rtol=1e-5)


def step_gradient(model, task, step=1):
    """What the loop does for one optimizer step: d(sum of the step's losses) / (its learning tokens)."""
    model.zero_grad(set_to_none=True)
    batches = task.micro_batches(step, SINGLE)
    units = sum(b.units for b in batches)
    for batch in batches:
        loss_sum, _ = task.loss(model, batch)
        (loss_sum / units).backward()
    return len(batches), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("packed", [True, False])
def test_accumulation_4_x_2_gives_the_gradient_of_batch_8(tiny_model_dir, packed):
    lm = load.load_causal_lm(tiny_model_dir)
    packing.use_packed_attention(lm)
    examples = random_examples(24, seed=2)
    grads = {}
    for micro in (2, 8):
        config = validate(
            SFTConfig, {"run.batch_size": 8, "run.micro_batch_size": micro, "data.packing": packed, "run.seed": 3}
        )
        task = sft.SFTTask(lm, load.load_tokenizer(tiny_model_dir), examples, [], config)
        count, grads[micro] = step_gradient(lm, task)
        assert count == 8 // micro
    assert grads[2].keys() == grads[8].keys()
    for name in grads[8]:
        torch.testing.assert_close(grads[2][name], grads[8][name], atol=1e-6, rtol=1e-4, msg=name)
    # and the same as the naive reference's gradient over the same 8 examples
    lm.zero_grad(set_to_none=True)
    rows = sft.loop.EpochOrder(len(examples), 8, 3).step_rows(1).tolist()
    naive_loss(lm, [examples[i] for i in rows]).backward()
    for name, param in lm.named_parameters():
        torch.testing.assert_close(param.grad, grads[8][name], atol=1e-6, rtol=1e-4, msg=name)
