#!/usr/bin/env bash
# Sets up exp on a fresh machine: a project-local Python virtual environment with the PyPI
# torch wheel that tch 0.26 is built against (libtorch 2.13.0), a `.libtorch` link to it that
# .cargo/config.toml and the binaries' rpath use, and a release build of exp and its plugins.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"

TORCH_VERSION=2.13.0
PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null; then
  echo "setup: python3 (3.10 or newer) is needed to install libtorch from the torch wheel" >&2
  exit 1
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is needed; install Rust from rustup.rs" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
installed=$(.venv/bin/python -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$installed" != "$TORCH_VERSION" ] || ! .venv/bin/python -c 'import safetensors, numpy' 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION (libtorch), safetensors and numpy into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --progress-bar off \
    "torch==$TORCH_VERSION" safetensors numpy
fi
# The tests check exp's tokenizers and Hugging Face exports against the Python libraries
# researchers load them with: the same ids from `tokenizers`, the same logits from
# `transformers`' GPT2LMHeadModel. Pinned to the versions the tests were written against.
TOKENIZERS_VERSION=0.23.3
TRANSFORMERS_VERSION=5.24.0
if ! .venv/bin/python -c "import tokenizers, transformers, sys; sys.exit(tokenizers.__version__ != '$TOKENIZERS_VERSION' or transformers.__version__ != '$TRANSFORMERS_VERSION')" 2>/dev/null; then
  echo "setup: installing tokenizers==$TOKENIZERS_VERSION and transformers==$TRANSFORMERS_VERSION into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --progress-bar off \
    "tokenizers==$TOKENIZERS_VERSION" "transformers==$TRANSFORMERS_VERSION"
fi

torch_dir=$(.venv/bin/python -c 'import os, torch; print(os.path.relpath(os.path.dirname(torch.__file__)))' 2>/dev/null)
ln -sfn "$torch_dir" .libtorch

if [ "${EXP_SETUP_SKIP_BUILD:-0}" != 1 ]; then
  echo "setup: building exp and its plugins (release)"
  cargo build --release --workspace
fi
echo "setup: done; run experiments with target/release/exp run FILE"
