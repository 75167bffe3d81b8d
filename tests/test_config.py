"""seqpacker.config: the installed package carries one copy of the C library,
its header and a relocatable pkg-config file, and says where they are."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import seqpacker

PACKAGE = Path(seqpacker.__file__).resolve().parent
EDITABLE = not (PACKAGE / "include" / "seqpacker.h").exists()
installed = pytest.mark.skipif(EDITABLE, reason="an editable install has no installed "
                                                "library files (CI tests a real install)")


def config(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "seqpacker.config", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


@installed
def test_flags_point_at_the_package(tmp_path):
    out = config(tmp_path, "--cflags", "--libs")
    assert out.returncode == 0, out.stderr
    include, libdir = PACKAGE / "include", PACKAGE / "_core"
    assert shlex.split(out.stdout) == [f"-I{include}", f"-L{libdir}", "-lseqpacker",
                                  f"-Wl,-rpath,{libdir}"]
    assert (include / "seqpacker.h").is_file()
    assert (libdir / "libseqpacker.so").is_file() or any(libdir.glob("libseqpacker*"))
    assert config(tmp_path, "--version").stdout.strip() == seqpacker.__version__


@installed
def test_pkg_config_file_is_relocatable(tmp_path):
    folder = Path(config(tmp_path, "--pkg-config-path").stdout.strip())
    text = (folder / "seqpacker.pc").read_text(encoding="utf-8")
    assert "prefix=${pcfiledir}/.." in text
    assert re.search(rf"^Version: {re.escape(seqpacker.__version__)}$", text, re.M)
    assert "Libs: -L${libdir} -lseqpacker" in text


@installed
def test_no_flag_is_a_usage_error(tmp_path):
    out = config(tmp_path)
    assert out.returncode == 2 and "usage" in out.stderr


@installed
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_a_c_program_links_the_package_library(tmp_path):
    flags = shlex.split(config(tmp_path, "--cflags", "--libs").stdout)
    source = tmp_path / "use.c"
    source.write_text('#include <stdio.h>\n#include <seqpacker.h>\n'
                      'int main(void) { printf("%s\\n", sp_version_string()); return 0; }\n')
    subprocess.run(["cc", "-std=c11", str(source), "-o", str(tmp_path / "use"), *flags],
                   check=True, timeout=120)
    run = subprocess.run([str(tmp_path / "use")], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == seqpacker.__version__


def test_flags_are_shell_quoted_and_single_folders_are_not(tmp_path, monkeypatch, capsys):
    from seqpacker import config as config_module

    package = tmp_path / "site packages" / "it's here"
    (package / "include").mkdir(parents=True)
    monkeypatch.setattr(config_module, "PACKAGE_DIR", package)
    assert config_module.main(["--cflags", "--libs"]) == 0
    line = capsys.readouterr().out.strip()
    assert " " in str(package) and line.split() != shlex.split(line)
    lib_dir = package / "_core"
    assert shlex.split(line) == [f"-I{package / 'include'}", f"-L{lib_dir}", "-lseqpacker",
                                 f"-Wl,-rpath,{lib_dir}"]
    assert config_module.main(["--libdir"]) == 0
    assert capsys.readouterr().out == f"{lib_dir}\n"
