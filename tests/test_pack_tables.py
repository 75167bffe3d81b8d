"""distributed.pack_tables: the engine-free token path of sharded packing, and
the content order that makes a shard's packs independent of row order."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optional import optional_import

pa = optional_import("pyarrow")

from packed_rows_check import check_packed_rows  # noqa: E402
from real_data import sample_lengths  # noqa: E402
from seqpacker import Packer  # noqa: E402
from seqpacker._sharded.content_order import content_keys, content_order, shard_of_keys  # noqa: E402
from seqpacker.distributed import pack_shards, pack_tables  # noqa: E402

MASK = (1 << 64) - 1


def mix(x):
    """SplitMix64's finalizer on a Python int (the reference of _sharded.content_order)."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def reference_key(tokens, labels=None):
    def key(values):
        total = 0
        for position, value in enumerate(values):
            total = (total + mix((value + mix(position + 0x9E3779B97F4A7C15)) & MASK)) & MASK
        return mix(total ^ mix(len(values)))
    k = key(tokens)
    if labels is not None:
        lk = key(labels)
        k = mix(k ^ (((lk << 32) | (lk >> 32)) & MASK))
    return k


def columns_of(sequences, labels=None):
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sequences], out=offsets[1:])
    cols = [(np.concatenate([np.asarray(s, np.int64) for s in sequences]), offsets)]
    if labels is not None:
        cols.append((np.concatenate([np.asarray(s, np.int64) for s in labels]), offsets))
    return cols


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=8),
                min_size=1, max_size=10), st.booleans())
def test_content_keys_equal_the_python_reference(sequences, with_labels):
    labels = [list(reversed(s)) for s in sequences] if with_labels else None
    keys = content_keys(columns_of(sequences, labels))
    assert keys.tolist() == [reference_key(s, labels[i] if labels else None)
                             for i, s in enumerate(sequences)]


def test_content_keys_are_fixed_numbers():
    # The same on every platform: a change here changes everyone's shards.
    assert content_keys(columns_of([[1, 2, 3]])).tolist() == [reference_key([1, 2, 3])]
    assert reference_key([1, 2, 3]) != reference_key([3, 2, 1])


def test_content_keys_hash_long_inputs_in_chunks(monkeypatch):
    import seqpacker._sharded.content_order as content

    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 50_000, n).tolist() for n in rng.integers(1, 40, 200)]
    whole = content_keys(columns_of(sequences))
    monkeypatch.setattr(content, "_CHUNK_TOKENS", 7)
    assert np.array_equal(content_keys(columns_of(sequences)), whole)


def test_content_order_keeps_equal_copies_as_they_come():
    sequences = [[4, 4, 4]] * 5 + [[1, 2]] * 3
    cols = columns_of(sequences)
    keys = np.array([7] * 5 + [3] * 3, dtype=np.uint64)
    assert content_order(cols, keys).tolist() == [5, 6, 7, 0, 1, 2, 3, 4]
    # Equal keys, equal lengths, one token apart: sorted by content.
    sequences = [[4, 4, 9], [4, 4, 4], [4, 4, 4], [4, 4, 1]]
    assert content_order(columns_of(sequences), np.zeros(4, np.uint64)).tolist() == [3, 1, 2, 0]


def test_content_order_sorts_colliding_keys_by_content():
    sequences = [[5, 1], [2], [5, 0], [2], [1, 9, 9]]
    cols = columns_of(sequences)
    order = content_order(cols, np.zeros(len(sequences), dtype=np.uint64))
    assert [sequences[i] for i in order] == sorted(sequences)
    keys = content_keys(cols)
    assert [sequences[i] for i in content_order(cols, keys)] == \
        [sequences[i] for i in np.argsort(keys, kind="stable")]


def test_shards_of_keys_are_the_keys_modulo_the_count():
    keys = np.array([0, 7, 2**64 - 1], dtype=np.uint64)
    assert shard_of_keys(keys, 5).tolist() == [0, 2, (2**64 - 1) % 5]


