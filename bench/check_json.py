#!/usr/bin/env python3
"""Checks ring_bw's --json file: an array with one object per size, exactly the documented keys,
the mode asked for, and no wrong bytes. Usage: check_json.py FILE MODE SIZE..."""
import json
import sys

KEYS = {"mode", "size_bytes", "iters", "time_us", "algbw_gbps", "busbw_gbps", "p50_us",
        "p99_us", "cpu_pct", "wrong"}


def main(path, mode, *sizes):
    with open(path, encoding="utf-8") as file:
        rows = json.load(file)
    assert isinstance(rows, list), "not a JSON array"
    assert [row["size_bytes"] for row in rows] == [int(size) for size in sizes], rows
    for row in rows:
        assert set(row) == KEYS, f"keys {sorted(row)}"
        assert row["mode"] == mode, row
        assert row["wrong"] == 0, row
        assert row["time_us"] > 0 and row["p50_us"] > 0 and row["p99_us"] >= row["p50_us"], row
    print(f"{path}: {len(rows)} rows of mode {mode}, keys as documented")


if __name__ == "__main__":
    main(*sys.argv[1:])
