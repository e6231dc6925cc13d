"""scripts/bench's report: the machine it ran on, the markdown table of the measures, the JSON results."""

import datetime
import json
import os
import platform

from .common import ROOT, median, yes


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    return {"nproc": os.cpu_count(), "memoryGiB": round(memory / 2**30, 1), "cpu": model,
            "kernel": platform.release(), "loadAverage": [round(x, 1) for x in os.getloadavg()],
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def render_table(measures):
    m = measures
    rows = [("measure", "drctl", "baseline", "ratio / value", "target", "met")]

    def sec(x):
        return f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms"

    if "P1" in m:
        p = m["P1"]
        rows.append(("P1 rebuild vs runbook script", sec(p["drctlMedian"]), sec(p["baselineMedian"]),
                     f"{p['ratio']:.2f}", "≤ 0.60", yes(p["met"])))
    for key, label in (("P2a", "P2a restore local vs gunzip → psql"), ("P2b", "P2b restore S3 vs aws → gunzip → psql")):
        if key in m:
            p = m[key]
            rows.append((label, sec(p["drctlMedian"]), sec(p["baselineMedian"]), f"{p['ratio']:.2f}", "≤ 1.05",
                         yes(p["met"])))
    if "P3" in m:
        p = m["P3"]
        rows.append(("P3 resume after SIGKILL in sync", sec(p["resumeMedian"]), f"left {sec(p['workLeftMedian'])}",
                     f"{p['overheadSeconds']:+.1f} s, restore repeated: {yes(p['completedRestoreRepeated'])}",
                     "≤ +5 s, not repeated",
                     yes(p["met"])))
    if "P4" in m:
        p = m["P4"]
        rows.append((f"P4 verify {p['backups']} backups, 2nd vs 1st", sec(p["drctlMedian"]),
                     sec(p["baselineMedian"]), f"{p['ratio']:.3f}", "≤ 0.05", yes(p["met"])))
    if "P5cpu" in m:
        p = m["P5cpu"]
        rows.append(("P5 drctl own CPU / rebuild", f"{median(p['ownCPUSeconds']):.2f} s CPU",
                     f"{sec(median(p['wallSeconds']))} wall", f"{p['shareOfWall'] * 100:.2f} %", "≤ 1 %",
                     yes(p["met"])))
    if "P5stream" in m:
        p = m["P5stream"]
        rate = f"{p['megabytesPerCPUSecond']:.0f} MB/s" if p["megabytesPerCPUSecond"] else "—"
        rows.append(("P5 drctl stream: bytes / own CPU, peak RSS", rate, f"{p['peakRSSBytes'] / 2**20:.0f} MB RSS",
                     f"{p['ownCPUSeconds']:.2f} s CPU", "≥ 1000 MB/s, ≤ 64 MB", yes(p["met"])))
    if "P5tap" in m:
        p = m["P5tap"]
        rows.append(("P5 tap SHA-256 alone / whole relay, one core", f"{p['hashMegabytesPerCPUSecond']:.0f} MB/s",
                     f"relay {p['relayMegabytesPerCPUSecond']:.0f} MB/s", f"{p['bytes'] / 2**20:.0f} MiB",
                     "≥ 1000 MB/s", yes(p["met"])))
    if "P5plan" in m:
        p = m["P5plan"]
        rows.append((f"P5 drctl plan rebuild ({len(p['seconds'])} runs)", sec(p["median"]), "—", sec(p["median"]),
                     "≤ 100 ms", yes(p["met"])))
    if "P6" in m:
        p = m["P6"]
        ratio = f"{p['ratio']:.3f}" if p["ratio"] is not None else "—"
        rows.append(("P6 app down: restore vs runbook order", sec(p["drctlMedian"]), sec(p["baselineMedian"]), ratio,
                     "≤ 0.10", yes(p["met"])))
    if "P7" in m:
        p = m["P7"]
        rows.append(("P7 backup create (gzip) vs pg_dump → gzip", sec(p["drctlMedian"]), sec(p["baselineMedian"]),
                     f"{p['ratio']:.2f}", "≤ 1.05", yes(p["met"])))
    if "P7pigz" in m:
        p = m["P7pigz"]
        rows.append(("P7 backup create (pigz) vs pg_dump → gzip", sec(p["drctlMedian"]), sec(p["baselineMedian"]),
                     f"{p['ratio']:.2f} (raw pigz {p['rawPigzMedian'] / p['baselineMedian']:.2f})", "≤ 0.60",
                     yes(p["met"])))
    if "P9" in m:
        p, med = m["P9"], m["P9"]["medians"]
        rows.append(("P9 restore, format custom (pg_restore -j) vs plain", sec(med["restoreCustom"]),
                     sec(med["restorePlain"]), f"{p['restoreRatio']:.2f}", "— (when to switch)", "—"))
        rows.append(("P9 backup create, format custom vs plain", sec(med["createCustom"]), sec(med["createPlain"]),
                     f"{p['createRatio']:.2f} ({p['backupBytes']['custom'] / 1e6:.0f} MB vs "
                     f"{p['backupBytes']['plain'] / 1e6:.0f} MB)", "—", "—"))
    if "P8" in m:
        p = m["P8"]
        rows.append((f"P8 rebuild, dataPlane job vs local ({p['shards']} shards)", sec(p["drctlMedian"]),
                     sec(p["baselineMedian"]), f"{p['ratio']:.2f}", "— (cost of Jobs)", "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def finish(results, config, out):
    """Prints the table and writes the JSON results to `out`."""
    mode, build = results["mode"], results["build"]
    results["machine"] = machine()
    results["config"] = config
    table = render_table(results["measures"])
    results["table"] = table
    d = results.get("data", {})
    print()
    build = f"{build} build" if "drctl" not in results else f"drctl {results['drctl']}"
    print(f"drctl benchmarks ({mode}, {build}, median of {config['runs']} run(s) each; "
          f"dump {d.get('sqlBytes', 0) / 1e6:.0f} MB SQL / {d.get('gzipBytes', 0) / 1e6:.0f} MB gzip, "
          f"{config['archive_files']} archive files)")
    print(table)
    mach = results["machine"]
    print(f"machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memoryGiB']} GiB, load {mach['loadAverage']},"
          f" {mach['date']}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"written: {os.path.relpath(out, ROOT)}")


def curve_point(results):
    """One size of the curve: the SQL size and the ratios of P2a, P2b and P7 at that size."""
    m, d = results["measures"], results.get("data", {})
    point = {"mode": results["mode"], "rows": d.get("rows"), "sqlBytes": d.get("sqlBytes"),
             "gzipBytes": d.get("gzipBytes")}
    for key in ("P2a", "P2b", "P7", "P7pigz"):
        if key in m:
            point[key] = {"ratio": m[key]["ratio"], "drctlMedian": m[key]["drctlMedian"],
                          "baselineMedian": m[key]["baselineMedian"]}
    return point


def plot_curve(points, png, note):
    """The ratios against the SQL size, one line per measure, targets dashed (matplotlib, Agg: no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(points, key=lambda p: p["sqlBytes"])
    sizes = [p["sqlBytes"] / 1e9 for p in points]
    figure, axes = plt.subplots(figsize=(9, 5.6), dpi=120)
    lines = (("P2a", "P2a restore, local file / gunzip | psql", "tab:blue", 1.05),
             ("P2b", "P2b restore, off-site / aws s3 cp - | gunzip | psql", "tab:orange", 1.05),
             ("P7", "P7 backup create (gzip) / pg_dump | gzip", "tab:green", 1.05),
             ("P7pigz", "P7 backup create (pigz) / pg_dump | gzip", "tab:red", 0.60))
    for key, label, color, target in lines:
        xs = [s for s, p in zip(sizes, points) if key in p]
        ys = [p[key]["ratio"] for p in points if key in p]
        if not xs:
            continue
        axes.plot(xs, ys, marker="o", color=color, label=label)
        axes.axhline(target, color=color, linestyle=":", linewidth=1)
    axes.set_xscale("log", base=2)
    axes.set_xticks(sizes, [f"{s:.2g}" for s in sizes])
    axes.set_xlabel("plain SQL dump size (GB)")
    axes.set_ylabel("drctl time / baseline time")
    axes.set_ylim(bottom=0)
    axes.set_title("drctl's overhead against the raw pipeline, by database size")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    figure.text(0.01, 0.01, note + "; dotted: targets", fontsize=7, color="gray")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(png)
    plt.close(figure)
