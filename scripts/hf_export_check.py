#!/usr/bin/env python3
"""Checks a folder written by `floe export --hf` against Floe's integer forward (docs/hf-models.md,
"Export"): transformers loads the folder (AutoModelForCausalLM, FP32) and runs the tokens of a
`floe forward` dump; its logits are compared with the dump's integer logits times the quantized
model's logit step (the relative RMS difference, and how often the most likely next token agrees).

    python3 scripts/hf_export_check.py HF_DIR FORWARD_DUMP.safetensors QMODEL.safetensors
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


def main():
    folder, dump, qmodel = sys.argv[1:4]
    d = load_file(dump)
    ids = d["tokens"].long()
    zq = d["logits"].float() * load_file(qmodel)["model.logit_scale"].float()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        zf = model(ids[None]).logits[0]
    rel = ((zf - zq).norm() / zf.norm()).item()
    agree = (zf.argmax(-1) == zq.argmax(-1)).sum().item()
    print(f"{folder}: {type(model).__name__}, {ids.numel()} tokens; transformers (dequantized, FP32) vs Floe's "
          f"integer forward: relative RMS difference {rel:.5f}, most likely next token equal at {agree} of "
          f"{ids.numel()} positions")


if __name__ == "__main__":
    main()
