#!/usr/bin/env python3
"""torch.distributed (gloo) beside ringpipe.distributed beside C++ ring_bw, in one run.

The same worker code runs against ``torch.distributed`` and ``ringpipe.distributed`` (only the
import differs), on the same float16 tensors, for each world size:
  latency    ranks 0 and 1 bounce 8 B with blocking send/recv; half the round trip, p50/p99
  bandwidth  ring traffic: every rank irecv's from its predecessor and isend's to its
             successor at once, then waits; per-link GB/s (1e9 B/s) from the median over
             iterations of the slowest rank's time
and ``ring_bw --mode pingpong`` / ``--mode ring`` (C++, under ringpipe-run) for the same traffic.
Received data is checked (first and last iteration of each size, every byte), so a broken
transport cannot report a speed. Backends are interleaved over --rounds rounds and every figure
is the median of the rounds: the machine may be shared and noisy.

Usage: /usr/bin/python3 bench/python_p2p.py [--build DIR] [--world 2,3] [--rounds 5]
           [--sizes 64K,1M,16M,64M] [--iters 20] [--warmup 15] [--lat-iters 5000]
           [--backends gloo,ringpipe,cpp] [--package DIR] [--json FILE] [--quick]
Needs torch in the interpreter that runs it (or in /usr/bin/python3, which it then uses for the
ranks) and the Python package built in DIR/python. Exit status: 0 when every run finished with
intact data, 1 otherwise, 77 when torch or the built package is missing (a skipped test).
"""
import argparse
import datetime
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
DATA_TAG = 0
SYNC_TAG = 1
LAT_BYTES = 8
SKIP = 77


def parse_size(text):
    text = text.strip()
    return int(text[:-1]) * UNITS[text[-1].upper()] if text[-1].upper() in UNITS else int(text)


def size_name(size):
    for suffix, unit in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {suffix}"
    return f"{size} B"


def percentile(samples, fraction):
    """Nearest rank, as ring_bw computes it."""
    ordered = sorted(samples)
    return ordered[int(fraction * (len(ordered) - 1) + 0.5)]


# ----------------------------------------------------------------------------------------------
# Rank worker: one process of a gloo or ringpipe job.


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


# ----------------------------------------------------------------------------------------------
# Driver: launches the jobs, with deadlines, and combines their figures.


