#!/usr/bin/env bash
# The GPU measurements in one go (for a lent GPU machine; see BENCHMARKS.md):
#   1. bench/gpu_check.py: the fast path is right (varlen flash attention, bf16 loss);
#   2. bench/pretrain_mfu.py: pretraining MFU of the gpt2-124m size, eager and compiled;
#   3. bench/sft_throughput.py --device cuda: SFT against TRL on the same GPU.
# Needs `bench/pretrain_mfu.py prepare --out .gpu` (and alpaca_en_demo.json copied into .gpu) first.
# Logs and JSON go to $OUT (default bench/results/gpu).
set -u
OUT=${OUT:-bench/results/gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers, sys; print(sys.version.split()[0], torch.__version__, transformers.__version__)"
  python3 -m pip list 2>/dev/null | grep -iE "^(peft|pyarrow|datasets|trl|tokenizers|huggingface.hub|accelerate|regex) "
} 2>&1 | tee "$OUT/env.txt"
timeout 90 python3 bench/gpu_check.py 2>&1 | tee "$OUT/check.txt"
timeout "${MFU_SECONDS:-270}" python3 bench/pretrain_mfu.py run --prepared .gpu --json "$OUT/mfu.json" \
  --workdir /tmp/mfu ${MFU_ARGS:-} 2>&1 | tee "$OUT/mfu.txt"
timeout "${SFT_SECONDS:-180}" python3 bench/sft_throughput.py --device cuda --trl-python "$(command -v python3)" \
  --size gpt2-124m --data .gpu/alpaca_en_demo.json --batch-size 16 --repeats 1 --threads 8 \
  --workdir /tmp/sft --json "$OUT/sft.json" 2>&1 | tee "$OUT/sft.txt"
