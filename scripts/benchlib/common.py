"""Small helpers every part of the benchmark uses: the repository root, logging, failing, running a process."""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message):
    print(f"scripts/bench: error: {message}", file=sys.stderr)
    sys.exit(1)


def run(argv, env=None, check=True, capture=False, stdin=None, cwd=None):
    result = subprocess.run(argv, env=env, cwd=cwd, stdin=stdin, text=True,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if check and result.returncode != 0:
        fail(f"{' '.join(argv[:4])} … exited {result.returncode}: {result.stderr.strip()[-800:]}")
    return result


def median(values):
    return statistics.median(list(values))


def yes(flag):
    return "yes" if flag else "NO"
