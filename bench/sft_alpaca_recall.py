"""End-to-end SFT check on real data: a tiny pretrained model fine-tuned on a dozen real Alpaca pairs must
give back each trained answer, word for word, for its prompt under greedy decoding through plain
transformers (`apply_chat_template` + `generate`), and stop by itself (EOS / end-of-turn learned).

    python bench/sft_alpaca_recall.py --base runs/demo/pretrain/final --rows 12

Prints, per row, whether the answer matched and whether generation stopped, then the totals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_ALPACA = HERE.parents[1] / "shared" / "data" / "llamafactory" / "alpaca_en_demo.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="a pretrained model directory")
    parser.add_argument("--data", type=Path, default=SHARED_ALPACA)
    parser.add_argument("--rows", type=int, default=12, help="the first N rows of the file")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.models.tokenizer import end_of_turn_ids

    rows = json.loads(args.data.read_text(encoding="utf-8"))[: args.rows]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pairs.json"
        data.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        out = Path(tmp) / "sft"
        command = [
            sys.executable, "-m", "alignkit", "sft", "--model", str(args.base), "--data", str(data),
            "--output-dir", str(out), "--batch-size", str(len(rows)), "--micro-batch-size", str(len(rows)),
            "--max-steps", str(args.steps), "--lr", str(args.lr), "--optim.schedule", "constant",
            "--data.eval-fraction", "0", "--data.max-length", "1024", "--save-every", "0",
            "--run.progress", "false", "--run.plots", "false",
        ]  # fmt: skip
        subprocess.run(command, check=True)
        final = out / "final"
        tokenizer = AutoTokenizer.from_pretrained(final)
        model = AutoModelForCausalLM.from_pretrained(final).eval()
        stops = end_of_turn_ids(tokenizer)
        matched = stopped = 0
        for row in rows:
            user = row["instruction"] + ("\n" + row["input"] if row.get("input") else "")
            inputs = tokenizer.apply_chat_template(
                [{"role": "user", "content": user}], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            with torch.no_grad():
                output = model.generate(**inputs, max_new_tokens=800, do_sample=False)
            answer = output[0, inputs["input_ids"].shape[1] :]
            text = tokenizer.decode(answer, skip_special_tokens=True)
            ok, ended = text == row["output"], answer[-1].item() in stops
            matched, stopped = matched + ok, stopped + ended
            print(f"{'match' if ok else 'DIFFERS'} {'stopped' if ended else 'NO STOP'}: {row['instruction'][:60]!r}")
    print(f"exact answers {matched}/{len(rows)}, stopped by itself {stopped}/{len(rows)}")


if __name__ == "__main__":
    main()
