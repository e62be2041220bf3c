import pytest
import torch

from cnn_studio.data import BatchIterator, DataError
from cnn_studio.data.bundle import Split


def make_split(n=103, c=1, h=2, w=2):
    x = torch.arange(n, dtype=torch.int64).remainder(256).to(torch.uint8).view(n, 1, 1, 1).expand(n, c, h, w).contiguous()
    return Split("train", torch.arange(n, dtype=torch.int64), x)


def test_each_sample_exactly_once_per_epoch():
    s = make_split()
    it = BatchIterator(s, 10, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert len(it) == 11
    for _ in range(2):
        batches = list(it)
        assert len(batches) == 11 and [len(y) for _, y in batches][-1] == 3
        ys = torch.cat([y for _, y in batches])
        assert sorted(ys.tolist()) == list(range(103))
        for xb, yb in batches:  # x and y stay paired
            assert xb.dtype == torch.uint8 and yb.dtype == torch.int64
            assert torch.equal(xb[:, 0, 0, 0].long(), yb % 256)
    e1 = torch.cat([y for _, y in it])
    e2 = torch.cat([y for _, y in it])
    assert not torch.equal(e1, e2)  # a new order each epoch


def test_iter_from_is_the_tail_of_the_same_epoch():
    s = make_split()
    g = torch.Generator().manual_seed(42)
    it = BatchIterator(s, 8, shuffle=True, generator=g)
    list(it)  # advance to epoch 2
    state = g.get_state()
    full = [y for _, y in it]
    g.set_state(state)
    tail = [y for _, y in it.iter_from(5)]
    assert len(tail) == len(full) - 5
    assert all(torch.equal(a, b) for a, b in zip(full[5:], tail))
    # after a resumed epoch, the next epoch matches the uninterrupted run
    nxt_full = torch.cat([y for _, y in it])
    g.set_state(state)
    list(it.iter_from(3))
    assert torch.equal(torch.cat([y for _, y in it]), nxt_full)
    assert list(it.iter_from(len(it))) == []
    with pytest.raises(DataError):
        it.iter_from(len(it) + 1)


def test_order_drawn_at_iter_call():
    s = make_split(20)
    g = torch.Generator().manual_seed(0)
    it = BatchIterator(s, 4, generator=g)
    before = g.get_state()
    gen = iter(it)
    assert not torch.equal(before, g.get_state())  # drawn eagerly, before the first batch
    first = next(gen)[1]
    g.set_state(before)
    assert torch.equal(next(iter(it))[1], first)


def test_no_shuffle_and_drop_last():
    s = make_split(10)
    it = BatchIterator(s, 4, shuffle=False, drop_last=True)
    assert len(it) == 2
    assert torch.cat([y for _, y in it]).tolist() == list(range(8))
    assert len(BatchIterator(make_split(0), 4)) == 0 and list(BatchIterator(make_split(0), 4)) == []
    with pytest.raises(DataError, match="batch size"):
        BatchIterator(s, 0)


def test_streaming_iterator_matches_in_memory_order(make):
    from cnn_studio.data import DataConfig, load_dataset

    root = make.folder({"a": 7, "b": 6})
    mem = load_dataset(DataConfig(source=str(root), val_fraction=0))
    st = load_dataset(DataConfig(source=str(root), val_fraction=0, stream=True))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = list(BatchIterator(mem.train, 5, generator=g1))
    b = list(BatchIterator(st.train, 5, generator=g2, num_workers=0).iter_from(0))
    assert len(a) == len(b) == 3
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    g2.manual_seed(3)
    tail = list(BatchIterator(st.train, 5, generator=g2, num_workers=0).iter_from(2))
    assert len(tail) == 1 and torch.equal(tail[0][0], a[2][0])
