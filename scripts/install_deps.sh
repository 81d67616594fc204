#!/usr/bin/env bash
# Installs the Debian packages bigdl-cpp needs to build and test (skips what is there).
#   scripts/install_deps.sh            build + test dependencies
#   (python3-torch: the Python tests and the PyTorch peer of benchmarks/; --bench is accepted, as before)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenblas-dev libdnnl-dev nlohmann-json3-dev libgtest-dev zlib1g-dev
      libcpp-httplib-dev python3-venv python3-dev pybind11-dev
      libpcre2-dev libutf8proc-dev
      python3-sklearn dataset-fashion-mnist)
pkgs+=(openmpi-bin libopenmpi-dev)  # distributed training (MPI); MPICH's libmpich-dev also works
pkgs+=(libgloo-dev openjdk-17-jre-headless)  # Gloo collectives and Java for Spark (bigdl_cpp.orca; pyspark from PyPI)
pkgs+=(libonnx-dev libprotobuf-dev)  # nano's ONNX import: the onnx.proto message classes and protobuf
pkgs+=(clang libclang-rt-dev)  # the fuzz build (tests/fuzz): clang++ and its libFuzzer/ASan/UBSan runtimes
pkgs+=(python3-torch python3-numpy)  # the Python tests: torch tensors in and out of bigdl_cpp.llm.transformers
pkgs+=(python3-matplotlib)  # chronos: plots of forecasts and anomalies (benchmarks/chronos)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
