"""The Python side of rltf::PythonExecutor: a warm worker process that forks one sandboxed child per
program. Internal; see rltf/exec/python_executor.hpp.

Protocol (all frames are a 4-byte big-endian length followed by UTF-8 JSON):
  worker -> executor, once:   {"hello": true, "pid", "net", "drop", "python"}
  executor -> worker, per job: {"source", "setup", "fn", "tests": [{"k", "c", "i", "e"}], "limits": {...}}
  worker -> executor, per job: {"outcome", "tests", "details", "error", "stdout", "stderr", ...}
The worker runs with `-I -u -c <script> <config json>`. Per job it forks a child that calls setsid(),
sets resource limits, enters a private temporary directory, drops to an unprivileged uid when the
worker runs as root, disables destructive calls, runs the program and each test, and streams
per-test results back over a pipe, so tests that completed survive a crash of the child.

This file is embedded into the generated header rltf/exec/detail/worker_script.hpp at build time
(cmake/RltfEmbed.cmake); edit it here."""

import os, sys

# Protocol descriptors first: nothing the worker or a child prints may reach the executor's pipe.
os.closerange(3, 1 << 16)
_IN = os.dup(0)
_OUT = os.dup(1)
_nul = os.open(os.devnull, os.O_RDWR)
os.dup2(_nul, 0)
os.dup2(2, 1)
os.close(_nul)

# Keep this list short: every module that registers a fork handler (threading, random) makes each
# fork slower. subprocess, tempfile and random are deliberately not imported here.
import json, time, signal, io, gc, select, shutil, ctypes, builtins, ast, types, errno, resource, math
import faulthandler

_CFG = json.loads(sys.argv[1])
for _m in _CFG.get("preload", []):
    try:
        __import__(_m)
    except BaseException:
        pass

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000

_ROOT = os.geteuid() == 0
_DROP = bool(_CFG.get("drop_privileges", True)) and _ROOT
_UID = int(_CFG.get("uid", 65534))
_GID = int(_CFG.get("gid", 65534))
_TMP_ROOT = _CFG.get("temp_root") or "/tmp"
_PROGRAM_FILE = _CFG.get("program_file", "<program>")
_ME = os.getpid()
_exit = os._exit


def _unshare_network():
    if not _CFG.get("isolate_network", True):
        return False
    if _libc.unshare(_CLONE_NEWNET) == 0:
        return True
    if _ROOT:
        return False
    uid, gid = os.geteuid(), os.getegid()
    if _libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write("%d %d 1" % (uid, uid))
        with open("/proc/self/gid_map", "w") as f:
            f.write("%d %d 1" % (gid, gid))
    except OSError:
        pass
    return True


_NET = _unshare_network()

# Private working directories live in one folder per worker (root-owned, traversable only), whose
# name cannot be guessed; the executor removes it when the worker goes.
_BASE = os.path.join(_TMP_ROOT, "rltf-worker-%d-%s" % (_ME, os.urandom(6).hex()))
os.mkdir(_BASE, 0o711 if _DROP else 0o700)
_JOBS = 0
_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _user_process_count():
    uid = os.getuid()
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat("/proc/" + name).st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


# Root ignores RLIMIT_NPROC, so the limit only bites after the drop to `nobody`; for an ordinary user
# the limit counts every process of the user, so leave room for the ones already running.
_NPROC_BASE = 0 if _DROP else (_user_process_count() + 64 if not _ROOT else 0)

gc.collect()
gc.freeze()


def _clean(s, limit=4000):
    if not isinstance(s, str):
        try:
            s = str(s)
        except BaseException:
            s = "<unprintable>"
    if len(s) > limit:
        s = s[:limit] + "..."
    return s.encode("utf-8", "replace").decode("utf-8")


