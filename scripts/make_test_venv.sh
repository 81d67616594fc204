#!/usr/bin/env bash
# The Python environment of the pytest suite (tests/python): a venv of Debian's
# /usr/bin/python3 made with --system-site-packages (so it also sees Debian's numpy), plus
# pinned PyPI packages: pytest, and the official `openai` client the server tests talk
# through, and transformers (HF's AutoTokenizer / TextStreamer with bigdl_cpp.llm.transformers;
# it runs on Debian's torch 1.13). Prints the venv's python. Idempotent: an existing venv is brought to the pins.
#
#   scripts/make_test_venv.sh   -> $BIGDL_CACHE/venv/test (default ~/.cache/bigdl-cpp/venv/test)
set -euo pipefail
dir="${BIGDL_CACHE:-$HOME/.cache/bigdl-cpp}/venv/test"
pkgs=("pytest==8.3.3" "openai==1.54.4" "httpx==0.27.2" "transformers==4.46.3" "tokenizers==0.20.3")
if [[ ! -x "$dir/bin/python" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$dir" >&2
fi
if ! "$dir/bin/python" -c "import pytest, openai, httpx, transformers; assert openai.__version__ == '1.54.4' and transformers.__version__ == '4.46.3'" 2>/dev/null; then
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "${pkgs[@]}" >&2
fi
echo "$dir/bin/python"
