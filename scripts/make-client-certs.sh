#!/usr/bin/env bash
# Regenerates the client-certificate (mutual TLS) test fixtures in test/fixtures/mtls: a
# throwaway client CA, certificates it issued (valid, expired, not yet valid, revoked, for servers
# only), one from an unrelated CA, the CA's revocation list, and the valid certificate's key
# encrypted and in a PKCS#12 file. Everything is for tests on 127.0.0.1 / ::1 and is published on
# purpose; see test/fixtures/mtls/README.md.
#
# The CA private keys live in a temporary directory and are discarded, so nobody (the project
# included) can issue further certificates or revocation lists under these CAs; to change
# anything, run this script again and commit all of its output together.
#
# Needs OpenSSL 3.0 or newer (-crl_lastupdate and -crl_nextupdate).
set -euo pipefail
cd "$(dirname "$0")/.."

out=test/fixtures/mtls
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/issued"

# Fixed dates rather than "now": nothing here may expire while the suite runs (a certificate made
# "valid for a year" is a time bomb in CI), and a machine whose clock runs behind must not see
# "not yet valid". The deliberately expired and not-yet-valid certificates are the exceptions.
valid_from=20200101000000Z
valid_until=21200101000000Z
# A passphrase for tests only: it protects nothing, and the tests check it never shows up.
passphrase=aliot-test-passphrase

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
[crl_ext]
authorityKeyIdentifier = keyid:always
CNF
: > "$work/index.txt"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

issue() { # csr, certificate out, extensions file, then what names the issuer
  local csr="$1" crt="$2" ext="$3"
  shift 3
  openssl ca -batch -notext -config "$work/ca.cnf" -extfile "$ext" -in "$csr" -out "$crt" \
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

new_client() { # key, certificate, CA certificate, CA key, common name, extended key usage
  new_key "$1"
  openssl req -new -key "$1" -subj "/O=aliot-mqtt/CN=$5" -out "$work/leaf.csr"
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=$6" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid" > "$work/leaf.ext"
  issue "$work/leaf.csr" "$2" "$work/leaf.ext" -cert "$3" -keyfile "$4"
}

ca="$out/client-ca.pem"
new_ca "$work/ca.key" "$ca" "aliot-mqtt client test CA, never trust elsewhere"
# The CA again under OpenSSL's subject-hash name, for servers that take a CA directory (mosquitto's
# capath): a test broker then trusts it beside the CA of its own certificate.
rm -rf "$out/capath"
mkdir -p "$out/capath"
cp "$ca" "$out/capath/$(openssl x509 -hash -noout -in "$ca").0"

# The certificate the tests connect with, and its key (also encrypted, and as PKCS#12).
new_client "$out/client.key" "$out/client.pem" "$ca" "$work/ca.key" aliot-test-client clientAuth
openssl pkey -in "$out/client.key" -aes-256-cbc -passout "pass:$passphrase" -out "$out/client-encrypted.key"
openssl pkcs12 -export -in "$out/client.pem" -inkey "$out/client.key" -name aliot-test-client \
  -passout "pass:$passphrase" -out "$out/client.p12"

# Valid only during the year 2000: refused at construction, and by a server.
START=20000101000000Z END=20010101000000Z \
  new_client "$out/expired.key" "$out/expired.pem" "$ca" "$work/ca.key" aliot-test-expired clientAuth

# Valid only from 2100: refused at construction as not yet valid.
START=21000101000000Z \
  new_client "$out/not-yet-valid.key" "$out/not-yet-valid.pem" "$ca" "$work/ca.key" aliot-test-not-yet-valid clientAuth

# States its usages, and client authentication is not among them.
new_client "$out/server-only.key" "$out/server-only.pem" "$ca" "$work/ca.key" aliot-test-server-only serverAuth

# Valid, but revoked in client-ca.crl.
new_client "$out/revoked.key" "$out/revoked.pem" "$ca" "$work/ca.key" aliot-test-revoked clientAuth
openssl ca -config "$work/ca.cnf" -revoke "$out/revoked.pem" -cert "$ca" -keyfile "$work/ca.key" 2> "$work/ca.log" \
  || { cat "$work/ca.log" >&2; exit 1; }
openssl ca -gencrl -config "$work/ca.cnf" -crlexts crl_ext -cert "$ca" -keyfile "$work/ca.key" \
  -crl_lastupdate "$valid_from" -crl_nextupdate "$valid_until" -out "$out/client-ca.crl" 2> "$work/ca.log" \
  || { cat "$work/ca.log" >&2; exit 1; }

# A device CA with an RSA key, for the stand-in's X.509 mode with a CA of one's own (the stand-in
# signs device certificates with it, so its key is kept, test-only like everything here).
: > "$work/index.txt"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/rsa-device-ca.key" 2> /dev/null
openssl req -new -key "$out/rsa-device-ca.key" -subj "/O=aliot-mqtt/CN=aliot-mqtt RSA device test CA, never trust elsewhere" -out "$work/rsa.csr"
printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign" "subjectKeyIdentifier=hash" > "$work/rsa.ext"
issue "$work/rsa.csr" "$out/rsa-device-ca.pem" "$work/rsa.ext" -selfsign -keyfile "$out/rsa-device-ca.key"

# Issued by a CA no test server trusts.
: > "$work/index.txt"
new_ca "$work/foreign-ca.key" "$work/foreign-ca.pem" "aliot-mqtt unrelated client CA, never trust elsewhere"
new_client "$out/foreign.key" "$out/foreign.pem" "$work/foreign-ca.pem" "$work/foreign-ca.key" aliot-test-foreign clientAuth

chmod 644 "$out"/*.pem "$out"/*.key "$out"/*.crl "$out"/*.p12 "$out"/capath/*
