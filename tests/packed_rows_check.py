"""Data and checks shared by the sharded packing tests (core, Ray, Spark):
packed rows hold every input token exactly once, in its sequence's order,
with the positions and labels of step 5's conventions; row-set
comparisons; and the corpora the engine tests pack."""

from collections import Counter

import numpy as np


def expected_segments(sequences, labels=None, convention="hf", capacity=None, split=False):
    """The (tokens, labels) segment each sequence (or piece) should become."""
    out = Counter()
    for i, tokens in enumerate(sequences):
        tokens = list(tokens)
        source = list(labels[i]) if labels is not None else tokens
        step = capacity if split else len(tokens) or 1
        for start in range(0, len(tokens), step):
            piece, piece_labels = tokens[start:start + step], source[start:start + step]
            if convention == "hf":
                want = [-100] + piece_labels[1:]
            else:
                want = piece_labels[1:] + [-100]
            out[(tuple(piece), tuple(want))] += 1
    return out


def check_packed_rows(table, sequences, labels=None, *, capacity, convention="hf",
                      split=False):
    """Every row fits, positions restart per sequence, and the multiset of
    (tokens, labels) segments equals the expected one; returns the tokens."""
    assert table.column_names == ["input_ids", "labels", "position_ids", "seq_lengths"]
    got = Counter()
    total = 0
    for ids, labs, pos, lens in zip(*(table.column(c).to_pylist() for c in table.column_names)):
        assert sum(lens) == len(ids) == len(labs) == len(pos) <= capacity
        assert all(n >= 1 for n in lens)
        start = 0
        for n in lens:
            assert pos[start:start + n] == list(range(n))
            got[(tuple(ids[start:start + n]), tuple(labs[start:start + n]))] += 1
            start += n
        total += len(ids)
    assert got == expected_segments(sequences, labels, convention, capacity, split)
    return total


def row_set(table):
    """The rows of a table as a sorted list of tuples, for order-free equality."""
    columns = [table.column(c).to_pylist() for c in table.column_names]
    return sorted(zip(*(list(map(tuple, column)) for column in columns)))


def plan_reference(ids, lengths, shards, capacity):
    """{id: (pack_shard, pack_index)} from pack_shard on each shard's lengths
    in id order and repack of the residues (docs/distributed.md)."""
    from seqpacker.distributed import pack_shard, repack

    plan, residue = {}, []
    for shard in sorted(set(shards.tolist())):
        rows = np.flatnonzero(shards == shard)
        rows = rows[np.argsort(ids[rows])]
        packing = pack_shard(lengths[rows], capacity)
        for index, (a, b) in enumerate(zip(packing.offsets[:-1], packing.offsets[1:])):
            for r in packing.items[a:b]:
                plan[int(ids[rows[r]])] = (shard, index)
        residue += [(shard, int(ids[rows[r]]), int(lengths[rows[r]])) for r in packing.residue]
    if residue:
        shard, row, length = (np.array(column) for column in zip(*residue))
        rest = repack(shard, row, length, capacity)
        for index, (a, b) in enumerate(zip(rest.offsets[:-1], rest.offsets[1:])):
            for i in rest.row[a:b]:
                plan[int(i)] = (-1, index)
    return plan


def plan_of(table):
    """{id: (pack_shard, pack_index)} of a plan table; every id once."""
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids))
    return dict(zip(ids, zip(table.column("pack_shard").to_pylist(),
                             table.column("pack_index").to_pylist())))


def corpus(n, seed=0, high=300):
    """``n`` token lists of random ids, of lengths in [1, high)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 32000, int(k)).tolist() for k in rng.integers(1, high, n)]


def engine_tables():
    """The tables the engine tests pack: 1500 sequences in 4 shards (column
    ``shard``, with an ``other`` column to drop), and 5000 ids and lengths
    in 5 shards (column ``part``); with the sequences, ids and lengths."""
    import pyarrow as pa

    sequences = corpus(1500)
    tokens = pa.table({"input_ids": pa.array(sequences, pa.list_(pa.int32())),
                       "shard": pa.array(np.arange(len(sequences)) % 4),
                       "other": pa.array(np.arange(len(sequences)))})
    rng = np.random.default_rng(11)
    ids = rng.permutation(5000) * 3 + 1
    lengths = rng.integers(1, 700, ids.size)
    plan = pa.table({"id": ids, "length": lengths, "part": ids % 5})
    return tokens, sequences, plan, ids, lengths


def core_on(table, shard_column, capacity=1024, **options):
    """``pack_tables`` on the shards that ``shard_column`` names."""
    import pyarrow as pa

    from seqpacker.distributed import pack_tables

    shards = table.column(shard_column).to_numpy()
    return pack_tables([table.filter(pa.array(shards == s)).select(["input_ids"])
                        for s in range(int(shards.max()) + 1)], capacity, **options)
