"""Where a job's milliseconds go, part 1: the cost of one fork + _exit + waitpid of a warm
interpreter, with the executor's preloaded modules, and with numpy added (docs/executor.md#throughput).

usage: /usr/bin/python3 fork_cost.py [N]
Prints, per configuration, the wall time and the CPU of the parent and of the child per fork.
Each configuration runs in its own interpreter (numpy cannot be unloaded)."""

import os
import subprocess
import sys

PRELOAD = ["math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing", "random",
           "copy", "operator", "fractions", "decimal", "statistics", "datetime", "json", "hashlib", "array", "cmath",
           "numbers", "dataclasses", "textwrap", "unicodedata"]

CHILD = r"""
import gc, os, sys, time
for m in sys.argv[2:]:
    __import__(m)
gc.freeze()
n = int(sys.argv[1])
t0, c0 = time.monotonic(), time.process_time()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
wall, cpu = time.monotonic() - t0, time.process_time() - c0
c = os.times()
print("%.3f %.3f %.3f" % (1000 * wall / n, 1000 * cpu / n, 1000 * (c.children_user + c.children_system) / n))
"""


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for name, mods in (("preload", PRELOAD), ("preload + numpy", PRELOAD + ["numpy"])):
        out = subprocess.run([sys.executable, "-I", "-c", CHILD, str(n)] + mods, capture_output=True, text=True,
                             check=True).stdout.split()
        print("%-16s per fork: wall %s ms, parent CPU %s ms, child CPU %s ms" % (name, out[0], out[1], out[2]))


if __name__ == "__main__":
    main()
