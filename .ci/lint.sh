#!/usr/bin/env bash
# CI lint job: ESLint over src/, test/, bench/ and scripts/ (eslint.config.mjs), warnings included.
# Bounded: ESLint takes ~30 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout 600 npm run lint
