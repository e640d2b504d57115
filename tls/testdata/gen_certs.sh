#!/bin/bash
# Generates the TLS test certificates into the directory $1 (the genrule's output folder) with
# the openssl CLI. Everything is made from scratch on each build, offline and in well under a
# second: EC P-256 keys (one RSA 2048 pair to cover RSA), no DH parameters.
#
#   ca.pem/ca.key                  test CA ("Volley Test CA")
#   mx.pem/mx.key                  leaf: mx.tls.test, *.tls.test, localhost, 127.0.0.1, ::1
#   other.pem/other.key            leaf: other.tls.test only (wrong-name tests)
#   rsa.pem/rsa.key                leaf like mx, with an RSA 2048 key
#   selfsigned.pem/selfsigned.key  self-signed sink.localdomain (untrusted-certificate tests)
set -euo pipefail

out="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Our own configuration, so that the system's openssl.cnf adds nothing to the certificates.
cnf="$tmp/certs.cnf"
cat >"$cnf" <<'CNF'
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[mx_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx.tls.test, DNS:*.tls.test, DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
[other_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.tls.test
authorityKeyIdentifier = keyid
# What `openssl req -x509` makes by default, as on many MX hosts (a CA:TRUE leaf).
[selfsigned_ext]
basicConstraints = critical, CA:TRUE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:sink.localdomain
CNF
export OPENSSL_CONF="$cnf"

# Runs openssl quietly (Bazel would print its chatter on every build), but shows its output
# when it fails.
ossl() {
  local log
  if ! log="$(openssl "$@" 2>&1)"; then
    echo "openssl $*: $log" >&2
    return 1
  fi
}

ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# A leaf signed by the CA: leaf NAME CN EXTENSIONS SERIAL.
leaf() {
  ossl req -new -config "$cnf" -key "$out/$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
  ossl x509 -req -in "$tmp/$1.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -set_serial "$4" \
    -days 3650 -sha256 -extfile "$cnf" -extensions "$3" -out "$out/$1.pem"
}

ec_key "$out/ca.key"
ossl req -x509 -new -config "$cnf" -key "$out/ca.key" -subj "/CN=Volley Test CA" \
  -days 3650 -sha256 -set_serial 1 -extensions ca_ext -out "$out/ca.pem"

ec_key "$out/mx.key"
leaf mx mx.tls.test mx_ext 2
ec_key "$out/other.key"
leaf other other.tls.test other_ext 3
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/rsa.key"
leaf rsa mx.tls.test mx_ext 4

ec_key "$out/selfsigned.key"
ossl req -x509 -new -config "$cnf" -key "$out/selfsigned.key" -subj "/CN=sink.localdomain" \
  -days 3650 -sha256 -set_serial 5 -extensions selfsigned_ext -out "$out/selfsigned.pem"
