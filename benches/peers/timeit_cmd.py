"""Times a whole process: best wall time of --reps runs of a command.

    python timeit_cmd.py [--reps 5] [--label NAME] -- CMD ARG...

Each run is subprocess.run(CMD) wrapped in time.perf_counter (process start, work and exit all
included), stdout discarded. A run that fails stops the script with its stderr. Prints one JSON
line: label, seconds (the best), runs (every time).
"""

import argparse
import json
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--label", default="")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command")
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")
    runs = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        runs.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"timeit_cmd: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode()}")
    print(json.dumps({"label": a.label or " ".join(cmd), "seconds": min(runs), "runs": runs}))


if __name__ == "__main__":
    main()