class JobFailed(RuntimeError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_processes(commands, envs, timeout, scratch, label):
    """Starts one process per command (each in its own session), waits for all with one
    deadline, kills every one still running when it passes or when one fails. Returns the
    combined output; raises JobFailed."""
    logs, processes = [], []
    deadline = time.monotonic() + timeout
    try:
        for index, (command, env) in enumerate(zip(commands, envs)):
            log = open(os.path.join(scratch, f"{label}.{index}.log"), "w+", encoding="utf-8")
            logs.append(log)
            processes.append(subprocess.Popen(command, env=env, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        failed_at = None
        while any(process.poll() is None for process in processes):
            now = time.monotonic()
            if now > deadline:
                raise JobFailed(f"{label}: no result within {timeout:.0f} s; killed")
            if failed_at is None and any(process.poll() not in (None, 0)
                                         for process in processes):
                failed_at = now
            if failed_at is not None and now - failed_at > 10:
                break  # the others would wait for the failed rank until their deadline
            time.sleep(0.05)
        codes = [process.poll() for process in processes]
        if any(code != 0 for code in codes):
            raise JobFailed(f"{label}: exit statuses {codes}")
        return "".join(read_log(log) for log in logs)
    except JobFailed as failure:
        text = "".join(read_log(log) for log in logs)
        raise JobFailed(f"{failure}\n--- output (last 3000 chars) ---\n{text[-3000:]}") from None
    finally:
        for process in processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait()
        for log in logs:
            log.close()


def read_log(log):
    log.flush()
    log.seek(0)
    return log.read()


def worker_args(options, out):
    args = ["--out", out, "--sizes", ",".join(str(size) for size in options.size_list),
            "--iters", str(options.iters), "--warmup", str(options.warmup),
            "--lat-iters", str(options.lat_iters), "--lat-warmup", str(options.lat_warmup),
            "--op-timeout", str(options.timeout)]
    return args + [flag for flag, on in (("--breakdown", options.breakdown),
                                         ("--corrupt", options.corrupt)) if on]


def python_job(options, backend, world, scratch, label):
    out = tempfile.mkdtemp(prefix=label + ".", dir=scratch)
    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = os.pathsep.join(
        [options.package] + ([base_env["PYTHONPATH"]] if base_env.get("PYTHONPATH") else []))
    command = [options.python, os.path.abspath(__file__), "--worker", backend]
    command += worker_args(options, out)
    if backend == "ringpipe":
        # Under the launcher, as a user would run it: RINGPIPE_* and a listening socket.
        run_processes([[options.launcher, "-n", str(world), "--"] + command], [base_env],
                      options.timeout, scratch, label)
    else:
        for attempt in range(3):  # another program may take the free port before rank 0
            port = free_port()
            envs = [dict(base_env, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                         RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                         LOCAL_WORLD_SIZE=str(world),
                         GLOO_SOCKET_IFNAME=base_env.get("GLOO_SOCKET_IFNAME", "lo"))
                    for rank in range(world)]
            try:
                run_processes([command] * world, envs, options.timeout, scratch, label)
                break
            except JobFailed as failure:
                if "Address already in use" not in str(failure) or attempt == 2:
                    raise
    ranks = []
    for rank in range(world):
        with open(os.path.join(out, f"rank{rank}.json"), encoding="utf-8") as file:
            ranks.append(json.load(file))
    return combine_python(ranks, label)


def combine_python(ranks, label):
    """One figure per quantity: ping-pong from rank 0; ring time per iteration is the
    slowest rank's, then the median over iterations."""
    figures = {"pingpong": None, "ring": {}, "breakdown": ranks[0].get("breakdown")}
    pingpong_result = ranks[0].get("pingpong")
    if pingpong_result is not None:
        if not pingpong_result["intact"]:
            raise JobFailed(f"{label}: ping-pong data arrived damaged")
        figures["pingpong"] = {key: pingpong_result[key] for key in ("p50_us", "p99_us",
                                                                     "mean_us")}
    for index, row in enumerate(ranks[0]["ring"]):
        size = row["size_bytes"]
        if not all(rank["ring"][index]["intact"] for rank in ranks):
            bad = [rank["rank"] for rank in ranks if not rank["ring"][index]["intact"]]
            raise JobFailed(f"{label}: {size} B arrived damaged at rank(s) {bad}")
        slowest = [max(times) for times in zip(*(rank["ring"][index]["seconds"]
                                                 for rank in ranks))]
        median_s = statistics.median(slowest)
        figures["ring"][size] = {"median_us": median_s * 1e6, "gbps": size / median_s / 1e9}
    return figures


def cpp_job(options, world, scratch, label):
    ring_bw = os.path.join(options.build, "bench", "ring_bw")
    figures = {"pingpong": None, "ring": {}}
    runs = [("ring", ",".join(str(size) for size in options.size_list), options.iters,
             options.warmup)]
    if options.lat_iters > 0:
        runs.insert(0, ("pingpong", str(LAT_BYTES), options.lat_iters, options.lat_warmup))
    for mode, sizes, iterations, warmup in runs:
        out = os.path.join(scratch, f"{label}.{mode}.json")
        command = [options.launcher, "-n", str(world), "--", ring_bw, "--mode", mode,
                   "--sizes", sizes, "-n", str(iterations), "-w", str(warmup), "--json", out]
        run_processes([command], [dict(os.environ)], options.timeout, scratch,
                      f"{label}.{mode}")
        with open(out, encoding="utf-8") as file:
            rows = json.load(file)
        for row in rows:
            if row["wrong"] != 0:
                raise JobFailed(f"{label}: ring_bw {mode} saw {row['wrong']} wrong bytes")
            if mode == "pingpong":
                figures["pingpong"] = {"p50_us": row["p50_us"], "p99_us": row["p99_us"],
                                       "mean_us": row["time_us"]}
            else:
                figures["ring"][row["size_bytes"]] = {
                    "median_us": row["p50_us"],
                    "gbps": row["size_bytes"] / (row["p50_us"] * 1e-6) / 1e9}
    return figures


BACKEND_NAMES = {"gloo": "torch.distributed gloo", "ringpipe": "ringpipe.distributed",
                 "cpp": "ring_bw (C++)"}


def median_of(rounds, backend, getter):
    values = []
    for one_round in rounds:
        figures = one_round.get(backend)
        if figures is None:
            continue
        value = getter(figures)
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else None


def fmt(value, digits=2):
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def summarize(options, results):
    """Medians over rounds, the ratios, and a Markdown table per world size."""
    summary = {}
    lines = []
    for world in options.world_list:
        rounds = results[world]
        entry = {"latency": {}, "bandwidth": {}}
        for key in ("p50_us", "p99_us", "mean_us"):
            entry["latency"][key] = {
                backend: median_of(rounds, backend, lambda f, key=key:
                                   f["pingpong"][key] if f["pingpong"] else None)
                for backend in options.backend_list}
        for size in options.size_list:
            entry["bandwidth"][size] = {
                backend: median_of(rounds, backend, lambda f, size=size:
                                   f["ring"][size]["gbps"] if size in f["ring"] else None)
                for backend in options.backend_list}
        summary[world] = entry
        lines.append("")
        lines.append(f"| {world} ranks | gloo | ringpipe (Python) | ring_bw (C++) | "
                     f"ringpipe vs gloo | Python vs C++ |")
        lines.append("|---|---|---|---|---|---|")
        for key, name in (("p50_us", "p50"), ("p99_us", "p99")):
            row = entry["latency"][key]
            gloo, ours, cpp = row.get("gloo"), row.get("ringpipe"), row.get("cpp")
            versus_gloo = f"{gloo / ours:.0f}× lower" if gloo and ours else "–"
            versus_cpp = f"{ours - cpp:+.2f} µs" if ours is not None and cpp is not None else "–"
            lines.append(f"| 8 B half round trip, {name} (µs) | {fmt(gloo)} | {fmt(ours)} | "
                         f"{fmt(cpp)} | {versus_gloo} | {versus_cpp} |")
        for size in options.size_list:
            row = entry["bandwidth"][size]
            gloo, ours, cpp = row.get("gloo"), row.get("ringpipe"), row.get("cpp")
            versus_gloo = f"{ours / gloo:.1f}×" if gloo and ours else "–"
            versus_cpp = f"{ours / cpp:.2f}×" if ours and cpp else "–"
            lines.append(f"| ring, {size_name(size)} (GB/s per link) | {fmt(gloo)} | "
                         f"{fmt(ours)} | {fmt(cpp)} | {versus_gloo} | {versus_cpp} |")
    return summary, lines


def breakdown_lines(options, results, summary):
    """--breakdown: each layer's 8 B half round trip (medians over rounds) and its step."""
    lines = []
    for world in options.world_list:
        rows = [one_round["ringpipe"]["breakdown"] for one_round in results[world]
                if one_round.get("ringpipe") and one_round["ringpipe"].get("breakdown")]
        if not rows:
            continue
        cpp = summary[world]["latency"]["p50_us"].get("cpp")
        lines += ["", f"| {world} ranks, 8 B half round trip p50, interleaved | µs | step |",
                  "|---|---|---|"]
        previous = cpp
        if cpp is not None:
            lines.append(f"| ring_bw (C++) | {cpp:.2f} | |")
        for name in rows[0]:
            value = statistics.median(row[name] for row in rows)
            step = f"{value - previous:+.2f}" if previous is not None else ""
            lines.append(f"| {name} | {value:.2f} | {step} |")
            previous = value
        summary[world]["breakdown_p50_us"] = {
            name: statistics.median(row[name] for row in rows) for name in rows[0]}
    return lines


def spread_lines(options, results):
    """Every round's figures, to see the noise behind the medians."""
    lines = ["", "# per round (latency p50 µs; bandwidth GB/s by size):"]
    for world in options.world_list:
        for backend in options.backend_list:
            cells = []
            for one_round in results[world]:
                figures = one_round.get(backend)
                if figures is None:
                    cells.append("failed")
                    continue
                latency = figures["pingpong"]["p50_us"] if figures["pingpong"] else None
                bandwidth = "/".join(fmt(figures["ring"][size]["gbps"])
                                     for size in options.size_list if size in figures["ring"])
                cells.append(f"{fmt(latency)} µs {bandwidth}")
            lines.append(f"#   {world} ranks {backend:<8} " + " | ".join(cells))
    return lines


def check_targets(options, summary):
    lines = ["", "# targets (medians above):"]
    for world in options.world_list:
        entry = summary[world]
        p50 = entry["latency"]["p50_us"]
        if p50.get("gloo") and p50.get("ringpipe"):
            ratio = p50["gloo"] / p50["ringpipe"]
            lines.append(f"#   {world} ranks: 8 B latency gloo / ringpipe {ratio:.0f}× "
                         f"(target ≥ 20×): {'met' if ratio >= 20 else 'NOT met'}")
        if p50.get("ringpipe") is not None and p50.get("cpp") is not None:
            extra = p50["ringpipe"] - p50["cpp"]
            lines.append(f"#   {world} ranks: Python cost per 8 B message {extra:+.2f} µs over "
                         f"C++ (target ≤ 2 µs): {'met' if extra <= 2 else 'NOT met'}")
        for size in options.size_list:
            row = entry["bandwidth"][size]
            if row.get("gloo") and row.get("ringpipe") and (1 << 20) <= size <= (16 << 20):
                ratio = row["ringpipe"] / row["gloo"]
                lines.append(f"#   {world} ranks: {size_name(size)} ringpipe / gloo "
                             f"{ratio:.1f}× (target ≥ 5×): {'met' if ratio >= 5 else 'NOT met'}")
            if row.get("cpp") and row.get("ringpipe") and size >= (1 << 20):
                ratio = row["ringpipe"] / row["cpp"]
                lines.append(f"#   {world} ranks: {size_name(size)} Python / C++ {ratio:.2f}× "
                             f"(target ≥ 0.9×): {'met' if ratio >= 0.9 else 'NOT met'}")
    return lines


def find_python():
    """An interpreter with torch: this one, else /usr/bin/python3 (Debian's python3-torch)."""
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    if os.path.exists("/usr/bin/python3") and subprocess.run(
            ["/usr/bin/python3", "-c", "import torch"], capture_output=True,
            timeout=120).returncode == 0:
        return "/usr/bin/python3"
    return None


def driver(options):
    options.build = os.path.abspath(options.build)
    options.package = os.path.abspath(options.package or os.path.join(options.build, "python"))
    options.launcher = os.path.join(options.build, "tools", "ringpipe-run")
    options.size_list = [parse_size(text) for text in options.sizes.split(",") if text]
    options.world_list = [int(text) for text in options.world.split(",") if text]
    options.backend_list = [text for text in options.backends.split(",") if text]
    for size in options.size_list:
        if size < 2 or size % 2:
            sys.exit(f"python_p2p: size {size} is not a whole number of float16 elements")
    if any(world < 2 for world in options.world_list):
        sys.exit("python_p2p: --world takes sizes of 2 or more")
    if any(backend not in BACKEND_NAMES for backend in options.backend_list):
        sys.exit(f"python_p2p: --backends takes {','.join(BACKEND_NAMES)}")
    python = options.python or find_python()
    if python is None:
        print("python_p2p: skipped: no interpreter with torch (tried this one and "
              "/usr/bin/python3)")
        return SKIP
    options.python = python
    package_dir = os.path.join(options.package, "ringpipe")
    if not os.path.isdir(package_dir) or not any(
            name.startswith("_ringpipe") for name in os.listdir(package_dir)):
        print(f"python_p2p: skipped: the Python package is not built in {options.package}")
        return SKIP
    for program in (options.launcher, os.path.join(options.build, "bench", "ring_bw")):
        if not os.access(program, os.X_OK):
            print(f"python_p2p: skipped: {program} is not built")
            return SKIP

    print(f"# python_p2p: {', '.join(BACKEND_NAMES[b] for b in options.backend_list)}; "
          f"ranks {options.world}; sizes {options.sizes}; {options.iters} iterations "
          f"(+{options.warmup} warm-up) per size, {options.lat_iters} round trips "
          f"(+{options.lat_warmup}); median of {options.rounds} rounds; python {python}",
          flush=True)
    results = {world: [] for world in options.world_list}
    loads = []
    failures = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="python_p2p.") as scratch:
        for round_index in range(options.rounds):
            for world in options.world_list:
                # Interleaved, in a different order each round: drift in the machine's load
                # falls on every backend alike.
                shift = round_index % len(options.backend_list)
                order = options.backend_list[shift:] + options.backend_list[:shift]
                figures = {}
                for backend in order:
                    label = f"r{round_index}.w{world}.{backend}"
                    load_before = os.getloadavg()[0]
                    job_start = time.monotonic()
                    try:
                        if backend == "cpp":
                            figures[backend] = cpp_job(options, world, scratch, label)
                        else:
                            figures[backend] = python_job(options, backend, world, scratch,
                                                          label)
                    except (JobFailed, OSError, ValueError, KeyError) as failure:
                        failures.append(f"{label}: {failure}")
                        print(f"# FAILED {failure}", file=sys.stderr, flush=True)
                    loads.append({"job": label, "load1_before": load_before,
                                  "load1_after": os.getloadavg()[0],
                                  "seconds": time.monotonic() - job_start})
                results[world].append(figures)
                print(f"# round {round_index + 1}/{options.rounds}, {world} ranks done "
                      f"({time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.2f})",
                      flush=True)
    summary, table = summarize(options, results)
    for line in (table + breakdown_lines(options, results, summary) +
                 spread_lines(options, results) + check_targets(options, summary)):
        print(line)
    load_values = [load["load1_before"] for load in loads]
    print(f"# 1-minute load average before each job: min {min(load_values):.2f}, "
          f"median {statistics.median(load_values):.2f}, max {max(load_values):.2f} "
          f"({os.cpu_count()} CPUs)")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump({"config": {key: getattr(options, key) for key in (
                "world_list", "size_list", "backend_list", "iters", "warmup", "lat_iters",
                "lat_warmup", "rounds", "build", "python")},
                "summary": summary, "rounds": results, "loads": loads,
                "failures": failures}, out, indent=1)
    if failures:
        print(f"python_p2p: {len(failures)} job(s) failed; their figures are left out",
              file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="build directory (default build)")
    parser.add_argument("--world", default="2,3", help="world sizes (default 2,3)")
    parser.add_argument("--sizes", default="64K,1M,16M,64M", help="ring message sizes")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per size")
    # The first ~10 ring steps after start-up run 10-100x slower (C++ and Python alike), and a
    # fresh buffer's first step pays its page faults: 15 warm-up steps leave both out.
    parser.add_argument("--warmup", type=int, default=15, help="untimed iterations per size")
    parser.add_argument("--lat-iters", type=int, default=5000, help="timed 8 B round trips")
    parser.add_argument("--lat-warmup", type=int, default=500, help="untimed round trips")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; figures are medians")
    parser.add_argument("--backends", default="gloo,ringpipe,cpp",
                        help="any of gloo, ringpipe, cpp (default all)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds each job may take before its ranks are killed")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--breakdown", action="store_true",
                        help="ringpipe ranks also time the 8 B ping-pong per layer (bytearray, "
                        "NumPy view, tensor through Edge, tensor through ringpipe.distributed)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run (a smoke test): 1 round, 2 ranks, 64K,1M, few iterations")
    parser.add_argument("--python", help="interpreter for the ranks (default: one with torch)")
    parser.add_argument("--package", help="directory holding the ringpipe package to test "
                        "(default BUILD/python)")
    parser.add_argument("--worker", choices=["gloo", "ringpipe"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--op-timeout", type=float, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--corrupt", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        return worker(options)
    if options.quick:
        options.rounds, options.world, options.sizes = 1, "2", "64K,1M"
        options.iters, options.warmup, options.lat_iters, options.lat_warmup = 3, 1, 200, 20
        options.timeout = min(options.timeout, 120)
    return driver(options)


if __name__ == "__main__":
    sys.exit(main())