def token_table(sequences, labels=None, kind=pa.int32()):
    columns = {"input_ids": pa.array(sequences, pa.list_(kind))}
    if labels is not None:
        columns["labels"] = pa.array(labels, pa.list_(kind))
    return pa.table(columns)


def corpus(n, seed=0, high=300):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 32000, int(k)).tolist() for k in rng.integers(1, high, n)]


@pytest.mark.parametrize("convention", ["hf", "shifted"])
@pytest.mark.parametrize("with_labels", [False, True])
def test_every_token_once_in_order_with_step5_positions_and_labels(convention, with_labels):
    sequences = corpus(600)
    labels = [[-100] * (len(s) // 2) + s[len(s) // 2:] for s in sequences] if with_labels \
        else None
    shards = [token_table(sequences[i::3], labels[i::3] if labels else None) for i in range(3)]
    out = pack_tables(shards, 1024, label_convention=convention)
    total = check_packed_rows(out, sequences, labels, capacity=1024, convention=convention)
    assert total == sum(map(len, sequences))
    assert out.schema.field("position_ids").type == pa.list_(pa.int16())
    assert out.schema.field("input_ids").type == pa.list_(pa.int32())


def test_split_and_truncate_of_overlong_sequences():
    sequences = corpus(200, high=900)
    shards = [token_table(sequences[:100]), token_table(sequences[100:])]
    out = pack_tables(shards, 256, on_overlong="split")
    check_packed_rows(out, sequences, capacity=256, split=True)
    out = pack_tables(shards, 256, on_overlong="truncate")
    check_packed_rows(out, [s[:256] for s in sequences], capacity=256)
    first = next(i for i, s in enumerate(sequences[100:]) if len(s) > 256)
    message = (rf"row {first} of shard 1 has {len(sequences[100 + first])} tokens, more than "
               rf"the capacity 256 \(it starts {sequences[100 + first][:8]}\)".replace("[", r"\["))
    with pytest.raises(ValueError, match=message):
        pack_tables([token_table([[1]]), shards[1]], 256)


def test_rows_do_not_depend_on_row_order_within_a_shard():
    sequences = corpus(900, seed=3)
    sequences += sequences[:50]  # duplicates: interchangeable, and must stay so
    shards = [sequences[i::4] for i in range(4)]
    first = pack_tables([token_table(s) for s in shards], 512)
    rng = np.random.default_rng(5)
    for _ in range(3):
        shuffled = [[s[i] for i in rng.permutation(len(s))] for s in shards]
        again = pack_tables([token_table(s) for s in shuffled], 512)
        assert again.equals(first)


OPTIONS = [{}, {"strategy": "ffs", "seed": 3}, {"min_fill": 0.8},
           {"max_seqs_per_pack": 3}, {"strategy": "nf", "min_fill": 0.0}]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_packs_follow_pack_shards_on_the_lengths_in_content_order(options):
    sequences = corpus(700, seed=9)
    shards = [sequences[:300], sequences[300:]]
    out = pack_tables([token_table(s) for s in shards], 600, **options)
    ordered = []
    for shard in shards:
        cols = columns_of(shard)
        order = content_order(cols, content_keys(cols))
        ordered.append(np.array([len(shard[i]) for i in order], dtype=np.int64))
    plan = pack_shards(ordered, 600, **options)
    assert out.column("seq_lengths").to_pylist() == \
        [plan.lengths[a:b].tolist() for a, b in zip(plan.offsets[:-1], plan.offsets[1:])]
    check_packed_rows(out, sequences, capacity=600)


def test_efficiency_is_within_a_tenth_of_a_percent_of_one_packing():
    lengths = sample_lengths("wikipedia_bert512_graphcore_histogram.npy", 512, 60_000, seed=2)
    rng = np.random.default_rng(2)
    values = rng.integers(0, 30_000, int(lengths.sum()), dtype=np.int32)
    offsets = np.zeros(lengths.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    table = pa.table({"input_ids": pa.ListArray.from_arrays(pa.array(offsets),
                                                            pa.array(values))})
    shards = [table.slice(i * 15_000, 15_000) for i in range(4)]
    out = pack_tables(shards, 512)
    total = int(lengths.sum())
    import pyarrow.compute as pc

    assert pc.sum(pc.list_value_length(out.column("input_ids"))).as_py() == total
    efficiency = total / (out.num_rows * 512)
    assert efficiency >= Packer(512).pack(lengths).efficiency * (1 - 1e-3)


@pytest.mark.parametrize("shards, error, message", [
    ([], ValueError, "at least one shard"),
    ([[1, 2]], TypeError, "shard 0 is a list, not a pyarrow.Table"),
    ([pa.table({"ids": [[1]]})], ValueError, "no 'input_ids' column"),
    ([pa.table({"input_ids": [1.5]})], TypeError, "must hold lists of integers"),
])
def test_bad_shards_are_errors(shards, error, message):
    with pytest.raises(error, match=message):
        pack_tables(shards, 10)


def test_shards_must_agree_on_their_token_columns():
    a = token_table([[1, 2]])
    b = token_table([[1, 2]], [[1, 2]])
    with pytest.raises(ValueError, match="shard 1's token columns"):
        pack_tables([a, b], 10)


def test_a_null_row_is_an_error_that_names_it():
    table = pa.table({"input_ids": pa.array([[1, 2], None], pa.list_(pa.int64()))})
    with pytest.raises(ValueError, match=r"input_ids\[1\] is null"):
        pack_tables([table], 10)


def test_a_null_token_is_an_error_only_within_the_rows():
    table = pa.table({"input_ids": pa.array([[1, 2], [3, None], [4, 5]], pa.list_(pa.int32()))})
    with pytest.raises(ValueError, match=r"input_ids\[1\] holds a null token id at position 1"):
        pack_tables([table], 10)
    assert pack_tables([table.slice(2)], 10).column("input_ids").to_pylist() == [[4, 5]]


def test_token_types_that_cannot_hold_the_ids_are_errors():
    table = pa.table({"input_ids": pa.array([[1, 2**64 - 1]], pa.list_(pa.uint64()))})
    with pytest.raises(ValueError, match="holds a token id above 9223372036854775807"):
        pack_tables([table], 10)
    small = pa.table({"input_ids": pa.array([[1, 2], [3]], pa.list_(pa.uint16()))})
    out = pack_tables([small], 10)
    assert out.schema.field("input_ids").type == pa.list_(pa.int64())
    assert out.column("labels").to_pylist() == [[-100, 2, -100]]


def test_rows_that_are_not_one_sequence_each_are_refused():
    """Padded tokenizer output and packed rows are refused by the stages that
    pack_tables, Ray and Spark share, as hf_utils refuses them."""
    padded = pa.table({"input_ids": [[1, 2, 0], [3, 4, 5]],
                       "attention_mask": [[1, 1, 0], [1, 1, 1]]})
    with pytest.raises(ValueError, match="row 0 of the data has attention_mask 0 at token 2"):
        pack_tables([padded], 8)
    ones = pa.table({"input_ids": [[1, 2], [3, 4, 5]], "attention_mask": [[1, 1], [1, 1, 1]]})
    assert pack_tables([ones], 8).column("input_ids").to_pylist() in ([[1, 2, 3, 4, 5]],
                                                                      [[3, 4, 5, 1, 2]])
    packed = pa.table({"input_ids": [[1, 2, 3]], "seq_lengths": [[2, 1]]})
    with pytest.raises(ValueError, match="the data is packed already"):
        pack_tables([packed], 8)
    positions = pa.table({"input_ids": [[1, 2, 3]], "position_ids": [[0, 1, 0]]})
    with pytest.raises(ValueError, match="the rows of the data carry position_ids but no "
                                         "seq_lengths"):
        pack_tables([positions], 8)
