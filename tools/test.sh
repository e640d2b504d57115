#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test. Extra arguments go to bazel test
# (e.g. tools/test.sh --config=asan).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
bazel test "$@" //...
