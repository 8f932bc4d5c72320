"""The figures combined: medians over rounds, the Markdown tables, the per-round spread and
the targets."""
import statistics

from p2p.sizes import size_name


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
