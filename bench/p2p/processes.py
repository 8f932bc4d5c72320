"""Processes of one job, started together and waited for with one deadline."""
import os
import signal
import subprocess
import time


class JobFailed(RuntimeError):
    pass


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
