#!/usr/bin/env bash
# bigdl llm as a user meets it, on the real stories260K model: token ids, greedy text
# equal to llama.cpp's, reproducible sampling, one-line errors and exit codes.
# usage: test_llm_cli.sh <path to bigdl> <shared data dir>
set -u
BIGDL=$1
DATA=$2
MODEL=$DATA/llm/stories260K/stories260K-f32.gguf
REF=$DATA/llm/stories260K/llamacpp-gguf-generations.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1"; cat "$tmp/out" "$tmp/err" 2>/dev/null; fails=$((fails + 1)); }
check() {  # check NAME EXPECTED_EXIT PATTERN -- command...
  local name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne $want ]] || ! grep -qE -- "$pattern" "$tmp/out" "$tmp/err"; then
    echo "exit $rc (want $want)"; fail "$name"
  else
    ok "$name"
  fi
}
one_line_error() {  # the error is exactly one line on stderr
  local lines; lines=$(wc -l <"$tmp/err")
  if [[ $lines -ne 1 ]]; then echo "stderr has $lines lines"; fail "$1"; else ok "$1 (one line)"; fi
}

check tokenize 0 '^\[1, 403, 407, 261, 378\]$' -- "$BIGDL" llm tokenize --model "$MODEL" --prompt "Once upon a time"

# Greedy: the first 20 words equal llama.cpp's f32 generation (its text minus the "<s> ").
want=$(awk '/^=== stories260K-f32.gguf/{getline; print; exit}' "$REF" | sed 's/^<s> //' | tr -s ' \n' '\n' | head -20 | tr '\n' ' ')
"$BIGDL" llm generate --model "$MODEL" --prompt "Once upon a time" --temperature 0 --n-predict 30 >"$tmp/out" 2>"$tmp/err"
rc=$?
got=$(tr -s ' \n' '\n' <"$tmp/out" | head -20 | tr '\n' ' ')
if [[ $rc -eq 0 && -n "$want" && "$got" == "$want" ]]; then ok greedy_matches_llamacpp; else echo "got:  $got"; echo "want: $want"; fail greedy_matches_llamacpp; fi
if grep -qE '^llm: prompt 5 tokens, generated 30 tokens, prefill [0-9.]+ tok/s, decode [0-9.]+ tok/s' "$tmp/err" && [[ $(wc -l <"$tmp/err") -eq 1 ]]; then
  ok generate_summary
else
  fail generate_summary
fi

# Sampling with a fixed seed is reproducible; another seed differs.
run() { "$BIGDL" llm generate --model "$MODEL" --prompt "Once upon a time" --temperature 1.0 --top-k 0 --top-p 0.95 --n-predict 60 --seed "$1" 2>/dev/null; }
a=$(run 7); b=$(run 7); c=$(run 8)
if [[ -n "$a" && "$a" == "$b" ]]; then ok sampled_reproducible; else echo "run1: $a"; echo "run2: $b"; fail sampled_reproducible; fi
if [[ "$a" != "$c" ]]; then ok sampled_seed_matters; else fail sampled_seed_matters; fi

# --kv-type: every cache type generates (f32 and the f16 default give llama.cpp's greedy
# text; fp8's coarser keys still start the same story), a bogus one is a one-line error.
for kv in f16 f32 fp8; do
  check "generate_kv_$kv" 0 '^Once upon a time, there was a little girl' -- "$BIGDL" llm generate --model "$MODEL" --prompt "Once upon a time" --temperature 0 --n-predict 12 --kv-type "$kv"
done
check generate_kv_bogus 1 "^bigdl: error: \[context\] unknown kv_type 'q8' \(known: f16, f32, fp8\)$" -- "$BIGDL" llm generate --model "$MODEL" --prompt hi --kv-type q8
one_line_error generate_kv_bogus
check bench_kv_fp8 0 '^decode: 8 tokens, [0-9.]+ tok/s' -- "$BIGDL" llm bench --model "$MODEL" --reps 1 --n-gen 8 --kv-type fp8

