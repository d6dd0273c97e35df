#!/usr/bin/env bash
# Set up, lint, then run the whole test suite (integration tests included).
# For the fast selection while developing (under 3 minutes): .venv/bin/pytest -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/pytest "$@"
