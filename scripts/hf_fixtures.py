#!/usr/bin/env python3
"""Writes the Hugging Face reference fixtures under tests/fixtures/hf/ (docs/hf-models.md).

Run where the Hugging Face `tokenizers`, `transformers`, `torch` and `safetensors` packages are
installed (CI does not run it; the tests read what it wrote):

    python3 scripts/hf_fixtures.py TRAIN_TEXT_DIR OUT_DIR
    python3 scripts/hf_fixtures.py --references MODEL_DIR...   (only the models' reference logits)

TRAIN_TEXT_DIR holds plain-text files (the project used Debian's fortunes). It writes:
  tok-gpt2/      byte-level BPE, GPT-2 pre-tokenizer (ByteLevel with its regex)
  tok-llama3/    byte-level BPE, Llama-3 split pattern, ignore_merges, BOS post-processor
  tok-smollm/    byte-level BPE, Digits(individual) + ByteLevel (StarCoder / SmolLM / Granite)
  tok-llama2/    SentencePiece-style BPE: Prepend/Replace normalizer, byte fallback, <0xNN>
  tok-mistral/   SentencePiece-style BPE: Metaspace pre-tokenizer (prepend_scheme first)
each with tokenizer.json, tokenizer_config.json and cases.json (texts, ids without and with special
tokens, offsets-free decodes); and
  llama-tiny/    a random LlamaForCausalLM (untied, GQA, llama3 rope scaling) saved in BF16 in shards
  granite-tiny/  a random GraniteForCausalLM (its four multipliers, tied) saved in F16
each with reference.safetensors: input_ids (I32, [T]) and logits (F32, [T, vocab]) of the saved folder
loaded back in FP32.
"""
import json
import os
import sys

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

CASES = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and trailing   ",
    "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
    "numbers 1234567 and 3.14159, 1,000,000",
    "don't I'll we've they're you'd HE'S SHE'LL",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3068\u4e2d\u6587",
    "emoji \U0001F44D\U0001F3FD and \U0001F600!!",
    "<|endoftext|>special<|endoftext|> tokens <s> </s> in text",
    "a\u00a0non-breaking space, \u2003em space, and \u200bzero width",
    "x" * 40 + " " + "ab" * 30,
    "",
    " ",
    "\n",
    "Q: What is 2+2?\nA: 4.\n\n",
    "def f(x):\n    return x ** 2  # square\n",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 and \u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439",
    "combining e\u0301 and \u0915\u094d\u0937 and \U00010348 gothic",
    "!!!???...,,,;;;:::---___===+++",
    "'s 's's ''s'",
    "   \n   \n",
]


def read_text(d):
    out = []
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                out.append(f.read())
    return out


def write_cases(tok, out):
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    cases = []
    for t in CASES:
        e = tok.encode(t, add_special_tokens=False)
        s = tok.encode(t, add_special_tokens=True)
        cases.append({"text": t, "ids": e.ids, "ids_special": s.ids,
                      "decoded": tok.decode(e.ids, skip_special_tokens=False),
                      "decoded_special_skipped": tok.decode(s.ids, skip_special_tokens=True)})
    with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers_version": __import__("tokenizers").__version__, "cases": cases}, f,
                  ensure_ascii=False, indent=0)


def bytelevel_tokenizer(texts, kind, vocab):
    tok = Tokenizer(models.BPE(ignore_merges=(kind == "llama3")))
    if kind == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        specials = ["<|endoftext|>"]
    elif kind == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
        specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    else:  # smollm / starcoder / granite
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, tr)
    if kind == "llama3":
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
            special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    # An added token that is not special (matched in text, kept by decode with skip_special_tokens).
    tok.add_tokens(["<think>"])
    return tok, specials