def _read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(_IN, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _send(obj):
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    data = len(data).to_bytes(4, "big") + data
    view = memoryview(data)
    while view:
        n = os.write(_OUT, view)
        view = view[n:]


# ----------------------------------------------------------------------------------------------
# The child: everything below runs in the forked process.

class _Timeout(BaseException):
    pass


class _OutputLimit(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _arm(seconds):
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


class _CappedBytes(io.BytesIO):
    def __init__(self, cap):
        super().__init__()
        self.cap = cap

    def write(self, b):
        if self.tell() + len(b) > self.cap:
            raise _OutputLimit()
        return super().write(b)


# The worker keeps private references to the calls the guard removes from `os` and `shutil`.
_fork, _kill, _killpg, _setsid = os.fork, os.kill, os.killpg, os.setsid
_setuid, _setgid, _setgroups = os.setuid, os.setgid, os.setgroups
_chdir, _rmdir, _chown, _unlink = os.chdir, os.rmdir, os.chown, os.unlink


def _rmtree(path):
    """Removes a directory tree without following symbolic links (shutil.rmtree needs os.rmdir and
    os.unlink, which the guard removes)."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        entries = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _rmtree(entry.path)
            else:
                _unlink(entry.path)
        except OSError:
            pass
    try:
        _rmdir(path)
    except OSError:
        pass

# (working directory, its prefix) in a child; None in the worker, where the audit hook does nothing.
_SANDBOX = None


def _install_guard():
    """Disables destructive calls, as human-eval's reliability_guard does, once in the worker (so no
    child pays for it), and installs an audit hook that, in a child, refuses writes outside the
    working directory, process creation, signals and (without a network namespace) network access."""
    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                 "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown",
                 "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir", "setsid",
                 "setpgid", "setpgrp", "setgid", "setreuid", "setregid", "setresuid", "setresgid"):
        if hasattr(os, name):
            setattr(os, name, None)
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    builtins.help = None
    # ("resource" is hidden in each child instead: the worker's os.wait4 imports it.)
    for name in ("ipdb", "joblib", "psutil", "tkinter"):
        sys.modules[name] = None

    realpath = os.path.realpath
    fspath = os.fsdecode
    isabs = os.path.isabs
    join = os.path.join
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    blocked = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "os.kill", "os.killpg",
               "os.symlink", "os.link", "os.rename", "os.remove", "os.rmdir", "os.chmod", "os.chown", "os.truncate",
               "os.chdir", "os.chroot", "shutil.rmtree", "shutil.move", "os.fork", "os.forkpty"}
    if not _NET:
        blocked |= {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"}

    def outside(path):
        tmp, prefix = _SANDBOX
        p = fspath(path)
        p = realpath(p if isabs(p) else join(tmp, p))
        return not (p == tmp or p.startswith(prefix) or p == "/dev/null"), p

    def hook(event, args):
        if _SANDBOX is None:
            return
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            writing = (mode is not None and any(c in mode for c in "wax+")) or bool(flags & write_flags)
            if writing:
                bad, p = outside(path)
                if bad:
                    raise PermissionError(errno.EACCES, "rltf sandbox: writing outside the working directory", p)
            return
        if event == "os.mkdir":
            bad, p = outside(args[0])
            if bad:
                raise PermissionError(errno.EACCES, "rltf sandbox: writing outside the working directory", p)
            return
        if event in blocked:
            raise PermissionError(errno.EPERM, "rltf sandbox: %s is not allowed" % event)

    sys.addaudithook(hook)


_install_guard()


def _classify(e):
    line = None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _PROGRAM_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    try:
        msg = str(e)
    except BaseException:
        msg = "<unprintable>"
    return {"type": type(e).__name__, "msg": _clean(msg, 2000), "line": line}


def _test_status(e, info):
    if isinstance(e, _Timeout):
        return "timeout"
    if info["line"] is not None:
        return "error"
    if isinstance(e, AssertionError):
        return "failed"
    return "error"


def _top_level_names(body):
    """Names bound at module level (not inside functions, classes, lambdas or comprehensions)."""
    names = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            for d in node.decorator_list:
                visit(d)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                if a.name != "*":
                    names.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global):
            names.update(node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in body:
        visit(stmt)
    return sorted(names)


def _wrap_script(src):
    """Compiles a stdin/stdout program that uses a top-level `return`, as APPS harnesses do: the body
    becomes a function whose module-level names are declared global, so the program's semantics and
    line numbers are kept."""
    tree = ast.parse(src, _PROGRAM_FILE)
    hoisted, body = [], []
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            hoisted.append(stmt)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                body.append(ast.copy_location(ast.Assign(targets=[stmt.target], value=stmt.value), stmt))
        else:
            body.append(stmt)
    names = _top_level_names(body)
    if names:
        body.insert(0, ast.Global(names=names, lineno=1, col_offset=0))
    if not body:
        body = [ast.Pass(lineno=1, col_offset=0)]
    fn = ast.FunctionDef(name="__rltf_main__", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                         kw_defaults=[], defaults=[]), body=body, decorator_list=[], returns=None,
                         lineno=1, col_offset=0)
    call = ast.Expr(value=ast.Call(func=ast.Name(id="__rltf_main__", ctx=ast.Load()), args=[], keywords=[]))
    module = ast.Module(body=hoisted + [fn, call], type_ignores=[])
    ast.fix_missing_locations(module)
    return compile(module, _PROGRAM_FILE, "exec", dont_inherit=True)


def _norm(x):
    if isinstance(x, tuple):
        return [_norm(v) for v in x]
    if isinstance(x, list):
        return [_norm(v) for v in x]
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    return x


def _close(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or abs(a - b) <= 1e-8 + 1e-5 * abs(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def _call_equal(out, expected):
    out = _norm(out)
    if out == expected or _close(out, expected):
        return True
    # APPS stores a call's return value wrapped in a one-element list.
    if isinstance(expected, list) and len(expected) == 1:
        return out == expected[0] or _close(out, expected[0])
    return False


def _float(tok):
    try:
        return float(tok)
    except ValueError:
        return None


def _stdio_equal(out, expected):
    """APPS's tolerant comparison: surrounding whitespace, line-wise stripping, token-wise with floats
    compared with numpy.allclose's default tolerance."""
    if out == expected:
        return True
    o, e = out.strip(), expected.strip()
    if o == e:
        return True
    if [l.strip() for l in o.splitlines() if l.strip()] == [l.strip() for l in e.splitlines() if l.strip()]:
        return True
    ot, et = o.split(), e.split()
    if ot == et:
        return True
    if len(ot) != len(et):
        return False
    for a, b in zip(ot, et):
        if a == b:
            continue
        fa, fb = _float(a), _float(b)
        if fa is None or fb is None or not abs(fa - fb) <= 1e-8 + 1e-5 * abs(fb):
            return False
    return True


def _call_target(ns, fn_name):
    if "()." in fn_name:
        cls, method = fn_name.split("().", 1)
        return getattr(ns[cls](), method)
    if fn_name in ns:
        return ns[fn_name]
    if "Solution" in ns:
        return getattr(ns["Solution"](), fn_name)
    raise NameError("name '%s' is not defined" % fn_name)


def _json_args(text):
    args = json.loads(text)
    if not isinstance(args, list):
        args = [args]
    # APPS stores dictionaries with integer keys as JSON objects with string keys.
    fixed = []
    for a in args:
        if isinstance(a, dict) and a and all(isinstance(k, str) and k.lstrip("-").isdigit() for k in a):
            a = {int(k): v for k, v in a.items()}
        fixed.append(a)
    return fixed


def _child(job, tmp, w_res, w_out, w_err, inherited):
    _setsid()
    os.dup2(w_out, 1)
    os.dup2(w_err, 2)
    if w_res != 3:
        os.dup2(w_res, 3)
    # The worker closed every inherited descriptor at start; close the ones it opened since.
    for fd in set(inherited) - {0, 1, 2, 3}:
        try:
            os.close(fd)
        except OSError:
            pass
    res_fd = 3
    write = os.write
    exit_ = os._exit
    lim = job["limits"]
    _chdir(tmp)
    mem = int(lim["memory"])
    if mem > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
    cpu = max(1, int(math.ceil(lim["cpu"])))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    stdin_max = max([len(t["i"]) * 4 for t in job["tests"] if t["k"] == 2] + [0])
    fsize = max(64 << 20, int(lim["output"]) * 4, stdin_max + (1 << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(lim["processes"]) + _NPROC_BASE
    if _DROP or not _ROOT:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if _DROP:
        _setgroups([])
        _setgid(_GID)
        _setuid(_UID)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _ME:
        exit_(0)
    signal.signal(signal.SIGALRM, _on_alarm)

    def send(*objs):
        data = "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objs)
        data = data.encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            try:
                view = view[write(res_fd, view):]
            except InterruptedError:
                pass

    tests = job["tests"]
    stop = bool(lim.get("stop"))
    t_test = float(lim["test"])
    src = job["source"]
    stdio = any(t["k"] == 2 for t in tests)
    real_stdout, real_stdin = sys.stdout, sys.stdin
    memfd_create, lseek, dup2, close = os.memfd_create, os.lseek, os.dup2, os.close

    global _SANDBOX
    _SANDBOX = (tmp, tmp.rstrip("/") + "/")
    sys.modules["resource"] = None

    # Compile under the program's own file name, so tracebacks and syntax errors use its lines.
    try:
        _arm(t_test)
        try:
            try:
                code = compile(src, _PROGRAM_FILE, "exec", dont_inherit=True)
            except SyntaxError as e:
                if stdio and e.msg == "'return' outside function":
                    code = _wrap_script(src)
                else:
                    raise
        finally:
            _disarm()
    except _Timeout:
        send({"e": "load", "kind": "timeout", "x": {"type": "TimeoutError", "msg": "compiling took too long",
                                                      "line": None}})
        return
    except SyntaxError as e:
        line = e.lineno if isinstance(e.lineno, int) and e.lineno > 0 else None
        lines = src.split("\n")
        last = 0
        for i, l in enumerate(lines):
            if l.strip():
                last = i + 1
        msg = e.msg or ""
        at_end = (line is None or line >= last or "was never closed" in msg or msg.startswith("unexpected EOF")
                  or "unterminated triple-quoted" in msg)
        send({"e": "syntax", "x": {"type": type(e).__name__, "msg": _clean(msg, 2000), "line": line,
                                   "end": at_end}})
        return
    except BaseException as e:  # null bytes (ValueError), nesting too deep (RecursionError, MemoryError)
        send({"e": "syntax", "x": {"type": type(e).__name__, "msg": _clean(str(e), 2000), "line": None,
                                   "end": False}})
        return

    def new_module(name):
        mod = types.ModuleType(name)
        mod.__dict__["__builtins__"] = builtins
        sys.modules[name] = mod
        return mod.__dict__

    def run_phase(fn):
        """Runs fn under the per-test alarm; returns None or (exception, info)."""
        try:
            _arm(t_test)
            try:
                fn()
            finally:
                _disarm()
        except BaseException as e:
            info = _classify(e)
            if isinstance(e, _Timeout):
                info = {"type": "TimeoutError", "msg": "loading the program exceeded %g s" % t_test,
                        "line": info["line"]}
            return e, info
        return None

    ns = None
    if not stdio:
        ns = new_module("__rltf_program__")
        failed = run_phase(lambda: exec(code, ns))
        if failed is None and job.get("setup"):
            failed = run_phase(lambda: exec(compile(job["setup"], "<setup>", "exec", dont_inherit=True), ns))
        if failed is not None:
            e, info = failed
            send({"e": "load", "kind": "timeout" if isinstance(e, _Timeout) else "error", "x": info})
            return
    elif job.get("setup"):
        setup_ns = new_module("__rltf_setup__")
        failed = run_phase(lambda: exec(compile(job["setup"], "<setup>", "exec", dont_inherit=True), setup_ns))
        if failed is not None:
            e, info = failed
            send({"e": "load", "kind": "timeout" if isinstance(e, _Timeout) else "error", "x": info})
            return

    fn_name = job.get("fn") or ""
    # Loaded: the worker's per-test deadline now counts from here, and is renewed by each result.
    send({"e": "l"})
    last = len(tests) - 1
    for i, t in enumerate(tests):
        kind = t["k"]
        status, detail, info = "passed", "", None
        try:
            _arm(t_test)
            try:
                if kind == 0:
                    exec(compile(t["c"], "<test %d>" % i, "exec", dont_inherit=True), ns)
                elif kind == 1:
                    target = _call_target(ns, fn_name)
                    args = _json_args(t["i"])
                    expected = json.loads(t["e"])
                    out = target(*args)
                    if not _call_equal(out, expected):
                        status = "failed"
                        detail = _clean("expected %r, got %r" % (expected, out), 300)
                else:
                    data = t["i"].encode("utf-8", "replace")
                    mfd = memfd_create("stdin")
                    view = memoryview(data)
                    while view:
                        view = view[write(mfd, view):]
                    lseek(mfd, 0, 0)
                    dup2(mfd, 0)
                    close(mfd)
                    # Room for the expected answer even when it is larger than the output cap.
                    captured = _CappedBytes(max(int(lim["output"]), 4 * len(t["e"]) + 65536))
                    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)),
                                                 encoding="utf-8", errors="replace")
                    wrapper = io.TextIOWrapper(captured, encoding="utf-8", errors="replace")
                    sys.stdout = wrapper
                    try:
                        try:
                            exec(code, new_module("__main__"))
                        except SystemExit as e:
                            if e.code not in (None, 0):
                                raise
                        wrapper.flush()
                    finally:
                        sys.stdout, sys.stdin = real_stdout, real_stdin
                    out = captured.getvalue().decode("utf-8", "replace")
                    try:
                        wrapper.detach()
                    except ValueError:
                        pass
                    if not _stdio_equal(out, t["e"]):
                        status = "failed"
                        detail = _clean("expected %r, got %r" % (t["e"][:120], out[:120]), 300)
            finally:
                _disarm()
        except _OutputLimit:
            status, info = "error", {"type": "OutputLimitExceeded", "msg": "the program printed more than %d bytes"
                                     % int(lim["output"]), "line": None}
            detail = info["type"]
        except BaseException as e:
            info = _classify(e)
            status = _test_status(e, info)
            if status == "timeout":
                info = {"type": "TimeoutError", "msg": "test %d exceeded %g s" % (i, t_test), "line": info["line"]}
            detail = info["type"] + (": " + info["msg"] if info["msg"] else "")
        result = {"e": "t", "i": i, "s": status, "d": _clean(detail, 300), "x": info}
        if i == last:
            send(result, {"e": "done"})
            return
        send(result)
        if stop and status != "passed":
            break
    send({"e": "done"})


