#!/usr/bin/env bash
# The Python package as a user installs it (python3, 3.11 in CI): a real,
# non-editable, isolated `pip install` and the README's test command, with
# torch, transformers, datasets, TRL, Ray Data and PySpark installed so that
# the training and scale-out tests run (a skip for one of them fails the
# run: SEQPACKER_REQUIRE_OPTIONAL); the wheel that install builds must be
# abi3. Then the wheel's one library: its exports, and the C and Rust
# examples linked against it through seqpacker.config and pkg-config.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" || exit 1
make_venv "$work/venv"
# shellcheck disable=SC1091  # made above
. "$work/venv/bin/activate"

echo "== Optional dependencies of the training and scale-out helpers (their tests must run, not skip)"
# torch==2.13.0 takes the CPU build on this machine's disk; a bare `torch`
# would pull several GB of CUDA packages. transformers, datasets, TRL (the
# SFTTrainer recipe), Ray Data and PySpark come after it, so that they keep
# it. PySpark runs on the machine's Java (java -version below) in local mode.
python -m pip install -q torch==2.13.0
python -m pip install -q transformers datasets trl "ray[data]" pyspark
java -version 2>&1 | head -n 1
export SEQPACKER_REQUIRE_OPTIONAL=torch,transformers,datasets,trl,pyarrow,ray,pyspark,seqpacker-balanced

echo "== Python package: the README's test command"
# The README's test command, verbatim (kept in sync by tests/test_ci_script.py).
pip install ".[test]" ./plugins/seqpacker-balanced && pytest
# The extension modules target the limited C API, so any CPython builds an
# abi3 wheel, tagged with that CPython (wheel.sh builds the cp39 one).
installed_tag=$(cd "$work" && python -c \
  "import importlib.metadata as m; print(m.distribution('seqpacker').read_text('WHEEL'))" \
  | sed -n 's/^Tag: //p')
case "$installed_tag" in
  cp3*-abi3-*) echo "the README's install ($(python --version)) built a $installed_tag wheel" ;;
  *) echo "the README's install built a $installed_tag wheel, not abi3"; exit 1 ;;
esac

echo "== The wheel's one library, from C and Rust (python -m seqpacker.config)"
# Run outside the checkout, so that the installed package is imported.
cfg() { (cd "$work" && python -m seqpacker.config "$@"); }
lib_dir=$(cfg --libdir)
nm -D --defined-only "$lib_dir/libseqpacker.so" | awk '{print $3}' > "$work/symbols"
if grep -v '^sp_' "$work/symbols"; then
  echo "libseqpacker.so exports symbols without the sp_ prefix (above)"; exit 1
fi
# Exactly the functions the header declares with SP_API, no more, no less.
tr '\n' ' ' < csrc/include/seqpacker.h | grep -oE 'SP_API [^(;]*\(' \
  | grep -oE 'sp_[a-z0-9_]+ *\($' | tr -d ' (' | sort > "$work/declared"
if ! sort "$work/symbols" | diff - "$work/declared"; then
  echo "libseqpacker.so's exports differ from seqpacker.h's SP_API functions (above)"; exit 1
fi
echo "libseqpacker.so exports $(wc -l < "$work/symbols") symbols, all sp_, exactly the header's"
# shellcheck disable=SC2046  # the config's flags are words
cc -std=c11 -Wall -Werror -o "$work/pack_lengths_wheel" csrc/examples/pack_lengths.c $(cfg --cflags --libs)
"$work/pack_lengths_wheel" > "$work/example.out"
check_c_example_output "$work/example.out"
echo "C example linked against the wheel: the output docs/c-api.md shows"
lengths=$(realpath ../shared/data/lengths/gsm8k_train_llama2.npy 2>/dev/null || realpath seqpacker/data/gsm8k_train_llama2.npy)
PKG_CONFIG_PATH=$(cfg --pkg-config-path) cargo build --offline --release --quiet \
  --manifest-path csrc/examples/rust/Cargo.toml --target-dir "$work/rust"
"$work/rust/release/pack_lengths" "$lengths" 2048 > "$work/rust.out"
(cd "$work" && python - "$lengths" "$work/rust.out") <<'PY'
import sys
import numpy as np
import seqpacker
lengths = np.load(sys.argv[1])
bins = seqpacker.Packer(2048).pack(lengths).bins
want = [f"bins {len(bins)}"] + [f"{b}: " + " ".join(map(str, ids)) for b, ids in enumerate(bins)]
got = open(sys.argv[2], encoding="utf-8").read().splitlines()
assert got == want, "the Rust example's bins differ from the Python package's"
print(f"Rust example ({sys.argv[1].rsplit('/', 1)[-1]}, capacity 2048): {len(bins)} bins, "
      "equal to the Python package's")
PY
