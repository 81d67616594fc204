#!/usr/bin/env bash
# Fresh machine to a trained network: installs what is missing, builds, and trains an
# MLP on scikit-learn's digits (1,797 8x8 images, seeded 80/20 split), printing the test
# accuracy. Any arguments are passed to `bigdl train` (see `build/bigdl --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
exec build/bigdl train "$@"
