"""torch.distributed's point-to-point calls on ringpipe: ``import ringpipe.distributed as dist``.

The functions keep torch's names, signatures and meaning (ranks are global ranks), over the
process-wide ring that :func:`init_process_group` or
:func:`ringpipe.dist_utils.initialize_distributed` joins::

    import ringpipe.distributed as dist
    dist.init_process_group()                       # RANK, WORLD_SIZE, MASTER_ADDR, ...
    work = dist.isend(hidden, dst=(dist.get_rank() + 1) % dist.get_world_size(), tag=k)
    sender = dist.recv(tokens, src=dist.get_world_size() - 1, tag=k)
    work.wait()

A ring links each rank only to its two neighbours: a message goes to ``dst`` over the edge
that leads there, and any other rank is InvalidArgumentError (a ValueError) naming the two
allowed ones. With two ranks both edges lead to the other rank: sends take the edge to the
successor and receives the edge from the predecessor, so the two always meet. ``group=``
may be one of ringpipe's pipeline groups (an Edge); the rank named must belong to it, so
code written for either meaning of "pred group" reaches the rank it names or fails. In GPU
mode CUDA tensors move over the GPU edges and CPU tensors over the host edges.
"""

import datetime
from typing import Any, Optional

from . import _world
from ._ringpipe import Edge, Options, Request, Ring
from .errors import InvalidArgumentError

__all__ = [
    "init_process_group",
    "is_initialized",
    "is_available",
    "get_rank",
    "get_world_size",
    "send",
    "recv",
    "isend",
    "irecv",
    "barrier",
    "destroy_process_group",
]

# barrier()'s messages; user tags stop below it.
_BARRIER_TAG = 0xFFFFFFFF


class _Routes:
    """The edges of the process-wide ring by direction, looked up once per ring."""

    def __init__(self, ring: Ring) -> None:
        self.ring = ring
        self.rank = ring.rank
        self.world_size = ring.world_size
        self.succ_rank = (ring.rank + 1) % ring.world_size
        self.pred_rank = (ring.rank - 1) % ring.world_size
        self.gpu = ring.comm_device == "gpu"
        self.succ, self.pred = ring.succ, ring.pred
        self.host_succ, self.host_pred = ring.host_succ, ring.host_pred
        # The usual call (CPU mode, no group) in one dict look-up; later entries win, so with
        # two ranks sends take succ and receives pred, as _edge() decides.
        self.send_to = {} if self.gpu else {self.pred_rank: self.pred, self.succ_rank: self.succ}
        self.recv_from = {} if self.gpu else {self.succ_rank: self.succ, self.pred_rank: self.pred}


_routes: Optional[_Routes] = None


def _current(caller: str) -> _Routes:
    global _routes
    ring = _world.current()
    if _routes is not None and _routes.ring is ring:
        return _routes
    _routes = _Routes(_world.get(caller))
    return _routes


def _not_a_neighbour(routes: _Routes, caller: str, name: str, peer: Any) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"InvalidArgument: {caller}: {name}={peer!r} is not a neighbour of rank {routes.rank} "
        f"in a ring of {routes.world_size}: ringpipe links a rank only to its predecessor "
        f"(rank {routes.pred_rank}) and its successor (rank {routes.succ_rank})")


def _edge(routes: _Routes, caller: str, name: str, peer: Any, group: Any, sending: bool,
          tensor: Any) -> Edge:
    if sending:
        first, first_rank, second, second_rank = "succ", routes.succ_rank, "pred", routes.pred_rank
    else:
        first, first_rank, second, second_rank = "pred", routes.pred_rank, "succ", routes.succ_rank
    if peer == first_rank:
        side = first
    elif peer == second_rank:
        side = second
    else:
        raise _not_a_neighbour(routes, caller, name, peer)
    if group is not None:
        if not isinstance(group, Edge):
            raise InvalidArgumentError(
                f"InvalidArgument: {caller}: group must be None or a ringpipe pipeline group "
                f"(get_pipeline_parallel_pred_group() / _succ_group()), not "
                f"{type(group).__name__}")
        if peer not in (group.rank, group.peer):
            raise InvalidArgumentError(
                f"InvalidArgument: {caller}: {name}={peer} is not in the group given, which "
                f"links rank {group.rank} and rank {group.peer}")
    if routes.gpu and not getattr(tensor, "is_cuda", True):
        side = "host_" + side
    return getattr(routes, side)


def _tag(caller: str, tag: int) -> int:
    if tag == _BARRIER_TAG:
        raise InvalidArgumentError(
            f"InvalidArgument: {caller}: tag {tag} is reserved for barrier(); use 0..{tag - 1}")
    return tag


