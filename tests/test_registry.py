"""The strategy registry: built-ins, entry-point plugins (faked here) and
``register_strategy``, and the checks on every plugin's result.

Entry points are faked by replacing ``importlib.metadata.distributions``,
which the registry reads on its first lookup. The fakes have only what
Python 3.9's objects have (a distribution's ``metadata`` and
``entry_points``; an entry point's ``name``, ``value``, ``group`` and
``load``), so the registry is tested against the oldest supported API on
every Python. Each fake entry point records its loads.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seqpacker import Packer, cli, pack_sequences, registry
from seqpacker.registry import (
    PROTOCOL_VERSION,
    PluginError,
    available_strategies,
    get_strategy,
    register_strategy,
)


class FakeDistribution:
    """Duck-types a Python 3.9 importlib.metadata.Distribution: no ``name``
    attribute, the name and version only in ``metadata``."""

    def __init__(self, name: str, version: str, entry_points=()):
        self.metadata = {"Name": name, "Version": version}
        self.entry_points = list(entry_points)


class FakeEntryPoint:
    """Duck-types a Python 3.9 importlib.metadata.EntryPoint (no ``dist``);
    ``target`` is what load() returns, or the exception it raises. ``dist``
    and ``version`` say which fake distribution declares it."""

    def __init__(self, name, target, dist="fake-dist", version="1.0",
                 group=registry.ENTRY_POINT_GROUP):
        self.name = name
        self.value = f"{dist.replace('-', '_')}:{name}"
        self.group = group
        self.dist_name, self.version = dist, version
        self.target = target
        self.loads = 0

    def load(self):
        self.loads += 1
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


def fake_distributions(*eps) -> list[FakeDistribution]:
    """One distribution per (name, version) of ``eps``, in order of first use."""
    dists: dict[tuple[str, str], FakeDistribution] = {}
    for ep in eps:
        key = (ep.dist_name, ep.version)
        dists.setdefault(key, FakeDistribution(*key)).entry_points.append(ep)
    return list(dists.values())


def pack_builtin(lengths, capacity, strategy):
    """A built-in's packing in the protocol's form, as a plugin gets it."""
    packed = Packer(capacity, strategy).pack(lengths)
    return packed.items, packed.offsets


def ffd_plugin(lengths, capacity, **options):
    """A correct plugin: the C core's FFD."""
    return pack_builtin(lengths, capacity, "ffd")


def forget_plugins():
    """The next lookup reads the entry points again."""
    registry._discovered = None


@pytest.fixture
def entry_points(monkeypatch):
    """Install fake entry points: ``entry_points(ep, ...)``. Returns the log
    of reads (one entry per ``distributions()`` call)."""
    monkeypatch.delenv(registry.DISABLE_VARIABLE, raising=False)
    calls = []
    installed = []

    def distributions(**_):
        calls.append("distributions")
        return iter(installed)

    def install(*eps, dists=None):
        installed[:] = fake_distributions(*eps) if dists is None else dists
        forget_plugins()
        return calls

    monkeypatch.setattr(importlib.metadata, "distributions", distributions)
    registered = list(registry._registered)
    registry._registered[:] = []
    install()
    yield install
    registry._registered[:] = registered
    forget_plugins()  # the next test reads the real entry points again


# ---- discovery ----------------------------------------------------------------


