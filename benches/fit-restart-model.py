#!/usr/bin/env python3
"""Fit the restart-time model to benches/restart-time.sh measurements.

    benches/fit-restart-model.py RESULTS.tsv... > assets/recovery-model.json

Model: seconds = fixed_s + s_per_snapshot_mb * snapshot_mb + s_per_wal_entry * wal_entries
                 + s_per_wal_mb * wal_mb
fitted by least squares with every coefficient >= 0 (each subset of the terms is solved, the
best one whose coefficients are all non-negative is kept), on the median of the runs of each
input at all CPUs. Runs pinned to fewer CPUs (--cpus) give the parallel fraction p of Amdahl's
law, T(n) = T(1) * ((1 - p) + p / n), from the ratio of medians per input, weighted by the
all-CPU time of the same file's runs (taken in the same minutes); it is what `synth --plan` uses to scale to other vCPU counts. Pure Python.
"""
import json
import statistics
import sys
from collections import defaultdict
from itertools import combinations

TERMS = ["fixed_s", "s_per_snapshot_mb", "s_per_wal_entry", "s_per_wal_mb"]


def features(r):
    return [1.0, r["snapshot_mb"], r["wal_entries"], r["wal_mb"]]


def solve(a, b):
    """Gaussian elimination with partial pivoting; None when singular."""
    n = len(a)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        if abs(m[p][c]) < 1e-12:
            return None
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] for i in range(n)]


def lstsq(xs, ys, cols, scale):
    # columns scaled to unit size so that the normal equations stay well conditioned
    a = [[sum(x[i] / scale[i] * x[j] / scale[j] for x in xs) for j in cols] for i in cols]
    b = [sum(x[i] / scale[i] * y for x, y in zip(xs, ys)) for i in cols]
    s = solve(a, b)
    if s is None:
        return None
    coef = [0.0] * len(TERMS)
    for k, i in enumerate(cols):
        coef[i] = s[k] / scale[i]
    return coef


def sse(xs, ys, coef):
    return sum((y - sum(c * v for c, v in zip(coef, x))) ** 2 for x, y in zip(xs, ys))


def main(paths):
    rows, comments = [], []
    for p in paths:
        with open(p) as f:
            head = None
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#"):
                    comments.append(line)
                    continue
                cells = line.split("\t")
                if head is None:
                    head = cells
                    continue
                r = dict(zip(head, cells))
                if r.get("status") != "ok":
                    continue
                for k in ("snapshot_mb", "wal_mb", "seconds", "load1"):
                    r[k] = float(r[k])
                for k in ("wal_entries", "cpus", "nproc", "run"):
                    r[k] = int(r[k])
                r["file"] = p
                rows.append(r)
    if not rows:
        sys.exit("no ok rows")
    nproc = max(r["nproc"] for r in rows)
    engines = sorted({r["engine"] for r in rows})
    by = defaultdict(list)
    for r in rows:
        by[(r["label"], r["cpus"])].append(r)
    full = {lab: rs for (lab, c), rs in by.items() if c == nproc}
    pts = []
    for lab, rs in sorted(full.items()):
        r0 = rs[0]
        pts.append(
            {
                "label": lab,
                "snapshot_mb": r0["snapshot_mb"],
                "wal_entries": r0["wal_entries"],
                "wal_mb": r0["wal_mb"],
                "nodes": int(r0["nodes"]) if r0["nodes"] else 0,
                "runs": len(rs),
                "seconds": [r["seconds"] for r in rs],
                "median_s": statistics.median(r["seconds"] for r in rs),
                "load1": [r["load1"] for r in rs],
            }
        )
    xs = [features(p) for p in pts]
    ys = [p["median_s"] for p in pts]
    scale = [max(abs(x[i]) for x in xs) or 1.0 for i in range(len(TERMS))]
    best = None
    for k in range(1, len(TERMS) + 1):
        for cols in combinations(range(len(TERMS)), k):
            if 0 not in cols:
                continue  # an engine always has a start cost
            c = lstsq(xs, ys, list(cols), scale)
            if c is None or any(v < 0 for v in c):
                continue
            e = sse(xs, ys, c)
            if best is None or e < best[0] - 1e-12:
                best = (e, c)
    if best is None:
        sys.exit("no non-negative fit")
    coef = best[1]
    mean = statistics.fmean(ys)
    sst = sum((y - mean) ** 2 for y in ys)
    for p, x in zip(pts, xs):
        p["model_s"] = round(sum(c * v for c, v in zip(coef, x)), 3)
    # Amdahl's parallel fraction from pinned runs
    pf_num = pf_den = 0.0
    pinned = []
    for (lab, c), rs in by.items():
        if c >= nproc or lab not in full:
            continue
        # against the all-CPU runs of the same file: taken in the same minutes, under the same load
        same = [r for r in full[lab] if r["file"] in {x["file"] for x in rs}] or full[lab]
        t_n = statistics.median(r["seconds"] for r in same)
        t_c = statistics.median(r["seconds"] for r in rs)
        # T(c)/T(n) = ((1-p) + p/c) / ((1-p) + p/n)  ->  solve for p
        q = t_c / t_n
        p_est = (q - 1) / ((1 / c - 1) - q * (1 / nproc - 1)) if q != 1 else 0.0
        p_est = min(1.0, max(0.0, p_est))
        pinned.append({"label": lab, "cpus": c, "median_s": t_c, "all_cpus_median_s": t_n, "parallel_fraction": round(p_est, 3)})
        pf_num += p_est * t_n
        pf_den += t_n
    model = {
        "source": "measured Docker restarts",
        "engine": ", ".join(engines),
        "cpus": nproc,
        "cpu_model": next((c.split("(", 1)[1].rstrip(")") for c in comments if "CPUs (" in c), ""),
        "what": "seconds from dockerd's start to `docker node ls` answering, on a copy of the swarm dir",
        "model": "seconds = fixed_s + s_per_snapshot_mb * snapshot MB + s_per_wal_entry * WAL entries after it + s_per_wal_mb * their MB (MB = 1e6 bytes)",
        "fixed_s": round(coef[0], 4),
        "s_per_snapshot_mb": round(coef[1], 6),
        "s_per_wal_entry": round(coef[2], 9),
        "s_per_wal_mb": round(coef[3], 6),
        "parallel_fraction": round(pf_num / pf_den, 3) if pf_den else None,
        "fit": {
            "method": "least squares on the median of each input's runs, coefficients >= 0",
            "inputs": len(pts),
            "runs": sum(p["runs"] for p in pts),
            "r2": round(1 - best[0] / sst, 4) if sst > 0 else None,
            "max_abs_error_s": round(max(abs(p["model_s"] - p["median_s"]) for p in pts), 3),
            "load1_min": min(r["load1"] for r in rows),
            "load1_max": max(r["load1"] for r in rows),
        },
        "measurements": sorted({r["file"] for r in rows}),
        "points": pts,
        "pinned": sorted(pinned, key=lambda p: (p["label"], p["cpus"])),
    }
    json.dump(model, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
