#!/usr/bin/env python3
"""Runs ring_bw under ringpipe-run and reads its table the way scripts written for nccl-tests do:
the header and units lines as nccl-tests prints them, each row's out-of-place fields at their
fixed character positions, and the closing "Out of bounds" and "Avg bus bandwidth" lines. The
figures must agree with the JSON file written by -J/--output_file in the same run.
Usage: check_nccl_table.py RINGPIPE_RUN RING_BW CHECK_JSON SCRATCH_DIR"""
import json
import os
import re
import subprocess
import sys

SIZES = [0, 8, 65536, 1048576]

# nccl-tests' column headers: the widths of its format strings, and the column names.
GROUP = "           out-of-place                       in-place"
META = "# %10s  %12s  %8s  %6s  %6s" % ("", "", "", "", "") + GROUP
NAMES = ("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s"
         % ("size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong",
            "time", "algbw", "busbw", "#wrong"))
UNITS = ("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s"
         % ("(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)",
            "(GB/s)", ""))

# A row's fields by position: "%12li  %12li  %8s  %6s  %6i" then "  %7s  %6.2f  %6.2f  %5li".
FIELDS = {"size": (0, 12), "count": (14, 26), "type": (28, 36), "redop": (38, 44),
          "root": (46, 52), "time": (54, 61), "algbw": (63, 69), "busbw": (71, 77),
          "wrong": (79, 84)}
ROW_WIDTH = 84


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def table_lines(output):
    """Rank 0's lines without the launcher's "[0] " prefix."""
    return [line[4:] for line in output.splitlines() if line.startswith("[0] ")]


def main(launcher, ring_bw, check_json, scratch):
    json_path = os.path.join(scratch, "check_nccl_table.json")
    command = [launcher, "-n", "2", "--", ring_bw, "--sizes", ",".join(map(str, SIZES)),
               "-n", "5", "-w", "2", "-J", json_path]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if run.returncode != 0:
        fail(f"{' '.join(command)} exited {run.returncode}:\n{run.stdout}{run.stderr}")
    subprocess.run([check_json, json_path, "ring"] + [str(size) for size in SIZES], check=True)
    with open(json_path, encoding="utf-8") as file:
        rows_json = json.load(file)
    lines = table_lines(run.stdout)

    # nccl-tests' header lines, each whole up to its last column; ring_bw's own columns follow.
    found = []
    for expected in (META, NAMES, UNITS):
        matches = [i for i, line in enumerate(lines) if line.startswith(expected.rstrip())]
        if not matches:
            fail(f"no line starts with {expected.rstrip()!r}:\n" + "\n".join(lines))
        found.append(matches[0])
    if found != [found[0], found[0] + 1, found[0] + 2]:
        fail(f"the header lines are not together, in order: lines {found}")

    rows = [line for line in lines if not line.startswith("#")]
    if len(rows) != len(SIZES):
        fail(f"{len(rows)} rows for {len(SIZES)} sizes:\n" + "\n".join(rows))
    for line, expected in zip(rows, rows_json):
        if len(line) < ROW_WIDTH:
            fail(f"row shorter than nccl-tests' out-of-place fields: {line!r}")
        field = {name: line[start:end] for name, (start, end) in FIELDS.items()}
        # Each field fills its place: nothing spills into the two spaces between fields.
        for name, (start, end) in FIELDS.items():
            if start > 0 and line[start - 2:start] != "  ":
                fail(f"{name} does not start at column {start}: {line!r}")
        if len(line.split()) < 13:
            fail(f"fewer than nccl-tests' 13 fields: {line!r}")
        size = int(field["size"])
        if size != expected["size_bytes"] or int(field["count"]) != size:
            fail(f"size/count {field['size']}/{field['count']}, JSON {expected['size_bytes']}")
        if (field["type"].strip(), field["redop"].strip(), int(field["root"])) != \
                ("uint8", "none", -1):
            fail(f"type, redop, root: {line!r}")
        if int(field["wrong"]) != expected["wrong"]:
            fail(f"#wrong {field['wrong']}, JSON {expected['wrong']}")
        for name, key, tolerance in (("time", "time_us", 0.51), ("algbw", "algbw_gbps", 0.006),
                                     ("busbw", "busbw_gbps", 0.006)):
            if abs(float(field[name]) - expected[key]) > tolerance:
                fail(f"{name} {field[name]} but JSON {key} {expected[key]}: {line!r}")

    closing = "\n".join(lines)
    bounds = re.search(r"^# Out of bounds values : (\d+) (OK|FAILED)$", closing, re.M)
    if not bounds or bounds.groups() != ("0", "OK"):
        fail("no '# Out of bounds values : 0 OK' line")
    average = re.search(r"^# Avg bus bandwidth    : (\S+)$", closing, re.M)
    mean = sum(row["busbw_gbps"] for row in rows_json) / len(rows_json)
    if not average or abs(float(average.group(1)) - mean) > 0.001 + 1e-4 * mean:
        fail(f"Avg bus bandwidth {average and average.group(1)}, mean busbw of the JSON {mean}")
    print(f"ring_bw's table reads as nccl-tests': {len(rows)} rows, closing lines, JSON agrees")


if __name__ == "__main__":
    main(*sys.argv[1:])