check bench 0 '^decode: 64 tokens, [0-9.]+ tok/s' -- "$BIGDL" llm bench --model "$MODEL" --reps 1
for k in 'prefill: 32 tokens' 'first-token latency: [0-9.]+ ms' 'peak RSS: [0-9.]+ MiB'; do
  if grep -qE "$k" "$tmp/out"; then ok "bench $k"; else fail "bench $k"; fi
done

# Errors: one line on stderr naming the problem, exit 1 (bad input) or 2 (usage).
check missing_model 1 "^bigdl: error: \[gguf\] $tmp/nope.gguf: cannot open" -- "$BIGDL" llm generate --model "$tmp/nope.gguf" --prompt hi
one_line_error missing_model
printf 'this is not a gguf file, just some text\n' >"$tmp/bad.gguf"
check not_gguf 1 "^bigdl: error: .*bad.gguf" -- "$BIGDL" llm generate --model "$tmp/bad.gguf" --prompt hi
one_line_error not_gguf
check tokenize_missing_model 1 "^bigdl: error: .*nope.gguf" -- "$BIGDL" llm tokenize --model "$tmp/nope.gguf" --prompt hi
one_line_error tokenize_missing_model
check prompt_too_long 1 "^bigdl: error: \[llm\] prompt of [0-9]+ tokens exceeds the context length 4$" -- "$BIGDL" llm generate --model "$MODEL" --prompt "Once upon a time there was" --ctx 4
one_line_error prompt_too_long
check no_model 2 "--model FILE.gguf is required" -- "$BIGDL" llm generate --prompt hi
one_line_error no_model
check unknown_option 2 "unknown option --tempurature$" -- "$BIGDL" llm generate --model "$MODEL" --tempurature 0
one_line_error unknown_option
check bad_number 2 "--n-predict expects an integer" -- "$BIGDL" llm generate --model "$MODEL" --n-predict many
check unknown_subcommand 2 "unknown subcommand 'frobnicate'" -- "$BIGDL" llm frobnicate
check bad_top_p 2 "^bigdl: option --top-p is 2, expected a number in \(0, 1\]$" -- "$BIGDL" llm generate --model "$MODEL" --prompt hi --top-p 2
check version_still_works 0 "bigdl-cpp" -- "$BIGDL" version

# llama.cpp's spellings (-m -p -f -n -t -c -s --temp) mean what they mean there.
check llamacpp_flags 0 '^Once upon a time, there was a little girl' -- "$BIGDL" llm generate -m "$MODEL" -p "Once upon a time" -n 12 --temp 0 -t 1 -c 64 -s 3
printf 'Once upon a time' >"$tmp/prompt.txt"
check prompt_file 0 '^Once upon a time, there was a little girl' -- "$BIGDL" llm generate -m "$MODEL" -f "$tmp/prompt.txt" -n 12 --temp 0
check tokenize_no_bos 0 '^\[403, 407, 261, 378\]$' -- "$BIGDL" llm tokenize -m "$MODEL" -p "Once upon a time" --no-bos
# Numbers out of range are usage errors (exit 2), never silently taken.
check negative_n_predict 2 "^bigdl: option --n-predict is -5, expected >= -1$" -- "$BIGDL" llm generate -m "$MODEL" -p hi --n-predict -5
one_line_error negative_n_predict
check negative_temperature 2 "^bigdl: option --temperature is -1, expected a number >= 0$" -- "$BIGDL" llm generate -m "$MODEL" -p hi --temperature -1
check negative_threads 2 "^bigdl: option --threads is -3, expected in \[0, 4096\]$" -- "$BIGDL" llm generate -m "$MODEL" -p hi --threads -3
check zero_repeat_penalty 2 "^bigdl: option --repeat-penalty is 0, expected a number > 0$" -- "$BIGDL" llm generate -m "$MODEL" -p hi --repeat-penalty 0
check bench_negative_threads 2 "^bigdl: option --threads is -1, expected in \[0, 4096\]$" -- "$BIGDL" llm bench -m "$MODEL" -t -1

