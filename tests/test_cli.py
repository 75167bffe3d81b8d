"""The ``seqpacker`` command, run as ``python -m seqpacker`` in a subprocess.

Each run uses a temporary working directory, so that the installed package
is imported rather than the source tree.
"""

import re
import subprocess
import sys

import numpy as np
import pytest

from seqpacker import Packer

# A table row: strategy, bins, efficiency, time.
ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+\.\d\d)%\s+(\d+\.\d+)ms$")


def run_cli(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "seqpacker", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )


def rows(stdout):
    return {m[1]: (int(m[2]), float(m[3])) for m in map(ROW.match, stdout.splitlines()) if m}


def bundled_lengths():
    from importlib import resources

    path = resources.files("seqpacker").joinpath("data").joinpath("gsm8k_train_llama2.npy")
    with path.open("rb") as file:
        return np.load(file)


def test_default_run_packs_the_bundled_data_with_every_strategy(tmp_path):
    out = run_cli(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lengths = bundled_lengths()
    assert len(lengths) == 7473
    assert f"{len(lengths)} sequences" in out.stdout and "capacity 2048" in out.stdout
    table = rows(out.stdout)
    assert list(table) == [short for short, _ in Packer.strategies()]
    for short, (bins, efficiency) in table.items():
        expected = Packer(2048, short).pack(lengths)
        assert bins == expected.num_bins, short
        assert efficiency == pytest.approx(100 * expected.efficiency, abs=0.006)


def test_chosen_strategies_capacity_and_seed(tmp_path):
    out = run_cli(tmp_path, "--capacity", "1024", "--strategy", "bfd",
                  "--strategy", "FirstFit", "--seed", "3")
    assert out.returncode == 0, out.stderr
    lengths = bundled_lengths()
    table = rows(out.stdout)
    assert list(table) == ["BFD", "FF"]
    assert table["BFD"][0] == Packer(1024, "bfd").pack(lengths).num_bins
    assert table["FF"][0] == Packer(1024, "ff").pack(lengths).num_bins
    assert "capacity 1024" in out.stdout


def test_text_input(tmp_path):
    (tmp_path / "lengths.txt").write_text("# a comment\n1000\n800\n\n600\n500\n400\n300\n200\n100\n")
    out = run_cli(tmp_path, "--input", "lengths.txt", "--capacity", "1024", "--strategy", "obfd")
    assert out.returncode == 0, out.stderr
    assert rows(out.stdout) == {"OBFD": (4, 95.21)}
    assert "8 sequences, 3900 tokens" in out.stdout and "at least 4 bins" in out.stdout


def test_npy_input(tmp_path):
    np.save(tmp_path / "lengths.npy", np.array([5, 5, 5, 9], dtype=np.int16))
    out = run_cli(tmp_path, "--input", "lengths.npy", "--capacity", "10", "--strategy", "nf")
    assert out.returncode == 0, out.stderr
    assert rows(out.stdout) == {"NF": (3, 80.0)}  # [5, 5] [5] [9]


def test_all_keyword(tmp_path):
    np.save(tmp_path / "lengths.npy", np.arange(1, 50))
    out = run_cli(tmp_path, "--input", "lengths.npy", "--strategy", "ALL")
    assert list(rows(out.stdout)) == [short for short, _ in Packer.strategies()]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "obdf"], "Did you mean 'obfd'?"),
        (["--capacity", "0"], "capacity = 0"),
        (["--capacity", "100"], "exceeds capacity 100"),
        (["--input", "missing.npy"], "missing.npy"),
        (["--input", "bad.txt"], "line 2: 'abc' is not an integer length"),
        (["--input", "floats.npy"], "got dtype float64"),
        (["--input", "huge.txt"], "line 2: 9223372036854775808 does not fit int64"),
        (["--input", "scalar.npy"], "must be 1-D"),
        (["--input", "strings.npy"], "must be integers"),
        (["--input", "dates.npy"], "must be integers"),
        (["--input", "overflow.npy", "--capacity", str(2**62)], "does not fit int64"),
        (["--strategy", "all", "--strategy", "nope"], "unknown strategy 'nope'"),
        (["--input", "arabic.txt"], "line 2: '\u0665' is not an integer length (a length is "
                                    "written in the digits 0-9 only)"),
        (["--input", "underscore.txt"], "line 1: '1_000' is not an integer length"),
        (["--input", "plus.txt"], "line 3: '+7' is not an integer length"),
        (["--input", "negative.txt"], "lengths[1] = -5 is not a valid length: every length "
                                      "must be >= 1"),
        (["--input", "minus.txt"], "line 2: '-' is not an integer length"),
        (["--strategy", "bfd", "--strategy", "ff", "--plugin-option", "ranks=8"],
         "--plugin-option ranks: only built-in strategies run (bfd, ff), and they take no "
         "plugin options"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    (tmp_path / "bad.txt").write_text("5\nabc\n")
    (tmp_path / "huge.txt").write_text("5\n9223372036854775808\n")
    (tmp_path / "arabic.txt").write_text("5\n\u0665\n", encoding="utf-8")
    (tmp_path / "underscore.txt").write_text("1_000\n", encoding="utf-8")
    (tmp_path / "plus.txt").write_text("5\n6\n+7\n", encoding="utf-8")
    (tmp_path / "negative.txt").write_text("5\n-5\n", encoding="utf-8")
    (tmp_path / "minus.txt").write_text("5\n-\n", encoding="utf-8")
    np.save(tmp_path / "floats.npy", np.array([1.0, 2.0]))
    np.save(tmp_path / "scalar.npy", np.array(5))
    np.save(tmp_path / "strings.npy", np.array(["5", "6"]))
    np.save(tmp_path / "dates.npy", np.array(["2026-01-01"], dtype="datetime64[D]"))
    np.save(tmp_path / "overflow.npy", np.array([2**62, 2**62], dtype=np.int64))
    out = run_cli(tmp_path, *args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.startswith("seqpacker: error:")
    assert "tokens" not in out.stdout  # nothing printed before the check (no "-2 tokens")


def test_help(tmp_path):
    out = run_cli(tmp_path, "--help")
    assert out.returncode == 0
    for option in ("--capacity", "--strategy", "--input", "--seed"):
        assert option in out.stdout
