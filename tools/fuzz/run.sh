#!/usr/bin/env bash
# Fuzzes what strangers send Volley's bounce handling with clang's libFuzzer (with ASan and
# UBSan): inbound_report_fuzzer (MIME, DSN and ARF reports, mapped as the bounce intake does),
# dsn_report_fuzzer (DSNs built around hostile parts), verp_fuzzer (VERP addresses).
#   tools/fuzz/run.sh [SECONDS_PER_TARGET]    (default 60; FUZZ_OUT=dir, default /tmp/volley-fuzz)
# Each target starts from its seed corpus (the Bazel test of the same name runs that corpus on
# every `bazel test`); new inputs stay in $FUZZ_OUT/<target>.corpus, a crash in $FUZZ_OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh
seconds=${1:-60}
out=${FUZZ_OUT:-/tmp/volley-fuzz}
mkdir -p "$out"

absl=$(ls /usr/lib/x86_64-linux-gnu/libabsl_*.so | sed 's|.*/lib\(absl_[^.]*\)\.so$|-l\1|')
gmime=$(pkg-config --cflags --libs gmime-3.0)
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. -I/usr/include/android)
ssl=(-L/usr/lib/x86_64-linux-gnu/android -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android -lcrypto)

build() {
  local name=$1
  shift
  # shellcheck disable=SC2086 # the pkg-config and library lists are word lists
  clang++ "${flags[@]}" -o "$out/$name" "engine/bounce/fuzz/$name.cc" "$@" $gmime "${ssl[@]}" $absl
}
build inbound_report_fuzzer engine/bounce/inbound_report.cc engine/bounce/inbound_mapping.cc \
  engine/bounce/verp.cc engine/message/header.cc engine/base/bytes.cc queue/encoding.cc
build dsn_report_fuzzer engine/bounce/dsn_report.cc engine/message/header.cc \
  engine/message/trace.cc engine/base/bytes.cc
build verp_fuzzer engine/bounce/verp.cc engine/base/bytes.cc queue/encoding.cc

fuzz() {
  local name=$1 seeds=$2
  mkdir -p "$out/$name.corpus"
  (cd "$out" && "./$name" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 \
    "$name.corpus" "$OLDPWD/$seeds")
}
fuzz inbound_report_fuzzer engine/bounce/testdata/inbound
fuzz dsn_report_fuzzer engine/bounce/testdata/inbound
fuzz verp_fuzzer engine/bounce/fuzz/verp_corpus
echo "fuzzing done: no crash in ${seconds}s per target"
