#!/usr/bin/env bash
# CI lint job: ESLint over src/, test/, bench/ and scripts/ (eslint.config.mjs), warnings included, then
# Prettier's check of the same files (.prettierrc.json; `npm run format` rewrites them).
# Bounded: both take about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout 600 npm run lint
