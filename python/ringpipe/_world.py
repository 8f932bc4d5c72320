"""The process-wide ring that ringpipe.dist_utils and ringpipe.distributed share."""

import atexit
from typing import Optional

from ._ringpipe import Ring
from .errors import InvalidArgumentError

_ring: Optional[Ring] = None


def get(caller: str) -> Ring:
    """The process-wide ring; InvalidArgumentError naming `caller` before it exists."""
    if _ring is None:
        raise InvalidArgumentError(
            f"InvalidArgument: {caller} called before the process joined a ring: call "
            "ringpipe.dist_utils.initialize_distributed(...) or "
            "ringpipe.distributed.init_process_group() first")
    return _ring


def current() -> Optional[Ring]:
    return _ring


def check_free(caller: str) -> None:
    """InvalidArgumentError if the process already belongs to a ring."""
    if _ring is not None:
        raise InvalidArgumentError(
            f"InvalidArgument: {caller} called twice (this process is already rank "
            f"{_ring.rank} of {_ring.world_size}); close that ring first "
            "(destroy_process_group / finalize_distributed)")


def install(ring: Ring) -> None:
    global _ring
    _ring = ring


def close() -> None:
    """Closes the process-wide ring (neighbours see an orderly close); idempotent."""
    global _ring
    ring, _ring = _ring, None
    if ring is not None:
        ring.close()


atexit.register(close)
