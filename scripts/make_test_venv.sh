#!/usr/bin/env bash
# The Python environment of the pytest suite (tests/python): a venv of Debian's
# /usr/bin/python3 made with --system-site-packages (so it also sees Debian's numpy), plus
# pinned PyPI packages: pytest, and the official `openai` client the server tests talk
# through, and transformers (HF's AutoTokenizer / TextStreamer with bigdl_cpp.llm.transformers;
# it runs on Debian's torch 1.13), and pyspark with pandas and pyarrow for bigdl_cpp.orca /
# dllib's Spark side (tests/python/test_spark.py; Java comes from Debian). numpy stays
# Debian's (a constraint file pins it: a numpy 2 from PyPI breaks Debian's torch and
# sklearn), optuna for chronos' AutoTSEstimator, and onnx with onnxruntime for Nano's ONNX
# export and import (tests/python/test_nano.py, test_nano_onnx.py run the graphs in ONNX Runtime). Prints the venv's python. Idempotent: an existing venv is brought to the pins.
#
#   scripts/make_test_venv.sh   -> $BIGDL_CACHE/venv/test (default ~/.cache/bigdl-cpp/venv/test)
set -euo pipefail
dir="${BIGDL_CACHE:-$HOME/.cache/bigdl-cpp}/venv/test"
pkgs=("pytest==8.3.3" "openai==1.54.4" "httpx==0.27.2" "transformers==4.46.3" "tokenizers==0.20.3"
      "pyspark==3.5.9" "pandas==2.2.3" "pyarrow==17.0.0" "optuna==4.1.0" "onnx==1.17.0" "onnxruntime==1.20.1")
if [[ ! -x "$dir/bin/python" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$dir" >&2
fi
if ! "$dir/bin/python" -c "import pytest, openai, httpx, transformers, pyspark, pandas, pyarrow, optuna, onnx, onnxruntime; assert openai.__version__ == '1.54.4' and transformers.__version__ == '4.46.3' and pyspark.__version__ == '3.5.9' and onnxruntime.__version__ == '1.20.1'" 2>/dev/null; then
  constraints="$(mktemp)"
  /usr/bin/python3 -c "import numpy; print('numpy==' + numpy.__version__)" > "$constraints"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" "${pkgs[@]}" >&2
  rm -f "$constraints"
fi
echo "$dir/bin/python"
