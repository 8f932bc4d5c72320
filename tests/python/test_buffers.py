"""What ringpipe accepts as a buffer, that it uses the object's own memory, and what it refuses."""

import gc

import numpy as np
import pytest

import ringpipe

torch = pytest.importorskip("torch")


@pytest.fixture
def ring():
    with ringpipe.Ring(env=False, world_size=1, op_timeout=10) as one_rank_ring:
        yield one_rank_ring


def loop(ring, out, inp, tag=0):
    receive = ring.pred.irecv(inp, tag=tag)
    ring.succ.send(out, tag=tag)
    receive.wait()
    return receive.nbytes


def test_receive_lands_in_the_tensors_own_memory(ring):
    base = torch.zeros(100, dtype=torch.int64)
    window = base[10:20]  # a contiguous view: the data must land inside `base`
    assert loop(ring, torch.arange(10, dtype=torch.int64), window) == 80
    assert base[10:20].tolist() == list(range(10))
    assert base[:10].eq(0).all() and base[20:].eq(0).all()


def test_numpy_memoryview_and_bytearray_are_used_in_place(ring):
    array = np.zeros((4, 8), dtype=np.float32)
    loop(ring, np.arange(32, dtype=np.float32).reshape(4, 8), array)
    assert array.ravel().tolist() == list(range(32))
    area = bytearray(8)
    loop(ring, memoryview(b"0123456789")[2:6], memoryview(area)[2:6])
    assert area == b"\0\x002345\0\0"


class DLPackOnly:
    """An object that offers its memory only through DLPack (like a JAX or CuPy host array)."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, stream=None):
        return self.array.__dlpack__()

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


def test_dlpack_objects_send_and_receive_in_place(ring):
    if not hasattr(np.ndarray, "__dlpack__"):
        pytest.skip("this NumPy has no DLPack export")
    target = np.zeros(6, dtype=np.int16)
    assert loop(ring, DLPackOnly(np.arange(6, dtype=np.int16)), DLPackOnly(target)) == 12
    assert target.tolist() == list(range(6))


def test_non_contiguous_tensor_is_refused_with_what_to_do(ring):
    matrix = torch.zeros(8, 8)
    with pytest.raises(ringpipe.InvalidArgumentError, match=r"not contiguous.*\.contiguous\(\)"):
        ring.succ.isend(matrix.t())
    with pytest.raises(ValueError, match="not contiguous"):
        ring.pred.irecv(matrix[:, 1])


def test_non_contiguous_array_is_refused(ring):
    with pytest.raises(ringpipe.InvalidArgumentError, match="ascontiguousarray"):
        ring.succ.isend(np.zeros((4, 4))[:, ::2])


@pytest.mark.parametrize("make", [lambda: b"12345678", lambda: memoryview(bytearray(8)).toreadonly(),
                                  lambda: np.frombuffer(b"12345678", dtype=np.uint8)])
def test_read_only_buffer_cannot_receive(ring, make):
    with pytest.raises(ringpipe.InvalidArgumentError, match="read-only"):
        ring.pred.irecv(make())


def test_objects_without_memory_are_type_errors(ring):
    for bad in (42, "text", [1, 2, 3], None):
        with pytest.raises(TypeError, match="torch.Tensor"):
            ring.succ.isend(bad)


def test_cuda_memory_on_a_host_edge_is_refused(ring):
    class CudaArray:
        __cuda_array_interface__ = {"data": (0x7F0000000000, False), "shape": (4,),
                                    "typestr": "<f4", "version": 3}

    with pytest.raises(ringpipe.InvalidArgumentError, match="CUDA memory.*comm_device='gpu'"):
        ring.succ.isend(CudaArray())
    with pytest.raises(ringpipe.InvalidArgumentError, match="device meta"):
        ring.succ.isend(torch.empty(4, device="meta"))


def test_pending_receive_holds_its_buffer_export(ring):
    area = bytearray(16)
    receive = ring.pred.irecv(area, tag=3)
    with pytest.raises(BufferError):
        area.extend(b"x")  # resizing would move the memory the transport writes into
    del receive  # an unfinished receive dropped: cancelled, and the buffer released
    gc.collect()
    area.extend(b"x")


def test_tensor_dropped_after_isend_is_kept_alive(ring):
    nbytes = 16 << 20  # large enough that the data is read at receive time, not at isend
    send = ring.succ.isend(torch.full((nbytes // 4,), 7, dtype=torch.int32), tag=5)
    gc.collect()
    junk = [torch.full((nbytes // 4,), -1, dtype=torch.int32) for _ in range(4)]
    inp = torch.empty(nbytes // 4, dtype=torch.int32)
    ring.pred.recv(inp, tag=5)
    send.wait()
    assert inp.eq(7).all()
    del junk


def test_send_whose_request_is_dropped_still_completes(ring):
    nbytes = 16 << 20
    ring.succ.isend(torch.full((nbytes // 4,), 9, dtype=torch.int32), tag=6)  # request dropped
    gc.collect()
    junk = [torch.full((nbytes // 4,), -1, dtype=torch.int32) for _ in range(4)]
    inp = torch.empty(nbytes // 4, dtype=torch.int32)
    ring.pred.recv(inp, tag=6)
    assert inp.eq(9).all()
    del junk