def init_process_group(backend: Optional[str] = None, init_method: Optional[str] = None,
                       timeout: Optional[datetime.timedelta] = None, world_size: int = -1,
                       rank: int = -1, store: Any = None, group_name: str = "",
                       pg_options: Any = None) -> None:
    """Joins the process-wide ring, like torch's ``init_process_group``.

    The ranks come from the environment (``env://``: RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT, LOCAL_RANK, or RINGPIPE_*; see ringpipe's README for the port rule) or from
    ``init_method="tcp://host:port"`` with ``world_size`` and ``rank``. ``backend`` picks the
    memory: ``"gloo"``/``"cpu"`` host memory, ``"nccl"``/``"gpu"`` CUDA memory, None the
    environment's (RINGPIPE_COMM_DEVICE, default cpu). ``timeout`` becomes the default
    deadline of every operation. A store is not supported (InvalidArgumentError).
    """
    _world.check_free("init_process_group")
    if store is not None:
        raise InvalidArgumentError(
            "InvalidArgument: init_process_group: ringpipe makes its own rendezvous; pass no "
            "store (use init_method='env://' or 'tcp://host:port')")
    options = Options.from_env()
    if init_method is not None and init_method != "env://":
        if not init_method.startswith("tcp://"):
            raise InvalidArgumentError(
                f"InvalidArgument: init_process_group: init_method {init_method!r} is not "
                "supported; use 'env://' or 'tcp://host:port'")
        host, _, port = init_method[len("tcp://"):].rpartition(":")
        options.head = host.strip("[]")
        options.port = int(port)
    if world_size != -1:
        options.world_size = world_size
    if rank != -1:
        options.rank = rank
    if backend is not None:
        devices = {"gloo": "cpu", "cpu": "cpu", "nccl": "gpu", "gpu": "gpu", "cuda": "gpu"}
        if str(backend).lower() not in devices:
            raise InvalidArgumentError(
                f"InvalidArgument: init_process_group: backend {backend!r} is not one of "
                f"{sorted(devices)}")
        options.comm_device = devices[str(backend).lower()]
    if timeout is not None:
        options.op_timeout = timeout.total_seconds()
    _world.install(Ring(options, env=False))


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return _world.current() is not None


def get_rank(group: Any = None) -> int:
    return _current("get_rank").rank


def get_world_size(group: Any = None) -> int:
    return _current("get_world_size").world_size


def isend(tensor: Any, dst: int, group: Any = None, tag: int = 0) -> Request:
    """Starts sending ``tensor`` to rank ``dst`` (a ring neighbour); returns a Request with
    ``wait()`` and ``is_completed()``. The tensor is kept alive until the send completes."""
    routes = _current("isend")
    edge = routes.send_to.get(dst) if group is None and tag != _BARRIER_TAG else None
    if edge is not None:
        return edge.isend(tensor, tag)
    return _edge(routes, "isend", "dst", dst, group, True, tensor).isend(tensor,
                                                                         _tag("isend", tag))


def irecv(tensor: Any, src: Optional[int] = None, group: Any = None, tag: int = 0) -> Request:
    """Starts receiving into ``tensor`` from rank ``src`` (a ring neighbour; None only where
    both neighbours are one rank)."""
    routes = _current("irecv")
    edge = routes.recv_from.get(src) if group is None and tag != _BARRIER_TAG else None
    if edge is not None:
        return edge.irecv(tensor, tag)
    src = _source(routes, "irecv", src)
    return _edge(routes, "irecv", "src", src, group, False, tensor).irecv(tensor,
                                                                          _tag("irecv", tag))


def send(tensor: Any, dst: int, group: Any = None, tag: int = 0) -> None:
    """Sends ``tensor`` to rank ``dst`` and waits (the ring's operation timeout)."""
    routes = _current("send")
    edge = routes.send_to.get(dst) if group is None and tag != _BARRIER_TAG else None
    if edge is not None:
        return edge.send(tensor, tag)
    _edge(routes, "send", "dst", dst, group, True, tensor).send(tensor, _tag("send", tag))


def recv(tensor: Any, src: Optional[int] = None, group: Any = None, tag: int = 0) -> int:
    """Receives into ``tensor`` from rank ``src`` and waits; returns the sender's rank."""
    routes = _current("recv")
    edge = routes.recv_from.get(src) if group is None and tag != _BARRIER_TAG else None
    if edge is not None:
        edge.recv(tensor, tag)
        return src
    src = _source(routes, "recv", src)
    _edge(routes, "recv", "src", src, group, False, tensor).recv(tensor, _tag("recv", tag))
    return src


def _source(routes: _Routes, caller: str, src: Optional[int]) -> int:
    if src is not None:
        return src
    if routes.pred_rank == routes.succ_rank:
        return routes.pred_rank
    raise InvalidArgumentError(
        f"InvalidArgument: {caller}: src=None (any sender) is ambiguous in a ring of "
        f"{routes.world_size}: name the predecessor (rank {routes.pred_rank}) or the "
        f"successor (rank {routes.succ_rank})")


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> None:
    """Returns once every rank has called it: a token goes round the ring twice (arrival,
    then release), over the host edges."""
    if async_op:
        raise InvalidArgumentError("InvalidArgument: barrier: async_op is not supported")
    routes = _current("barrier")
    if routes.world_size == 1:
        return
    token = bytearray(1)
    for _ in range(2):
        if routes.rank == 0:
            routes.host_succ.send(token, _BARRIER_TAG)
            routes.host_pred.recv(token, _BARRIER_TAG)
        else:
            routes.host_pred.recv(token, _BARRIER_TAG)
            routes.host_succ.send(token, _BARRIER_TAG)


def destroy_process_group(group: Any = None) -> None:
    """Closes the process-wide ring; neighbours see an orderly close."""
    global _routes
    _routes = None
    _world.close()