# ----------------------------------------------------------------------------------------------
# The worker: supervises one child per job.

def _kill_group(pid):
    try:
        _killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        _kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reap_orphans():
    """Kills and reaps every process re-parented to this worker (it is a child subreaper)."""
    for _ in range(2000):
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid != 0:
            continue
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == _ME:
                try:
                    _kill(int(name), signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.001)


def _read_available(fd):
    chunks = []
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return b"".join(chunks), False
        except OSError:
            return b"".join(chunks), True
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        if len(chunks) > 64:
            return b"".join(chunks), False


def _run_job(job):
    lim = job["limits"]
    tests = job["tests"]
    n = len(tests)
    t_test = float(lim["test"])
    grace = max(0.25, 0.1 * t_test)
    cap = int(lim["output"])
    global _JOBS
    _JOBS += 1
    tmp = os.path.join(_BASE, str(_JOBS))
    os.mkdir(tmp, 0o700)
    if _DROP:
        _chown(tmp, _UID, _GID)
    r_res, w_res = os.pipe()
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    t0 = time.monotonic()
    pid = _fork()
    if pid == 0:
        try:
            _child(job, tmp, w_res, w_out, w_err, (_IN, _OUT, r_res, w_res, r_out, w_out, r_err, w_err))
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:
                pass
            _exit(0)
        finally:
            _exit(70)
    os.close(w_res)
    os.close(w_out)
    os.close(w_err)
    for fd in (r_res, r_out, r_err):
        os.set_blocking(fd, False)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None

    prog_deadline = t0 + float(lim["program"])
    phase_deadline = t0 + t_test + grace
    statuses = ["not_run"] * n
    details = [""] * n
    infos = [None] * n
    load = None
    syntax = None
    done = False
    killed = None
    buf = bytearray()
    out = bytearray()
    err = bytearray()
    truncated = False

    def handle_results(data):
        nonlocal buf, load, syntax, done, phase_deadline
        buf += data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                return
            line = bytes(buf[:nl])
            del buf[:nl + 1]
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            ev = msg.get("e")
            now = time.monotonic()
            if ev == "l":
                phase_deadline = now + t_test + grace
            elif ev == "t":
                i = msg["i"]
                if 0 <= i < n:
                    statuses[i] = msg["s"]
                    details[i] = msg.get("d", "")
                    infos[i] = msg.get("x")
                    phase_deadline = now + t_test + grace
            elif ev == "load":
                load = msg
            elif ev == "syntax":
                syntax = msg
            elif ev == "done":
                done = True

    def take_output(fd, data):
        nonlocal truncated, killed
        target = out if fd == r_out else err
        room = cap - len(target)
        if len(data) > room:
            truncated = True
            data = data[:max(room, 0)]
            if killed is None:
                killed = "output"
                _kill_group(pid)
        target += data

    poller = select.poll()
    open_fds = {r_res, r_out, r_err}
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    exited = False
    status = 0
    rusage = None
    while not exited:
        now = time.monotonic()
        deadline = min(prog_deadline, phase_deadline)
        if killed is None and now >= deadline:
            killed = "timeout"
            _kill_group(pid)
        if pidfd is None:
            wait_ms = 5
        elif killed is None:
            wait_ms = max(1, int((deadline - now) * 1000) + 1)
        else:
            wait_ms = 50
        for fd, ev in poller.poll(wait_ms):
            if fd == pidfd:
                exited = True
                continue
            data, eof = _read_available(fd)
            if data:
                if fd == r_res:
                    handle_results(data)
                else:
                    take_output(fd, data)
            if eof:
                poller.unregister(fd)
                open_fds.discard(fd)
        if pidfd is None:
            try:
                r = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                r = True
            exited = r is not None
    # The child is a zombie now: its process group id cannot be reused yet.
    try:
        _killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    _, status, rusage = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    if pidfd is not None:
        os.close(pidfd)
    for fd in list(open_fds):
        data, _eof = _read_available(fd)
        if data:
            if fd == r_res:
                handle_results(data)
            else:
                take_output(fd, data)
    for fd in (r_res, r_out, r_err):
        os.close(fd)
    _reap_orphans()
    try:
        _rmdir(tmp)  # usually empty
    except OSError:
        _rmtree(tmp)

    error = None
    outcome = None
    if syntax is not None:
        outcome = "syntax_error"
        error = syntax["x"]
    elif load is not None:
        outcome = "timeout" if load["kind"] == "timeout" else "runtime_error"
        error = load["x"]
    else:
        if not done:
            # The child did not finish: a limit killed it, it crashed, or the program ended the process.
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            cpu_used = rusage.ru_utime + rusage.ru_stime
            if killed == "timeout":
                kind, info = "timeout", {"type": "TimeoutError", "line": None,
                                         "msg": "wall-clock limit exceeded (%.3g s)" % wall}
            elif killed == "output":
                kind, info = "error", {"type": "OutputLimitExceeded", "line": None,
                                       "msg": "the program wrote more than %d bytes of output" % cap}
            elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_used >= float(lim["cpu"])):
                kind, info = "timeout", {"type": "TimeoutError", "line": None, "msg": "CPU time limit exceeded"}
            elif sig:
                try:
                    signame = signal.Signals(sig).name
                except ValueError:
                    signame = "signal %d" % sig
                kind, info = "error", {"type": "Killed", "line": None, "msg": "killed by " + signame, "signal": sig}
            else:
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
                kind, info = "error", {"type": "SystemExit", "line": None,
                                       "msg": "the process exited with status %d before its tests finished" % code}
            # Tests run in order and each reports when it ends: blame the first test that did not,
            # unless the run had already stopped at a failing test.
            pending = [i for i in range(n) if statuses[i] == "not_run"]
            stopped = bool(lim.get("stop")) and any(st != "passed" for st in statuses)
            target = pending[0] if pending and not stopped else None
            if target is not None:
                statuses[target] = kind
                details[target] = info["type"] + ": " + info["msg"]
                infos[target] = info
            elif n == 0:
                outcome = "timeout" if kind == "timeout" else "runtime_error"
                error = info
        if outcome is None:
            order = (("timeout", "timeout"), ("error", "runtime_error"), ("failed", "failure"))
            for st, oc in order:
                idx = next((i for i in range(n) if statuses[i] == st), None)
                if idx is not None:
                    outcome = oc
                    error = infos[idx]
                    if error is None and st == "failed":
                        error = {"type": "AssertionError", "msg": details[idx], "line": None}
                    break
            if outcome is None:
                outcome = "pass" if all(s == "passed" for s in statuses) else "failure"
    return {
        "outcome": outcome,
        "tests": statuses,
        "details": details,
        "error": error,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "truncated": truncated,
        "wall": wall,
        "maxrss": rusage.ru_maxrss if rusage is not None else 0,
        "net": _NET,
    }


def _main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _send({"hello": True, "pid": _ME, "net": _NET, "drop": _DROP, "python": sys.version.split()[0], "base": _BASE})
    while True:
        header = _read_exact(4)
        if header is None:
            break
        payload = _read_exact(int.from_bytes(header, "big"))
        if payload is None:
            break
        try:
            job = json.loads(payload)
            result = _run_job(job)
        except Exception as e:
            result = {"internal_error": "%s: %s" % (type(e).__name__, _clean(str(e), 2000))}
        _send(result)

    _rmtree(_BASE)


_main()