def test_import_and_built_in_lookups_do_not_read_entry_points(tmp_path):
    code = """
import importlib.metadata as metadata
calls = []
real = metadata.distributions
metadata.distributions = lambda **kw: calls.append(kw) or real(**kw)
import seqpacker
print(len(calls))
seqpacker.Packer(10, "obfd").pack([3, 4])
print(len(calls))
seqpacker.Packer.strategies()
seqpacker.Packer.strategies()
print(len(calls))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.split("\n")[:3] == ["0", "0", "1"]


def test_discovery_is_lazy_cached_and_imports_nothing(entry_points):
    plugin = FakeEntryPoint("mine", ffd_plugin)
    calls = entry_points(plugin)
    assert calls == []
    names = [info.short for info in available_strategies()]
    assert names[-1] == "MINE" and names[:11] == [s for s, _ in Packer.strategies()[:11]]
    assert ("MINE", "mine") in Packer.strategies()
    assert calls == ["distributions"]  # read once, then cached
    assert plugin.loads == 0  # listing imports no plugin
    Packer(10, "mine")
    Packer(10, "MINE")
    assert plugin.loads == 1  # imported on first use, then kept
    assert calls == ["distributions"]


def test_plugins_are_marked_with_their_origin(entry_points):
    entry_points(FakeEntryPoint("mine", ffd_plugin, dist="seqpacker-mine", version="2.3"))
    info = available_strategies()[-1]
    assert info.plugin and info.origin == "seqpacker-mine 2.3" and info.c_id is None
    assert not any(i.plugin for i in available_strategies()[:11])


def test_only_the_group_and_the_first_copy_of_a_distribution_count(entry_points):
    other_group = FakeEntryPoint("script", ffd_plugin, dist="seqpacker-mine", version="2.3",
                                 group="console_scripts")
    first = FakeEntryPoint("mine", ffd_plugin, dist="seqpacker-mine", version="2.3")
    shadowed = FakeEntryPoint("old", ffd_plugin, dist="Seqpacker_Mine", version="1.0")
    entry_points(other_group, first, shadowed)  # the same name, normalized: one distribution
    plugins = [i for i in available_strategies() if i.plugin]
    assert [(i.short, i.origin) for i in plugins] == [("MINE", "seqpacker-mine 2.3")]
    assert other_group.loads == first.loads == shadowed.loads == 0


class DamagedDistribution:
    """An installed distribution whose metadata cannot be read."""

    def __init__(self, *eps):
        self.entry_points = list(eps)

    @property
    def metadata(self):
        raise TypeError("expected string or bytes-like object")  # Python 3.9, no METADATA


def test_a_distribution_without_readable_metadata_still_gives_its_plugins(entry_points):
    entry_points(dists=[DamagedDistribution(FakeEntryPoint("nameless", ffd_plugin)),
                        FakeDistribution("seqpacker-good", "1.0",
                                         [FakeEntryPoint("good", ffd_plugin)])])
    origins = {i.short: i.origin for i in available_strategies() if i.plugin}
    assert origins == {"NAMELESS": "an unknown distribution (unknown version)",
                       "GOOD": "seqpacker-good 1.0"}
    assert Packer(10, "nameless").pack([6, 5, 4]).bins == [[0, 2], [1]]


def test_a_real_installed_distribution_is_found_with_its_name_and_version(tmp_path):
    """Through this Python's own importlib.metadata (3.9 has no
    entry_points(group=...) and no EntryPoint.dist): a plugin installed as a
    .dist-info folder on sys.path, in a fresh process."""
    (tmp_path / "seqpacker_fakeplug.py").write_text(textwrap.dedent("""
        from seqpacker import Packer

        def plug(lengths, capacity, **options):
            packed = Packer(capacity, "ffd").pack(lengths)
            return packed.items, packed.offsets
    """))
    info = tmp_path / "seqpacker_fakeplug-3.1.4.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqpacker-fakeplug\n"
                                   "Version: 3.1.4\n")
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n"
                                           "fakeplug = seqpacker_fakeplug:plug\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import seqpacker; "
            "from seqpacker.registry import available_strategies; "
            "info = next(i for i in available_strategies() if i.short == 'FAKEPLUG'); "
            "print(info.origin); print(seqpacker.Packer(10, 'fakeplug').pack([6, 5, 4]).bins)")
    env = {k: v for k, v in os.environ.items() if k != registry.DISABLE_VARIABLE}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, cwd=tmp_path, env=env, check=True)
    assert out.stdout.splitlines() == ["seqpacker-fakeplug 3.1.4", "[[0, 2], [1]]"]


def test_disable_variable_turns_discovery_off(entry_points, monkeypatch):
    calls = entry_points(FakeEntryPoint("mine", ffd_plugin))
    monkeypatch.setenv(registry.DISABLE_VARIABLE, "1")
    forget_plugins()
    assert len(available_strategies()) == 11
    with pytest.raises(ValueError, match="unknown strategy 'mine'"):
        Packer(10, "mine")
    assert calls == []
    register_strategy("inproc", ffd_plugin)  # explicit registration still works
    assert Packer(10, "inproc").pack([6, 5, 4]).bins == [[0, 2], [1]]
    monkeypatch.setenv(registry.DISABLE_VARIABLE, "0")
    forget_plugins()
    assert Packer(10, "mine").strategy == "MINE"


# ---- load errors, collisions, shadowing ----------------------------------------------


def test_a_plugin_that_fails_to_import_fails_alone_and_clearly(entry_points):
    cause = ModuleNotFoundError("No module named 'broken_dep'")
    broken = FakeEntryPoint("broken", cause, dist="seqpacker-broken", version="0.4.1")
    entry_points(broken, FakeEntryPoint("good", ffd_plugin, dist="seqpacker-good"))
    assert [i.short for i in available_strategies()[-2:]] == ["BROKEN", "GOOD"]
    with pytest.raises(PluginError) as info:
        Packer(10, "broken")
    message = str(info.value)
    for part in ("'broken'", "seqpacker_broken:broken", "seqpacker-broken 0.4.1",
                 "broken_dep", "pip install --upgrade seqpacker-broken"):
        assert part in message
    assert info.value.__cause__ is cause
    assert Packer(10, "good").pack([6, 5, 4]).bins == [[0, 2], [1]]
    assert Packer(10, "bfd").pack([6, 5, 4]).bins == [[0, 2], [1]]
    with pytest.raises(PluginError):  # asked again: the same error, not a stale result
        Packer(10, "broken")
    assert broken.loads == 2


def test_a_plugin_that_loads_something_not_callable(entry_points):
    entry_points(FakeEntryPoint("notfunc", 42))
    with pytest.raises(PluginError, match="'notfunc'.*not callable"):
        Packer(10, "notfunc")


def test_two_plugins_with_one_name_keep_the_first_by_distribution(entry_points):
    def first(lengths, capacity, **_):
        return pack_builtin(lengths, capacity, "nf")

    late = FakeEntryPoint("dup", ffd_plugin, dist="zzz-plugins", version="9.0")
    early = FakeEntryPoint("dup", first, dist="aaa-plugins", version="1.0")
    entry_points(late, early)  # the order found does not matter
    infos = [i for i in available_strategies() if i.plugin]
    assert [i.origin for i in infos] == ["aaa-plugins 1.0"]
    assert Packer(10, "dup").pack([6, 5, 4]).bins == [[0], [1, 2]]  # next fit: aaa's
    assert late.loads == 0


def test_a_collision_in_another_spelling_is_a_collision(entry_points):
    entry_points(FakeEntryPoint("MyPlug", ffd_plugin, dist="a"),
                 FakeEntryPoint("my_plug", ffd_plugin, dist="b"))
    assert [i.long for i in available_strategies() if i.plugin] == ["MyPlug"]


@pytest.mark.parametrize("name", ["obfd", "OBFD", "FirstFit", "first_fit_decreasing",
                                  "harmonic", "HarmonicK", "BestFit"])
def test_a_plugin_may_not_shadow_a_built_in(entry_points, name):
    shadow = FakeEntryPoint(name, ffd_plugin, dist="evil")
    entry_points(shadow)
    assert len(available_strategies()) == 11
    assert get_strategy(name).c_id is not None
    assert shadow.loads == 0


def test_unknown_name_lists_plugins_and_suggests_the_closest(entry_points):
    entry_points(FakeEntryPoint("balancer", ffd_plugin, dist="seqpacker-bal", version="0.1"))
    with pytest.raises(ValueError) as info:
        Packer(10, "balancr")
    message = str(info.value)
    assert "Did you mean 'balancer'?" in message
    assert "obfd (OptimizedBestFitDecreasing)" in message
    assert "Plugins: balancer (seqpacker-bal 0.1)" in message


def test_a_newer_protocol_is_refused(entry_points):
    def future(lengths, capacity, **_):
        raise AssertionError("never called")

    future.seqpacker_protocol = PROTOCOL_VERSION + 1
    entry_points(FakeEntryPoint("future", future, dist="seqpacker-future"))
    with pytest.raises(PluginError, match="needs strategy protocol 2.*upgrade seqpacker"):
        Packer(10, "future")
    with pytest.raises(ValueError, match="needs strategy protocol 2"):
        register_strategy("future2", future)


# ---- register_strategy ------------------------------------------------------------------


def test_register(entry_points):
    info = register_strategy("mine", ffd_plugin, long_name="MyStrategy")
    assert info.plugin and info.origin == f"registered by {__name__}"
    for spelling in ("mine", "MINE", "MyStrategy", "my_strategy"):
        assert Packer(10, spelling).strategy == "MINE"
    assert Packer.strategies()[-1] == ("MINE", "MyStrategy")
    register_strategy("mine", ffd_plugin, long_name="MyStrategy")  # again: replaces it
    assert [s for s, _ in Packer.strategies()].count("MINE") == 1


def test_register_refuses_built_in_names_and_replaces_plugins(entry_points):
    taken = FakeEntryPoint("taken", ffd_plugin, dist="seqpacker-taken")
    entry_points(taken)
    with pytest.raises(ValueError, match="'ffd' is the name of a built-in"):
        register_strategy("ffd", ffd_plugin)
    with pytest.raises(ValueError, match="built-in"):
        register_strategy("mine", ffd_plugin, long_name="FirstFitDecreasing")

    def nf(lengths, capacity, **_):
        return pack_builtin(lengths, capacity, "nf")

    register_strategy("TAKEN", nf)  # takes the name over from the entry point
    assert Packer(10, "taken").pack([6, 5, 4]).bins == [[0], [1, 2]]
    assert [i.origin for i in available_strategies() if i.plugin] == [f"registered by {__name__}"]
    assert taken.loads == 0
    with pytest.raises(TypeError, match="callable"):
        register_strategy("notfunc", 3)
    with pytest.raises(TypeError, match="non-empty str"):
        register_strategy("", ffd_plugin)


# ---- calling a plugin -----------------------------------------------------------------


def test_a_plugin_result_flows_into_the_same_result_as_a_built_in(entry_points):
    register_strategy("myffd", ffd_plugin)
    lengths = np.random.default_rng(1).integers(1, 101, size=500)
    mine = Packer(100, "myffd").pack(lengths)
    ffd = Packer(100, "ffd").pack(lengths)
    assert mine.bins == ffd.bins
    assert np.array_equal(mine.used, ffd.used) and np.array_equal(mine.offsets, ffd.offsets)
    assert [p.used for p in mine.packs] == [p.used for p in ffd.packs]
    assert mine.metrics.padding_tokens == ffd.metrics.padding_tokens
    assert mine.metrics.efficiency == ffd.metrics.efficiency
    items, splits = Packer(100, "myffd").pack_flat(lengths)
    assert np.array_equal(items, ffd.items) and np.array_equal(splits, ffd.offsets[1:-1])
    assert pack_sequences(lengths, 100, "myffd").bins == ffd.bins
    assert not mine.items.flags.writeable


def test_a_plugin_gets_a_read_only_int64_array_and_the_options(entry_points):
    seen = {}

    def spy(lengths, capacity, **options):
        seen.update(options, capacity=capacity, dtype=lengths.dtype,
                    contiguous=lengths.flags.c_contiguous, writeable=lengths.flags.writeable)
        return pack_builtin(lengths, capacity, "nf")

    register_strategy("spy", spy)
    source = np.array([3, 4, 5], dtype=np.int16)[::-1]
    Packer(10, "spy", seed=7, k=3, threads=2, options={"ranks": 4}).pack(source)
    assert seen == {"seed": 7, "k": 3, "threads": 2, "ranks": 4, "capacity": 10,
                    "dtype": np.int64, "contiguous": True, "writeable": False}
    Packer(10, "spy").pack([1])
    assert seen["seed"] == 0 and seen["k"] == 10 and seen["threads"] is None


def test_options_are_for_plugins_only(entry_points):
    register_strategy("mine", ffd_plugin)
    with pytest.raises(TypeError, match="options= is for plugin strategies; OBFD"):
        Packer(10, "obfd", options={"ranks": 2})
    with pytest.raises(TypeError, match="options may not hold k, seed"):
        Packer(10, "mine", options={"seed": 1, "k": 3})
    with pytest.raises(TypeError, match="options must be a dict"):
        Packer(10, "mine", options=[("ranks", 2)])
    assert Packer(10, "obfd", options={}).strategy == "OBFD"


@pytest.mark.parametrize(
    "lengths, capacity, message",
    [([1, 11], 10, r"lengths\[1\] = 11 exceeds capacity 10"),
     ([1, 0], 10, r"lengths\[1\] = 0 is not a valid length"),
     ([-5], 10, r"lengths\[0\] = -5 is not a valid length"),
     ([2**62, 2**62], 2**62, "total of the lengths does not fit int64")],
)
def test_bad_input_is_refused_before_the_plugin_runs(entry_points, lengths, capacity, message):
    def never(lengths, capacity, **_):
        raise AssertionError("the plugin must not see bad input")

    register_strategy("never", never)
    with pytest.raises(ValueError, match=message):
        Packer(capacity, "never").pack(lengths)
    # The same message as the C core gives for a built-in.
    with pytest.raises(ValueError, match=message):
        Packer(capacity, "ffd").pack(lengths)


def test_a_total_just_below_the_int64_limit_is_accepted(entry_points):
    register_strategy("mine", ffd_plugin)
    big = 2**62
    assert Packer(big, "mine").pack([big, big - 1]).bins == [[0], [1]]


def test_plugin_exceptions(entry_points):
    def bug(lengths, capacity, **_):
        return {}["missing"]

    def refuses(lengths, capacity, **_):
        raise ValueError("refuses: ranks must be >= 1")

    register_strategy("bug", bug)
    register_strategy("refuses", refuses)
    with pytest.raises(PluginError, match="'bug'.*raised KeyError") as info:
        Packer(10, "bug").pack([1])
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(ValueError, match="^refuses: ranks must be >= 1$"):  # passed on as is
        Packer(10, "refuses").pack([1])


# ---- invalid packings --------------------------------------------------------------------

LENGTHS = [6, 5, 4, 3]  # capacity 10; FFD gives [[0, 2], [1, 3]]
I64 = np.int64


def arrays(items, offsets, dtype=I64):
    return np.array(items, dtype=dtype), np.array(offsets, dtype=dtype)


INVALID = {
    "duplicate id": (arrays([0, 2, 1, 1], [0, 2, 4]), "id 1 appears 2 times and id 3 is missing"),
    "missing id": (arrays([0, 2, 1], [0, 2, 3]), "returned 3 items for 4 lengths"),
    "over capacity": (arrays([0, 1, 2, 3], [0, 2, 4]), "bin 0 with 11 tokens, over the capacity 10"),
    "id out of range": (arrays([0, 2, 1, 4], [0, 2, 4]), r"items\[3\] = 4, not a sequence id"),
    "negative id": (arrays([0, 2, -1, 3], [0, 2, 4]), r"items\[2\] = -1"),
    "offsets not from 0": (arrays([0, 2, 1, 3], [1, 2, 4]), "must start at 0 and end at n = 4"),
    "offsets not to n": (arrays([0, 2, 1, 3], [0, 2, 3]), "must start at 0 and end at n = 4"),
    "no offsets": (arrays([0, 2, 1, 3], []), "bin_offsets empty"),
    "empty bin": (arrays([0, 2, 1, 3], [0, 2, 2, 4]), "bin 1 that is empty"),
    "decreasing offsets": (arrays([0, 2, 1, 3], [0, 3, 1, 4]), "bin 1 that has a negative size"),
    "int32 arrays": (arrays([0, 2, 1, 3], [0, 2, 4], np.int32), "dtype int32"),
    "float arrays": (arrays([0, 2, 1, 3], [0, 2, 4], np.float64), "dtype float64"),
    "2-D items": ((np.array([[0, 2], [1, 3]]), np.array([0, 2, 4])), r"shape \(2, 2\)"),
    "lists": (([0, 2, 1, 3], [0, 2, 4]), "items as a list, not a NumPy array"),
    "one array": (np.array([0, 2, 1, 3]), "returned a ndarray; the protocol asks for a tuple"),
    "three arrays": (arrays([0, 2, 1, 3], [0, 2, 4]) + (np.zeros(2, I64),), "a tuple"),
    "None": (None, "returned a NoneType"),
}


@pytest.mark.parametrize("case", list(INVALID), ids=str)
def test_an_invalid_packing_is_a_clear_error(entry_points, case):
    returned, message = INVALID[case]
    entry_points(FakeEntryPoint("wrong", lambda lengths, capacity, **_: returned,
                                dist="seqpacker-wrong", version="0.0.1"))
    for run in (Packer(10, "wrong").pack, Packer(10, "wrong").pack_flat):
        with pytest.raises(PluginError, match=message) as info:
            run(LENGTHS)
        assert str(info.value).startswith("strategy plugin 'wrong' (seqpacker-wrong 0.0.1)")


def test_the_valid_twin_of_the_invalid_cases_passes(entry_points):
    # Guards the table above: the same shapes, made right, are accepted.
    entry_points(FakeEntryPoint("right", lambda lengths, capacity, **_:
                                arrays([0, 2, 1, 3], [0, 2, 4])))
    result = Packer(10, "right").pack(LENGTHS)
    assert result.bins == [[0, 2], [1, 3]] and result.used.tolist() == [10, 8]


def test_empty_input_needs_the_single_offset(entry_points):
    register_strategy("empty_ok", lambda lengths, capacity, **_: arrays([], [0]))
    register_strategy("empty_bad", lambda lengths, capacity, **_: arrays([], [0, 0]))
    assert Packer(10, "empty_ok").pack([]).bins == []
    with pytest.raises(PluginError, match="bin 0 that is empty"):
        Packer(10, "empty_bad").pack([])


def test_the_result_does_not_share_the_plugins_arrays(entry_points):
    kept = arrays([0, 2, 1, 3], [0, 2, 4])
    register_strategy("keeper", lambda lengths, capacity, **_: kept)
    result = Packer(10, "keeper").pack(LENGTHS)
    kept[0][:] = [3, 2, 1, 0]  # the plugin changes its arrays afterwards
    assert result.bins == [[0, 2], [1, 3]]


# ---- delegating to a built-in -----------------------------------------------------------


def test_a_packer_result_gives_the_protocol_form():
    """What docs/plugins.md tells a plugin to return when it delegates."""
    items, offsets = pack_builtin([6, 5, 4, 3], 10, "ffd")
    assert items.tolist() == [0, 2, 1, 3] and offsets.tolist() == [0, 2, 4]
    items, offsets = pack_builtin([], 10, "obfd")
    assert items.tolist() == [] and offsets.tolist() == [0]
    with pytest.raises(ValueError, match="exceeds capacity"):
        pack_builtin([11], 10, "obfd")


# ---- the command line ------------------------------------------------------------------


def test_cli_runs_and_marks_plugins(entry_points, tmp_path, capsys):
    broken = FakeEntryPoint("broken", ImportError("boom"), dist="seqpacker-broken")
    entry_points(FakeEntryPoint("myffd", ffd_plugin, dist="seqpacker-mine", version="1.2"), broken)
    (tmp_path / "lengths.txt").write_text("6\n5\n4\n3\n")
    assert cli.main(["--list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[8].split() == ["obfd", "OptimizedBestFitDecreasing"]
    assert "myffd" in listing[-1] and "(plugin: seqpacker-mine 1.2)" in listing[-1]

    status = cli.main(["--input", str(tmp_path / "lengths.txt"), "--capacity", "10",
                       "--strategy", "ffd", "--strategy", "myffd", "--strategy", "broken"])
    out = capsys.readouterr().out.splitlines()
    assert status == 1  # one strategy failed, the others ran
    assert out[2].split()[:3] == ["FFD", "2", "90.00%"]
    assert out[3].split()[:3] == ["MYFFD", "2", "90.00%"]
    assert out[4].startswith("BROKEN") and "failed: strategy plugin 'broken'" in out[4]
    assert out[5] == "MYFFD (plugin: seqpacker-mine 1.2)"


@pytest.mark.parametrize("error", [MemoryError("no room"), ValueError("bad ranks"),
                                   TypeError("odd option")])
def test_a_plugin_that_raises_fails_alone_in_the_cli(entry_points, tmp_path, capsys, error):
    def failing(lengths, capacity, **_):
        raise error

    register_strategy("failing", failing)
    (tmp_path / "lengths.txt").write_text("6\n5\n")
    status = cli.main(["--input", str(tmp_path / "lengths.txt"), "--capacity", "10",
                       "--strategy", "failing", "--strategy", "nf"])
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[2].startswith("FAILING") and f"failed: {type(error).__name__}: {error}" in out[2]
    assert out[3].split()[:2] == ["NF", "2"]  # 6 + 5 > 10


def test_cli_passes_plugin_options(entry_points, tmp_path, capsys):
    seen = {}

    def spy(lengths, capacity, **options):
        seen.update(options)
        return pack_builtin(lengths, capacity, "nf")

    register_strategy("spy", spy)
    (tmp_path / "lengths.txt").write_text("6\n5\n")
    assert cli.main(["--input", str(tmp_path / "lengths.txt"), "--capacity", "10",
                     "--strategy", "spy", "--strategy", "nf",
                     "--plugin-option", "ranks=8", "--plugin-option", "mode=fast"]) == 0
    assert seen["ranks"] == 8 and seen["mode"] == "fast"
    assert cli.main(["--strategy", "spy", "--plugin-option", "oops"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_packer_strategies_marks_plugins_and_stays_a_list_of_pairs(entry_points):
    entry_points()  # no installed plugins: only the one registered here
    register_strategy("in_process", ffd_plugin)
    pairs = Packer.strategies()
    assert pairs[:2] == [("NF", "NextFit"), ("FF", "FirstFit")]
    assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs)
    short, long = pairs[-1]
    assert (short, long) == ("IN_PROCESS", "in_process")
    assert pairs[-1].plugin and not pairs[0].plugin
    assert pairs[0].origin is None
    assert repr(pairs[0]) == "('NF', 'NextFit')"


def test_a_plugin_cannot_change_the_lengths_it_is_judged_by(entry_points):
    """A plugin that makes its argument writeable and rewrites it changes
    only its own copy: the caller's array stays, and a packing that does
    not fit the real lengths is refused."""
    def cheat(lengths, capacity, **_):
        lengths.flags.writeable = True
        lengths[:] = 1
        return np.arange(lengths.size), np.array([lengths.size])[:0]  # one bin of all

    register_strategy("cheat", cheat)
    lengths = np.array([9, 9, 8], dtype=np.int64)
    with pytest.raises(PluginError, match="cheat"):
        Packer(10, "cheat").pack_flat(lengths)
    assert lengths.tolist() == [9, 9, 8]


def test_the_built_ins_are_the_c_librarys_table():
    """Names, aliases and the streamable set come from sp_strategy_describe."""
    from seqpacker._core._seqpacker_ffi import ffi, lib

    info = ffi.new("sp_strategy_info *")
    for builtin in available_strategies()[:11]:
        assert lib.sp_strategy_describe(builtin.c_id, info) == lib.SP_OK
        assert builtin.short.lower() == ffi.string(info.name).decode()
        assert builtin.long == ffi.string(info.long_name).decode()
        assert builtin.streamable == bool(info.streamable)
    assert get_strategy("harmonic").short == get_strategy("Harmonic_K").short == "HK"
    assert [i.short for i in available_strategies() if i.streamable] == ["NF", "HK"]