# Low-bit conversion: stories260K f32 -> sym_int8, a progress line per tensor and a
# summary, then greedy generation from the converted file starts the story.
check convert_sym_int8 0 '^convert: 48 tensors, [0-9]+ bytes in, [0-9]+ bytes out, [0-9.]+ s' -- "$BIGDL" llm convert --model "$MODEL" --out "$tmp/s8.gguf" --low-bit sym_int8
if [[ $(grep -c '^convert: \[[0-9]*/48\] ' "$tmp/err") -eq 48 ]] && grep -qE '^convert: \[3/48\] blk\.0\.attn_q\.weight +q8_0' "$tmp/err"; then ok convert_progress; else fail convert_progress; fi
"$BIGDL" llm generate --model "$tmp/s8.gguf" --prompt "Once upon a time" --temperature 0 --n-predict 30 >"$tmp/out" 2>"$tmp/err"
if [[ $? -eq 0 ]] && grep -q '^Once upon a time, there was a little girl named Lily' "$tmp/out"; then ok generate_from_sym_int8; else fail generate_from_sym_int8; fi
check generate_low_bit_at_load 0 '^Once upon a time, there was a little girl named Lily' -- "$BIGDL" llm generate --model "$MODEL" --prompt "Once upon a time" --temperature 0 --n-predict 20 --low-bit sym_int8
check convert_bogus 1 "^bigdl: error: \[convert\] unknown low-bit type 'bogus' \(known: sym_int4" -- "$BIGDL" llm convert --model "$MODEL" --out "$tmp/bogus.gguf" --low-bit bogus
one_line_error convert_bogus
if [[ ! -e "$tmp/bogus.gguf" ]]; then ok convert_bogus_no_file; else fail convert_bogus_no_file; fi
check generate_bogus 1 "^bigdl: error: \[load_model\] unknown low-bit type 'bogus'" -- "$BIGDL" llm generate --model "$MODEL" --prompt hi --low-bit bogus
one_line_error generate_bogus
check convert_unwritable 1 "^bigdl: error: \[write_file_atomic\] $tmp/no/dir.gguf" -- "$BIGDL" llm convert --model "$MODEL" --out "$tmp/no/dir.gguf" --low-bit sym_int4
one_line_error convert_unwritable
check convert_no_out 2 "--out DST.gguf is required" -- "$BIGDL" llm convert --model "$MODEL"

# A llama-quantize file type from a K-quant file, with llama.cpp's importance matrix (the
# fixtures of tests/kernels/gen_kquant_files.py); an imatrix needs a quantized type, and a
# K-quant file with a type no kernel reads is one line.
KQ=$(dirname "$0")/../kernels/fixtures/kquant
check convert_q4_k_m_imatrix 0 '^convert: 12 tensors' -- "$BIGDL" llm convert --model "$KQ/tiny-Q6_K.gguf" --out "$tmp/q4km.gguf" --low-bit q4_k_m --imatrix "$KQ/tiny.imatrix.dat"
if grep -qE '^convert: \[[0-9]+/12\] blk\.0\.attn_q\.weight +q4_K' "$tmp/err"; then ok convert_q4_k_m_types; else fail convert_q4_k_m_types; fi
check generate_q4_k_m 0 . -- "$BIGDL" llm generate -m "$tmp/q4km.gguf" -p "x" -n 4 --temp 0
check convert_imatrix_needs_quant 1 "^bigdl: error: \[load_model\] an importance matrix .* needs a quantized low-bit type" -- "$BIGDL" llm convert --model "$KQ/tiny-Q6_K.gguf" --out "$tmp/keep.gguf" --imatrix "$KQ/tiny.imatrix.dat"
one_line_error convert_imatrix_needs_quant
if [[ ! -e "$tmp/keep.gguf" ]]; then ok convert_imatrix_no_file; else fail convert_imatrix_no_file; fi
# save-low-bit takes the importance matrix too: its model.gguf is convert's file byte for byte.
check save_low_bit_imatrix 0 '^save-low-bit: ' -- "$BIGDL" llm save-low-bit --model "$KQ/tiny-Q6_K.gguf" --out "$tmp/q4km-dir" --low-bit q4_k_m --imatrix "$KQ/tiny.imatrix.dat"
if cmp -s "$tmp/q4km-dir/model.gguf" "$tmp/q4km.gguf"; then ok save_low_bit_imatrix_same_file; else fail save_low_bit_imatrix_same_file; fi

