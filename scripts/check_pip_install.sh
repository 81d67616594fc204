#!/usr/bin/env bash
# `pip install .` as a user does it (issue 11, must-show 5): a fresh venv of Debian's
# /usr/bin/python3 (no system packages: no torch, numpy from PyPI), the package built by
# scikit-build-core (pyproject.toml; build folder build-wheel/, kept between runs), then the
# quick start (examples/python/llm_quickstart.py) on SmolLM2-135M-Instruct must answer
# "Paris", and the installed `bigdl` CLI must run. Needs PyPI (scikit-build-core, pybind11,
# numpy) and the Debian libraries of scripts/install_deps.sh.
#
#   scripts/check_pip_install.sh [SMOLLM2_GGUF]   (default: scripts/get_smollm2.sh's file)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-$(scripts/get_smollm2.sh)}"
venv="$(mktemp -d /tmp/bigdl-pip-venv.XXXXXX)"
trap 'rm -rf "$venv"' EXIT
/usr/bin/python3 -m venv "$venv"
start=$(date +%s)
"$venv/bin/pip" install --quiet --disable-pip-version-check . >&2
echo "check_pip_install: pip install . took $(( $(date +%s) - start )) s" >&2
answer="$(cd "$venv" && "$venv/bin/python" "$OLDPWD/examples/python/llm_quickstart.py" "$model")"
echo "check_pip_install: quick start answered: $answer" >&2
grep -q "Paris" <<<"$answer" || { echo "check_pip_install: the answer does not name Paris" >&2; exit 1; }
"$venv/bin/bigdl" llm generate -m "$model" -p "Hi" -n 4 --temp 0 >/dev/null
echo "check_pip_install: ok" >&2
