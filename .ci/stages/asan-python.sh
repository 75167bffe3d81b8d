#!/usr/bin/env bash
# The Python tests of the C paths, on a package whose C code is built under
# AddressSanitizer and UndefinedBehaviorSanitizer (no recovery: a report
# fails the run).
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1

echo "== Python tests of the C paths, on a build under ASan and UBSan"
make_venv "$work/asan-venv"
install_with_setup_args "$work/asan-venv" -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all
# CPython is not instrumented: the sanitizer runtimes are preloaded, leaks
# are not tracked (the interpreter's own), and an allocation too large for
# ASan returns NULL as malloc would (pickles of damaged states ask for one).
run_tests LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
  "$work/asan-venv/bin/python" "${c_path_tests[@]/#/$repo/}"
