"""What the side-by-side comparisons (compare_ucx_perftest, compare_targets) share: sizes, one
run of ucx_perftest (server and client), of ring_bw under the launcher and of copy_bw, and
medians. Standard library only: the scripts run under any python3, with or without torch."""
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import namedtuple

from p2p.sizes import parse_size, size_name  # noqa: F401 (the scripts take them from here)


class RunFailed(RuntimeError):
    """A benchmark process failed, hung or printed what could not be read: the message names
    the command and ends with its output."""


def median(values):
    """The median of the values that exist: a failed run leaves a None behind."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def failure(command, detail, output=""):
    tail = output.strip()[-2000:]
    text = f"{' '.join(str(part) for part in command)}: {detail}"
    return RunFailed(text + (f"\n--- output (end) ---\n{tail}" if tail else ""))


def perftest_env():
    """Shared-memory error handling on, as ringpipe sets it: with peer error handling (-e)
    UCX would otherwise leave shared memory out and fall back to TCP."""
    env = dict(os.environ)
    env.setdefault("UCX_POSIX_ERROR_HANDLING", "y")
    env.setdefault("UCX_SYSV_ERROR_HANDLING", "y")
    return env


# One ucx_perftest run: latency average and median (us), overall bandwidth (GB/s), and the CPU
# share (%) of the busier process and of both together.
Perftest = namedtuple("Perftest", "mean_us p50_us gbps cpu_pct cpu_total_pct")


def wait_with_usage(process, timeout):
    """Reaps `process` with os.wait4, which, unlike Popen.wait, also returns its rusage:
    (exit code, CPU seconds, time.monotonic() at its exit), or None after `timeout` seconds,
    when it has been killed. The wait runs in a thread, so the clock reads the exit itself."""
    reaped = {}

    def reap():
        _, status, usage = os.wait4(process.pid, 0)
        reaped["at"] = time.monotonic()
        reaped["cpu"] = usage.ru_utime + usage.ru_stime
        reaped["code"] = os.waitstatus_to_exitcode(status)

    thread = threading.Thread(target=reap, daemon=True)
    thread.start()
    thread.join(timeout)
    timed_out = thread.is_alive()
    if timed_out:
        try:
            os.kill(process.pid, signal.SIGKILL)  # not Popen.kill: its poll() would race reap()
        except ProcessLookupError:
            pass
        thread.join()
    process.returncode = reaped["code"]  # Popen must not wait for it again
    return None if timed_out else (reaped["code"], reaped["cpu"], reaped["at"])


def perftest_figures(output):
    """The final line of ucx_perftest -f: iterations, 50%ile, average, overall (us);
    bandwidth average, overall (MiB/s); message rates."""
    fields = output.strip().splitlines()[-1].split()
    return float(fields[2]), float(fields[1]), float(fields[5]) * (1 << 20) / 1e9


def ucx_perftest(test, size, iterations, window=None, attempts=3, timeout=300):
    """One ucx_perftest run, server and client on 127.0.0.1 with peer error handling (-e) as
    ringpipe's endpoints have it; `window` sets -O, None leaves the test's default (tag_bw: 32).
    The client can race its server's start or meet a busy port: it is tried again. CPU shares
    are whole-process CPU time over the wall time from the client's start to each one's exit."""
    output = ""
    for attempt in range(attempts):
        port = random.randint(20000, 60000)
        common = ["-p", str(port), "-e"]
        args = ["ucx_perftest", "127.0.0.1"] + common + [
            "-t", test, "-s", str(size), "-n", str(iterations),
            "-w", str(max(1, iterations // 10)), "-f"]
        if window is not None:
            args += ["-O", str(window)]
        server = subprocess.Popen(["ucx_perftest"] + common, env=perftest_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            with tempfile.TemporaryFile("w+") as log:
                start = time.monotonic()
                client = subprocess.Popen(args, env=perftest_env(), stdout=log,
                                          stderr=subprocess.STDOUT, text=True)
                client_end = wait_with_usage(client, timeout)
                log.seek(0)
                output = log.read()
            if client_end is None:
                output += f"\n(no result within {timeout} s; killed)"
                continue
            if client_end[0] != 0:
                continue
            server_end = wait_with_usage(server, 30)
            if server_end is None:
                raise failure(args, "the server did not exit after its client", output)
            mean, p50, gbps = perftest_figures(output)
            shares = [100 * cpu / max(at - start, 1e-9)
                      for _, cpu, at in (client_end, server_end)]
            return Perftest(mean, p50, gbps, max(shares), sum(shares))
        except (IndexError, ValueError) as error:
            raise failure(args, f"cannot read the final line ({error})", output) from None
        finally:
            if server.returncode is None and server.poll() is None:
                server.kill()
                server.wait()
    raise failure(args, f"failed {attempts} times", output)


def stream_messages(size, window):
    """Messages of one bandwidth run at `size`: about 16 GiB, at most 200 000, at least four
    windows; ring_bw --mode stream runs them as iterations of `window` messages."""
    messages = max(window * 4, min(200000, (16 << 30) // max(size, 1)))
    return messages, max(4, messages // window)


def ring_bw(build, mode, sizes, iterations, extra=(), ranks=2, warmup=None, env=None,
            timeout=600):
    """ring_bw's rows (its --json objects: time_us, algbw_gbps, busbw_gbps, p50_us, p99_us,
    cpu_pct, ...), one per size, from `ranks` ranks under ringpipe-run. Warm-up defaults to a
    tenth of the iterations. Wrong bytes make it a failure: a broken transport has no speed."""
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    with tempfile.TemporaryDirectory(prefix="ring_bw.") as scratch:
        results = os.path.join(scratch, "rows.json")
        command = [os.path.join(build, "tools", "ringpipe-run"), "-n", str(ranks), "--",
                   os.path.join(build, "bench", "ring_bw"), "--mode", mode,
                   "--sizes", ",".join(str(size) for size in sizes), "-n", str(iterations),
                   "-w", str(max(1, iterations // 10) if warmup is None else warmup),
                   "--json", results] + list(extra)
        run = run_checked(command, timeout, env)
        try:
            with open(results, encoding="utf-8") as file:
                rows = json.load(file)
            if [row["size_bytes"] for row in rows] != sizes:
                raise ValueError(f"sizes {[row['size_bytes'] for row in rows]}, not {sizes}")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise failure(command, f"cannot read its --json file ({error})",
                          run.stdout + run.stderr) from None
    for row in rows:
        if row["wrong"] != 0:
            raise failure(command, f"{row['wrong']} wrong bytes at {row['size_bytes']} B",
                          run.stdout)
    return rows


def run_checked(command, timeout, env=None):
    """subprocess.run that turns a failure, a missing program or a timeout into RunFailed."""
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                             env=env)
    except subprocess.TimeoutExpired as expired:
        output = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part
                         for part in (expired.stdout, expired.stderr) if part)
        raise failure(command, f"no result within {timeout} s; killed", output) from None
    except OSError as error:
        raise failure(command, f"cannot start ({error})") from None
    if run.returncode != 0:
        raise failure(command, f"exit status {run.returncode}", run.stdout + run.stderr)
    return run


def memcpy_gbps(build, size, timeout=300, pair=False):
    """copy_bw's memcpy GB/s at one size, over about 8 GiB of copies; `pair`: copy_bw --pair
    (a 2-rank ring's single-copy traffic on two threads), over about 2 GiB per thread."""
    budget = (2 << 30) if pair else (8 << 30)
    command = [os.path.join(build, "bench", "copy_bw"), "--sizes", str(size),
               "-n", str(max(5, min(2000, budget // max(size, 1))))] + (["--pair"] if pair else [])
    run = run_checked(command, timeout)
    try:
        return float(run.stdout.strip().splitlines()[-1].split()[2])
    except (IndexError, ValueError) as error:
        raise failure(command, f"cannot read its last line ({error})", run.stdout) from None
