#!/usr/bin/env bash
# The C library: its unit tests (meson test), also under valgrind (when
# installed) and under ASan and UBSan; then its install, and the documented
# example built against it with pkg-config, whose output must be the one
# docs/c-api.md shows.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1
make_venv "$work/venv"
# shellcheck disable=SC1091  # made above
. "$work/venv/bin/activate"
python -m pip install -q meson ninja

echo "== C library: build and unit tests"
meson setup "$work/build-c" -Dpython=false --buildtype=debugoptimized >/dev/null
meson test -C "$work/build-c" --print-errorlogs
if command -v valgrind >/dev/null; then
  echo "== C unit tests under valgrind"
  # valgrind runs code tens of times slower: the tests get 10x their time.
  meson test -C "$work/build-c" --print-errorlogs --timeout-multiplier 10 \
    --wrap='valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect'
fi

echo "== C unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
meson setup "$work/build-asan" -Dpython=false -Db_sanitize=address,undefined \
  -Db_lundef=false -Dc_args=-fno-sanitize-recover=all --buildtype=debugoptimized >/dev/null
ASAN_OPTIONS=detect_leaks=1 meson test -C "$work/build-asan" --print-errorlogs

echo "== C library: install, then build the documented example with pkg-config"
meson setup "$work/build-install" -Dpython=false --prefix="$work/prefix" >/dev/null
meson install -C "$work/build-install" >/dev/null
pc_dir=$(dirname "$(find "$work/prefix" -name seqpacker.pc | head -n 1)")
lib_dir=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=libdir seqpacker)
# shellcheck disable=SC2046  # pkg-config's flags are words
cc -std=c11 -Wall -Werror -o "$work/pack_lengths" csrc/examples/pack_lengths.c \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs seqpacker) -Wl,-rpath,"$lib_dir"
"$work/pack_lengths" > "$work/example.out"
check_c_example_output "$work/example.out"
echo "C example output matches docs/c-api.md"
