"""Hypothesis strategies for packing inputs: (lengths, capacity) pairs.

Random lengths alone rarely hit the cases where packers go wrong, so the
lists are biased towards them: empty and single-item lists, all lengths
equal (to 1, to the capacity, or to anything), a few values repeated many
times (ties), capacity 1, capacities around 2**16 (where the C residual
index switches from dense to sparse) and up to 2**40 (also as scaled-up small cases), and lengths right
around capacity/2 and capacity/3, where one unit decides whether two or
three items share a bin.
"""

from __future__ import annotations

from hypothesis import strategies as st

MAX_ITEMS = 60

capacities = st.one_of(
    st.just(1),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=300),
    st.sampled_from([1024, 2048, 4096, 65535, 65536, 65537]),
    st.integers(min_value=2**16, max_value=2**40),
    st.just(2**40),
)


def _clip(value: int, capacity: int) -> int:
    return min(max(value, 1), capacity)


def boundary_lengths(capacity: int) -> st.SearchStrategy[int]:
    """Lengths within two units of capacity/2 and capacity/3, and the ends."""
    values = {1, capacity}
    for base in (capacity // 2, capacity // 3, (capacity + 1) // 2):
        values.update(_clip(base + d, capacity) for d in range(-2, 3))
    return st.sampled_from(sorted(values))


def single_lengths(capacity: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(min_value=1, max_value=capacity),
        st.integers(min_value=1, max_value=max(1, capacity // 8)),
        boundary_lengths(capacity),
    )


def length_lists(capacity: int, max_size: int = MAX_ITEMS) -> st.SearchStrategy[list]:
    """Lists of valid lengths (each in [1, capacity]) in the shapes above."""
    one = single_lengths(capacity)
    sizes = st.integers(min_value=0, max_value=max_size)
    few_values = st.lists(one, min_size=1, max_size=3)
    return st.one_of(
        st.lists(one, max_size=max_size),
        st.builds(lambda v, n: [v] * n, one, sizes),
        sizes.map(lambda n: [capacity] * n),
        sizes.map(lambda n: [1] * n),
        few_values.flatmap(
            lambda palette: st.lists(st.sampled_from(palette), max_size=max_size)
        ),
    )


@st.composite
def packing_inputs(draw, max_size: int = MAX_ITEMS):
    """A ``(lengths, capacity)`` pair; every length fits the capacity.

    A small case is sometimes scaled up by a power of two: it keeps all its
    ties (equal loads, equal remaining space) but runs on the sparse index
    used for capacities far above n, where ties are otherwise rare.
    """
    capacity = draw(capacities)
    lengths = draw(length_lists(capacity, max_size))
    if capacity <= 4096:
        scale = draw(st.sampled_from([1, 1, 2**17, 2**28]))
        capacity *= scale
        lengths = [length * scale for length in lengths]
    return lengths, capacity
