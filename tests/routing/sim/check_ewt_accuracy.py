#!/usr/bin/env python3
"""Runs acdsim --json on one scenario and fails unless, for every queue, our wait estimate's
RMSE / mean wait is at most RATIO x the moving-average baseline's (the estimator's target).

    check_ewt_accuracy.py path/to/acdsim path/to/scenario.yaml [--ratio 0.75]
"""
import argparse
import json
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("acdsim")
    parser.add_argument("scenario")
    parser.add_argument("--ratio", type=float, default=0.75)
    args = parser.parse_args()
    run = subprocess.run([args.acdsim, "--scenario", args.scenario, "--json"],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(f"acdsim failed ({run.returncode}):\n{run.stderr}", file=sys.stderr)
        return 1
    report = json.loads(run.stdout)
    if not report.get("queues"):
        print("acdsim reported no queues", file=sys.stderr)
        return 1
    failed = False
    for queue in report["queues"]:
        rmse = queue["ewt_rel_rmse"]
        ours, baseline = rmse["acd"], rmse["moving_average"]
        ok = queue["waited"] > 1000 and ours <= args.ratio * baseline
        print(f"{report['scenario']}/{queue['name']}: waited {queue['waited']}, RMSE/mean wait "
              f"acd {ours:.3f} vs moving_average {baseline:.3f} (ratio {ours / baseline:.3f}, "
              f"need <= {args.ratio}); hol {rmse['hol']:.3f}, les {rmse['les']:.3f}: "
              f"{'ok' if ok else 'FAIL'}")
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
