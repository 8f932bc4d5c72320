"""ringpipe: a ring transport for pipeline-parallel serving.

N processes form a ring; each moves buffers to its successor and from its predecessor, in
place (torch tensors, NumPy arrays, buffer-protocol objects; CUDA memory in GPU mode)::

    import ringpipe, torch

    with ringpipe.Ring() as ring:            # ranks and rendezvous from the environment
        out = torch.ones(1 << 20, dtype=torch.float16)
        inp = torch.empty_like(out)
        recv = ring.pred.irecv(inp, tag=7)   # posts never block, in any order
        ring.succ.send(out, tag=7)           # blocking forms take timeout= (seconds)
        recv.wait()

Drop-in modules: :mod:`ringpipe.dist_utils` (FlexLLMGen's functions) and
:mod:`ringpipe.distributed` (torch.distributed's point-to-point calls).
"""

from . import errors
from ._ringpipe import (
    DataPath,
    Edge,
    LinkInfo,
    Options,
    RegisteredBuffer,
    Request,
    Ring,
    SingleCopyPaths,
    __version__,
)
from .errors import *  # noqa: F401,F403 - the error classes, listed in errors.__all__

__all__ = [
    "Ring",
    "Options",
    "Edge",
    "Request",
    "LinkInfo",
    "DataPath",
    "RegisteredBuffer",
    "SingleCopyPaths",
    "errors",
    "__version__",
]
__all__ += [name for name in errors.__all__ if name != "class_for_code"]
