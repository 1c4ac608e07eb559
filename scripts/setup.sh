#!/usr/bin/env bash
# setup.sh: installs the Debian packages mandate needs to build and test, when they are missing.
# Run as root (or with sudo available). Safe to run again: it installs nothing already present.
set -euo pipefail

packages=(build-essential cmake pkg-config clang clang-format valgrind
          libjansson-dev libsodium-dev libsqlite3-dev libcmocka-dev libmicrohttpd-dev
          sqlite3 curl python3 chromium)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt_get=(sudo apt-get)
else
  echo "setup: these Debian packages are missing: ${missing[*]}" >&2
  echo "setup: run this script as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
