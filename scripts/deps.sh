#!/usr/bin/env bash
# Installs the Debian packages oshirase needs to build, test and run its demo.
# Skips apt entirely when everything is already there, so it is cheap to call
# from every entry point.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format valgrind python3
  librdkafka-dev libavro-dev libjansson-dev libcurl4-openssl-dev libssl-dev
  libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libmicrohttpd-dev libgnutls28-dev
  kcat curl procps jq python3-aiosmtpd apprise openssl
  python3-yaml yamllint
  chromium chromium-driver python3-selenium fonts-ipafont-gothic
  libsodium-dev liboath-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
