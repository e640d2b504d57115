#!/usr/bin/env bash
# Installs what is missing, builds volleyd, and runs it in the foreground. With no arguments it
# runs on its embedded defaults (SMTP on 127.0.0.1:2525, HTTP on 127.0.0.1:8025, spool in
# ./volley-spool, delivery log in ./volley-log/). Arguments go to volleyd (e.g.
# --config=volley.toml). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
bazel build -c opt //engine:volleyd
exec bazel-bin/engine/volleyd "$@"
