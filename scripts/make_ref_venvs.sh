#!/usr/bin/env bash
# Creates the Python environments of the reference generators and peer benchmarks (never
# needed by the build or the tests): each is a venv of Debian's /usr/bin/python3 made with
# --system-site-packages, so it sees Debian's python3-torch 1.13 and numpy, plus pinned
# packages from PyPI.
#
#   hf         transformers 4.46.3, tokenizers, safetensors, gguf, sentence-transformers:
#              tests/llm/gen_arch_golden.py (stage 1), gen_bpe_tokenizer_json.py,
#              gen_spm_tokenizer_json.py, gen_minilm_golden.py, benchmarks/llm/make_arch_models.py
#   llamacpp   llama-cpp-python 0.3.36 built from source with -DGGML_NATIVE=ON (~20 min), and
#              PyPI's gguf: gen_arch_golden.py --llamacpp (stage 2), tests/kernels/gen_kquant_files.py,
#              gen_kquant_golden.py, benchmarks/llm/run.py, arch_bench.py, kquant_ppl.py
#   bigdl-llm  bigdl-llm 2.4.0 with transformers 4.31: the peer of benchmarks/llm/arch_bench.py
#   nano       ONNX Runtime, onnx and OpenVINO (PyPI) beside Debian's torch 1.13: the peers of
#              benchmarks/nano/run.py (transformers: its all-MiniLM-L6-v2 model)
#
#   scripts/make_ref_venvs.sh [hf|llamacpp|bigdl-llm|nano ...]   (default: all four)
# into $BIGDL_CACHE/venv/<name> (default ~/.cache/bigdl-cpp/venv/<name>). Idempotent: an
# existing venv is updated to the pinned versions. Needs python3-venv (scripts/install_deps.sh
# --bench installs it with python3-torch).
set -euo pipefail

root="${BIGDL_CACHE:-$HOME/.cache/bigdl-cpp}/venv"
names=("$@")
(( ${#names[@]} )) || names=(hf llamacpp bigdl-llm nano)
for name in "${names[@]}"; do
  dir="$root/$name"
  case "$name" in
    hf) pkgs=("transformers==4.46.3" "tokenizers==0.20.3" safetensors gguf "sentence-transformers==3.3.1"
              "sentencepiece==0.2.0" "protobuf==4.25.9") ;;
    llamacpp) pkgs=("llama-cpp-python==0.3.36" "gguf==0.19.0") ;;
    bigdl-llm) pkgs=("bigdl-llm==2.4.0" "transformers==4.31.0" "tokenizers<0.14" "accelerate==0.21.0" sentencepiece
                     safetensors py-cpuinfo) ;;
    nano) pkgs=("onnxruntime==1.20.1" "onnx==1.17.0" "openvino==2024.6.0" "transformers==4.46.3" "numpy<2") ;;
    *) echo "make_ref_venvs.sh: unknown venv '$name' (known: hf, llamacpp, bigdl-llm, nano)" >&2; exit 2 ;;
  esac
  [[ -x "$dir/bin/python" ]] || /usr/bin/python3 -m venv --system-site-packages "$dir"
  echo "make_ref_venvs.sh: $dir: ${pkgs[*]}" >&2
  if [[ "$name" == llamacpp ]]; then
    CMAKE_ARGS="-DGGML_NATIVE=ON" "$dir/bin/pip" install --quiet --no-binary llama-cpp-python "${pkgs[@]}"
  else
    "$dir/bin/pip" install --quiet "${pkgs[@]}"
  fi
  echo "$dir"
done
