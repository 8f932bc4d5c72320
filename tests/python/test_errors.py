"""Each error class: its place in the hierarchy, its code, and a real cause that raises it."""

import math
import time

import pytest

import ringpipe
from ringpipe import errors

CODES = ["InvalidArgument", "Timeout", "PeerFailed", "Stalled", "Closed", "Truncated",
         "AuthFailed", "ProtocolMismatch", "Unsupported", "Internal"]


def test_one_class_per_code_under_one_base():
    for code in CODES:
        cls = errors.class_for_code(code)
        assert issubclass(cls, ringpipe.Error) and cls.code == code
        assert cls.__name__ == code + "Error"
        assert getattr(ringpipe, cls.__name__) is cls
    assert issubclass(ringpipe.TimeoutError, TimeoutError)
    assert issubclass(ringpipe.InvalidArgumentError, ValueError)
    error = ringpipe.PeerFailedError("PeerFailed: rank 1 died")
    assert error.message == "rank 1 died"


@pytest.fixture
def ring():
    with ringpipe.Ring(env=False, world_size=1, op_timeout=10) as one_rank_ring:
        yield one_rank_ring


def test_timeout_names_the_operation_and_keeps_its_deadline(ring):
    start = time.monotonic()
    with pytest.raises(ringpipe.TimeoutError,
                       match=r"recv on rank 0 <- pred 0 tag 4 size 64 timed out after 0\.[34]"):
        ring.pred.recv(bytearray(64), tag=4, timeout=0.3)
    assert 0.3 <= time.monotonic() - start < 2.0
    # The receive was cancelled: the next message goes to the next receive.
    ring.succ.send(b"after", tag=4)
    area = bytearray(5)
    assert ring.pred.recv(area, tag=4, timeout=5) == 5 and area == b"after"


def test_request_wait_timeout_accepts_timedelta(ring):
    import datetime

    request = ring.pred.irecv(bytearray(1), tag=1)
    with pytest.raises(TimeoutError):
        request.wait(timeout=datetime.timedelta(milliseconds=100))


def test_truncation_states_both_sizes(ring):
    receive = ring.pred.irecv(bytearray(10), tag=2)
    ring.succ.isend(bytes(100), tag=2)
    with pytest.raises(ringpipe.TruncatedError, match="100 bytes.*10 bytes"):
        receive.wait()


@pytest.mark.parametrize("call,match", [
    (lambda r: r.succ.isend(b"x", tag=-1), "tag -1 is out of range"),
    (lambda r: r.succ.isend(b"x", tag=1 << 32), "tag 4294967296 is out of range"),
    (lambda r: r.pred.recv(bytearray(1), timeout=-1), "timeout must be"),
    (lambda r: r.pred.recv(bytearray(1), timeout=math.nan), "timeout must be"),
])
def test_invalid_arguments_name_what_was_wrong(ring, call, match):
    with pytest.raises(ringpipe.InvalidArgumentError, match=match):
        call(ring)


def test_invalid_options_name_the_field():
    with pytest.raises(ringpipe.InvalidArgumentError, match="comm_device.*tpu"):
        ringpipe.Options(comm_device="tpu")
    with pytest.raises(ringpipe.InvalidArgumentError, match="port 70000"):
        ringpipe.Options(port=70000)
    with pytest.raises(ringpipe.InvalidArgumentError, match="rank"):
        ringpipe.Ring(env=False, world_size=2, rank=5)


def test_environment_errors_name_the_variable(monkeypatch):
    monkeypatch.setenv("RINGPIPE_OP_TIMEOUT_S", "soon")
    with pytest.raises(ringpipe.InvalidArgumentError, match="RINGPIPE_OP_TIMEOUT_S"):
        ringpipe.Ring()


def test_closed_ring_raises_closed(ring):
    succ = ring.succ
    ring.close()
    ring.close()  # idempotent
    with pytest.raises(ringpipe.ClosedError, match="closed"):
        succ.isend(b"x")


def test_gpu_mode_without_a_gpu_is_unsupported():
    try:
        ring = ringpipe.Ring(env=False, world_size=1, comm_device="gpu")
    except ringpipe.UnsupportedError as error:
        assert "GPU" in str(error) or "CUDA" in str(error)
    else:
        ring.close()
        pytest.skip("this machine has a GPU: GPU mode works")


AUTH = """
import ringpipe
try:
    ringpipe.Ring()
except ringpipe.AuthFailedError as error:
    print("AuthFailed", error.code, flush=True)
except ringpipe.Error as error:
    print("other", type(error).__name__, error, flush=True)
"""


def test_wrong_token_is_auth_failed(run_ring):
    results = run_ring(2, AUTH, timeout=60, env={"RINGPIPE_RENDEZVOUS_TIMEOUT_S": "5"},
                       per_rank_env={1: {"RINGPIPE_TOKEN": "not-the-job-token"}})
    assert "AuthFailed AuthFailed" in results[1].stdout, results[1].stdout


PROTOCOL = """
import ringpipe
try:
    ringpipe.Ring()
    print("joined", flush=True)
except ringpipe.Error as error:
    print(type(error).__name__, flush=True)
"""


def test_ranks_of_another_job_are_refused(run_ring):
    results = run_ring(2, PROTOCOL, timeout=60, env={"RINGPIPE_RENDEZVOUS_TIMEOUT_S": "3"},
                       per_rank_env={1: {"RINGPIPE_JOB_ID": "77"}})
    assert "joined" not in results[1].stdout
    assert results[1].stdout.strip().endswith("Error"), results[1].stdout
