#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: sets up libtorch if needed (./setup.sh without
# the release build), builds every workspace member (the std plugin library must sit beside the
# `exp` binary), then runs every test. The language server's editor test and the HTML page's
# browser test drive real programs, Debian's Neovim and Chromium, and the Slurm tests a real
# one-host cluster (Debian's slurm-wlm and munge, started by tests/slurm/cluster.sh and stopped
# when the tests end): they are installed here when missing (as root, with apt-get), and those
# tests fail, saying so, when they are not there.
set -euo pipefail
cd "$(dirname "$0")"
EXP_SETUP_SKIP_BUILD=1 ./setup.sh
missing=()
command -v nvim >/dev/null || missing+=(neovim)
command -v chromium >/dev/null || missing+=(chromium)
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing ${missing[*]} for the editor and browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "test: ${missing[*]} missing; the editor, browser and Slurm tests will fail (apt-get install ${missing[*]})" >&2
  fi
fi
cargo build --workspace
# A cluster of its own for the Slurm tests, under a directory of its own, stopped on the way out.
slurm_dir=$(mktemp -d "${TMPDIR:-/tmp}/exp-slurm-test.XXXXXX")
trap 'tests/slurm/cluster.sh down "$slurm_dir"' EXIT
if EXP_SLURM_CONF=$(tests/slurm/cluster.sh up "$slurm_dir"); then
  export EXP_SLURM_CONF
else
  echo "test: the Slurm cluster did not start; the Slurm tests will fail" >&2
fi
cargo test --workspace --no-fail-fast
