"""seqpacker.hf_utils: pack_dataset packs the whole dataset in one call (the
same packing as Packer.pack, for any num_proc), builds rows from Arrow
buffers exactly as the torch helpers lay them out, and names bad input.
Needs datasets."""

import re

import numpy as np
import pytest

from optional import import_error_without, optional_import

datasets = optional_import("datasets")
pa = optional_import("pyarrow")

from layout_reference import reference_layout  # noqa: E402
from seqpacker import Packer, pack_sequences  # noqa: E402
from seqpacker.hf_utils import FlatTokens, pack_dataset, pack_dataset_from_result  # noqa: E402

SEQS = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
IG = -100


@pytest.fixture(autouse=True, scope="module")
def quiet():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def random_dataset(n=300, max_len=40, seed=0, labels=False, chunks=1):
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(0, 50_000, rng.integers(1, max_len + 1)).tolist() for _ in range(n)]
    columns = {"input_ids": seqs, "score": list(range(n))}
    if labels:
        columns["labels"] = [[IG] * (len(s) // 3) + s[len(s) // 3:] for s in seqs]
    table = pa.Table.from_pydict(columns, schema=pa.schema(
        [("input_ids", pa.list_(pa.int32())), ("score", pa.int64())]
        + ([("labels", pa.list_(pa.int32()))] if labels else [])))
    if chunks > 1:
        table = pa.concat_tables([table.slice(i, n // chunks + 1)
                                  for i in range(0, n, n // chunks + 1)])
    return datasets.Dataset(table), seqs, columns.get("labels")


def test_small_dataset_by_hand():
    ds = pack_dataset(SEQS, 6)
    assert ds.column_names == ["input_ids", "labels", "position_ids", "seq_lengths"]
    assert ds[:] == {"input_ids": [[6, 7, 8, 9, 4, 5], [1, 2, 3, 10]],
                     "labels": [[IG, 7, 8, 9, IG, 5], [IG, 2, 3, IG]],
                     "position_ids": [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0]],
                     "seq_lengths": [[4, 2], [3, 1]]}
    padded = pack_dataset(SEQS, 6, layout="padded", padding_value=-1)
    assert padded["input_ids"] == [[6, 7, 8, 9, 4, 5], [1, 2, 3, 10, -1, -1]]
    assert padded["position_ids"] == [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 1]]
    assert padded["labels"][1] == [IG, 2, 3, IG, IG, IG]
    shifted = pack_dataset(SEQS, 6, label_convention="shifted")
    assert shifted["labels"] == [[7, 8, 9, IG, 5, IG], [2, 3, IG, IG]]


@pytest.mark.parametrize("layout", ["flat", "padded"])
@pytest.mark.parametrize("with_labels", [False, True])
@pytest.mark.parametrize("chunks", [1, 7])
def test_rows_match_the_reference_layout(layout, with_labels, chunks):
    data, seqs, labels = random_dataset(labels=with_labels, chunks=chunks)
    assert data.data.table.column("input_ids").num_chunks == chunks
    capacity = 64
    ds = pack_dataset(data, capacity, layout=layout, num_proc=1)
    result = Packer(capacity).pack([len(s) for s in seqs])
    want = reference_layout(seqs, labels, result.bins, capacity, layout=layout)
    if layout == "flat":  # one row per bin
        cuts = np.cumsum([0] + [sum(len(seqs[i]) for i in b) for b in result.bins])
        want = {k: [want[k][0][a:b] for a, b in zip(cuts, cuts[1:])]
                for k in ("input_ids", "labels", "position_ids")}
    assert ds["input_ids"] == want["input_ids"]
    assert ds["labels"] == want["labels"]
    assert ds["position_ids"] == want["position_ids"]
    assert ds["seq_lengths"] == [[len(seqs[i]) for i in b] for b in result.bins]


def test_packing_is_global_and_the_same_for_any_num_proc(monkeypatch):
    import seqpacker._training.arrow_rows as _arrow_rows
    monkeypatch.setattr(_arrow_rows, "RANGE_TOKENS", 256)  # many ranges, so workers share them
    data, seqs, _ = random_dataset(n=2000, max_len=60, seed=3)
    one = pack_dataset(data, 128, num_proc=1)
    two = pack_dataset(data, 128, num_proc=2)
    default = pack_dataset(data, 128)
    assert one[:] == two[:] == default[:]
    # The whole dataset is packed in one call: Packer.pack's bins, in order.
    result = Packer(128).pack([len(s) for s in seqs])
    assert one.num_rows == result.num_bins
    assert one["seq_lengths"] == [[len(seqs[i]) for i in b] for b in result.bins]


def test_shards_beyond_the_global_limit_use_the_sharded_core(monkeypatch):
    import seqpacker.hf_utils as hf_utils
    from seqpacker.distributed import DEFAULT_SHARD_ROWS, pack_in_shards

    data, seqs, labels = random_dataset(n=2500, max_len=60, seed=5, labels=True)
    lengths = [len(s) for s in seqs]
    explicit = pack_dataset(data, 128, shard_rows=700, num_proc=2)
    result = pack_in_shards(lengths, 128, 700)
    want = reference_layout(seqs, labels, result.bins, 128, layout="flat")
    assert sum(explicit["input_ids"], []) == want["input_ids"][0]
    assert sum(explicit["labels"], []) == want["labels"][0]
    assert explicit["seq_lengths"] == [[lengths[i] for i in b] for b in result.bins]
    # Past GLOBAL_PACK_MAX_ROWS sequences, shards of DEFAULT_SHARD_ROWS.
    monkeypatch.setattr(hf_utils, "GLOBAL_PACK_MAX_ROWS", 1000)
    monkeypatch.setattr(hf_utils, "DEFAULT_SHARD_ROWS", 900)
    auto = pack_dataset(data, 128)
    assert auto["seq_lengths"] == \
        [[lengths[i] for i in b] for b in pack_in_shards(lengths, 128, 900).bins]
    assert DEFAULT_SHARD_ROWS == 1_000_000
    with pytest.raises(ValueError, match="shard_rows = 0 is out of range: it must be >= 1"):
        pack_dataset(data, 128, shard_rows=0)


def test_keep_in_memory_gives_the_same_rows_without_a_file(monkeypatch):
    import seqpacker._training.arrow_rows as _arrow_rows
    monkeypatch.setattr(_arrow_rows, "RANGE_TOKENS", 256)
    data = random_dataset(n=500)[0]
    in_memory = pack_dataset(data, 64, keep_in_memory=True)
    assert in_memory.cache_files == []
    assert in_memory[:] == pack_dataset(data, 64)[:]
    with pytest.raises(ValueError, match="keep_in_memory=True writes no file"):
        pack_dataset(data, 64, keep_in_memory=True, cache_file_name="x.arrow")
    with pytest.raises(TypeError, match="keep_in_memory must be True or False"):
        pack_dataset(data, 64, keep_in_memory=1)


def test_indices_mapping_of_select_and_shuffle():
    data, seqs, _ = random_dataset(n=50)
    picked = data.shuffle(seed=1).select(range(20))
    rows = picked["input_ids"]
    assert pack_dataset(picked, 64)[:] == pack_dataset(rows, 64)[:]


def test_overlong_modes():
    seqs = [[1, 2, 3, 4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="sequence 0 has 7 tokens, more than the capacity 3"):
        pack_dataset(seqs, 3)
    cut = pack_dataset(seqs, 3, on_overlong="truncate", strategy="nf")
    assert cut["input_ids"] == [[1, 2, 3], [8, 9]]
    split = pack_dataset(seqs, 3, on_overlong="split", strategy="nf")
    assert split["input_ids"] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split["position_ids"] == [[0, 1, 2], [0, 1, 2], [0, 0, 1]]
    assert split["labels"] == [[IG, 2, 3], [IG, 5, 6], [IG, IG, 9]]
    assert split["seq_lengths"] == [[3], [3], [1, 2]]


def test_input_forms_agree():
    want = pack_dataset(SEQS, 6)[:]
    tokens = np.array([t for s in SEQS for t in s])
    for form in ([np.array(s) for s in SEQS], [{"input_ids": s} for s in SEQS],
                 FlatTokens(tokens, [0, 3, 5, 9, 10]),
                 datasets.Dataset.from_dict({"input_ids": SEQS})):
        assert pack_dataset(form, 6)[:] == want


def test_dtypes_follow_the_source():
    ds = pack_dataset(random_dataset(n=20)[0], 64)
    features = ds.features
    assert features["input_ids"].feature.dtype == "int32"
    assert features["labels"].feature.dtype == "int32"
    assert features["position_ids"].feature.dtype == "int16"
    assert features["seq_lengths"].feature.dtype == "int32"
    wide = pack_dataset(SEQS, 2**16, on_overlong="error")
    assert wide.features["position_ids"].feature.dtype == "int32"
    unsigned = datasets.Dataset(pa.table({"input_ids": pa.array(SEQS, pa.list_(pa.uint16()))}))
    out = pack_dataset(unsigned, 6)
    assert out.features["labels"].feature.dtype == "int64" and out["labels"][0][0] == IG


def test_pack_dataset_from_result_is_0_1_3s_padded_rows():
    result = pack_sequences([3, 2, 4, 1], 6)
    ds = pack_dataset_from_result(result, SEQS)
    assert ds["input_ids"] == [[6, 7, 8, 9, 4, 5], [1, 2, 3, 10, 0, 0]]
    assert ds["labels"] == [[IG, 7, 8, 9, IG, 5], [IG, 2, 3, IG, IG, IG]]
    with pytest.raises(ValueError, match="sequence 0 has 2 tokens, but the result packed it "
                                         "with length 3"):
        pack_dataset_from_result(result, [[1, 2], [4, 5], [6, 7, 8, 9], [10]])
    with pytest.raises(ValueError, match="token_ids has 1 sequences; the result packed 4"):
        pack_dataset_from_result(result, [[1]])
    with pytest.raises(TypeError, match="result must be a PackResult"):
        pack_dataset_from_result(result.bins, SEQS)


def test_cache_file_name(tmp_path, monkeypatch):
    path = tmp_path / "packed.arrow"
    ds = pack_dataset(SEQS, 6, cache_file_name=str(path), num_proc=1)
    assert path.exists() and ds.cache_files[0]["filename"] == str(path)
    import seqpacker._training.arrow_rows as _arrow_rows
    monkeypatch.setattr(_arrow_rows, "RANGE_TOKENS", 4)  # a range per bin: both workers write
    two = pack_dataset(SEQS, 4, cache_file_name=str(tmp_path / "p.arrow"), num_proc=2)
    assert sorted(p.name for p in tmp_path.glob("p_*")) == ["p_00000_of_00002.arrow",
                                                            "p_00001_of_00002.arrow"]
    assert two.num_rows == len(two["seq_lengths"])


def test_a_new_file_never_breaks_a_dataset_that_maps_the_old_one(tmp_path):
    path = str(tmp_path / "packed.arrow")
    first = pack_dataset(random_dataset(n=200)[0], 64, cache_file_name=path, num_proc=1)
    rows = first[:]
    second = pack_dataset(SEQS, 6, cache_file_name=path, num_proc=1)
    assert first[:] == rows  # still readable: the old file was replaced, not truncated
    assert second["seq_lengths"] == [[4, 2], [3, 1]]
    assert [p.name for p in tmp_path.iterdir()] == ["packed.arrow"]


def test_nulls_count_only_in_the_rows_the_dataset_shows():
    table = pa.table({"input_ids": pa.array([[1, 2, 3], None, [4]], pa.list_(pa.int32()))})
    data = datasets.Dataset(table)
    with pytest.raises(ValueError, match="input_ids\\[1\\] is null"):
        pack_dataset(data, 8)
    kept = data.filter(lambda row: row["input_ids"] is not None)
    assert pack_dataset(kept, 8)["input_ids"] == [[1, 2, 3, 4]]
    shown = data.select([2, 1])
    with pytest.raises(ValueError, match="input_ids\\[1\\] is null"):
        pack_dataset(shown, 8)


@pytest.mark.parametrize("chunks", [1, 2])
def test_a_view_is_checked_and_named_by_its_own_rows(chunks):
    # Table row 1 holds a null token, row 3 a uint64 id above int64.
    values = [[1, 2], [3, None, 4], [5], [6, 2**63], [7, 8]]
    table = pa.table({"input_ids": pa.array(values, pa.list_(pa.uint64()))})
    if chunks == 2:
        table = pa.concat_tables([table.slice(0, 2), table.slice(2)])
    data = datasets.Dataset(table)
    with pytest.raises(ValueError, match=re.escape("input_ids[1] holds a null token id at "
                                                   "position 1")):
        pack_dataset(data, 8)
    kept = data.filter(lambda row: None not in row["input_ids"]
                       and max(row["input_ids"]) < 2**63)
    assert kept._indices is not None  # a view, not a new table
    assert pack_dataset(kept, 8, strategy="nf")["input_ids"] == [[1, 2, 5, 7, 8]]
    picked = data.select([4, 0, 2, 1])  # table row 1 is the view's row 3
    with pytest.raises(ValueError, match=re.escape("input_ids[3] holds a null token id at "
                                                   "position 1")):
        pack_dataset(picked, 8)
    with pytest.raises(ValueError, match=re.escape(f"input_ids[2] holds a token id above "
                                                   f"{2**63 - 1} at position 1")):
        pack_dataset(data.select([0, 2, 3]), 8)


def test_fixed_size_lists_are_refused():
    table = pa.table({"input_ids": pa.array([[1, 2], [3, 4]], pa.list_(pa.int32(), 2))})
    with pytest.raises(TypeError, match="must hold lists of integers \\(list or large_list\\)"):
        pack_dataset(datasets.Dataset(table), 8)


def test_empty_dataset():
    ds = pack_dataset(datasets.Dataset.from_dict({"input_ids": []},
                                                 features=datasets.Features(
                                                     {"input_ids": datasets.List(
                                                         datasets.Value("int32"))})), 8)
    assert ds.num_rows == 0
    assert ds.column_names == ["input_ids", "labels", "position_ids", "seq_lengths"]


@pytest.mark.parametrize("data, error, message", [
    (datasets.Dataset.from_dict({"text": ["a"]}), ValueError, "no 'input_ids' column"),
    (datasets.Dataset.from_dict({"input_ids": ["ab"]}), TypeError,
     "column 'input_ids' must hold lists of integers"),
    (datasets.Dataset.from_dict({"input_ids": [[1.5]]}), TypeError,
     "column 'input_ids' must hold lists of integers"),
    (datasets.Dataset.from_dict({"input_ids": [[1], None]}), ValueError,
     "input_ids\\[1\\] is null"),
    (datasets.Dataset.from_dict({"input_ids": [[1], []]}), ValueError,
     "row 1 has no input_ids"),
    (datasets.Dataset.from_dict({"input_ids": [[1, 2]], "labels": [[1]]}), ValueError,
     "row 0 has 2 input_ids but 1 labels"),
    (datasets.DatasetDict({"train": datasets.Dataset.from_dict({"input_ids": [[1]]})}),
     TypeError, "pick a split"),
    ([[1], []], ValueError, "sequence 1 is empty"),
])
def test_bad_datasets(data, error, message):
    with pytest.raises(error, match=message):
        pack_dataset(data, 8)


@pytest.mark.parametrize("kwargs, message", [
    ({"layout": "rows"}, "layout must be one of"),
    ({"label_convention": "x"}, "label_convention must be one of"),
    ({"num_proc": 0}, "num_proc must be an int >= 1 or None, not 0"),
    ({"on_overlong": "wrap"}, "on_overlong must be one of"),
    ({"strategy": "nope"}, "unknown strategy"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, KeyError), match=message):
        pack_dataset(SEQS, 6, **kwargs)


@pytest.mark.parametrize("name", ["padding_value", "label_padding_value"])
@pytest.mark.parametrize("value, error, message", [
    (1.5, TypeError, "must be an int, not float (1.5)"),
    (True, TypeError, "must be an int, not bool (True)"),
    (np.float64(-100.0), TypeError, "must be an int, not float64"),
    ("0", TypeError, "must be an int, not str ('0')"),
    (None, TypeError, "must be an int, not NoneType (None)"),
    (2**63, ValueError, "= 9223372036854775808 does not fit int64"),
])
def test_fill_values_must_be_ints_that_fit_int64(name, value, error, message):
    # 1.5 or True would be written as the token id 1.
    result = pack_sequences([3, 2, 4, 1], 6)
    with pytest.raises(error, match=re.escape(f"{name} {message}")):
        pack_dataset(SEQS, 6, layout="padded", **{name: value})
    with pytest.raises(error, match=re.escape(f"{name} {message}")):
        pack_dataset_from_result(result, SEQS, **{name: value})
    # A NumPy integer is an int, as everywhere else.
    assert pack_dataset(SEQS, 6, layout="padded", **{name: np.int64(-7)}).num_rows == 2


@pytest.mark.parametrize("capacity, error, message", [
    (2.5, TypeError, "capacity must be an int, not float (2.5)"),
    ("8", TypeError, "capacity must be an int, not str ('8')"),
    (None, TypeError, "capacity must be an int, not NoneType (None)"),
    (True, TypeError, "capacity must be an int, not bool (True)"),
    (0, ValueError, "capacity = 0 is out of range: it must be >= 1"),
    (-3, ValueError, "capacity = -3 is out of range: it must be >= 1"),
])
def test_bad_capacity_is_named_before_the_sequences_are_read(capacity, error, message):
    with pytest.raises(error, match=re.escape(message)) as raised:
        pack_dataset(SEQS, capacity, on_overlong="split")
    assert "on_overlong" not in str(raised.value)


def test_importing_without_datasets_names_the_extra(tmp_path):
    message = import_error_without("datasets", "seqpacker.hf_utils", tmp_path)
    assert "pip install 'seqpacker[hf]'" in message


def test_rows_that_are_not_one_sequence_each_are_refused():
    """A packed dataset (seq_lengths) packed again would merge the sequences
    of its rows; padded tokenizer output (attention_mask zeros) would train
    its padding. Both are refused, naming the row; a mask of ones is fine."""
    tokenized = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4, 5], [6, 7, 8, 9]]})
    packed = pack_dataset(tokenized, capacity=6)
    with pytest.raises(ValueError, match="the dataset is packed already \\(it has a "
                                         "'seq_lengths' column\\)"):
        pack_dataset(packed, capacity=12)
    padded = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4, 5, 0]],
                                         "attention_mask": [[1, 1, 1], [1, 1, 0]]})
    with pytest.raises(ValueError, match="row 1 of the dataset has attention_mask 0 at token "
                                         "2: only unpadded rows"):
        pack_dataset(padded, capacity=6)
    # The row a view shows is the one named.
    with pytest.raises(ValueError, match="row 0 of the dataset has attention_mask 0"):
        pack_dataset(padded.select([1]), capacity=6)
    positions = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3, 4, 5]],
                                            "position_ids": [[0, 1, 2, 0, 1]]})
    with pytest.raises(ValueError, match="the rows of the dataset carry position_ids but no "
                                         "seq_lengths"):
        pack_dataset(positions, capacity=8)
    ones = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4, 5]],
                                       "attention_mask": [[1, 1, 1], [1, 1]]})
    assert pack_dataset(ones, capacity=6)["input_ids"] == [[1, 2, 3, 4, 5]]
