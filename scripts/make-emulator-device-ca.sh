#!/usr/bin/env bash
# Regenerates the local stand-in's throwaway device CA (certs/emulator): the CA that `aliot
# emulator --x509` and `startEmulator({ x509: true })` issue device certificates with and trust
# devices by. Its private key is published on purpose, next to the certificate, because the
# stand-in must sign with it: the CA proves nothing, and is for 127.0.0.1 / ::1 only.
#
# Needs OpenSSL 1.1.1 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."

out=certs/emulator
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/issued"

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
: > "$work/index.txt"

# EC P-256: the stand-in signs device certificates with it (ECDSA with SHA-256) in pure Node.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/device-ca.key"
openssl req -new -key "$out/device-ca.key" \
  -subj "/O=aliot-mqtt/CN=aliot-mqtt stand-in device CA, never trust elsewhere" -out "$work/ca.csr"
printf '%s\n' \
  "basicConstraints=critical,CA:TRUE,pathlen:0" \
  "keyUsage=critical,keyCertSign,cRLSign" \
  "subjectKeyIdentifier=hash" > "$work/ca.ext"
# Fixed dates, as for the loopback certificates: valid from 2020 for a century.
openssl ca -batch -notext -config "$work/ca.cnf" -extfile "$work/ca.ext" -in "$work/ca.csr" \
  -out "$out/device-ca.pem" -startdate 20200101000000Z -enddate 21200101000000Z \
  -selfsign -keyfile "$out/device-ca.key" 2> "$work/ca.log" || { cat "$work/ca.log" >&2; exit 1; }

chmod 644 "$out/device-ca.pem" "$out/device-ca.key"
