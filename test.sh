#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: sets up libtorch if needed (./setup.sh without
# the release build), builds every workspace member (the std plugin library must sit beside the
# `exp` binary), then runs every test.
set -euo pipefail
cd "$(dirname "$0")"
EXP_SETUP_SKIP_BUILD=1 ./setup.sh
cargo build --workspace
cargo test --workspace --no-fail-fast
