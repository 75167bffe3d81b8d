#!/usr/bin/env bash
# The system packages the other stages need, installed with apt-get: clang
# (fuzz.sh), and mingw-w64 and Wine (platforms.sh). This is the one stage
# that installs system packages; it installs nothing when the tools are
# already there. valgrind, Java, cargo and pkg-config are the machine's own.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1

packages=()
if ! command -v clang >/dev/null; then packages+=(clang); fi
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v wine >/dev/null; then
  packages+=(gcc-mingw-w64-x86-64 wine wine64)
fi
if [ ${#packages[@]} -eq 0 ]; then
  echo "clang, x86_64-w64-mingw32-gcc and wine are present: no system package to install"
  exit 0
fi
echo "installing ${packages[*]}"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
