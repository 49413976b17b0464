#!/usr/bin/env python3
"""PyTorch on CPU as the peer of bench/bench_train_shapes.c (docs/trainer.md, "Speed at real size"):
the same Llama shape in float32, batch 1 x context T, random weights, eager attention (as Floe's
exact softmax), each step forward, cross-entropy, backward and an AdamW step; prints the first step,
the mean of the later steps, tokens/s and the peak resident memory, as bench_train_shapes prints.

    python3 scripts/bench_train_peer.py MODEL [T 2048] [steps 3] [threads]

MODEL: smollm2-135m or llama-3.2-1b (the shapes of Floe's built-in configs).
"""
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, intermediate_size=1536, max_position_embeddings=2048,
                         rope_theta=100000.0, tie_word_embeddings=True),
    "llama-3.2-1b": dict(vocab_size=128256, hidden_size=2048, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, intermediate_size=8192, max_position_embeddings=131072,
                         rope_theta=500000.0, tie_word_embeddings=True),
}


def main():
    name = sys.argv[1]
    T = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    if len(sys.argv) > 4:
        torch.set_num_threads(int(sys.argv[4]))
    torch.manual_seed(1)
    cfg = LlamaConfig(**SHAPES[name], rms_norm_eps=1e-5, attn_implementation="eager")
    model = LlamaForCausalLM(cfg).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, cfg.vocab_size, (1, T + 1))
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        out = model(input_ids=ids[:, :-1], labels=ids[:, :-1])  # the model shifts the labels itself
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    per = sum(times[1:]) / (len(times) - 1) if len(times) > 1 else times[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"pytorch {torch.__version__} {name}  batch 1 x context {T}  threads {torch.get_num_threads()}  "
          f"first step {times[0]:.1f} s  step {per:.1f} s  {T / per:.1f} tokens/s  peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
