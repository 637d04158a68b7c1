#!/usr/bin/env bash
# Generates throw-away TLS material for tests and benches into DIR:
#   ca.pem ca.key          a test CA
#   server.pem server.key  CN=localhost, SAN localhost + 127.0.0.1, signed by the CA
#   client.pem client.key  a client certificate for mutual TLS, signed by the CA
# Nothing here is ever committed; keys live only in DIR (e.g. $OSH_IT_TMP).
#   tests/integration/certs/gen.sh DIR
set -euo pipefail
dir=${1:?usage: gen.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { openssl "$@" 2>/dev/null; }
q req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=oshirase test CA" -keyout ca.key -out ca.pem
for who in server client; do
        q req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -subj "/CN=$([[ $who == server ]] && echo localhost || echo relay-bridge)" \
                -keyout "$who.key" -out "$who.csr"
        if [[ $who == server ]]; then
                printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$who.ext"
        else
                printf 'extendedKeyUsage=clientAuth\n' >"$who.ext"
        fi
        q x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile "$who.ext" -out "$who.pem"
        rm -f "$who.csr" "$who.ext"
done
chmod 600 ./*.key
