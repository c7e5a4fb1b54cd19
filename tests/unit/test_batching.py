"""Packing claimed messages into send tasks: per channel, in order, spread when few are due."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engage.delivery.batching import SPREAD, pack
from engage.delivery.claim import Claimed


def test_a_trickle_is_one_message_per_task() -> None:
    claimed = [Claimed(i, "sms") for i in range(4)] + [Claimed(9, "email")]
    assert pack(claimed, 10) == [
        ("sms", [0]),
        ("sms", [1]),
        ("sms", [2]),
        ("sms", [3]),
        ("email", [9]),
    ]


def test_a_few_dozen_are_spread_over_several_tasks() -> None:
    tasks = pack([Claimed(i, "sms") for i in range(30)], 50)
    assert [len(ids) for _, ids in tasks] == [8, 8, 8, 6]


def test_a_backlog_is_packed_up_to_the_chunk_size() -> None:
    tasks = pack([Claimed(i, "sms") for i in range(500)], 10)
    assert len(tasks) == 50 and {len(ids) for _, ids in tasks} == {10}


@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(["sms", "email"])),
        unique_by=lambda t: t[0],
        max_size=400,
    ),
    st.integers(1, 25),
)
def test_every_message_lands_in_exactly_one_task_of_its_channel(
    items: list[tuple[int, str]], size: int
) -> None:
    claimed = [Claimed(i, c) for i, c in items]
    tasks = pack(claimed, size)
    channel_of = dict(items)
    flat = [i for channel, ids in tasks for i in ids if channel_of[i] == channel]
    assert sorted(flat) == sorted(i for i, _ in items)
    assert all(1 <= len(ids) <= size for _, ids in tasks)
    for channel in ("sms", "email"):
        in_order = [i for c, ids in tasks if c == channel for i in ids]
        assert in_order == [i for i, c in items if c == channel]
        sizes = [len(ids) for c, ids in tasks if c == channel]
        if 0 < len(in_order) <= SPREAD:
            assert sizes == [1] * len(in_order)
        elif in_order:  # spread over about SPREAD tasks at least, else packed full
            assert max(sizes) <= -(-len(in_order) // SPREAD)
            assert len(sizes) == -(-len(in_order) // max(sizes))
