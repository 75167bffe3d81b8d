#!/usr/bin/env bash
# The libFuzzer harnesses of csrc/fuzz under ASan and UBSan, FUZZ_SECONDS
# (60) each. Needs clang (system-packages.sh installs it).
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1
seconds=${FUZZ_SECONDS:-60}
if ! command -v clang >/dev/null; then
  echo "clang is missing: bash .ci/stages/system-packages.sh installs it" >&2
  exit 1
fi
echo "== Fuzzing: libFuzzer harnesses under ASan and UBSan, $seconds s each"
bash csrc/fuzz/run.sh "$seconds" "$work/fuzz"