# Bad input end to end: one line on stderr naming the file and what is wrong, exit 1
# (never an abort 134, a segfault 139 or a hang 124).
FIX=$(cd "$(dirname "$0")/../llm/fixtures" && pwd)
bad_input() {  # bad_input NAME PATTERN -- command...
  local name=$1 pattern=$2
  shift 3
  check "$name" 1 "$pattern" -- timeout 60 "$@"
  one_line_error "$name"
}
patch_bytes() {  # patch_bytes FILE OFFSET PRINTF_BYTES
  printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
head -c 600000 "$MODEL" >"$tmp/trunc.gguf"
bad_input gguf_truncated "^bigdl: error: \[gguf\] $tmp/trunc.gguf: tensor '.*' data \[[0-9]+, [0-9]+\) lies outside the data section of [0-9]+ bytes$" -- \
  "$BIGDL" llm generate --model "$tmp/trunc.gguf" --prompt hi
head -c 5000 "$MODEL" >"$tmp/trunc_meta.gguf"
bad_input gguf_truncated_metadata "^bigdl: error: \[gguf\] $tmp/trunc_meta.gguf: truncated: metadata key 'tokenizer.ggml.tokens'" -- \
  "$BIGDL" llm generate --model "$tmp/trunc_meta.gguf" --prompt hi
# token_embd.weight's info: name, u32 n_dims (2), 2 x u64 ne, u32 type, then u64 offset.
cp "$MODEL" "$tmp/offset.gguf" && chmod u+w "$tmp/offset.gguf"
name_at=$(grep -obUa 'token_embd.weight' "$tmp/offset.gguf" | head -1 | cut -d: -f1)
patch_bytes "$tmp/offset.gguf" $((name_at + 17 + 4 + 16 + 4)) '\x00\x00\x00\x00\x00\x01\x00\x00'
bad_input gguf_bad_tensor_offset "^bigdl: error: \[gguf\] $tmp/offset.gguf: tensor 'token_embd.weight' data \[1099511627776, [0-9]+\) lies outside" -- \
  "$BIGDL" llm generate --model "$tmp/offset.gguf" --prompt hi
cp "$MODEL" "$tmp/count.gguf" && chmod u+w "$tmp/count.gguf"
patch_bytes "$tmp/count.gguf" 8 '\xff\xff\xff\xff\xff\xff\x00\x00'  # u64 tensor count
bad_input gguf_bad_tensor_count "^bigdl: error: \[gguf\] $tmp/count.gguf: tensor count 281474976710655 is too large for a file of [0-9]+ bytes$" -- \
  "$BIGDL" llm generate --model "$tmp/count.gguf" --prompt hi
cp "$MODEL" "$tmp/arch.gguf" && chmod u+w "$tmp/arch.gguf"
key_at=$(grep -obUa 'general.architecture' "$tmp/arch.gguf" | head -1 | cut -d: -f1)
patch_bytes "$tmp/arch.gguf" $((key_at + 20 + 4 + 8)) 'gpt_x'  # the value "llama" (u32 type, u64 length before it)
bad_input gguf_unknown_architecture "^bigdl: error: \[load_model\] $tmp/arch.gguf: architecture 'gpt_x' is not supported \(supported: llama" -- \
  "$BIGDL" llm generate --model "$tmp/arch.gguf" --prompt hi
hf_copy() { rm -rf "$tmp/$1"; cp -r "$FIX/hf_llama" "$tmp/$1"; chmod -R u+w "$tmp/$1"; }
hf_copy hf_trunc
head -c 100000 "$FIX/hf_llama/model.safetensors" >"$tmp/hf_trunc/model.safetensors"
bad_input hf_truncated_safetensors "^bigdl: error: \[read_safetensors_header\] $tmp/hf_trunc/model.safetensors: tensor '.*' data_offsets \[[0-9]+, [0-9]+\] lie outside the data area of [0-9]+ bytes$" -- \
  "$BIGDL" llm generate --model "$tmp/hf_trunc" --prompt hi
head -c 50 "$FIX/hf_llama/model.safetensors" >"$tmp/hf_trunc/model.safetensors"
bad_input hf_truncated_safetensors_header "^bigdl: error: \[read_safetensors_header\] $tmp/hf_trunc/model.safetensors: header length [0-9]+ exceeds file size 50$" -- \
  "$BIGDL" llm generate --model "$tmp/hf_trunc" --prompt hi
hf_copy hf_nofield
grep -v '"num_hidden_layers"' "$FIX/hf_llama/config.json" >"$tmp/hf_nofield/config.json"
bad_input hf_config_missing_field "^bigdl: error: \[load_model\] $tmp/hf_nofield/config.json: field 'num_hidden_layers' missing$" -- \
  "$BIGDL" llm generate --model "$tmp/hf_nofield" --prompt hi
hf_copy hf_arch
sed 's/"model_type": *"llama"/"model_type": "frobnicator"/' "$FIX/hf_llama/config.json" >"$tmp/hf_arch/config.json"
bad_input hf_unknown_architecture "^bigdl: error: \[load_model\] $tmp/hf_arch/config.json: model_type 'frobnicator' is not supported \(supported: .*llama" -- \
  "$BIGDL" llm generate --model "$tmp/hf_arch" --prompt hi
bad_input hf_unknown_low_bit "^bigdl: error: \[load_model\] unknown low-bit type 'int3' \(known: sym_int4" -- \
  "$BIGDL" llm generate --model "$FIX/hf_llama" --prompt hi --low-bit int3
bad_input ctx_too_large "^bigdl: error: \[context\] n_ctx 4611686018427387904 exceeds the limit of 16777216 positions$" -- \
  "$BIGDL" llm generate --model "$MODEL" --prompt hi --ctx 4611686018427387904
hf_copy hf_ctx
sed 's/"max_position_embeddings": *[0-9]*/"max_position_embeddings": 4611686018427387904/' "$FIX/hf_llama/config.json" >"$tmp/hf_ctx/config.json"
bad_input hf_context_too_large "^bigdl: error: \[load_model\] $tmp/hf_ctx/config.json: field 'max_position_embeddings' 4611686018427387904 exceeds the limit" -- \
  "$BIGDL" llm generate --model "$tmp/hf_ctx" --prompt hi
long_prompt=$(for i in $(seq 1 100); do printf 'the cat sat '; done)
bad_input prompt_longer_than_context "^bigdl: error: \[llm\] prompt of [0-9]+ tokens exceeds the context length 128$" -- \
  "$BIGDL" llm generate --model "$MODEL" --prompt "$long_prompt"
printf '%s\n' "$long_prompt" >"$tmp/long_turn.txt"
bad_input chat_message_longer_than_context "^bigdl: error: \[chat\] message of [0-9]+ tokens does not fit the context length 128" -- \
  bash -c '"$0" llm chat --model "$1" --template chatml --n-predict 4 <"$2"' "$BIGDL" "$MODEL" "$tmp/long_turn.txt"

# An HF folder converted with `llm convert` keeps its tokenizer, so the GGUF generates;
# save-low-bit writes a folder that loads back to the same greedy text as quantizing at load.
check convert_hf_keeps_tokenizer 0 '^convert: ' -- "$BIGDL" llm convert -m "$FIX/hf_llama" --out "$tmp/hf.gguf" --low-bit sym_int8
"$BIGDL" llm generate -m "$FIX/hf_llama" -p "the cat" -n 16 --temp 0 --low-bit sym_int8 >"$tmp/want" 2>/dev/null
check generate_from_converted_hf 0 . -- "$BIGDL" llm generate -m "$tmp/hf.gguf" -p "the cat" -n 16 --temp 0
if cmp -s "$tmp/out" "$tmp/want" && [[ -s "$tmp/want" ]]; then ok converted_hf_same_text; else echo "want: $(cat "$tmp/want")"; fail converted_hf_same_text; fi
check save_low_bit 0 '^save-low-bit: ' -- "$BIGDL" llm save-low-bit -m "$FIX/hf_llama" --out "$tmp/lowbit" --low-bit sym_int8
if [[ -s "$tmp/lowbit/model.gguf" && -s "$tmp/lowbit/bigdl_low_bit.json" && -s "$tmp/lowbit/tokenizer.json" && -s "$tmp/lowbit/config.json" ]]; then ok save_low_bit_files; else ls -la "$tmp/lowbit"; fail save_low_bit_files; fi
check load_low_bit 0 . -- "$BIGDL" llm generate -m "$tmp/lowbit" -p "the cat" -n 16 --temp 0
if cmp -s "$tmp/out" "$tmp/want"; then ok load_low_bit_same_text; else fail load_low_bit_same_text; fi
mkdir -p "$tmp/notempty" && echo x >"$tmp/notempty/keep.txt"
check save_low_bit_refuses_folder 1 "^bigdl: error: \[save_low_bit\] $tmp/notempty: exists and is not a low-bit folder$" -- "$BIGDL" llm save-low-bit -m "$FIX/hf_llama" --out "$tmp/notempty" --low-bit sym_int4
one_line_error save_low_bit_refuses_folder

# Sentence embeddings from all-MiniLM-L6-v2 (scripts/get_minilm.sh; scripts/test.sh fetches it):
# one JSON array of 384 numbers per input line and a summary on stderr.
MINILM=${BIGDL_MINILM:-$HOME/.cache/bigdl-cpp/minilm/all-MiniLM-L6-v2}
printf 'A man is eating food.\nThe cat sits outside.\n' >"$tmp/texts.txt"
check embed 0 '^llm embed: 2 texts, 384 dimensions, mean pooling, normalized$' -- "$BIGDL" llm embed -m "$MINILM" -f "$tmp/texts.txt"
if [[ $(wc -l <"$tmp/out") -eq 2 ]] && python3 -c 'import json,sys; v=[json.loads(l) for l in open(sys.argv[1])]; assert all(len(x)==384 for x in v); assert all(abs(sum(a*a for a in x)-1)<1e-5 for x in v)' "$tmp/out"; then ok embed_output; else fail embed_output; fi
check embed_cls_raw 0 '^llm embed: 1 texts, 384 dimensions, cls pooling$' -- "$BIGDL" llm embed -m "$MINILM" -p "hello" --pooling cls --no-normalize
check embed_bad_pooling 1 "^bigdl: error: \[embed\] unknown pooling 'max' \(known: mean, cls, last\)$" -- "$BIGDL" llm embed -m "$MINILM" -p hi --pooling max
one_line_error embed_bad_pooling

# Chat: stories260K has no chat template, so it needs --template; two turns, /exit ends.
check chat_no_template 2 "has no chat template \(tokenizer.chat_template\); pass --template" -- "$BIGDL" llm chat --model "$MODEL" </dev/null
one_line_error chat_no_template
check chat_unknown_template 1 "^bigdl: error: \[chat\] unknown chat template 'foo' \(known: chatml, llama2, llama3, zephyr, mistral\)" -- "$BIGDL" llm chat --model "$MODEL" --template foo </dev/null
printf 'Once upon a time\nThe cat\n/exit\nnot read\n' | "$BIGDL" llm chat --model "$MODEL" --template chatml --temperature 0 --n-predict 8 >"$tmp/out" 2>"$tmp/err"
if [[ $? -eq 0 && $(grep -c '^llm chat: prompt [0-9]* tokens, generated' "$tmp/err") -eq 2 && $(wc -l <"$tmp/out") -ge 2 ]]; then ok chat_two_turns; else fail chat_two_turns; fi
# KV-cache reuse: the first turn feeds its whole prompt, the second only what follows
# the cached tokens (the first prompt and the answer fed back).
if grep -qE '^llm chat: prompt ([0-9]+) tokens, .*, fed \1 \(0 reused from the KV cache\)$' <(sed -n 1p "$tmp/err") &&
   [[ $(sed -n 2p "$tmp/err" | grep -oE '\(([0-9]+) reused' | grep -oE '[0-9]+') -gt 40 ]]; then
  ok chat_reuses_kv_cache
else
  fail chat_reuses_kv_cache
fi

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
