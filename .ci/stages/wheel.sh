#!/usr/bin/env bash
# Every other CPython: one abi3 wheel, built with CPython 3.9, tested on
# 3.9, 3.10, 3.12 and 3.13 (3.11 is python.sh's). The extension modules
# target the limited C API of Python 3.9, so one wheel serves every CPython
# from 3.9 on; its tag names the interpreter that builds it, so the release
# wheel is built with 3.9 (cp39-abi3). That same file is installed into a
# venv of each CPython, with the example plugin, and runs the whole suite.
# torch, transformers, datasets, Ray and PySpark are not installed there:
# their tests skip. Interpreters: see find_cpython in .ci/lib.sh.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1
pythons=()
for version in 3.9 3.10 3.12 3.13; do
  found=$(find_cpython "$version")  # its own assignment, so that set -e sees a miss
  pythons+=("$found")
done
python39=${pythons[0]}

echo "== Every Python: one abi3 wheel, built with CPython 3.9, tested on 3.9, 3.10, 3.12 and 3.13"
make_venv "$work/build39" "$python39"
"$work/build39/bin/python" -m pip wheel -q --no-deps . -w "$work/wheel39"
wheel=$(ls "$work"/wheel39/seqpacker-*.whl)
case "$(basename "$wheel")" in
  seqpacker-*-cp39-abi3-*.whl) echo "built $(basename "$wheel") with $("$python39" --version)" ;;
  *) echo "$(basename "$wheel") is not tagged cp39-abi3"; exit 1 ;;
esac
# abi3audit: every symbol the modules import belongs to the stable ABI of 3.9.
make_venv "$work/audit"
"$work/audit/bin/python" -m pip install -q abi3audit
"$work/audit/bin/abi3audit" --strict --summary "$wheel"
for python in "${pythons[@]}"; do
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  make_venv "$work/venv$version" "$python"
  "$work/venv$version/bin/python" -m pip install -q "${wheel}[test]" ./plugins/seqpacker-balanced
  echo "-- the abi3 wheel on Python $version"
  run_tests "$work/venv$version/bin/python" "$repo/tests" "$repo/plugins"
done