def sp_tokenizer(texts, kind, vocab):
    byte_tokens = ["<0x%02X>" % i for i in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    # Train on Metaspace-split words (SentencePiece does not merge across words either).
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    tr = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                             show_progress=False, limit_alphabet=120)
    tok.train_from_iterator(texts, tr)
    # The <0xNN> pieces are vocabulary, not added tokens (as in Llama-2's tokenizer.json).
    j = json.loads(tok.to_str())
    j["added_tokens"] = [a for a in j["added_tokens"] if a["content"] in ("<unk>", "<s>", "</s>")]
    if kind == "llama2":
        j["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "},
                                                       "content": "\u2581"}]}
        j["pre_tokenizer"] = None
        j["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    else:
        j["normalizer"] = None
        j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                              "split": False}
        j["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    s_id = j["model"]["vocab"]["<s>"]
    j["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [s_id], "tokens": ["<s>"]}}}
    return Tokenizer.from_str(json.dumps(j)), ["<unk>", "<s>", "</s>"]


def tokenizer_config(out, bos, eos, add_bos):
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": bos, "eos_token": eos, "add_bos_token": add_bos, "add_eos_token": False}, f,
                  indent=1)


def reference(out, ids):
    """reference.safetensors: the saved folder loaded back in FP32 (RoPE's frequencies computed in FP32,
    not rounded to the saved dtype) and its logits for ids."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    save_file({"input_ids": torch.tensor(ids, dtype=torch.int32), "logits": logits.contiguous()},
              os.path.join(out, "reference.safetensors"))


def save_model(model, out, dtype, shard, ids):
    model = model.to(dtype)
    model.save_pretrained(out, max_shard_size=shard)
    reference(out, ids)


def main():
    if sys.argv[1] == "--references":  # recompute the models' references from the saved folders
        from safetensors.torch import load_file
        for d in sys.argv[2:]:
            reference(d, load_file(os.path.join(d, "reference.safetensors"))["input_ids"].tolist())
        return
    src, out = sys.argv[1], sys.argv[2]
    texts = read_text(src)
    torch.manual_seed(0)
    made = {}
    for kind in ("gpt2", "llama3", "smollm"):
        tok, specials = bytelevel_tokenizer(texts, kind, 700)
        d = os.path.join(out, "tok-" + kind)
        write_cases(tok, d)
        tokenizer_config(d, specials[0], specials[-1] if kind != "smollm" else specials[0], kind == "llama3")
        made[kind] = tok
    for kind in ("llama2", "mistral"):
        tok, specials = sp_tokenizer(texts, kind, 600)
        d = os.path.join(out, "tok-" + kind)
        write_cases(tok, d)
        tokenizer_config(d, "<s>", "</s>", True)
        made[kind] = tok

    from transformers import GraniteConfig, GraniteForCausalLM, LlamaConfig, LlamaForCausalLM
    text = "The quick brown fox jumps over the lazy dog. 12345 caf\u00e9!"
    t3 = made["llama3"]
    ids = t3.encode(text).ids[:24]
    cfg = LlamaConfig(vocab_size=t3.get_vocab_size(), hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-5, tie_word_embeddings=False,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                      rope_theta=500000.0, bos_token_id=t3.token_to_id("<|begin_of_text|>"),
                      eos_token_id=t3.token_to_id("<|end_of_text|>"))
    m = LlamaForCausalLM(cfg).eval()
    d = os.path.join(out, "llama-tiny")
    save_model(m, d, torch.bfloat16, "60KB", ids)
    t3.save(os.path.join(d, "tokenizer.json"))

    ts = made["smollm"]
    ids = ts.encode(text).ids[:24]
    gcfg = GraniteConfig(vocab_size=ts.get_vocab_size(), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                         max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=True,
                         rope_theta=10000.0, embedding_multiplier=12.0, residual_multiplier=0.22,
                         attention_multiplier=0.0625, logits_scaling=8.0)
    g = GraniteForCausalLM(gcfg).eval()
    d = os.path.join(out, "granite-tiny")
    save_model(g, d, torch.float16, "10GB", ids)
    ts.save(os.path.join(d, "tokenizer.json"))
    print("wrote", out)


if __name__ == "__main__":
    main()
