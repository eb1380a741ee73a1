"""Two reference points for rltf's executor benchmark (docs/executor.md#throughput), written for it.

  minimal_harness.py fork DIR N_PARALLEL TIMEOUT
      The minimal harness: N_PARALLEL threads, each starting one multiprocessing.Process (fork) per
      program that exec()s it, with no sandbox at all, joined with a timeout.
  minimal_harness.py floor DIR
      The compute floor: every program exec()d one after the other in this one interpreter, each in
      a fresh namespace, no process and no isolation; the rate of one core.

Every *.py file of DIR is a program (read before the clock starts). Prints
"passed P of N in S seconds".
"""

import concurrent.futures
import multiprocessing
import os
import sys
import time


def _exec(src):
    exec(compile(src, "<program>", "exec"), {"__name__": "__main__"})


def _child(src):
    try:
        _exec(src)
    except BaseException:
        os._exit(1)
    os._exit(0)


def _one(src, timeout):
    p = multiprocessing.Process(target=_child, args=(src,))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        return False
    return p.exitcode == 0


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    programs = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name)) as f:
                programs.append(f.read())
    t0 = time.monotonic()
    if mode == "floor":
        passed = 0
        for src in programs:
            try:
                _exec(src)
                passed += 1
            except BaseException:
                pass
    else:
        multiprocessing.set_start_method("fork")
        parallel, timeout = int(sys.argv[3]), float(sys.argv[4])
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            passed = sum(pool.map(lambda s: _one(s, timeout), programs))
    print("passed %d of %d in %.3f seconds" % (passed, len(programs), time.monotonic() - t0))


if __name__ == "__main__":
    main()
