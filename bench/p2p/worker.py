"""Rank worker: one process of a gloo or ringpipe job, timing the same traffic through
either ``torch.distributed`` or ``ringpipe.distributed``."""
import datetime
import json
import os
import statistics
import time

from p2p.sizes import LAT_BYTES, parse_size

DATA_TAG = 0
SYNC_TAG = 1


def percentile(samples, fraction):
    """Nearest rank, as ring_bw computes it."""
    ordered = sorted(samples)
    return ordered[int(fraction * (len(ordered) - 1) + 0.5)]


def pattern(torch, rank, nbytes, salt):
    """Random bits (as float16) that depend on the sending rank, the size and a salt."""
    generator = torch.Generator().manual_seed(rank * 1_000_003 + nbytes * 7 + salt)
    bits = torch.randint(-32768, 32768, (nbytes // 2,), dtype=torch.int16, generator=generator)
    return bits.view(torch.float16)


def same_bits(torch, a, b):
    return a.numel() == b.numel() and torch.equal(a.view(torch.int16), b.view(torch.int16))


def pingpong(dist, torch, rank, iterations, warmup):
    """Rank 0 times each round trip of 8 B to rank 1 and back; returns rank 0's figures."""
    clock = time.perf_counter_ns
    send, recv = dist.send, dist.recv
    if rank == 1:
        echo = torch.zeros(LAT_BYTES // 2, dtype=torch.float16)
        for _ in range(warmup + iterations):
            recv(echo, 0)
            send(echo, 0)
        return None
    ping = pattern(torch, 0, LAT_BYTES, 1)
    pong = torch.zeros_like(ping)
    for _ in range(warmup):
        send(ping, 1)
        recv(pong, 1)
    intact = same_bits(torch, pong, ping)
    ping.copy_(pattern(torch, 0, LAT_BYTES, 2))  # the timed loop must carry its own data
    pong.zero_()
    samples = [0] * iterations
    for i in range(iterations):
        start = clock()
        send(ping, 1)
        recv(pong, 1)
        samples[i] = clock() - start
    intact = intact and same_bits(torch, pong, ping)
    half_us = [sample / 2e3 for sample in samples]
    return {"p50_us": percentile(half_us, 0.50), "p99_us": percentile(half_us, 0.99),
            "mean_us": statistics.fmean(half_us), "intact": intact}


def ring_traffic(dist, torch, rank, world, sizes, iterations, warmup, corrupt=False):
    """Per size: this rank's time of each timed iteration (s), and whether the data was intact.
    Neighbours exchange a token before each iteration (untimed), as ring_bw does."""
    clock = time.perf_counter
    succ, pred = (rank + 1) % world, (rank - 1) % world
    peers = [pred] if pred == succ else [pred, succ]
    tokens = [torch.zeros(1, dtype=torch.uint8) for _ in peers]
    mine = torch.ones(1, dtype=torch.uint8)

    def neighbours_in_step():
        requests = [dist.irecv(token, peer, tag=SYNC_TAG) for token, peer in zip(tokens, peers)]
        requests += [dist.isend(mine, peer, tag=SYNC_TAG) for peer in peers]
        for request in requests:
            request.wait()

    results = []
    for nbytes in sizes:
        outgoing = pattern(torch, rank, nbytes, 0)
        expected = pattern(torch, pred, nbytes, 0)
        incoming = torch.empty_like(outgoing)
        times, intact = [], True
        total = warmup + iterations
        for iteration in range(total):
            checked = iteration in (0, total - 1)
            if checked:
                incoming.zero_()
            neighbours_in_step()
            start = clock()
            received = dist.irecv(incoming, pred, tag=DATA_TAG)
            sent = dist.isend(outgoing, succ, tag=DATA_TAG)
            received.wait()
            sent.wait()
            elapsed = clock() - start
            if iteration >= warmup:
                times.append(elapsed)
            if checked:
                if corrupt:  # self-test: the check must catch one flipped bit
                    incoming.view(torch.int16)[-1] ^= 1
                intact = intact and same_bits(torch, incoming, expected)
        results.append({"size_bytes": nbytes, "seconds": times, "intact": intact})
        del outgoing, expected, incoming
    return results


def breakdown(dist, torch, rank, iterations, blocks=20):
    """Where a Python message's time goes: the same 8 B ping-pong through each layer, in
    interleaved blocks so that the machine's drift falls on every variant alike. Rank 0's
    half round trip p50 per variant (µs)."""
    import numpy
    import ringpipe.dist_utils

    ring = ringpipe.dist_utils.get_ring()
    succ, pred = ring.succ, ring.pred  # rank 0 -> rank 1 is rank 0's succ, rank 1's pred
    tensor = pattern(torch, 0, LAT_BYTES, 3)
    view = tensor.numpy()
    raw = bytearray(view.tobytes())
    assert isinstance(view, numpy.ndarray)

    def edge(buffer):
        return ((lambda: (succ.send(buffer), succ.recv(buffer))),
                (lambda: (pred.recv(buffer), pred.send(buffer))))

    variants = {
        "Edge.send/recv, bytearray": edge(raw),
        "Edge.send/recv, NumPy view of the tensor": edge(view),
        "Edge.send/recv, torch tensor": edge(tensor),
        "dist.send/recv, torch tensor": (
            (lambda: (dist.send(tensor, 1), dist.recv(tensor, 1))),
            (lambda: (dist.recv(tensor, 0), dist.send(tensor, 0)))),
    }
    per_block = max(1, iterations // blocks)
    clock = time.perf_counter_ns
    samples = {name: [] for name in variants}
    for _ in range(blocks):
        for name, (ping, echo) in variants.items():
            if rank == 1:
                for _ in range(per_block + 50):
                    echo()
                continue
            for _ in range(50):
                ping()
            for _ in range(per_block):
                start = clock()
                ping()
                samples[name].append(clock() - start)
    if rank != 0:
        return None
    return {name: percentile(values, 0.5) / 2e3 for name, values in samples.items()}


def worker(options):
    import torch

    torch.set_num_threads(1)  # no OpenMP threads spinning beside the transfers
    if options.worker == "gloo":
        import torch.distributed as dist
    else:
        import ringpipe.distributed as dist
    # The same call for both: ringpipe maps "gloo" to host memory.
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=options.op_timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    report = {"backend": options.worker, "rank": rank, "world": world, "pid": os.getpid()}
    if rank in (0, 1) and world >= 2 and options.lat_iters > 0:
        report["pingpong"] = pingpong(dist, torch, rank, options.lat_iters, options.lat_warmup)
    if options.breakdown and options.worker == "ringpipe" and rank in (0, 1) and world >= 2:
        report["breakdown"] = breakdown(dist, torch, rank, options.lat_iters * 2)
    sizes = [parse_size(text) for text in options.sizes.split(",") if text]
    report["ring"] = ring_traffic(dist, torch, rank, world, sizes, options.iters,
                                  options.warmup, corrupt=options.corrupt and rank == world - 1)
    dist.destroy_process_group()
    with open(os.path.join(options.out, f"rank{rank}.json"), "w", encoding="utf-8") as out:
        json.dump(report, out)
    return 0
