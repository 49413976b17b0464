#!/usr/bin/env python3
"""PyTorch on CPU as the peer of bench/bench_train_shapes.c (docs/trainer.md, "Real shapes").

The same Llama shapes in float32, batch 1 x context T, random weights, written in plain torch (no
transformers: Debian's python3-torch has no transformers), with eager attention (the whole T x T
softmax, as Hugging Face's eager path computes it). Each step is what Floe's step is:

  fp   forward, cross-entropy, backward, clipping to norm 1, an AdamW step (floe_trainer_step);
  qat  SiLQ-style QAT with fake quantization (LSQ: learned step sizes, straight-through rounding)
       of every linear's weights (per output row, 4 bits) and inputs (per tensor, 8 bits) and of
       K and V (8 bits), the FP teacher's forward without gradients, the loss
       alpha * KL(teacher || student) at tau 1 + (1 - alpha) * cross-entropy with alpha 0.5, then
       clipping and AdamW over the weights and the steps (floe_qat_step's defaults).

Prints the first step, the mean of the later steps, tokens/s and the peak resident memory, as
bench_train_shapes prints them.

    python3 scripts/bench_train_peer.py fp|qat MODEL [T 2048] [steps 3] [threads]

MODEL: smollm2-135m, llama-3.2-1b or S (the shapes of Floe's built-in configs). Set
OMP_NUM_THREADS (and OPENBLAS_NUM_THREADS) to the thread count before starting, as the Floe run has.
"""
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "smollm2-135m": dict(V=49152, C=576, L=30, NH=9, NKV=3, FF=1536, theta=100000.0),
    "llama-3.2-1b": dict(V=128256, C=2048, L=16, NH=32, NKV=8, FF=8192, theta=500000.0),
    "S": dict(V=256, C=256, L=4, NH=8, NKV=8, FF=688, theta=10000.0),
}


def round_ste(x):
    return (x.round() - x).detach() + x


def scale_grad(s, g):
    return (s - s * g).detach() + s * g


def lsq(x, s, qn, qp):
    """LSQ fake quantization (Esser et al.): codes clamp(round(x / s)) times s, the step's gradient
    scaled by 1 / sqrt(numel * qp)."""
    s = scale_grad(s, 1.0 / math.sqrt(x.numel() * qp))
    return round_ste(torch.clamp(x / s, qn, qp)) * s


class Linear(torch.nn.Module):
    def __init__(self, n_in, n_out, quant):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) * 0.02)
        self.quant = quant
        if quant:
            self.wstep = torch.nn.Parameter(self.weight.detach().abs().amax(1, keepdim=True) / 7)
            self.astep = torch.nn.Parameter(torch.tensor(4.0 / 127))

    def forward(self, x):
        if not self.quant:
            return x @ self.weight.t()
        return lsq(x, self.astep, -128, 127) @ lsq(self.weight, self.wstep, -8, 7).t()


def rmsnorm(x, g, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return x * cos + torch.cat((-x2, x1), -1) * sin


class Block(torch.nn.Module):
    def __init__(self, s, quant):
        super().__init__()
        C, hd = s["C"], s["C"] // s["NH"]
        self.s, self.hd, self.quant = s, hd, quant
        self.ln1 = torch.nn.Parameter(torch.ones(C))
        self.ln2 = torch.nn.Parameter(torch.ones(C))
        self.q = Linear(C, s["NH"] * hd, quant)
        self.k = Linear(C, s["NKV"] * hd, quant)
        self.v = Linear(C, s["NKV"] * hd, quant)
        self.o = Linear(s["NH"] * hd, C, quant)
        self.gate = Linear(C, s["FF"], quant)
        self.up = Linear(C, s["FF"], quant)
        self.down = Linear(s["FF"], C, quant)
        if quant:
            self.kstep = torch.nn.Parameter(torch.tensor(4.0 / 127))
            self.vstep = torch.nn.Parameter(torch.tensor(4.0 / 127))

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        NH, NKV, hd = self.s["NH"], self.s["NKV"], self.hd
        h = rmsnorm(x, self.ln1)
        q = rope(self.q(h).view(B, T, NH, hd).transpose(1, 2), cos, sin)
        k = rope(self.k(h).view(B, T, NKV, hd).transpose(1, 2), cos, sin)
        v = self.v(h).view(B, T, NKV, hd).transpose(1, 2)
        if self.quant:
            k, v = lsq(k, self.kstep, -128, 127), lsq(v, self.vstep, -128, 127)
        k = k.repeat_interleave(NH // NKV, 1)
        v = v.repeat_interleave(NH // NKV, 1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1)  # eager: [B, NH, T, T]
        x = x + self.o((att @ v).transpose(1, 2).reshape(B, T, NH * hd))
        h = rmsnorm(x, self.ln2)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(torch.nn.Module):
    def __init__(self, s, T, quant):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(s["V"], s["C"]) * 0.02)  # tied head
        self.blocks = torch.nn.ModuleList(Block(s, quant) for _ in range(s["L"]))
        self.lnf = torch.nn.Parameter(torch.ones(s["C"]))
        hd = s["C"] // s["NH"]
        inv = 1.0 / (s["theta"] ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(T).float(), inv)
        self.register_buffer("cos", torch.cat((ang, ang), -1).cos())
        self.register_buffer("sin", torch.cat((ang, ang), -1).sin())
        self.register_buffer("mask", torch.full((T, T), float("-inf")).triu(1))

    def forward(self, ids):
        x = self.emb[ids]
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.mask)
        return rmsnorm(x, self.lnf) @ self.emb.t()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("fp", "qat") or sys.argv[2] not in SHAPES:
        sys.exit("usage: bench_train_peer.py fp|qat MODEL [T 2048] [steps 3] [threads]")
    what, name = sys.argv[1], sys.argv[2]
    T = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    if len(sys.argv) > 5:
        torch.set_num_threads(int(sys.argv[5]))
    torch.manual_seed(1)
    s = SHAPES[name]
    qat = what == "qat"
    model = Llama(s, T, qat)
    teacher = None
    if qat:
        teacher = Llama(s, T, False)
        teacher.load_state_dict(model.state_dict(), strict=False)
        teacher.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, s["V"], (1, T + 1))
    x, y = ids[:, :-1], ids[:, 1:].reshape(-1)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        logits = model(x).view(T, -1)
        loss = F.cross_entropy(logits, y)
        if qat:
            with torch.no_grad():
                tlogp = F.log_softmax(teacher(x).view(T, -1), -1)
            kl = F.kl_div(F.log_softmax(logits, -1), tlogp, log_target=True, reduction="batchmean")
            loss = 0.5 * kl + 0.5 * loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    per = sum(times[1:]) / (len(times) - 1) if len(times) > 1 else times[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"pytorch-{what} {torch.__version__} {name}  batch 1 x context {T}  threads {torch.get_num_threads()}  "
          f"first step {times[0]:.1f} s  step {per:.1f} s  {T / per:.1f} tokens/s  peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
