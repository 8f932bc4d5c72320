// ringpipe Python: the compiled module ringpipe._ringpipe (Options, Ring, Edge, Request).
#include "errors.hpp"
#include "options_binding.hpp"
#include "registered_binding.hpp"
#include "ring_objects.hpp"

#include "ringpipe_config.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

namespace py = pybind11;
using ringpipe::DataPath;
using ringpipe::LinkInfo;
using ringpipe::Options;
using ringpipe::python::EdgeKind;
using ringpipe::python::EdgeObject;
using ringpipe::python::RequestObject;
using ringpipe::python::RingObject;

PYBIND11_MODULE(_ringpipe, module) {
  module.doc() = "ringpipe's compiled core; use it through the ringpipe package.";
  module.attr("__version__") = RINGPIPE_VERSION;
  ringpipe::python::register_error_translator();
  ringpipe::python::bind_options(module);
  ringpipe::python::bind_registered(module);

  py::enum_<DataPath>(module, "DataPath", "The way an edge's messages move.")
      .value("host", DataPath::Host, "host memory over the link's transports")
      .value("cuda_ipc", DataPath::CudaIpc, "CUDA buffers of one host, through CUDA IPC")
      .value("cuda_device_copy", DataPath::CudaDeviceCopy, "a ring of one in GPU mode")
      .value("nccl", DataPath::Nccl, "CUDA buffers over an NCCL pair communicator")
      .value("ucx", DataPath::Ucx, "CUDA buffers through UCX")
      .def(
          "__str__", [](DataPath path) { return std::string(ringpipe::to_string(path)); },
          py::prepend());

  py::class_<LinkInfo>(module, "LinkInfo", "How an edge really moves its data.")
      .def_readonly("peer", &LinkInfo::peer)
      .def_readonly("peer_host", &LinkInfo::peer_host, "The neighbour's host name.")
      .def_readonly("data_path", &LinkInfo::data_path, "A DataPath.")
      .def_readonly("transports", &LinkInfo::transports,
                    "UCX's transports for the link, e.g. ['sysv/memory', 'cma/memory'].")
      .def_readonly("single_copy", &LinkInfo::single_copy,
                    "A SingleCopyPaths: which host messages sent on the edge move with one copy.")
      .def("describe", &LinkInfo::describe, "One line, e.g. 'host over ucx: sysv/memory'.")
      .def("__repr__", [](const LinkInfo& info) {
        return "LinkInfo(peer=" + std::to_string(info.peer) + ", peer_host='" + info.peer_host +
               "', " + info.describe() + ")";
      });

  py::class_<RequestObject>(module, "Request", R"doc(
The outcome of isend/irecv. It holds the buffer object until the operation completes.
Dropped unfinished, a receive is cancelled and a send completes in the background (the ring
keeps its buffer alive until then).)doc")
      .def("wait", &RequestObject::wait, py::arg("timeout") = py::none(), R"doc(
Blocks until complete, with the GIL released. timeout in seconds (None: the ring's operation
timeout; math.inf: none). Raises TimeoutError (the receive is then cancelled, a send fails its
link) or the operation's error; Ctrl-C raises KeyboardInterrupt and leaves it pending.)doc")
      .def("test", &RequestObject::test,
           "Makes progress without blocking; True once complete, raises if it failed.")
      .def("is_completed", &RequestObject::test, "torch.distributed's name for test().")
      .def_property_readonly("nbytes", &RequestObject::nbytes,
                             "Bytes sent, or the received message's size (once complete).")
      .def("__repr__", &RequestObject::repr);

  py::class_<EdgeObject>(module, "Edge", R"doc(
One ring edge seen from this rank (ring.pred, ring.succ; in GPU mode also ring.host_pred and
ring.host_succ for host memory). Messages match by tag; on one edge, in one direction, with one
tag they arrive in order. Buffers are used in place (torch.Tensor, NumPy arrays, objects with
the buffer protocol; CUDA tensors, __cuda_array_interface__ and DLPack objects in GPU mode).)doc")
      .def("isend", &EdgeObject::isend, py::arg("buffer"), py::arg("tag") = 0,
           "Starts sending the whole buffer; never blocks. Returns a Request.")
      .def("irecv", &EdgeObject::irecv, py::arg("buffer"), py::arg("tag") = 0,
           "Starts receiving one message of at most len(buffer) bytes; never blocks.")
      .def("send", &EdgeObject::send, py::arg("buffer"), py::arg("tag") = 0,
           py::arg("timeout") = py::none(),
           "Sends the whole buffer and waits (seconds; None: the ring's operation timeout).")
      .def("recv", &EdgeObject::recv, py::arg("buffer"), py::arg("tag") = 0,
           py::arg("timeout") = py::none(),
           "Receives one message into the buffer and waits; returns its size in bytes. A "
           "larger message raises TruncatedError.")
      .def_property_readonly("rank", &EdgeObject::rank, "This rank.")
      .def_property_readonly("peer", &EdgeObject::peer, "The rank at the other end.")
      .def("describe", &EdgeObject::describe, "e.g. 'rank 0 -> succ 1 (ucx: sysv/memory)'.")
      .def("__repr__",
           [](const EdgeObject& edge) { return "<ringpipe.Edge " + edge.describe() + ">"; });

  py::class_<RingObject> ring_class(module, "Ring", R"doc(
Joins a ring: rendezvous (rank 0 hosts it) and both links, with the GIL released.

    Ring()                          # everything from the environment, like Options.from_env()
    Ring(rank=1, world_size=2, head="10.0.0.1", port=29600)   # the environment, then these
    Ring(options, env=False)        # exactly these Options

Close it with close() or a with-block; neighbours then see ClosedError after everything sent
before. A Ring and its edges may be used from several threads: calls take turns.)doc");
  ring_class
      .def(py::init([](const py::object& options, bool env, const py::kwargs& fields) {
             const Options base = !options.is_none() ? options.cast<Options>()
                                  : env              ? Options::from_env()
                                                     : Options{};
             return std::make_unique<RingObject>(ringpipe::python::options_with(base, fields));
           }),
           py::arg("options") = py::none(), py::kw_only(), py::arg("env") = true)
      .def_property_readonly("rank", [](const RingObject& ring) { return ring.handle().rank(); })
      .def_property_readonly("world_size",
                             [](const RingObject& ring) { return ring.handle().world_size(); })
      .def_property_readonly(
          "comm_device",
          [](const RingObject& ring) { return std::string(to_string(ring.comm_device())); },
          "'cpu' or 'gpu'.")
      .def_property_readonly("options",
                             [](const RingObject& ring) { return ring.handle().options(); })
      .def_property_readonly(
          "pred", [](const RingObject& ring) { return ring.edge(EdgeKind::Pred); },
          "The edge to rank (rank - 1) % world_size: this rank receives its input here.")
      .def_property_readonly(
          "succ", [](const RingObject& ring) { return ring.edge(EdgeKind::Succ); },
          "The edge to rank (rank + 1) % world_size: this rank sends its output here.")
      .def_property_readonly(
          "host_pred", [](const RingObject& ring) { return ring.edge(EdgeKind::HostPred); },
          "pred for host memory (the same edge as pred in CPU mode).")
      .def_property_readonly(
          "host_succ", [](const RingObject& ring) { return ring.edge(EdgeKind::HostSucc); },
          "succ for host memory (the same edge as succ in CPU mode).")
      .def("link_info", &RingObject::link_info, py::arg("edge"),
           "Which transport and data path the edge really uses.")
      .def("abort", &RingObject::abort,
           "Fails the whole ring on purpose: every other rank's operations raise "
           "PeerFailedError naming this rank, this rank's ClosedError. Idempotent. Safe from "
           "any thread (a watchdog): a call blocked on the ring in another thread raises "
           "ClosedError at once.")
      .def("stats", &RingObject::stats, R"doc(
The ring's counters since it was created, as plain dicts: rank, world_size,
rendezvous_seconds, liveness_beats_missed, and edges: {"pred": ..., "succ": ...} (GPU mode
adds "host_pred", "host_succ"), each with peer, peer_host, data_path, transports, last_error
(None or {"code", "message"}) and, for "send" and "recv": messages, bytes, in_flight,
failures ({code name: count}), latency_buckets (32 counts, bucket i holds latencies up to
2**i ns; the last one every longer one) and latency_sum_ns. Safe from any thread, e.g. a
metrics scrape, even while another thread waits on the ring.)doc")
      .def("prometheus", &RingObject::prometheus,
           "stats() in the Prometheus text exposition format, for a /metrics handler. Safe from "
           "any thread.")
      .def("close", &RingObject::close,
           "Closes both edges in order (pending sends complete first). Idempotent.")
      .def_property_readonly("closed", &RingObject::closed)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](RingObject& ring, const py::args&) {
             ring.close();
             return false;
           })
      .def("__repr__", &RingObject::repr);
  ringpipe::python::add_allocation_methods(ring_class);
}
