"""The run: checks what it needs, interleaves the backends' jobs over the rounds, prints the
report and writes the JSON file."""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from p2p.backends import BACKEND_NAMES, cpp_job, python_job
from p2p.processes import JobFailed
from p2p.report import breakdown_lines, check_targets, spread_lines, summarize
from p2p.sizes import parse_size

SKIP = 77


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
