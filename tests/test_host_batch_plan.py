"""How the host check groups messages into batches (no KVM needed: planning only)."""
from __future__ import annotations

from apicviz.host.batch import plan
from apicviz.host.deliver import Message


def m(delivery: str = "fixed", vector: int = 0x30, source: int | None = None, stub: bool = False) -> Message:
    return Message(source, "physical", 0, "none", delivery, vector, stub)


def test_distinct_vectors_share_a_batch_and_lowest_keeps_its_vector() -> None:
    batches, sent = plan([m(vector=0x30), m(vector=0x31), m("lowest", 0x30), m("lowest", 0x30)], False)
    assert batches == [[0, 1], [2], [3]] or batches == [[0, 1, 2], [3]] or len(batches) == 3
    assert [s.vector for s in sent][2:] == [0x30, 0x30]
    for batch in batches:
        assert len({sent[i].slot for i in batch}) == len(batch)


def test_fixed_messages_take_a_free_vector_instead_of_a_new_batch() -> None:
    batches, sent = plan([m(vector=0x30) for _ in range(10)], False)
    assert len(batches) == 1
    assert len({s.vector for s in sent}) == 10
    assert sent[0].vector == 0x30
    low, _ = plan([m(vector=3) for _ in range(3)], False)  # vectors below 0x20 are sent as written
    assert len(low) == 3


def test_one_nmi_per_batch_and_init_closes_its_batch() -> None:
    batches, _ = plan([m("nmi"), m("nmi"), m("init"), m(vector=0x40)], False)
    assert all(sum(1 for i in b if i in (0, 1)) <= 1 for b in batches)
    closing = next(b for b in batches if 2 in b)
    assert closing[-1] == 2
    assert 3 not in closing


def test_stub_init_goes_alone_and_arb_prio_makes_lowest_alone() -> None:
    batches, _ = plan([m(vector=0x40), m("init", source=0, stub=True), m(vector=0x41)], False)
    assert [1] in batches
    batches, _ = plan([m("lowest", 0x40), m("lowest", 0x41)], True)
    assert batches == [[0], [1]]


def test_weights_put_heavy_messages_first() -> None:
    batches, _ = plan([m("nmi"), m("nmi"), m("nmi")], False, weights=[1, 5, 3])
    assert batches == [[1], [2], [0]]
