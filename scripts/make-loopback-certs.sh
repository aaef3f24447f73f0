#!/usr/bin/env bash
# Regenerates the public loopback TLS material (certs/loopback) and the TLS test fixtures
# (test/fixtures/tls). Everything here is for 127.0.0.1 / ::1 only and is published on purpose.
#
# The CA private keys live in a temporary directory and are discarded, so nobody (the project
# included) can issue further certificates under these CAs; to change anything, run this script
# again and commit all of its output together.
#
# Needs OpenSSL 1.1.1 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."

loopback=certs/loopback
fixtures=test/fixtures/tls
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$loopback" "$fixtures" "$work/issued"

# Fixed dates rather than "now": a machine whose clock runs behind the one that made the files
# must not see "certificate is not yet valid", and a century means the suite never rots.
valid_from=20200101000000Z
valid_until=21200101000000Z
loopback_names="DNS:localhost,IP:::1,IP:127.0.0.1"

# `openssl ca` rather than `openssl x509 -req`: only it can set an explicit start date.
cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = scratch
[scratch]
database = $work/index.txt
new_certs_dir = $work/issued
rand_serial = yes
default_md = sha256
policy = anything
[anything]
organizationName = optional
commonName = supplied
CNF

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

issue() { # csr, certificate out, extensions file, then what names the issuer
  local csr="$1" out="$2" ext="$3"
  shift 3
  : > "$work/index.txt"
  openssl ca -batch -notext -config "$work/ca.cnf" -extfile "$ext" -in "$csr" -out "$out" \
    -startdate "${START:-$valid_from}" -enddate "${END:-$valid_until}" "$@" 2> "$work/ca.log" \
    || { cat "$work/ca.log" >&2; exit 1; }
}

new_ca() { # key, certificate, common name
  new_key "$1"
  openssl req -new -key "$1" -subj "/O=aliot-mqtt/CN=$3" -out "$work/ca.csr"
  printf '%s\n' \
    "basicConstraints=critical,CA:TRUE,pathlen:0" \
    "keyUsage=critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier=hash" > "$work/ca.ext"
  issue "$work/ca.csr" "$2" "$work/ca.ext" -selfsign -keyfile "$1"
}

new_leaf() { # key, certificate, CA certificate, CA key, common name, subjectAltName
  new_key "$1"
  openssl req -new -key "$1" -subj "/O=aliot-mqtt/CN=$5" -out "$work/leaf.csr"
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=$6" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid" > "$work/leaf.ext"
  issue "$work/leaf.csr" "$2" "$work/leaf.ext" -cert "$3" -keyfile "$4"
}

# The loopback CA and the server certificate that the local platform stand-in, the demo and the
# real-broker tests present.
new_ca "$work/ca.key" "$loopback/ca.pem" "aliot-mqtt loopback test CA, never trust elsewhere"
new_leaf "$loopback/server.key" "$loopback/server.pem" "$loopback/ca.pem" "$work/ca.key" \
  localhost "$loopback_names"

# A CA that signed nothing the tests' servers present: trusting only it must refuse them.
new_ca "$work/other-ca.key" "$fixtures/other-ca.pem" "aliot-mqtt unrelated test CA, never trust elsewhere"

# Signed by the loopback CA but for another name: only the host name check can refuse it.
new_leaf "$fixtures/wrong-host.key" "$fixtures/wrong-host.pem" "$loopback/ca.pem" "$work/ca.key" \
  not-this-host.invalid "DNS:not-this-host.invalid"

# Signed by the loopback CA for the loopback names, but valid only during the year 2000.
START=20000101000000Z END=20010101000000Z \
  new_leaf "$fixtures/expired.key" "$fixtures/expired.pem" "$loopback/ca.pem" "$work/ca.key" \
  localhost "$loopback_names"

chmod 644 "$loopback"/*.pem "$loopback"/*.key "$fixtures"/*.pem "$fixtures"/*.key
