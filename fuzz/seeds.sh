#!/bin/sh
# The seed corpus of one fuzz target, from files the project writes (made here by this build's floe)
# and the hand-written ones in fuzz/seeds/, with the inputs of defects found (fuzz/seeds/regress/). Used by the fuzz ctests and bench/fuzz_campaign.sh.
# usage: fuzz/seeds.sh FLOE SOURCE_DIR TARGET CORPUS_DIR
set -eu
floe=$1 src=$2 target=$3 out=$4
seeds=$src/fuzz/seeds
rm -rf "$out" "$out.work"
mkdir -p "$out" "$out.work"
work=$out.work

# A one-layer model of width 8 (a checkpoint pair of a few KB) and its quantized model.
mini() {
  printf '{"vocab_size": 256, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
  "intermediate_size": 8, "max_position_embeddings": 8, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}\n' \
    > "$work/mini.json"
  "$floe" train --model "$work/mini.json" --corpus generated:50 --batch 1 --context 8 --steps 1 --threads 1 \
    --out "$work/t" > /dev/null
  ckpt=$work/t/ckpt-000001.safetensors
  optim=$work/t/ckpt-000001.optim.safetensors
}
mini_qmodel() {
  mini
  "$floe" ptq --method rtn -t "$ckpt" --corpus generated:50 --calib-batches 1 -b 1 -o "$work/q.safetensors" \
    > /dev/null
  "$floe" ptq --method smoothquant -t "$ckpt" --corpus generated:50 --calib-batches 1 -b 1 -w 2 \
    --wbits-layer 0=8 -o "$work/qs.safetensors" > /dev/null
  # a Granite with llama3 RoPE: its multipliers and scaling in floe.config, folded into the constants
  printf '{"architectures": ["GraniteForCausalLM"], "vocab_size": 256, "hidden_size": 8, "num_hidden_layers": 1,
  "num_attention_heads": 2, "intermediate_size": 8, "max_position_embeddings": 8, "rms_norm_eps": 1e-06,
  "tie_word_embeddings": true, "embedding_multiplier": 12.0, "residual_multiplier": 0.22,
  "attention_multiplier": 0.25, "logits_scaling": 8.0, "rope_theta": 500000.0, "rope_scaling": {"rope_type":
  "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 4}}\n' \
    > "$work/granite.json"
  "$floe" train --model "$work/granite.json" --corpus generated:50 --batch 1 --context 8 --steps 1 --threads 1 \
    --out "$work/g" > /dev/null
  "$floe" ptq --method rtn -t "$work/g/ckpt-000001.safetensors" --corpus generated:50 --calib-batches 1 -b 1 \
    -o "$work/qg.safetensors" > /dev/null
  "$floe" ptq --method rtn -t "$ckpt" --corpus generated:50 --calib-batches 1 -b 1 \
    --wbits-layer 0.gate_proj=8,0.down_proj=2 -o "$work/ql.safetensors" > /dev/null
}
# A 4-byte little-endian number (fuzz_checkpoint's length prefix).
le32() {
  n=$1
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))"
}

case $target in
  container)
    for s in "$seeds"/*.s; do
      "$floe" asm "$s" -o "$out/$(basename "$s" .s).flp" --fingerprint 5eed
    done ;;
  asm) cp "$seeds"/*.s "$out/" ;;
  safetensors)
    mini_qmodel
    cp "$ckpt" "$out/ckpt.safetensors"
    cp "$optim" "$out/optim.safetensors"
    cp "$work/q.safetensors" "$out/qmodel.safetensors"
    cp "$src/tests/fixtures/hf/llama-tiny/model-00006-of-00006.safetensors" "$out/hf-bf16.safetensors" ;;
  checkpoint)
    mini
    { le32 "$(wc -c < "$ckpt")"; cat "$ckpt" "$optim"; } > "$out/pair" ;;
  qmodel)
    mini_qmodel
    cp "$work/q.safetensors" "$work/qs.safetensors" "$work/qg.safetensors" "$work/ql.safetensors" "$out/" ;;
  machine) cp "$src"/configs/northpole*.csv "$src/configs/small.csv" "$out/" ;;
  energy) cp "$src"/configs/energy-*.csv "$out/" ;;
  config)
    mini
    cp "$work/mini.json" "$out/"
    for d in "$src"/tests/fixtures/hf/*/; do
      [ -f "$d/config.json" ] && cp "$d/config.json" "$out/$(basename "$d").json"
    done ;;
  fortunes) cp "$seeds"/fortunes/* "$out/" ;;
  hf_json)
    cp "$src/tests/fixtures/hf/llama-tiny/config.json" "$out/llama-config.json"
    cp "$src/tests/fixtures/hf/granite-tiny/config.json" "$out/granite-config.json"
    cp "$src/tests/fixtures/hf/llama-tiny/model.safetensors.index.json" "$out/" ;;
  tokenizer_json) cp "$seeds"/*.json "$out/" ;;
  sweep) # the shipped sweeps, their tables named by absolute paths (the target reads from its own folder)
    for f in "$src"/configs/sweeps/*.sweep; do
      sed "s#= \.\./#= $src/configs/#" "$f" > "$out/$(basename "$f")"
    done ;;
  qat_state)
    # a QAT checkpoint (SiLQ, one step) and a weight-only E2E-QP state (W3, group 4, asymmetric)
    mini
    "$floe" qat --teacher "$ckpt" --corpus generated:50 --steps 1 --batch 1 --context 8 --threads 1 \
      --eval-windows 1 -o "$work/q" > /dev/null
    "$floe" qat --method efficientqat --weight-only -w 3 --group 4 --teacher "$ckpt" --corpus generated:50 \
      --block-samples 2 --block-epochs 1 --steps 1 --batch 1 --context 8 --threads 1 -o "$work/w" > /dev/null
    cp "$work/q/qat-000001.safetensors" "$work/w/e2eqp-000001.safetensors" "$out/" ;;
  token_file)
    "$floe" corpus -i "$seeds/small.s" -o "$out/byte.tok" > /dev/null
    "$floe" corpus -t "$seeds/tok-llama2.json" -i "$seeds/small.s" -o "$out/l2.tok" > /dev/null ;;
  *) echo "fuzz/seeds.sh: no seeds for target '$target'" >&2; exit 2 ;;
esac
# every input a campaign found a defect with stays in the corpus (fuzz/seeds/regress/<target>/)
if [ -d "$seeds/regress/$target" ]; then cp "$seeds/regress/$target"/* "$out/"; fi
rm -rf "$work"
