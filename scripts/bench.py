"""Recovery-time benchmarks for drctl (issue 9); run through scripts/bench, which loads the stack's environment.

Contenders run alternately (A, B, A, B, ...) and the table reports medians and ratios. The data (a database dump,
archive files) is built once per mode under .stack/bench/<mode> and reused while its inputs are unchanged.
The parts live in scripts/benchlib: world (stack, stand-in, manifest), data (generated and cached), measures
(contenders, P1-P9), report (table, JSON).
"""

import argparse
import json
import os
import time

from benchlib.common import ROOT, fail
from benchlib.data import Dataset
from benchlib.measures import Measures
from benchlib.report import curve_point, finish, plot_curve
from benchlib.world import World

MODES = {
    # rows of documents_header (each ~0.55 KB of SQL text plus 2 lines in documents_line), archive files, runs
    "smoke": {"rows": 2_000, "archive_files": 30, "archive_kb": 4, "runs": 1, "plan_runs": 5, "verify_rows": 500,
              "job_shards": 2, "tap_bytes": "256MiB", "tap_runs": 1},
    "full": {"rows": 1_000_000, "archive_files": 1_000, "archive_kb": 48, "runs": 3, "plan_runs": 20,
             "verify_rows": 20_000, "job_shards": 4, "tap_bytes": "2GiB", "tap_runs": 3},
}

ALL = ["P1", "P2A", "P2B", "P3", "P4", "P5", "P6", "P7", "P8", "P9"]
SQL_BYTES_PER_ROW = 582  # measured: 1,000,000 documents dump to 582 MB of SQL


def size_curve(args):
    """P7, P2a, P2b, P6 and P5 (stream, plan) at each size (GB of plain SQL): data generated once per size and
    cached under .stack/bench/size<MB>mb; one JSON per size, bench-results/size-curve.json and size-curve.png."""
    sizes = [float(text) for text in args.sizes.split(",")]
    build = args.build or "release"
    points, drctl = [], os.path.abspath(args.drctl) if args.drctl else None
    for size in sizes:
        mode = f"size{int(size * 1000)}mb"
        config = dict(MODES["full"], rows=int(size * 1e9 / SQL_BYTES_PER_ROW), archive_files=30, archive_kb=4,
                      runs=args.runs or 1)
        world = World(mode, config)
        results = {"mode": mode, "build": build, "runs": config["runs"], "measures": {}}
        if drctl:
            world.drctl, results["drctl"] = drctl, drctl
        else:
            world.build_drctl(build)
            drctl = world.drctl
        world.start()
        try:
            results["data"] = Dataset(world).prepare()
            if args.prepare_only:
                continue
            measures = Measures(world, results)
            measures.p7_backup()
            measures.p2a_restore_local()
            measures.p2b_restore_offsite()
            measures.p6_downtime()
            measures.p5_overhead()
            if size == max(sizes):
                measures.p9_custom_format()  # issue 17 item 7: at the largest size only
            finish(results, config, os.path.join(ROOT, "bench-results", f"{mode}.json"))
            points.append(curve_point(results))
        finally:
            world.stop()
    if not points:
        return
    curve = {"sizesGB": sizes, "points": points, "build": build}
    with open(os.path.join(ROOT, "bench-results", "size-curve.json"), "w") as out:
        json.dump(curve, out, indent=2)
        out.write("\n")
    first = json.load(open(os.path.join(ROOT, "bench-results", f"{points[0]['mode']}.json")))["machine"]
    note = (f"{build} build, median of {args.runs or 1} run(s) per size; {first['nproc']} CPUs ({first['cpu']}), "
            f"load {first['loadAverage']} at {first['date']}")
    plot_curve(points, os.path.join(ROOT, "bench-results", "size-curve.png"), note)
    print("written: bench-results/size-curve.json, bench-results/size-curve.png")


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny data, 1 run each, debug build (for scripts/test)")
    parser.add_argument("--build", choices=["debug", "release"], help="default: release (full), debug (smoke)")
    parser.add_argument("--runs", type=int, help="runs per contender (default: 3 full, 1 smoke)")
    parser.add_argument("--only", help="comma-separated subset of P1,P2,P2a,P2b,P3,P4,P5,P6,P7,P8,P9 (P2 is P2a "
                                       "and P2b; P3 and P5 need P1; P9 is the custom format beside plain; P8, the job-mode rebuild, needs root, runc and "
                                       "drctl's image, which it builds with scripts/image)")
    parser.add_argument("--drctl", help="use this drctl binary instead of building one (say which in reports)")
    parser.add_argument("--prepare-only", action="store_true", help="build and upload the data, measure nothing")
    parser.add_argument("--out", help="JSON results (default: bench-results/latest.json full, "
                                      ".stack/bench/smoke/results.json smoke)")
    parser.add_argument("--sizes", help="the size curve instead: comma-separated GB of plain SQL, e.g. 0.5,1,2,4 "
                                        "(P7, P2a, P2b, P6, P5 at each, P9 at the largest; 1 run each unless --runs)")
    args = parser.parse_args()
    if args.sizes:
        size_curve(args)
        return
    mode = "smoke" if args.smoke else "full"
    config = dict(MODES[mode])
    if args.runs:
        config["runs"] = args.runs
    build = args.build or ("debug" if args.smoke else "release")
    world = World(mode, config)
    results = {"mode": mode, "build": build, "runs": config["runs"], "measures": {}}
    out = args.out or (os.path.join(world.dir, "results.json") if args.smoke
                       else os.path.join(ROOT, "bench-results", "latest.json"))
    only = {name.strip().upper() for name in (args.only or ",".join(ALL)).split(",")}
    if "P2" in only:
        only |= {"P2A", "P2B"}
    unknown = only - set(ALL) - {"P2"}
    if unknown:
        fail(f"--only: unknown {', '.join(sorted(unknown))}; choose from P1, P2, P2a, P2b, P3, P4, P5, P6, P7, P8, "
             "P9")
    if args.only and os.path.exists(out):
        # A partial run updates the measures it took in the existing results; the others are kept as they were.
        results["measures"] = json.load(open(out)).get("measures", {})
    if only & {"P3", "P5"}:
        only.add("P1")
    started = time.monotonic()
    if args.drctl:
        world.drctl = os.path.abspath(args.drctl)
        results["drctl"] = world.drctl
    elif not args.prepare_only:
        world.build_drctl(build)
    if "P8" in only and not args.prepare_only:
        world.build_image(build)
    world.start(kubelet="P8" in only and not args.prepare_only)
    measures = Measures(world, results)
    try:
        results["data"] = Dataset(world).prepare()
        if args.prepare_only:
            return
        if "P1" in only:
            measures.p1_rebuild()
        if "P3" in only:
            if "P1" not in results["measures"]:
                fail("P3 needs P1's median rebuild time")
            measures.p3_resume()
        if "P7" in only:
            measures.p7_backup()  # before P2a and P6: its last backup is the one they restore
        if "P2A" in only:
            measures.p2a_restore_local()
        if "P2B" in only:
            measures.p2b_restore_offsite()
        if "P6" in only:
            measures.p6_downtime()
        if "P4" in only:
            measures.p4_verify()
        if "P5" in only:
            measures.p5_overhead()
        if "P8" in only:
            measures.p8_job_rebuild()
        if "P9" in only:
            measures.p9_custom_format()
    except SystemExit:
        if results["measures"]:
            results["incomplete"] = True
            finish(results, config, out)
        raise
    else:
        results["benchSeconds"] = round(time.monotonic() - started, 1)
        finish(results, config, out)
    finally:
        world.stop()


if __name__ == "__main__":
    main()
