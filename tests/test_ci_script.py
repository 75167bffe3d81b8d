"""CI (.ci/run over .ci/stages) runs every stage and the README's test command.

The driver is run for real over stub stages in a copy of .ci, so that what
it runs, and in which order, is checked without running CI itself.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci"
STAGES = sorted((CI / "stages").glob("*.sh"))

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines()]
    tests = [c for c in commands if "pytest" in c]
    assert tests, "README.md shows no test command"
    return tests[0].strip()


def stripped_lines(path: Path) -> list:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_stage_runs_the_readme_test_command():
    command = readme_test_command()
    running = [p.name for p in STAGES if command in stripped_lines(p)]
    assert len(running) == 1, f"stages with the README's test command {command!r}: {running}"


def test_torch_is_always_pinned():
    # A bare `torch` pulls several GB of CUDA packages.
    for path in [CI / "run", CI / "lib.sh", *STAGES]:
        for line in stripped_lines(path):
            if "pip install" in line and re.search(r"\btorch\b", line):
                assert re.search(r"\btorch==\d", line), f"{path.name}: {line}"


@pytest.mark.parametrize("path", [CI / "run", CI / "lib.sh", *STAGES], ids=lambda p: p.name)
def test_scripts_are_valid_bash(path):
    run = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("path", [CI / "run", *STAGES], ids=lambda p: p.name)
def test_scripts_are_executable_bash(path):
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert os.access(path, os.X_OK)


def stub_ci(tmp_path: Path, failing: str = "") -> Path:
    """A copy of .ci/run over stages that log their name (FAILING also fails)."""
    (tmp_path / ".ci" / "stages").mkdir(parents=True)
    shutil.copy(CI / "run", tmp_path / ".ci" / "run")
    for stage in STAGES:
        fail = "exit 3\n" if stage.stem == failing else ""
        (tmp_path / ".ci" / "stages" / stage.name).write_text(
            f'echo {stage.stem} >> "$CI_LOG"\n{fail}', encoding="utf-8")
    return tmp_path / ".ci" / "run"


def run_driver(tmp_path: Path, *stages: str, failing: str = ""):
    driver = stub_ci(tmp_path / "repo", failing)
    log = tmp_path / "log"
    log.touch()
    run = subprocess.run(["bash", str(driver), *stages], cwd=tmp_path, capture_output=True,
                         text=True, env={**os.environ, "CI_LOG": str(log)})
    return run, log.read_text(encoding="utf-8").split()


def test_the_driver_runs_every_stage_once(tmp_path):
    run, ran = run_driver(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(ran) == sorted(p.stem for p in STAGES)
    # system-packages installs the tools of the others.
    assert ran[0] == "system-packages"


def test_the_driver_runs_only_the_named_stages(tmp_path):
    _, everything = run_driver(tmp_path / "all")
    chosen = [everything[-1], everything[1]]
    run, ran = run_driver(tmp_path / "some", *chosen)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(ran) == sorted(chosen)


def test_the_driver_refuses_an_unknown_stage(tmp_path):
    name = STAGES[0].stem
    run, ran = run_driver(tmp_path, name, "no-such-stage")
    assert run.returncode != 0
    assert "no-such-stage" in run.stderr
    assert ran == []


def test_the_driver_stops_at_a_failing_stage(tmp_path):
    _, everything = run_driver(tmp_path / "all")
    failing = everything[1]
    run, ran = run_driver(tmp_path / "fail", failing=failing)
    assert run.returncode != 0
    assert ran == everything[:2]


def lib(tmp_path: Path, script: str, **env):
    """Run SCRIPT after sourcing .ci/lib.sh, from TMP_PATH."""
    return subprocess.run(["bash", "-c", f'source "{CI / "lib.sh"}"\n{script}'], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, **env})


def test_lib_works_from_the_root_in_a_work_dir_it_removes(tmp_path):
    run = lib(tmp_path, 'echo "$PWD"; echo "$repo"; echo "$work"; test -d "$work"')
    assert run.returncode == 0, run.stderr
    pwd, repo, work = run.stdout.split()
    assert Path(pwd) == Path(repo) == ROOT
    assert not Path(work).exists()


def test_lib_fails_on_a_failing_command(tmp_path):
    run = lib(tmp_path, "false; echo after")
    assert run.returncode != 0
    assert "after" not in run.stdout


def test_the_c_path_tests_exist(tmp_path):
    run = lib(tmp_path, 'printf "%s\\n" "${c_path_tests[@]}"')
    assert run.returncode == 0, run.stderr
    tests = run.stdout.split()
    assert tests
    for test in tests:
        assert (ROOT / test).is_file(), test


def fake_python(path: Path):
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)


def test_find_cpython_takes_the_newest_under_pyenv_root(tmp_path):
    root = tmp_path / "pyenv"
    for version in ("3.9.2", "3.9.10", "3.90.1", "3.10.4"):
        fake_python(root / "versions" / version / "bin" / "python3")
    run = lib(tmp_path, "find_cpython 3.9", PYENV_ROOT=str(root))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(root / "versions" / "3.9.10" / "bin" / "python3")


def test_find_cpython_defaults_to_pyenvs_own_root(tmp_path):
    fake_python(tmp_path / ".pyenv" / "versions" / "3.12.7" / "bin" / "python3")
    if shutil.which("pyenv", path="/usr/bin:/bin"):
        pytest.skip("pyenv is in /usr/bin or /bin")
    env = {k: v for k, v in os.environ.items() if k != "PYENV_ROOT"}
    run = subprocess.run(
        ["bash", "-c", f'source "{CI / "lib.sh"}"; find_cpython 3.12'], cwd=tmp_path,
        capture_output=True, text=True, env={**env, "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / ".pyenv" / "versions" / "3.12.7" / "bin" / "python3")


def test_find_cpython_says_where_it_looked(tmp_path):
    root = tmp_path / "pyenv"
    fake_python(root / "versions" / "3.9.2" / "bin" / "python3")
    run = lib(tmp_path, "find_cpython 3.98; echo found", PYENV_ROOT=str(root))
    assert run.returncode != 0
    assert "found" not in run.stdout
    assert str(root) in run.stderr and "python3.98" in run.stderr
