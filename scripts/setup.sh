#!/usr/bin/env bash
# setup.sh: installs the Debian packages mandate needs to build and test, when they are missing.
# Run as root (or with sudo available). Safe to run again: it installs nothing already present.
set -euo pipefail

packages=(build-essential cmake pkg-config clang clang-format valgrind
          libjansson-dev libsodium-dev libsqlite3-dev libcmocka-dev libmicrohttpd-dev
          sqlite3 curl python3 chromium)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# libFuzzer's runtime (for the fuzz targets) is only recommended by clang, and its package name
# carries clang's major version, known once clang is installed.
fuzz_runtime() { echo "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"; }

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if command -v clang >/dev/null 2>&1 && ! installed "$(fuzz_runtime)"; then
  missing+=("$(fuzz_runtime)")
fi
# The differential test installs the reference engine with npm, which Debian packages apart from
# node (other node builds bring their own: only a missing command is installed).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

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
if ! installed "$(fuzz_runtime)"; then
  "${apt_get[@]}" install -y -qq --no-install-recommends "$(fuzz_runtime)"
fi
