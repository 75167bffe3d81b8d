#!/usr/bin/env bash
# Other platforms, from Linux: Windows (the C library and its tests
# cross-compiled with mingw-w64, run under Wine; the DLL's exports) and the
# portable path of macOS and the BSDs (-Dlinux_page_advice=false: the C
# tests, no page advice linked in, the Python tests of the C paths).
# bins_digest must print the same bins on Linux, the portable path and
# Windows. Needs mingw-w64 and Wine (system-packages.sh installs them).
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1
for tool in x86_64-w64-mingw32-gcc wine; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing: bash .ci/stages/system-packages.sh installs it" >&2
    exit 1
  fi
done
make_venv "$work/venv"
# shellcheck disable=SC1091  # made above
. "$work/venv/bin/activate"
python -m pip install -q meson ninja
# The Linux build that the others are compared with (c.sh runs its tests).
meson setup "$work/build-c" -Dpython=false --buildtype=debugoptimized >/dev/null
meson compile -C "$work/build-c" >/dev/null

echo "== Windows: the C library and its tests cross-compiled with mingw-w64, run under Wine"
export WINEPREFIX="$work/wine" WINEDEBUG=-all
meson setup "$work/build-win" --cross-file csrc/cross/mingw-w64.ini -Dpython=false \
  --werror >/dev/null
meson test -C "$work/build-win" --print-errorlogs
# The DLL exports what the Linux library exports (python.sh checks that
# against the header).
x86_64-w64-mingw32-objdump -p "$work"/build-win/libseqpacker-*.dll \
  | awk '/\[Ordinal\/Name Pointer\] Table/ {t = 1; next} t && NF == 0 {t = 0} t {print $NF}' \
  | sort > "$work/dll-exports"
if ! nm -D --defined-only "$work/build-c/libseqpacker.so" | awk '{print $3}' | sort \
    | diff - "$work/dll-exports"; then
  echo "the Windows DLL's exports differ from libseqpacker.so's (above)"; exit 1
fi
echo "the Windows DLL exports $(wc -l < "$work/dll-exports") functions, the same as libseqpacker.so"

echo "== The portable path (-Dlinux_page_advice=false): C tests, the same bins, the Python tests of the C paths"
# How macOS and the BSDs build: no Linux page advice. Results must not change.
meson setup "$work/build-portable" -Dpython=false -Dlinux_page_advice=false --werror >/dev/null
meson test -C "$work/build-portable" --print-errorlogs
if nm "$work/build-portable/libseqpacker.a" | grep -E ' U (madvise|aligned_alloc)$'; then
  echo "the portable build calls Linux page advice (above)"; exit 1
fi
# Every strategy's bins, the same on Linux, on the portable path and on Windows.
for build in build-c build-portable build-win; do
  meson compile -C "$work/$build" bins_digest >/dev/null
done
"$work/build-c/csrc/tests/bins_digest" > "$work/digest-linux"
"$work/build-portable/csrc/tests/bins_digest" > "$work/digest-portable"
wine "$work/build-win/csrc/tests/bins_digest.exe" | tr -d '\r' > "$work/digest-windows"
diff "$work/digest-linux" "$work/digest-portable"
diff "$work/digest-linux" "$work/digest-windows"
echo "bins_digest: $(wc -l < "$work/digest-linux") runs, the same bins on Linux, the portable path and Windows"
make_venv "$work/portable-venv"
install_with_setup_args "$work/portable-venv" -Dlinux_page_advice=false
portable_lib=$(cd "$work" && "$work/portable-venv/bin/python" -m seqpacker.config --libdir)/libseqpacker.so
if nm -D "$portable_lib" | grep -E ' U (madvise|aligned_alloc)'; then
  echo "the portable package calls Linux page advice (above)"; exit 1
fi
# This package differs from the main one (python.sh) only in its C library,
# which leaves out Linux page advice: only the tests of the C paths can see
# that, so they run here and the rest of the suite runs once, in python.sh.
run_tests "$work/portable-venv/bin/python" "${c_path_tests[@]/#/$repo/}"
