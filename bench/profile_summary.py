#!/usr/bin/env python3
"""Sums CubeCL's kernel profile (CUBECL_DEBUG_OPTION=profile, CUBECL_DEBUG_LOG=<file>) by kernel
kind: which kernels a training step spends its GPU time in (issue D).

Usage: python3 bench/profile_summary.py <log> [--top 25] [--json out.json]

Profile lines look like `| 46.82µs    | KernelBinop | AddOp_ec2fb177`; the hash after the last
underscore (one compiled variant) is dropped so variants of a kernel add up.
"""

import argparse
import collections
import json
import re
import sys

LINE = re.compile(r"^\|\s*([0-9.]+)\s*(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*$")
UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def kernel_kind(name):
    parts = [p.strip() for p in name.split("|") if p.strip()]
    return " | ".join(re.sub(r"_[0-9a-f]{6,}$", "", p) for p in parts)


def summarise(lines):
    totals = collections.defaultdict(lambda: [0.0, 0])
    for line in lines:
        match = LINE.match(line)
        if match:
            seconds = float(match.group(1)) * UNIT[match.group(2)]
            entry = totals[kernel_kind(match.group(3))]
            entry[0] += seconds
            entry[1] += 1
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json")
    args = parser.parse_args()
    with open(args.log, encoding="utf-8", errors="replace") as f:
        totals = summarise(f)
    if not totals:
        sys.exit(f"{args.log}: no profile lines (was CUBECL_DEBUG_OPTION=profile set?)")
    overall = sum(t for t, _ in totals.values())
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][0])
    print(f"{'share':>6} {'total':>10} {'calls':>7} {'mean':>10}  kernel")
    for name, (seconds, calls) in ranked[: args.top]:
        print(f"{seconds / overall:6.1%} {seconds * 1e3:9.2f}ms {calls:7d} {seconds / calls * 1e6:8.1f}µs  {name}")
    print(f"{1:6.0%} {overall * 1e3:9.2f}ms {sum(c for _, c in totals.values()):7d}  all kernels")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"total_seconds": overall,
                       "kernels": [{"kernel": n, "seconds": s, "calls": c} for n, (s, c) in ranked]},
                      f, indent=1)


if __name__ == "__main__":
    main()
