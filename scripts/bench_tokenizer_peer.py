#!/usr/bin/env python3
"""The Hugging Face `tokenizers` library on bench_tokenizer's workload (docs/tokenizers.md, "Speed"):
the given text files concatenated, encoded whole without special tokens, 5 times, one thread; prints
the median MB/s (10^6 bytes per second) by CPU time and by wall clock, as bench/bench_tokenizer.c does.

    python3 scripts/bench_tokenizer_peer.py [--docs] TOKENIZER.json FILE...

With --docs the text is cut into documents at the fortune separator lines ("%") and encoded with
encode_batch on one thread, as bench_tokenizer --docs encodes them one by one.
"""
import os
import statistics
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def main():
    args = sys.argv[1:]
    docs = args[0] == "--docs"
    args = args[1:] if docs else args
    tok = Tokenizer.from_file(args[0])
    data = b"".join(open(p, "rb").read() for p in args[1:])
    text = data.decode("utf-8", errors="replace")
    parts = []
    if docs:  # as bench_tokenizer cuts them: each document keeps its final newline
        a = 0
        while a < len(text):
            i = text.find("\n%\n", a)
            b = i + 1 if i >= 0 else len(text)
            parts.append(text[a:b])
            a = b + 2 if i >= 0 else len(text)
    cpu, wall, n = [], [], 0
    for _ in range(5):
        c0, w0 = time.process_time(), time.perf_counter()
        if docs:
            n = sum(len(e.ids) for e in tok.encode_batch(parts, add_special_tokens=False))
        else:
            n = len(tok.encode(text, add_special_tokens=False).ids)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    mb = len(data) / 1e6
    print(f"tokenizers {args[0]}{' (documents)' if docs else ''}: {len(data)} bytes, {n} tokens; encode {mb / statistics.median(cpu):.2f} MB/s "
          f"(CPU time), {mb / statistics.median(wall):.2f} MB/s (wall)")


if __name__ == "__main__":
    main()
