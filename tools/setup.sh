#!/usr/bin/env bash
# Installs every Debian package Volley's build, tests and benchmarks need. Idempotent: packages
# already present are left alone, and nothing is downloaded when all are installed.
set -euo pipefail

PACKAGES=(
  # Build: Bazel 4 and the libraries of the design card, all from Debian.
  bazel-bootstrap bazel-platforms g++
  libuv1-dev android-libboringssl-dev libc-ares-dev libabsl-dev librocksdb-dev
  libbenchmark-dev libgtest-dev libgmock-dev libtomlplusplus-dev libidn2-dev
  nlohmann-json3-dev libhttp-parser-dev libre2-dev libgmime-3.0-dev libcrypt-dev
  # The HTTP injection API's templates (kainjow mustache), and simdjson for bench/json_bench.
  libsimdjson-dev libkainjow-mustache-dev
  # Tests: a real DNS server, SMTP tools, certificates.
  unbound swaks libnet-ssleay-perl openssl python3 python3-aiosmtpd dnsutils
  # Tests: curl is the HTTP injection tests' client (as the platforms' own tests use it).
  curl
  # Tests: mkpasswd (in Debian's whois package) writes the AUTH users file's crypt(3) hashes.
  whois
  # Tests: a real receiving MTA (tests/support/postfix_server runs private instances).
  postfix
  # Tests: logrotate checks tools/logrotate.conf (tests/service_files_test.cc, dry run only).
  logrotate
  # Tests: promtool (in Debian's prometheus package) checks the /metrics exposition
  # (tests/metrics_promtool_test.cc); the server it also installs is not needed.
  prometheus
  # Tooling: formatting, and fuzzing with clang's libFuzzer (tools/fuzz/run.sh).
  clang-format clang libclang-rt-14-dev pkg-config
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "tools/setup.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Postfix's package asks for a mail server type: "No configuration" writes no /etc/postfix/main.cf
# and starts nothing. The tests run their own instances on their own directories and ports (a
# system Postfix that is already running is left alone).
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# The package lists may be stale or absent on a fresh machine: refresh once if the first
# attempt cannot find a package.
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The Debian unbound package starts a system resolver; the tests run their own instances and
# do not need it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet unbound 2>/dev/null; then
  $SUDO systemctl stop unbound || true
fi
# The Debian prometheus package enables and starts a server on :9090; the tests need only its
# promtool. A server that was installed before this run is left alone.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus 2>/dev/null || true
fi
