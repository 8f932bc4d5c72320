"""Registered memory from Python: Ring.allocate as a buffer, a NumPy array and a torch tensor,
whose messages move with one copy; and what each edge reports about single copy."""

import gc

import numpy as np
import pytest

import ringpipe

torch = pytest.importorskip("torch")


@pytest.fixture
def ring():
    with ringpipe.Ring(env=False, world_size=1, op_timeout=10) as one_rank_ring:
        yield one_rank_ring


def loop(ring, out, inp):
    receive = ring.pred.irecv(inp)
    ring.succ.send(out)
    receive.wait()
    return receive.nbytes


def test_edges_say_that_registered_and_plain_memory_move_with_one_copy(ring):
    paths = ring.link_info(ring.succ).single_copy
    assert paths.registered and paths.plain, ring.link_info(ring.succ).describe()
    assert paths.registered_min_bytes == ring.options.registered_min_bytes
    assert paths.plain_min_bytes == ring.options.single_copy_min_bytes
    assert paths.plain_max_bytes == ring.options.single_copy_max_bytes
    assert "single copy" in ring.link_info(ring.succ).describe()


def test_a_registered_tensor_sends_and_receives_intact(ring):
    out = ring.allocate_tensor((256, 1024), dtype=torch.float32)  # 1 MiB
    assert out.shape == (256, 1024) and out.dtype == torch.float32 and out.eq(0).all()
    out.copy_(torch.arange(256 * 1024, dtype=torch.float32).reshape(256, 1024))
    inp = ring.allocate_tensor((256, 1024))
    assert loop(ring, out, inp) == 1 << 20
    assert torch.equal(inp, out)


def test_a_registered_array_keeps_its_memory_after_the_buffer_name_is_gone(ring):
    array = ring.allocate_array((3, 40000), dtype=np.int32)
    array[:] = np.arange(3 * 40000, dtype=np.int32).reshape(3, 40000)
    gc.collect()
    received = np.zeros_like(array)
    assert loop(ring, array, received) == array.nbytes
    assert np.array_equal(received, array)


def test_a_registered_buffer_is_a_writable_python_buffer(ring):
    buffer = ring.allocate(100000)
    assert buffer.nbytes == len(buffer) == 100000
    view = memoryview(buffer)
    assert not view.readonly and view.nbytes == 100000
    view[:5] = b"hello"
    received = bytearray(100000)
    loop(ring, buffer, received)
    assert received[:5] == b"hello" and received[5:] == bytes(99995)


def test_an_empty_allocation_is_refused_naming_the_size(ring):
    with pytest.raises(ringpipe.InvalidArgumentError, match="0 bytes"):
        ring.allocate(0)
    assert ring.allocate_array((0, 4)).shape == (0, 4)
