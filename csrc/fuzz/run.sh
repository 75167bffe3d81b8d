#!/usr/bin/env bash
# Build the libFuzzer harnesses of this folder with clang (AddressSanitizer
# and UndefinedBehaviorSanitizer on) and run each for SECONDS seconds from
# its seed corpus (corpus/NAME). Prints each harness's executions and
# coverage; exits non-zero on the first crash, leak or sanitizer report.
#     bash csrc/fuzz/run.sh [SECONDS] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
for harness in fuzz_pack fuzz_stream fuzz_state; do
  clang -std=c11 -O1 -g -pthread -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -Icsrc/include -Icsrc/src \
    csrc/fuzz/$harness.c csrc/src/*.c csrc/src/common/*.c csrc/src/offline/*.c \
    csrc/src/stream/*.c -o "$out/$harness"
  mkdir -p "$out/corpus-$harness"
  cp csrc/fuzz/corpus/$harness/* "$out/corpus-$harness/"
  "$out/$harness" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
    "$out/corpus-$harness" > "$out/$harness.log" 2>&1 || {
      tail -n 60 "$out/$harness.log"; echo "$harness: FAILED"; exit 1; }
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$harness.log" | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$out/$harness.log" | tail -n 1)
  echo "$harness: $runs executions in ${seconds} s, $cov (coverage edges, features), no crash"
done
