"""GPU checks of the fast path that the CPU test suite cannot reach (run on a CUDA machine).

- packed attention on CUDA in bf16 takes PyTorch's FlashAttention varlen kernel; its logits must equal
  each example run alone (plain SDPA), within bf16 rounding, and its backward must run;
- a bf16-autocast training step's loss must match fp32's within bf16 rounding.

    python bench/gpu_check.py
"""

from __future__ import annotations

import inspect
import json

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

from alignkit.data import packing
from alignkit.losses import masked_lm_loss


def main() -> None:
    assert torch.cuda.is_available(), "no GPU"
    device = torch.device("cuda")
    report = {"torch": torch.__version__, "transformers": transformers.__version__,
              "gpu": torch.cuda.get_device_name(device)}  # fmt: skip
    try:
        from torch.nn.attention.varlen import varlen_attn

        report["varlen_attn"] = str(inspect.signature(varlen_attn))
    except ImportError:
        report["varlen_attn"] = None
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=512, attn_implementation="sdpa")  # fmt: skip
    model = LlamaForCausalLM(config).to(device)
    lengths = [37, 120, 5, 300]
    sequences = [torch.randint(0, 1000, (n,)).numpy() for n in lengths]
    with torch.autocast("cuda", dtype=torch.bfloat16):
        alone = [model(input_ids=torch.as_tensor(s, device=device)[None]).logits[0].float() for s in sequences]
    packing.use_packed_attention(model)
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in packing.pack_sequences(sequences).items()}
    calls = {"flash": 0}
    original = packing._flash_varlen

    def counted(*args, **kwargs):
        calls["flash"] += 1
        return original(*args, **kwargs)

    packing._flash_varlen = counted
    with torch.autocast("cuda", dtype=torch.bfloat16):
        packed = model(**batch).logits[0].float()
        packed.sum().backward()
    packed = packed.detach()
    reference = torch.cat(alone)
    report["flash_varlen_calls"] = calls["flash"]
    report["packed_vs_alone_max_abs"] = float((packed - reference).abs().max())
    report["packed_vs_alone_rel"] = float((packed - reference).norm() / reference.norm())
    report["grad_finite"] = all(torch.isfinite(p.grad).all().item() for p in model.parameters() if p.grad is not None)

    model.zero_grad()
    model.set_attn_implementation("sdpa")
    ids = torch.randint(0, 1000, (4, 128), device=device)
    losses = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(input_ids=ids[:, :-1]).logits
            loss_sum, count = masked_lm_loss(logits, ids[:, 1:])
        losses[name] = float(loss_sum / count)
    report["loss_fp32"], report["loss_bf16"] = losses["fp32"], losses["bf16"]
    print(json.dumps(report, indent=2))
    assert calls["flash"] > 0, "packed attention did not take the varlen kernel"
    assert report["packed_vs_alone_rel"] < 2e-2, report
    assert abs(losses["fp32"] - losses["bf16"]) < 2e-2 * losses["fp32"], losses
    print("gpu checks: ok")


if __name__ == "__main__":
    main()
