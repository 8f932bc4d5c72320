"""The jobs of each backend: gloo or ringpipe ranks running the worker under their
launcher, or ring_bw under ringpipe-run; each returns its figures."""
import json
import os
import socket
import statistics
import tempfile

from p2p.processes import JobFailed, run_processes
from p2p.sizes import LAT_BYTES

# The ranks run the entry point again, as workers.
ENTRY_POINT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "python_p2p.py")

BACKEND_NAMES = {"gloo": "torch.distributed gloo", "ringpipe": "ringpipe.distributed",
                 "cpp": "ring_bw (C++)"}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    command = [options.python, ENTRY_POINT, "--worker", backend]
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
