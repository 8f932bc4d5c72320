"""FlexLLMGen's ``flexllmgen/dist_utils.py`` on ringpipe: change the import, keep the calls.

    from ringpipe.dist_utils import (initialize_distributed, get_pipeline_parallel_pred_group,
                                     get_pipeline_parallel_succ_group, get_comm_device)

    initialize_distributed(head_ip, port, world_size, rank, local_rank, "cpu")
    get_pipeline_parallel_succ_group().send(tensor, tag=k)   # to rank + 1
    get_pipeline_parallel_pred_group().recv(tensor, tag=k)   # from rank - 1

The groups are ringpipe Edges: the pred group is the link to the predecessor (this rank
receives its input there), the succ group the link to the successor (it sends there), as the
seed document defines them. They also work as ``group=`` of :mod:`ringpipe.distributed`,
which routes by the rank named and refuses a group that does not contain it.
"""

import builtins
from typing import Any, Callable, Optional

from . import _world
from ._ringpipe import Edge, Options, Ring

__all__ = [
    "initialize_distributed",
    "get_pipeline_parallel_pred_group",
    "get_pipeline_parallel_succ_group",
    "get_comm_device",
    "suppress_output",
    "finalize_distributed",
    "get_ring",
]

_builtin_print: Optional[Callable[..., None]] = None  # the print suppress_output replaced


def initialize_distributed(head_ip: str, port: int, world_size: int, rank: int,
                           local_rank: int, comm_device: str) -> None:
    """Joins the process-wide ring, as the seed's function of the same name.

    Rank 0 hosts the rendezvous at ``head_ip:port``; ``comm_device`` is ``"cpu"`` or ``"gpu"``
    (then ``local_rank`` is the CUDA device, also made torch's current device). The arguments
    place the rank; only the tuning variables (``RINGPIPE_*_TIMEOUT_S``, ``RINGPIPE_PROGRESS``,
    ``RINGPIPE_IFNAME``, ``RINGPIPE_JOB_ID``, ``RINGPIPE_TOKEN``, ...) come from the
    environment. Like the seed, it then calls ``suppress_output(rank)``. Raises
    InvalidArgumentError for a bad argument or a second call, TimeoutError naming missing
    ranks.
    """
    _world.check_free("initialize_distributed")
    options = Options._tuning_from_env()
    options.head = head_ip
    options.port = port
    options.world_size = world_size
    options.rank = rank
    options.local_rank = local_rank
    options.comm_device = comm_device
    if options.comm_device == "gpu":
        _set_torch_device(local_rank)
    _world.install(Ring(options, env=False))
    suppress_output(rank)


def get_pipeline_parallel_pred_group() -> Edge:
    """The edge to rank (rank - 1) % world_size: this rank receives its input here."""
    return _world.get("get_pipeline_parallel_pred_group").pred


def get_pipeline_parallel_succ_group() -> Edge:
    """The edge to rank (rank + 1) % world_size: this rank sends its output here."""
    return _world.get("get_pipeline_parallel_succ_group").succ


def get_comm_device() -> str:
    """``"cpu"`` or ``"gpu"``."""
    return _world.get("get_comm_device").comm_device


def get_ring() -> Ring:
    """The process-wide ring itself (link_info, abort, host edges in GPU mode)."""
    return _world.get("get_ring")


def finalize_distributed() -> None:
    """Closes the process-wide ring (also done at exit) and restores ``print``."""
    global _builtin_print
    _world.close()
    if _builtin_print is not None:
        builtins.print = _builtin_print
        _builtin_print = None


def suppress_output(rank: int, force_default: bool = False) -> None:
    """Replaces ``print`` so that only rank 0 prints, unless a print is forced.

    ``print(..., force=True)`` prints from any rank, prefixed ``"rank #N: "``. Unlike
    FlexLLMGen's own version, which forces every print unless told ``force=False``, a print is
    not forced by default, as in ringpipe's C++ ``suppress_output``; ``force_default=True``
    forces every print (the upstream behaviour).
    """
    global _builtin_print
    if _builtin_print is None:
        _builtin_print = builtins.print
    original = _builtin_print
    prefix = f"rank #{rank}:"

    def print(*args: Any, force: Optional[bool] = None, **kwargs: Any) -> None:
        if force if force is not None else force_default:
            original(prefix, *args, **kwargs)
        elif rank == 0:
            original(*args, **kwargs)

    builtins.print = print


def _set_torch_device(local_rank: int) -> None:
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available() and local_rank < torch.cuda.device_count():
        torch.cuda.set_device(local_rank)
