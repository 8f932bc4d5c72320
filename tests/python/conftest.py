"""Real rank processes for the Python tests: a Python-side launcher with deadlines.

spawn_ring() starts N interpreters running one script, placed by RINGPIPE_* variables the way
ringpipe-run places ranks (rank 0 gets an already-listening socket, so ports never collide),
and collects every rank's exit status and output within a deadline, killing the rest on
expiry, so a test can never hang.
"""

import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import pytest

PYTHON = sys.executable


@dataclass
class RankResult:
    rank: int
    returncode: int
    stdout: str
    stderr: str


def rank_env(rank: int, world_size: int, port: int, extra: Optional[Dict[str, str]] = None,
             token: str = "") -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update({
        "RINGPIPE_HEAD": "127.0.0.1",
        "RINGPIPE_PORT": str(port),
        "RINGPIPE_WORLD_SIZE": str(world_size),
        "RINGPIPE_RANK": str(rank),
        "RINGPIPE_LOCAL_RANK": str(rank),
        "RINGPIPE_TOKEN": token,
        "RINGPIPE_RENDEZVOUS_TIMEOUT_S": "30",
        "RINGPIPE_OP_TIMEOUT_S": "30",  # a stuck operation fails before the harness kills it
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


class Ranks:
    """N started rank processes; wait() collects them."""

    def __init__(self, world_size: int, script: str, env: Optional[Dict[str, str]] = None,
                 args: tuple = (), per_rank_env: Optional[Dict[int, Dict[str, str]]] = None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        token = secrets.token_hex(16)
        self.procs: List[subprocess.Popen] = []
        for rank in range(world_size):
            extra = dict(env or {})
            extra.update((per_rank_env or {}).get(rank, {}))
            pass_fds = ()
            if rank == 0:
                extra["RINGPIPE_LISTEN_FD"] = str(self.listener.fileno())
                pass_fds = (self.listener.fileno(),)
            self.procs.append(subprocess.Popen(
                [PYTHON, script, *map(str, args)],
                env=rank_env(rank, world_size, port, extra, token), pass_fds=pass_fds,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    def wait(self, timeout: float) -> List[RankResult]:
        deadline = time.monotonic() + timeout
        results = []
        expired = False
        for rank, proc in enumerate(self.procs):
            try:
                out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                expired = True
                for other in self.procs:
                    if other.poll() is None:
                        other.kill()
                out, err = proc.communicate()
                err += f"\n[killed: the ring did not finish within {timeout} s]"
            results.append(RankResult(rank, proc.returncode, out, err))
        self.listener.close()
        if expired:
            pytest.fail("ranks hung:\n" + describe(results))
        return results

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.listener.close()


def describe(results: List[RankResult]) -> str:
    return "\n".join(f"--- rank {r.rank} exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n"
                     f"{r.stderr}" for r in results)


def write_script(tmp_path, code: str) -> str:
    path = tmp_path / "rank.py"
    path.write_text(textwrap.dedent(code))
    return str(path)


@pytest.fixture
def ring_script(tmp_path):
    """ring_script(code) -> path of a rank script holding `code`."""
    return lambda code: write_script(tmp_path, code)


@pytest.fixture
def run_ring(tmp_path):
    """run_ring(n, code, timeout=..., env=..., expect_ok=True) -> [RankResult]: runs `code` on
    n ranks and, unless expect_ok=False, fails the test if a rank fails."""
    started = []

    def run(world_size, code, timeout=60, env=None, args=(), expect_ok=True,
            per_rank_env=None):
        ranks = Ranks(world_size, write_script(tmp_path, code), env, args, per_rank_env)
        started.append(ranks)
        results = ranks.wait(timeout)
        if expect_ok and any(r.returncode != 0 for r in results):
            pytest.fail("a rank failed:\n" + describe(results))
        return results

    yield run
    for ranks in started:
        ranks.close()


@pytest.fixture
def start_ring(tmp_path):
    """start_ring(n, code) -> Ranks, for tests that act on running ranks."""
    started = []

    def start(world_size, code, env=None, args=(), per_rank_env=None):
        ranks = Ranks(world_size, write_script(tmp_path, code), env, args, per_rank_env)
        started.append(ranks)
        return ranks

    yield start
    for ranks in started:
        ranks.close()


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float) -> str:
    """Reads proc's stdout until a line containing `text` (fails the test at the deadline) and
    returns all it read. Reads the pipe directly, so communicate() later gets the rest."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
        if any(text in line for line in seen.decode(errors="replace").splitlines()):
            return seen.decode(errors="replace")
    pytest.fail(f"no line with {text!r} within {timeout} s; saw: {seen.decode(errors='replace')!r}")


# How often a wait looks again: far below the timings the tests measure.
POLL_INTERVAL_S = 0.002


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """True once condition() holds; False if `timeout` seconds passed first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)
    return True


def sleeps_in_poll(pid: int, tid: Optional[int] = None) -> bool:
    """True while thread `tid` of process `pid` (its main thread by default) sleeps in poll(),
    as a ringpipe wait does between its looks at progress and at Python's signals. The kernel's
    wchan names the function a sleeping thread waits in; Python itself never polls there, and
    torch's worker pools wait on futexes."""
    try:
        with open(f"/proc/{pid}/task/{tid or pid}/wchan") as wchan:
            return "poll" in wchan.read()
    except OSError:  # gone
        return False


def wait_until_blocked(proc: subprocess.Popen, timeout: float) -> None:
    """Returns once proc's main thread is inside a blocking ringpipe call; fails the test if proc
    exits or `timeout` passes first."""
    if not wait_until(lambda: proc.poll() is not None or sleeps_in_poll(proc.pid), timeout):
        pytest.fail(f"process {proc.pid} did not block in a ringpipe wait within {timeout} s")
    if proc.poll() is not None:
        out, err = proc.communicate()
        pytest.fail(f"process {proc.pid} exited ({proc.returncode}) instead of blocking in a "
                    f"ringpipe wait:\nstdout:\n{out}\nstderr:\n{err}")


__all__ = ["PYTHON", "Ranks", "RankResult", "describe", "wait_for_line", "wait_until",
           "sleeps_in_poll", "wait_until_blocked", "signal"]
