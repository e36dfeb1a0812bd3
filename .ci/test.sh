#!/usr/bin/env bash
# The whole test suite, as the README gives it: set-up, lint (ruff; biome for js/), JS unit
# tests, Python tests (engine, CLI, local model, maps, panel in a real browser, notebooks,
# quick benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup.sh
bash .ci/install-browser.sh
export EVOLVIZ_REFERENCE_DIR="${EVOLVIZ_REFERENCE_DIR:-$(cd .. && pwd)/shared/refdata}"
export HF_HUB_OFFLINE=1

.venv/bin/ruff check evolviz tests benchmarks
npm run lint --silent   # biome: lint and format of js/ (biome.json)
npm test --silent
.venv/bin/python -m pytest -q -rs "$@"
