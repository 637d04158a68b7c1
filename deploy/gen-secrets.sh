#!/usr/bin/env bash
# Generates the keys and TLS material docker-compose.yml mounts (never
# committed: deploy/tls/ and deploy/secrets/ are git-ignored).
#
#   deploy/gen-secrets.sh            create what is missing (keeps existing files)
#   deploy/gen-secrets.sh --force    regenerate everything
#   deploy/gen-secrets.sh --list     print the paths it produces (validate-deploy)
#   deploy/gen-secrets.sh --list-env print the env names of provider-tokens.env
#   deploy/gen-secrets.sh --k8s      also print k8s Secret manifests for them
#                                    (pipe to `kubectl apply -f -`)
#
# What and where (each secret reaches only its segment):
#   tls/ca.crt, ca.key          private CA for the LGWAN link (keep ca.key offline)
#   tls/cloud-ingest.crt/.key   server certificate of cloud-ingest   (cloud)
#   tls/uplink.crt/.key         client certificate of relay-uplink   (exchange)
#   secrets/uplink-hmac.key     HMAC key of the uplink bearer token  (exchange)
#   secrets/ingest-keys         the same key as cloud-ingest's table (cloud)
#   tls/console.crt/.key        server certificate of the staff console (cloud)
#   secrets/console-ingest.key  the console's upload key at cloud-ingest (cloud)
#   secrets/pseudonym.key       利用者ID = HMAC(宛名番号) key         (processing only)
#   secrets/provider-tokens.env channel provider credentials          (cloud only)
set -euo pipefail
cd "$(dirname "$0")"

FILES=(tls/ca.crt tls/ca.key tls/cloud-ingest.crt tls/cloud-ingest.key tls/uplink.crt tls/uplink.key
  secrets/uplink-hmac.key secrets/ingest-keys secrets/pseudonym.key secrets/provider-tokens.env
  tls/console.crt tls/console.key secrets/console-ingest.key)

# sns-dispatcher reads provider credentials from these environment variables.
TOKENS=(OSH_LINE_TOKEN OSH_TWITTER_TOKEN OSH_FACEBOOK_TOKEN OSH_WEBHOOK_SECRET)

case ${1:-} in
--list) printf 'deploy/%s\n' "${FILES[@]}"; exit 0 ;;
--list-env) printf '%s\n' "${TOKENS[@]}"; exit 0 ;;
esac
force=0 k8s=0
for a in "$@"; do
  case $a in
  --force) force=1 ;;
  --k8s) k8s=1 ;;
  *) echo "usage: $0 [--force] [--k8s] | --list" >&2; exit 2 ;;
  esac
done

mkdir -p tls secrets
umask 077
need() { [ "$force" = 1 ] || [ ! -s "$1" ]; }
days=825

if need tls/ca.crt; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=oshirase/CN=oshirase LGWAN CA" -keyout tls/ca.key -out tls/ca.crt 2>/dev/null
fi
leaf() { # name, extendedKeyUsage, subjectAltName
  local ext
  ext=$(mktemp)
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$2" "$3" >"$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=oshirase/CN=$1" \
    -keyout "tls/$1.key" -out "tls/$1.csr" 2>/dev/null
  openssl x509 -req -in "tls/$1.csr" -CA tls/ca.crt -CAkey tls/ca.key -CAcreateserial \
    -days "$days" -extfile "$ext" -out "tls/$1.crt" 2>/dev/null
  rm -f "$ext" "tls/$1.csr" tls/ca.srl
}
need tls/cloud-ingest.crt && leaf cloud-ingest serverAuth \
  "DNS:cloud-ingest,DNS:cloud-ingest.oshirase-cloud.svc,DNS:localhost,IP:127.0.0.1"
need tls/uplink.crt && leaf uplink clientAuth "DNS:relay-uplink"
need tls/console.crt && leaf console serverAuth "DNS:console,DNS:console.oshirase-cloud.svc,DNS:localhost,IP:127.0.0.1"
need secrets/console-ingest.key && openssl rand -hex 32 | tr -d '\n' >secrets/console-ingest.key
need secrets/uplink-hmac.key && openssl rand -hex 32 | tr -d '\n' >secrets/uplink-hmac.key
# cloud-ingest's key table: "id secret" lines; the id is OSH_UPLINK_KEY_ID.
if need secrets/ingest-keys || [ secrets/uplink-hmac.key -nt secrets/ingest-keys ] ||
  [ secrets/console-ingest.key -nt secrets/ingest-keys ]; then
  printf 'uplink-1 %s\nconsole %s\n' "$(cat secrets/uplink-hmac.key)" "$(cat secrets/console-ingest.key)" \
    >secrets/ingest-keys
fi
need secrets/pseudonym.key && openssl rand -hex 32 | tr -d '\n' >secrets/pseudonym.key
if need secrets/provider-tokens.env; then
  {
    echo "# Channel provider credentials for sns-dispatcher (fill in; empty = channel off)."
    printf '%s=\n' "${TOKENS[@]}"
  } >secrets/provider-tokens.env
fi

# Containers run as uid 10001 and read these through bind mounts.
if [ "$(id -u)" = 0 ]; then
  chown 10001:10001 tls/*.crt tls/cloud-ingest.key tls/uplink.key tls/console.key secrets/*
  chmod 0400 tls/* secrets/*
  chmod 0444 tls/*.crt
else
  chmod 0644 tls/*.crt
  chmod 0644 tls/*.key secrets/* # readable by the container user; dev material only
  echo "gen-secrets: not root, so keys are world-readable for the containers (dev only)" >&2
fi

if [ "$k8s" = 1 ]; then
  b64() { base64 -w0 <"$1"; }
  tok() { sed -n "s/^$1=//p" secrets/provider-tokens.env | tr -d '\n' | base64 -w0; }
  secret() { # namespace name key=file...
    local ns=$1 name=$2
    shift 2
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\ndata:\n' \
      "$name" "$ns"
    for kv in "$@"; do printf '  %s: %s\n' "${kv%%=*}" "${kv#*=}"; done
  }
  secret oshirase-processing pseudonym-key "pseudonym.key=$(b64 secrets/pseudonym.key)"
  secret oshirase-exchange uplink-credentials "hmac.key=$(b64 secrets/uplink-hmac.key)" \
    "ca.crt=$(b64 tls/ca.crt)" "tls.crt=$(b64 tls/uplink.crt)" "tls.key=$(b64 tls/uplink.key)"
  secret oshirase-cloud cloud-ingest-credentials "keys=$(b64 secrets/ingest-keys)" \
    "ca.crt=$(b64 tls/ca.crt)" "tls.crt=$(b64 tls/cloud-ingest.crt)" "tls.key=$(b64 tls/cloud-ingest.key)"
  secret oshirase-cloud console-credentials "ingest.key=$(b64 secrets/console-ingest.key)" \
    "ca.crt=$(b64 tls/ca.crt)" "tls.crt=$(b64 tls/console.crt)" "tls.key=$(b64 tls/console.key)"
  secret oshirase-cloud provider-tokens "line=$(tok OSH_LINE_TOKEN)" "twitter=$(tok OSH_TWITTER_TOKEN)" \
    "facebook=$(tok OSH_FACEBOOK_TOKEN)" "webhook=$(tok OSH_WEBHOOK_SECRET)"
else
  echo "gen-secrets: material in deploy/tls and deploy/secrets" >&2
fi
