"""The Python side of rltf::PythonExecutor. Internal; see rltf/exec/python_executor.hpp and
docs/executor.md ("How it runs").

Three kinds of process:
  worker    (trusted, warm) reads jobs from the executor, runs the tests, the expected values and
            every comparison, and reports results;
  zygote    forked from the worker before it reads any job (so it never holds test data); per job it
            forks one candidate and reports how it ended;
  candidate the program, in the sandbox; it answers the worker's requests (load the program, look a
            name up, call a function, run the program on an input) over a channel that carries plain
            data only.
Protocol with the executor (a 4-byte big-endian length followed by UTF-8 JSON):
  worker -> executor, once:   {"hello": true, "pid", "net", "drop", "python", "base"}
  executor -> worker, per job: {"source", "prompt", "setup", "fn", "tests": [{"k", "c", "i", "e"}], "limits"}
  worker -> executor, per job: {"outcome", "tests", "details", "error", "stdout", "stderr", ...}

This file is embedded into the generated header rltf/exec/detail/worker_script.hpp at configure time
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
import json, time, signal, io, gc, select, shutil, ctypes, builtins, ast, types, errno, resource, math, socket, struct
import collections
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
_PR_SET_DUMPABLE = 4
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000

_ROOT = os.geteuid() == 0
_DROP = bool(_CFG.get("drop_privileges", True)) and _ROOT
_UID = int(_CFG.get("uid", 65534))
_GID = int(_CFG.get("gid", 65534))
_TMP_ROOT = _CFG.get("temp_root") or "/tmp"
_PROGRAM_FILE = _CFG.get("program_file", "<program>")
_ME = os.getpid()
_CWD = os.getcwd()
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
# Not ptrace-able, and its /proc entries are root's: a process of the same user cannot reach into it.
_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


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
# Shared by the worker and the candidate.

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
    for name in ("kill", "system", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
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

# ----------------------------------------------------------------------------------------------
# The data channel between the trusted side and the candidate: plain data only. A value is a tag
# byte and its payload (little-endian): N None, T/F bool, i int64, I big int, f float, c complex,
# s str (UTF-8), b bytes, l/t/S/Z list/tuple/set/frozenset, d dict, and two references that only
# name objects living in the candidate: h (a handle to an instance of a class the program defined,
# made when the trusted side called that class) and n (a name in the program's namespace). The
# decoder is strict: anything else, truncated or trailing bytes, unhashable keys or nesting deeper
# than _MAX_DEPTH is malformed. marshal is not used: it also carries code objects and is not
# meant for hostile input.

_Q = struct.Struct("<q")
_U = struct.Struct("<I")
_D = struct.Struct("<d")
_DD = struct.Struct("<dd")
_MAX_DEPTH = 100
# The largest answer the trusted side decodes (its decoding is not interruptible by the test's alarm).
_MAX_FRAME = 32 << 20
_SEQ_TAGS = {list: b"l", tuple: b"t", set: b"S", frozenset: b"Z"}
_CONTAINER_TAGS = {collections.Counter: b"C", collections.OrderedDict: b"O", collections.defaultdict: b"D",
                   collections.deque: b"q"}
_BUILTIN_TYPES = {k: v for k, v in builtins.__dict__.items() if isinstance(v, type)}


class _NotData(Exception):
    pass


class _Malformed(Exception):
    pass


def _enc(x, out, ref, depth):
    t = type(x)
    if x is None:
        out += b"N"
    elif t is bool:
        out += b"T" if x else b"F"
    elif t is int:
        if -0x8000000000000000 <= x <= 0x7FFFFFFFFFFFFFFF:
            out += b"i"
            out += _Q.pack(x)
        else:
            b = x.to_bytes((x.bit_length() + 8) // 8, "little", signed=True)
            out += b"I"
            out += _U.pack(len(b))
            out += b
    elif t is float:
        out += b"f"
        out += _D.pack(x)
    elif t is str:
        b = x.encode("utf-8", "surrogatepass")
        out += b"s"
        out += _U.pack(len(b))
        out += b
    elif t in _SEQ_TAGS:
        if depth >= _MAX_DEPTH:
            raise _NotData("data nested more than %d deep" % _MAX_DEPTH)
        out += _SEQ_TAGS[t]
        out += _U.pack(len(x))
        for v in x:
            _enc(v, out, ref, depth + 1)
    elif t is dict:
        if depth >= _MAX_DEPTH:
            raise _NotData("data nested more than %d deep" % _MAX_DEPTH)
        out += b"d"
        out += _U.pack(len(x))
        for k, v in x.items():
            _enc(k, out, ref, depth + 1)
            _enc(v, out, ref, depth + 1)
    elif t is bytes:
        out += b"b"
        out += _U.pack(len(x))
        out += x
    elif t is complex:
        out += b"c"
        out += _DD.pack(x.real, x.imag)
    elif t in _CONTAINER_TAGS:
        # The standard library's containers of plain data, rebuilt as themselves on the other side.
        if depth >= _MAX_DEPTH:
            raise _NotData("data nested more than %d deep" % _MAX_DEPTH)
        out += _CONTAINER_TAGS[t]
        if t is collections.defaultdict:
            f = x.default_factory
            _enc(f.__name__ if f is not None and _BUILTIN_TYPES.get(f.__name__) is f else None, out, ref, depth + 1)
        items = list(x.items()) if t is not collections.deque else list(x)
        out += _U.pack(len(items))
        for v in items:
            if t is collections.deque:
                _enc(v, out, ref, depth + 1)
            else:
                _enc(v[0], out, ref, depth + 1)
                _enc(v[1], out, ref, depth + 1)
    elif t is type and _BUILTIN_TYPES.get(x.__name__) is x:
        b = x.__name__.encode()
        out += b"y"
        out += _U.pack(len(b))
        out += b
    else:
        r = ref(x) if ref is not None else None
        if r is None:
            raise _NotData(t)
        out += r


def _encode(x, ref=None):
    out = bytearray()
    _enc(x, out, ref, 0)
    return out


def _dec(b, p, resolve, depth):
    tag = b[p]
    p += 1
    if tag == 78:  # N
        return p, None
    if tag == 84:  # T
        return p, True
    if tag == 70:  # F
        return p, False
    if tag == 105:  # i
        return p + 8, _Q.unpack_from(b, p)[0]
    if tag == 102:  # f
        return p + 8, _D.unpack_from(b, p)[0]
    if tag in (67, 79, 68, 113):  # C O D q
        if depth >= _MAX_DEPTH:
            raise _Malformed("nested more than %d deep" % _MAX_DEPTH)
        factory = None
        if tag == 68:
            p, fname = _dec(b, p, None, depth + 1)
            if fname is not None:
                factory = _BUILTIN_TYPES.get(fname) if type(fname) is str else None
                if factory is None:
                    raise _Malformed("a defaultdict factory that is not a builtin type")
        n = _U.unpack_from(b, p)[0]
        p += 4
        if n > len(b) - p:
            raise _Malformed("a count larger than the message")
        items = []
        for _ in range(n):
            p, k = _dec(b, p, resolve, depth + 1)
            if tag == 113:
                items.append(k)
                continue
            p, v = _dec(b, p, resolve, depth + 1)
            items.append((k, v))
        if tag == 113:
            return p, collections.deque(items)
        if tag == 68:
            return p, collections.defaultdict(factory, items)
        return p, (collections.Counter if tag == 67 else collections.OrderedDict)(dict(items))
    if tag == 121:  # y
        n = _U.unpack_from(b, p)[0]
        p += 4
        name = bytes(b[p:p + n]).decode("ascii")
        t = _BUILTIN_TYPES.get(name)
        if t is None:
            raise _Malformed("not a builtin type: %r" % name)
        return p + n, t
    if tag in (115, 98, 73, 104, 110):  # s b I h n
        n = _U.unpack_from(b, p)[0]
        p += 4
        if p + n > len(b):
            raise _Malformed("truncated")
        raw = bytes(b[p:p + n])
        p += n
        if tag == 115:
            return p, raw.decode("utf-8", "surrogatepass")
        if tag == 98:
            return p, raw
        if tag == 73:
            return p, int.from_bytes(raw, "little", signed=True)
        if resolve is None:
            raise _Malformed("a reference where only data is allowed")
        return p, resolve(tag, raw)
    if tag == 99:  # c
        re_, im = _DD.unpack_from(b, p)
        return p + 16, complex(re_, im)
    if tag in (108, 116, 83, 90, 100):  # l t S Z d
        if depth >= _MAX_DEPTH:
            raise _Malformed("nested more than %d deep" % _MAX_DEPTH)
        n = _U.unpack_from(b, p)[0]
        p += 4
        if n > len(b) - p:
            raise _Malformed("a count larger than the message")
        if tag == 100:
            d = {}
            for _ in range(n):
                p, k = _dec(b, p, resolve, depth + 1)
                p, v = _dec(b, p, resolve, depth + 1)
                d[k] = v
            return p, d
        items = []
        for _ in range(n):
            p, v = _dec(b, p, resolve, depth + 1)
            items.append(v)
        if tag == 108:
            return p, items
        if tag == 116:
            return p, tuple(items)
        return p, set(items) if tag == 83 else frozenset(items)
    raise _Malformed("unknown tag %d" % tag)


def _decode(b, resolve=None):
    try:
        p, v = _dec(b, 0, resolve, 0)
    except _Malformed:
        raise
    except (IndexError, struct.error, TypeError, ValueError, UnicodeDecodeError, OverflowError, RecursionError) as e:
        raise _Malformed("%s: %s" % (type(e).__name__, e))
    if p != len(b):
        raise _Malformed("trailing bytes")
    return v


def _frame(payload):
    return _U.pack(len(payload)) + payload

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

# ----------------------------------------------------------------------------------------------
# The candidate: a child of the zygote that runs the program in the sandbox and answers the trusted
# side's requests. Nothing it sends is believed beyond being plain data: it never sees a test, an
# expected value or a comparison.

# APPS's harness (hendrycks/apps, eval/testing_util.py) runs every program after these imports.
_APPS_PREAMBLE = ("import sys\nimport time\nimport itertools\nfrom itertools import accumulate, product, permutations, "
                  "combinations\nimport collections\nfrom collections import Counter, OrderedDict, deque, defaultdict, "
                  "ChainMap\nfrom functools import lru_cache\nimport math\nfrom math import sqrt, sin, cos, tan, ceil, "
                  "fabs, floor, gcd, exp, log, log2\nimport fractions\nfrom typing import List, Tuple\n"
                  "import random\nimport heapq\nfrom heapq import *\n")


class _LazyModule(types.ModuleType):
    """The preamble's `import numpy as np`, imported on first use: numpy is not preloaded, because
    OpenBLAS's fork handlers would make every fork of the zygote about 3 ms slower."""

    def __getattr__(self, name):
        return getattr(__import__(self.__name__), name)


def _apps_preamble(ns):
    exec(_APPS_CODE, ns)
    if "numpy" in sys.modules:
        ns["np"] = sys.modules["numpy"]
    else:
        ns["np"] = _LazyModule("numpy")


def _exc_info(e):
    info = _classify(e)
    t = type(e)
    info["b"] = getattr(t, "__module__", None) == "builtins" and getattr(builtins, t.__name__, None) is t
    info["base"] = not isinstance(e, Exception)
    return info


def _sandbox_enter(job, fds):
    """In the candidate child: a session and descriptors of its own, limits, the working directory,
    the unprivileged uid, the parent-death signal."""
    chan, w_out, w_err = fds
    _setsid()
    os.dup2(w_out, 1)
    os.dup2(w_err, 2)
    if chan != 3:
        os.dup2(chan, 3)
    os.closerange(4, 1 << 16)
    lim = job["limits"]
    _chdir(job["tmp"])
    mem = int(lim["memory"])
    if mem > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
    cpu = max(1, int(math.ceil(lim["cpu"])))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = max(64 << 20, int(lim["output"]) * 4, int(job.get("stdin_max", 0)) + (1 << 20))
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
    if os.getppid() != _ZYGOTE_PID:
        _exit(0)
    signal.signal(signal.SIGALRM, _on_alarm)
    global _SANDBOX
    tmp = job["tmp"]
    _SANDBOX = (tmp, tmp.rstrip("/") + "/")
    sys.modules["resource"] = None


def _candidate(job, fds):
    _sandbox_enter(job, fds)
    read, write, exit_ = os.read, os.write, os._exit
    real_stdout, real_stdin = sys.stdout, sys.stdin
    memfd_create, lseek, dup2, close = os.memfd_create, os.lseek, os.dup2, os.close
    ns = None
    code = None
    handles = {}
    handle_ids = {}

    def recv():
        buf = bytearray()
        while len(buf) < 4:
            chunk = read(3, 4 - len(buf))
            if not chunk:
                exit_(0)
            buf += chunk
        n = _U.unpack(bytes(buf))[0]
        buf = bytearray()
        while len(buf) < n:
            chunk = read(3, min(n - len(buf), 1 << 20))
            if not chunk:
                exit_(0)
            buf += chunk
        return buf

    def send(obj):
        data = _frame(bytes(_encode(obj)))
        view = memoryview(data)
        while view:
            try:
                view = view[write(3, view):]
            except InterruptedError:
                pass

    def resolve(tag, raw):
        if tag == 104:
            return handles[int(raw)]
        return ns[raw.decode("utf-8", "surrogatepass")]

    def existing_handle(x):
        h = handle_ids.get(id(x))
        if h is not None and handles[h] is x:
            return b"h" + _U.pack(len(str(h))) + str(h).encode()
        return None

    def new_handle(x):
        r = existing_handle(x)
        if r is not None:
            return r
        if getattr(type(x), "__module__", None) != "__rltf_program__":
            return None
        h = len(handles) + 1
        handles[h] = x
        handle_ids[id(x)] = h
        return b"h" + _U.pack(len(str(h))) + str(h).encode()

    def reply_value(value, make_handles, extra=None):
        try:
            msg = {"r": value}
            if extra:
                msg.update(extra)
            data = _frame(bytes(_encode(msg, new_handle if make_handles else existing_handle)))
        except _NotData as e:
            what = e.args[0] if e.args else "?"
            name = what.__name__ if isinstance(what, type) else str(what)
            send({"nd": name})
            return
        view = memoryview(data)
        while view:
            try:
                view = view[write(3, view):]
            except InterruptedError:
                pass

    def load(req):
        nonlocal ns, code
        src = req["src"]
        stdio = req["stdio"]
        t = req["t"]
        try:
            _arm(t)
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
            return {"e": "load", "kind": "timeout", "x": {"type": "TimeoutError", "msg": "compiling took too long",
                                                          "line": None}}
        except SyntaxError as e:
            line = e.lineno if isinstance(e.lineno, int) and e.lineno > 0 else None
            last = 0
            for i, l in enumerate(src.split("\n")):
                if l.strip():
                    last = i + 1
            msg = e.msg or ""
            at_end = (line is None or line >= last or "was never closed" in msg or msg.startswith("unexpected EOF")
                      or "unterminated triple-quoted" in msg)
            return {"e": "syntax", "x": {"type": type(e).__name__, "msg": _clean(msg, 2000), "line": line,
                                         "end": at_end}}
        except BaseException as e:  # null bytes (ValueError), nesting too deep (RecursionError, MemoryError)
            return {"e": "syntax", "x": {"type": type(e).__name__, "msg": _clean(str(e), 2000), "line": None,
                                         "end": False}}
        if stdio:
            return {"e": "l"}
        ns = new_module("__rltf_program__")
        try:
            _arm(t)
            try:
                if req.get("apps"):
                    _apps_preamble(ns)
                exec(code, ns)
            finally:
                _disarm()
        except BaseException as e:
            info = _classify(e)
            if isinstance(e, _Timeout):
                info = {"type": "TimeoutError", "msg": "loading the program exceeded %g s" % t, "line": info["line"]}
                return {"e": "load", "kind": "timeout", "x": info}
            return {"e": "load", "kind": "error", "x": info}
        names = {}
        for k, v in list(ns.items()):
            if type(k) is str and not k.startswith("__"):
                if isinstance(v, types.ModuleType):
                    names[k] = "m:" + str(getattr(v, "__name__", ""))
                else:
                    names[k] = "f" if callable(v) else "d"
        return {"e": "l", "names": names}

    def new_module(name):
        mod = types.ModuleType(name)
        mod.__dict__["__builtins__"] = builtins
        sys.modules[name] = mod
        return mod.__dict__

    def lookup(name):
        if ns is None or name not in ns:
            return {"missing": True}
        v = ns[name]
        if isinstance(v, types.ModuleType):
            return {"mod": getattr(v, "__name__", "")}
        if callable(v):
            return {"fn": True}
        return None  # data, or not

    def guarded(fn, t, make_handles, args=None):
        before = None
        if args is not None:
            try:
                before = bytes(_encode(args, existing_handle))
            except _NotData:
                args = None
        try:
            _arm(t)
            try:
                out = fn()
            finally:
                _disarm()
        except _Timeout as e:
            send({"to": _classify(e)["line"]})
            return
        except BaseException as e:
            send({"x": _exc_info(e)})
            return
        extra = None
        if args is not None:
            try:
                after = bytes(_encode(args, existing_handle))
            except _NotData:
                after = None
            if after is not None and after != before:
                extra = {"m": args}
        reply_value(out, make_handles, extra)

    def stdio(req):
        data = req["in"].encode("utf-8", "replace")
        captured = _CappedBytes(int(req["cap"]))
        wrapper = None
        try:
            _arm(req["t"])
            try:
                mfd = memfd_create("stdin")
                view = memoryview(data)
                while view:
                    view = view[write(mfd, view):]
                lseek(mfd, 0, 0)
                dup2(mfd, 0)
                close(mfd)
                sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)),
                                             encoding="utf-8", errors="replace")
                wrapper = io.TextIOWrapper(captured, encoding="utf-8", errors="replace")
                sys.stdout = wrapper
                try:
                    mod = new_module("__main__")
                    if req.get("apps"):
                        _apps_preamble(mod)
                    try:
                        exec(code, mod)
                    except SystemExit as e:
                        if e.code not in (None, 0):
                            raise
                    wrapper.flush()
                finally:
                    sys.stdout, sys.stdin = real_stdout, real_stdin
            finally:
                _disarm()
        except _OutputLimit:
            send({"ol": True})
            return
        except _Timeout as e:
            send({"to": _classify(e)["line"]})
            return
        except BaseException as e:
            send({"x": _exc_info(e)})
            return
        out = captured.getvalue().decode("utf-8", "replace")
        try:
            wrapper.detach()
        except ValueError:
            pass
        send({"r": out})

    while True:
        raw = recv()
        try:
            req = _decode(raw, resolve)
        except (_Malformed, KeyError) as e:
            send({"x": {"type": "RuntimeError", "msg": "rltf: bad request: %s" % e, "line": None, "b": True,
                        "base": False}})
            continue
        op = req["op"]
        if op == "load":
            send(load(req))
        elif op == "get":
            r = lookup(req["n"])
            if r is None:
                reply_value(ns[req["n"]], True)
            else:
                send(r)
        elif op == "call":
            target = req["f"]
            a, k = req["a"], req["k"]
            guarded(lambda: target(*a, **k), req["t"], isinstance(target, type), a)
        elif op == "callfn":
            a = req["a"]

            def call_fn():
                return _call_target(ns, req["fn"])(*a)
            guarded(call_fn, req["t"], False)
        elif op == "getattr":
            obj, name = req["f"], req["n"]
            guarded(lambda: getattr(obj, name), req["t"], True)
        elif op == "setattr":
            obj, name, value = req["f"], req["n"], req["v"]
            guarded(lambda: setattr(obj, name, value), req["t"], False)
        elif op == "define":
            values = req["v"]
            guarded(lambda: ns.update(values), req["t"], False)
        elif op == "stdio":
            stdio(req)
        else:
            try:
                real_stdout.flush()
                sys.stderr.flush()
            except BaseException:
                pass
            exit_(0)


_APPS_CODE = compile(_APPS_PREAMBLE, "<apps preamble>", "exec", dont_inherit=True)

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

# ----------------------------------------------------------------------------------------------
# The zygote: forked from the worker before the worker reads any job, so no test, expected value
# or reference solution is ever in the memory of a candidate's process or of its ancestors below
# the worker. Per job it receives the limits and three descriptors, forks the candidate, sends back
# a pidfd for it, and once it is gone kills its process group, reaps escapees (it is a child
# subreaper) and reports the exit status and resource usage.

_ZYGOTE_PID = 0


def _zygote(zs):
    global _ME, _ZYGOTE_PID
    _ME = _ZYGOTE_PID = os.getpid()
    for fd in (_IN, _OUT):
        os.close(fd)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    iso = _isolate()
    _install_guard()
    gc.collect()
    gc.freeze()
    zs.send(json.dumps(iso).encode())
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(zs, 1 << 16, 8)
        except OSError:
            _exit(0)
        if not msg:
            _exit(0)
        job = json.loads(msg)
        pid = _fork()
        if pid == 0:
            try:
                _candidate(job, fds)
            finally:
                _exit(70)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        socket.send_fds(zs, [b'{"pid": %d}' % pid], [pidfd])
        os.close(pidfd)
        while True:
            try:
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
                break
            except InterruptedError:
                continue
        # The candidate is a zombie: its process group id cannot be reused yet.
        try:
            _killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _, status, ru = os.wait4(pid, 0)
        _reap_orphans()
        zs.send(json.dumps({"status": status, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss}).encode())


# -- Isolation beyond rlimits, set up once per worker in the zygote (every candidate inherits it, so
# a job pays nothing for it); each step is reported to the executor, and skipped where the kernel
# or the privileges do not allow it.

_CLONE_NEWNS = 0x00020000
_CLONE_NEWPID = 0x20000000
_MS_REC, _MS_PRIVATE, _MS_BIND = 0x4000, 1 << 18, 4096
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 1
_SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share the new syscall numbers
_PR_SET_NO_NEW_PRIVS = 38


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def _mount_setattr(path, attr_set, attr_clr):
    a = _MountAttr(attr_set, attr_clr, 0, 0)
    return _libc.syscall(_SYS_MOUNT_SETATTR, -100, path.encode(), _AT_RECURSIVE, ctypes.byref(a),
                         ctypes.sizeof(a)) == 0


def _private_mounts():
    """In the zygote's own mount namespace: the whole host read-only, the folder of working
    directories writable, a /proc of the zygote's PID namespace. Returns whether it worked."""
    if _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return False
    if _CFG.get("isolate_pids", True) and _PIDNS:
        _libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
    if _libc.mount(_BASE.encode(), _BASE.encode(), None, _MS_BIND | _MS_REC, None) != 0:
        return False
    if not _mount_setattr("/", _MOUNT_ATTR_RDONLY, 0):
        return False
    return _mount_setattr(_BASE, 0, _MOUNT_ATTR_RDONLY)


# Calls a test program never needs: namespaces, mounts, tracing other processes, kernel modules and
# keys, rebooting, BPF, changing the clock. clone() is refused only with namespace flags.
_SECCOMP_DENY = ("mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
                 "fsmount", "fspick", "mount_setattr", "unshare", "setns", "ptrace", "process_vm_readv",
                 "process_vm_writev", "kcmp", "kexec_load", "kexec_file_load", "bpf", "perf_event_open",
                 "userfaultfd", "reboot", "keyctl", "add_key", "request_key", "init_module", "finit_module",
                 "delete_module", "swapon", "swapoff", "acct", "quotactl", "syslog", "settimeofday",
                 "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm", "open_by_handle_at",
                 "name_to_handle_at", "lookup_dcookie", "vhangup", "sethostname", "setdomainname",
                 "personality", "io_uring_setup", "io_uring_enter", "io_uring_register")
_CLONE_NS_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)


class _ScmpArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _seccomp():
    """Loads the filter with libseccomp (Debian's libseccomp2, through ctypes): it resolves each call's
    number for this architecture and builds the BPF program, so none is written by hand here."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ScmpArg)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    ctx = lib.seccomp_init(allow)
    if not ctx:
        return False
    try:
        for name in _SECCOMP_DENY:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0 and lib.seccomp_rule_add_array(ctx, eperm, nr, 0, None) != 0:
                return False
        # clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes glibc use clone.
        nr = lib.seccomp_syscall_resolve_name(b"clone3")
        if nr >= 0 and lib.seccomp_rule_add_array(ctx, enosys, nr, 0, None) != 0:
            return False
        nr = lib.seccomp_syscall_resolve_name(b"clone")
        for flag in _CLONE_NS_FLAGS:
            cmp = _ScmpArg(0, 7, flag, flag)  # SCMP_CMP_MASKED_EQ on argument 0 (the flags)
            if lib.seccomp_rule_add_array(ctx, eperm, nr, 1, ctypes.byref(cmp)) != 0:
                return False
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return lib.seccomp_load(ctx) == 0
    finally:
        lib.seccomp_release(ctx)


_PIDNS = False


def _isolate():
    """Runs in the zygote before it forks any candidate; returns what it could set up."""
    iso = {"mount": False, "pid": _PIDNS, "seccomp": False}
    if _CFG.get("isolate_filesystem", True) and _MNTNS:
        iso["mount"] = _private_mounts()
    if _CFG.get("seccomp", True):
        iso["seccomp"] = _seccomp()
    return iso


_MNTNS = False
_HELPERS = []


def _cgroup_create():
    """A cgroup v2 for this worker's candidates, below the worker's own, when the executor runs as
    root and a cgroup v2 hierarchy offers the memory and pids controllers; None otherwise."""
    if not (_ROOT and _CFG.get("cgroup", True)):
        return None
    try:
        mount = None
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    mount = parts[1]
                    break
        if mount is None:
            return None
        own = "/"
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    own = line[3:].strip() or "/"
        parent = os.path.join(mount, own.lstrip("/"))
        with open(os.path.join(parent, "cgroup.controllers")) as f:
            available = f.read().split()
        if "memory" not in available or "pids" not in available:
            return None
        with open(os.path.join(parent, "cgroup.subtree_control")) as f:
            enabled = f.read().split()
        if "memory" not in enabled or "pids" not in enabled:
            with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                f.write("+memory +pids")
        path = os.path.join(parent, "rltf-worker-%d-%s" % (_ME, os.urandom(4).hex()))
        os.mkdir(path)
        return path
    except OSError:
        return None


def _cgroup_limit(lim):
    """Per job: the candidates' memory (with room for the zygote) and process count."""
    try:
        with open(os.path.join(_CGROUP, "memory.max"), "w") as f:
            f.write(str(int(lim["memory"]) + (256 << 20)))
        with open(os.path.join(_CGROUP, "pids.max"), "w") as f:
            f.write(str(int(lim["processes"]) + 8))
        return True
    except OSError:
        return False


_CGROUP = _cgroup_create()


def _start_zygote():
    """Forks the zygote. As root it gets a mount and a PID namespace of its own: the forked process
    unshares them and forks the real zygote, PID 1 of the new namespace (it reaps every orphan), then
    waits for it."""
    global _PIDNS, _MNTNS
    w, z = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = _fork()
    if pid == 0:
        try:
            w.close()
            if _CGROUP is not None:
                try:
                    with open(os.path.join(_CGROUP, "cgroup.procs"), "w") as f:
                        f.write("0")
                except OSError:
                    pass
            flags = 0
            if _CFG.get("isolate_filesystem", True):
                flags |= _CLONE_NEWNS
            if _CFG.get("isolate_pids", True):
                flags |= _CLONE_NEWPID
            if flags and _libc.unshare(flags) != 0 and _libc.unshare(flags & _CLONE_NEWNS) != 0:
                flags = 0
            elif flags:
                _MNTNS = bool(flags & _CLONE_NEWNS)
            if flags & _CLONE_NEWPID:
                inner = _fork()
                if inner != 0:
                    # The namespace's parent: lives as long as the zygote and dies with the worker.
                    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                    z.send(json.dumps({"inner": inner}).encode())
                    z.close()
                    for fd in (_IN, _OUT):
                        os.close(fd)
                    while True:
                        try:
                            os.waitpid(inner, 0)
                            break
                        except InterruptedError:
                            continue
                        except ChildProcessError:
                            break
                    _exit(0)
                _PIDNS = os.getpid() == 1
            _zygote(z)
        finally:
            _exit(70)
    z.close()
    # The zygote's report of its isolation, and with a PID namespace its parent's word of its pid,
    # in either order.
    helpers = [pid]
    iso = None
    while iso is None or (iso.get("pid") and len(helpers) < 2):
        hello = w.recv(1 << 16)
        msg = json.loads(hello) if hello else {}
        if "inner" in msg:
            helpers.append(msg["inner"])
        else:
            iso = msg
        if not hello:
            break
    global _HELPERS
    _HELPERS = helpers
    iso["cgroup"] = False
    if _CGROUP is not None:
        try:
            with open(os.path.join(_CGROUP, "cgroup.procs")) as f:
                iso["cgroup"] = str(pid) in f.read().split()
        except OSError:
            pass
    return w, pid, iso

# ----------------------------------------------------------------------------------------------
# The trusted side, in the worker: the tests, the expected values and every comparison run here,
# against proxies of the candidate's functions that call into the candidate over the data channel.

class _Gone(BaseException):
    """The candidate process ended (or was killed): the session's `killed` and exit report say how."""


class NonDataError(Exception):
    pass


class _NonDataResult:
    """What the trusted side holds for a call that returned a non-data object: nothing of the object
    itself. Only identity works (`out is not None`, EvalPlus's oracle for functions returning
    re.Match); comparing, truth-testing, hashing or using it in any other way fails the test with
    "returned a non-data object"."""

    __slots__ = ("_rltf_what",)

    def __init__(self, what):
        object.__setattr__(self, "_rltf_what", what)

    def _rltf_fail(self, *_a, **_k):
        raise NonDataError(object.__getattribute__(self, "_rltf_what"))

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __hash__ = __len__ = __iter__ = _rltf_fail
    __contains__ = __getitem__ = __call__ = __add__ = __radd__ = __sub__ = __mul__ = __float__ = __int__ = _rltf_fail
    __getattr__ = __setattr__ = _rltf_fail

    def __repr__(self):
        return "<%s>" % object.__getattribute__(self, "_rltf_what")

    __str__ = __repr__


_REMOTE_CLASSES = {}


def _remote_exception(x):
    """An exception raised in the candidate, rebuilt here as an instance of a class of the same name
    (a subclass of the builtin class of that name, so that tests expecting it still catch it), whose
    str() is the candidate's message. The candidate's own classes become subclasses of Exception (or
    of BaseException for those that were not Exceptions)."""
    name = x.get("type") if isinstance(x.get("type"), str) else "Exception"
    builtin = bool(x.get("b"))
    base = getattr(builtins, name, None) if builtin else None
    if not (isinstance(base, type) and issubclass(base, BaseException)):
        base = BaseException if x.get("base") else Exception
    key = (name, base)
    cls = _REMOTE_CLASSES.get(key)
    if cls is None:
        cls = type(name, (base,), {"__str__": lambda self: self._rltf_info["msg"], "__module__": "rltf.candidate"})
        _REMOTE_CLASSES[key] = cls
    e = cls.__new__(cls)
    msg = x.get("msg") if isinstance(x.get("msg"), str) else ""
    line = x.get("line")
    e._rltf_info = {"type": name, "msg": _clean(msg, 2000), "line": line if type(line) is int and line > 0 else None}
    e.args = (msg,)
    return e


class _Remote:
    """A function, class or object of the candidate's: calls, attribute reads and writes go over the
    channel; it compares equal only to itself."""
    __slots__ = ("_rltf_ref", "_rltf_name", "__weakref__")

    def __init__(self, ref, name):
        object.__setattr__(self, "_rltf_ref", ref)
        object.__setattr__(self, "_rltf_name", name)

    def __call__(self, *args, **kwargs):
        return _S.call(self, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _S.request({"op": "getattr", "f": self, "n": name}, self._rltf_name + "." + name)

    def __setattr__(self, name, value):
        _S.request({"op": "setattr", "f": self, "n": name, "v": value}, self._rltf_name + "." + name)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return "<candidate %s>" % self._rltf_name


def _remote_name(name):
    b = name.encode("utf-8", "surrogatepass")
    return _Remote(b"n" + _U.pack(len(b)) + b, name)


def _ref_of(x):
    if type(x) is _Remote:
        return x._rltf_ref
    return None


class _TrustedNS(dict):
    """The tests' namespace: trusted definitions (the prompt's helpers, the setup code) first, then
    builtins; any other name is looked up in the candidate's namespace (functions and classes become
    proxies, modules the worker has loaded are the worker's own, data is copied)."""

    def __missing__(self, key):
        b = _BUILTINS.get(key, _MISSING)
        if b is not _MISSING:
            return b
        r = _S.exchange({"op": "get", "n": key})
        if type(r) is dict and not r.get("missing"):
            if "r" in r or "x" in r or "nd" in r or "to" in r:
                return _S.answer(r, key)
            if r.get("fn"):
                p = _remote_name(key)
                dict.__setitem__(self, key, p)
                return p
            if "mod" in r:
                m = sys.modules.get(r["mod"]) if isinstance(r["mod"], str) else None
                if m is not None:
                    return m
        raise KeyError(key)


_MISSING = object()
_BUILTINS = builtins.__dict__


def _stub_functions(tree):
    """Top-level functions of a prompt whose body is only a docstring (or `...`/`pass`): the ones
    the completion is to write (imports allowed: HumanEval/115's prompt imports inside its function);
    the tests must reach the candidate's, not these."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if all(isinstance(s, (ast.Pass, ast.Import, ast.ImportFrom))
                   or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body):
                names.append(node.name)
    return names


# What the trusted side compiles is kept by its text: RL runs each problem's prompt and tests for every
# sample of it, so each is parsed and compiled once per worker (a bounded cache, emptied when full).
_CACHE_MAX = 4096
_PROMPTS = {}
_COMPILED = {}
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _remember(cache, key, value):
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


def _prompt_info(prompt):
    """The prompt's code (None if it does not compile), its stubs, and its top-level definitions
    by (line, name), each as its ast.dump."""
    info = _PROMPTS.get(prompt)
    if info is None:
        try:
            tree = ast.parse(prompt, _PROGRAM_FILE)
            info = (compile(tree, _PROGRAM_FILE, "exec", dont_inherit=True), _stub_functions(tree),
                    {(n.lineno, n.name): ast.dump(n) for n in tree.body if isinstance(n, _DEFINITIONS)})
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            info = (None, [], {})
        _remember(_PROMPTS, prompt, info)
    return info


def _candidate_definitions(stubs, prompt_defs, source):
    """Names the tests must take from the candidate, not from the trusted copy of the prompt: the
    prompt's stubs, and a top-level function or class of the prompt that the completion continues
    (`def f():\n    return ` + `3`): the program's definition at the same line differs from the
    prompt's. A definition the program adds later under the same name (a redefined helper) leaves
    the tests with the prompt's own. (The program is only parsed here, never run.)"""
    names = set(stubs)
    at_line = {}
    try:
        for node in ast.parse(source, _PROGRAM_FILE).body:
            if isinstance(node, _DEFINITIONS) and (node.lineno, node.name) in prompt_defs:
                at_line[(node.lineno, node.name)] = ast.dump(node)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    for key, dump in prompt_defs.items():
        if at_line.get(key) != dump:
            names.add(key[1])
    return sorted(names)


class _ShadowCalls(ast.NodeTransformer):
    """Rewrites `X(args)` in trusted code, where the program defines a function X that shadows the
    builtin X (MBPP's `sum`), to call the program's X — but only when no argument involves the
    program (no call except of a trusted module's attribute, no name of the program's), so that a
    program cannot replace the builtins a test wraps around its results (`abs(f(x) - y) < 1e-6`)."""

    def __init__(self, shadow, program_names):
        self.shadow, self.program_names = shadow, program_names

    def independent(self, node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                f = sub.func
                if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                        and f.value.id not in self.program_names):
                    return False
            elif isinstance(sub, ast.Name) and sub.id in self.program_names:
                return False
        return True

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Name) and f.id in self.shadow and all(
                self.independent(a) for a in list(node.args) + [k.value for k in node.keywords]):
            node.func = ast.copy_location(ast.Name(id="__rltf_program_" + f.id, ctx=ast.Load()), f)
        return node


def _compile_trusted(text, filename, shadow, program_names):
    """Trusted code compiled, with calls of the builtins the program shadows rewritten; `shadow` and
    `program_names` are frozensets (part of the cache key)."""
    rewrite = bool(shadow) and any(name in text for name in shadow)
    key = (text, filename, shadow, program_names) if rewrite else (text, filename)
    code = _COMPILED.get(key)
    if code is not None:
        return code
    if rewrite:
        tree = ast.parse(text, filename)
        tree = _ShadowCalls(shadow, program_names).visit(tree)
        ast.fix_missing_locations(tree)
        code = compile(tree, filename, "exec", dont_inherit=True)
    else:
        code = compile(text, filename, "exec", dont_inherit=True)
    return _remember(_COMPILED, key, code)


class _Session:
    def __init__(self, pid, pidfd, chan, r_out, r_err, cap, t_test, grace, prog_deadline):
        self.pid, self.pidfd, self.chan = pid, pidfd, chan
        self.r_out, self.r_err, self.cap = r_out, r_err, cap
        self.t_test, self.grace, self.prog_deadline = t_test, grace, prog_deadline
        self.test_deadline = prog_deadline
        self.buf = bytearray()
        self.handles = {}
        self.out = bytearray()
        self.err = bytearray()
        self.truncated = False
        self.killed = None
        self.report = None
        self.open_fds = {chan, r_out, r_err}
        self.poller = select.poll()
        for fd in (chan, r_out, r_err, _ZS.fileno()):
            self.poller.register(fd, select.POLLIN)

    # -- the candidate's process
    def kill(self, why):
        if self.killed is None:
            self.killed = why
        if self.report is None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass

    def take_output(self, fd, data):
        target = self.out if fd == self.r_out else self.err
        room = self.cap - len(target)
        if len(data) > room:
            self.truncated = True
            data = data[:max(room, 0)]
            self.kill("output")
        target += data

    def read_report(self):
        data = _ZS.recv(1 << 16)
        if not data:
            _exit(3)  # the zygote is gone: the executor replaces this worker
        self.report = json.loads(data)
        self.poller.unregister(_ZS.fileno())

    def pump(self, deadline):
        """Waits for I/O until `deadline` (None: do not wait); returns False when the deadline passed."""
        now = time.monotonic()
        wait = 0 if deadline is None else max(0, int((deadline - now) * 1000) + 1)
        events = self.poller.poll(wait)
        if not events:
            return deadline is None or time.monotonic() < deadline
        for fd, _ev in events:
            if fd == _ZS.fileno():
                self.read_report()
                continue
            data, eof = _read_available(fd)
            if data:
                if fd == self.chan:
                    self.buf += data
                else:
                    self.take_output(fd, data)
            if eof:
                self.poller.unregister(fd)
                self.open_fds.discard(fd)
        return True

    def frame(self):
        if len(self.buf) < 4:
            return None
        n = _U.unpack_from(self.buf, 0)[0]
        if n > _MAX_FRAME:
            self.kill("too large")
            self.wait_gone()
        if len(self.buf) < 4 + n:
            return None
        payload = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        return payload

    def wait_gone(self):
        """After the candidate ended or was killed: waits for the zygote's report, then raises _Gone."""
        limit = time.monotonic() + 5.0
        while self.report is None:
            if time.monotonic() > limit:
                self.kill(self.killed or "lost")
                limit = time.monotonic() + 5.0
            self.pump(time.monotonic() + 0.05)
        raise _Gone()

    def receive(self, deadline):
        """The candidate's next message, by `deadline` (then it is killed)."""
        while True:
            payload = self.frame()
            if payload is not None:
                try:
                    return _decode(payload, self.resolve)
                except _Malformed:
                    self.kill("malformed")
                    self.wait_gone()
            if self.report is not None or self.chan not in self.open_fds or self.killed is not None:
                if self.killed is None and self.report is None:
                    # The channel closed: usually the candidate is ending; give it a moment to.
                    end = time.monotonic() + self.grace
                    while self.report is None and time.monotonic() < end:
                        self.pump(end)
                    if self.report is None:
                        self.kill("closed")
                self.wait_gone()
            if not self.pump(deadline):
                self.kill("timeout")
                self.wait_gone()

    def send(self, obj):
        data = _frame(bytes(_encode(obj, _ref_of)))
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.chan, view)
            except BlockingIOError:
                if not self.pump(min(self.prog_deadline, self.test_deadline + self.grace)):
                    self.kill("timeout")
                    self.wait_gone()
                if self.report is not None or self.killed is not None:
                    self.wait_gone()
                continue
            except OSError:
                if self.killed is None:
                    self.kill("closed")
                self.wait_gone()
            view = view[n:]

    def exchange(self, msg):
        """Sends a request with the time left in the test (None: it was sent already) and waits for
        the answer, with SIGALRM blocked (the trusted side's own alarm is delivered when the answer
        is in)."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            if self.report is not None or self.killed is not None:
                self.wait_gone()
            if msg is not None:
                end = min(self.test_deadline, self.prog_deadline)
                msg["t"] = max(end - time.monotonic(), 0.001)
                self.send(msg)
            return self.receive(min(self.test_deadline + self.grace, self.prog_deadline))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def request(self, msg, name):
        try:
            r = self.exchange(msg)
        except _NotData as e:
            raise TypeError("rltf: an argument of %s is not plain data (%s)" % (name, _type_name(e)))
        return self.answer(r, name)

    def answer(self, r, name):
        if type(r) is not dict:
            raise NonDataError("%s: the candidate sent a malformed answer %r" % (name, r))
        if "r" in r:
            return r["r"]
        if "x" in r and type(r["x"]) is dict:
            raise _remote_exception(r["x"])
        if "to" in r:
            e = _Timeout()
            e.line = r["to"] if type(r["to"]) is int else None
            raise e
        if "ol" in r:
            raise _OutputLimit()
        if "nd" in r:
            return _NonDataResult("%s returned a non-data object (%s)" % (name, _clean(r["nd"], 100)))
        if "missing" in r:
            raise NameError("name '%s' is not defined" % name)
        raise NonDataError("%s: the candidate sent a malformed answer %r" % (name, r))

    def call(self, proxy, args, kwargs):
        try:
            r = self.exchange({"op": "call", "f": proxy, "a": args, "k": kwargs})
        except _NotData as e:
            raise TypeError("rltf: an argument of %s is not plain data (%s)" % (proxy._rltf_name, _type_name(e)))
        if type(r) is dict and "m" in r and "r" in r and type(r["m"]) in (list, tuple):
            _apply_mutations(args, r["m"])
        return self.answer(r, proxy._rltf_name)

    def resolve(self, tag, raw):
        if tag != 104:
            raise _Malformed("a name reference from the candidate")
        p = self.handles.get(raw)
        if p is None:
            p = self.handles[raw] = _Remote(b"h" + _U.pack(len(raw)) + raw, "object")
        return p

    # -- end of the job
    def finish(self):
        if self.report is None and self.killed is None:
            try:
                self.send({"op": "exit"})
            except _Gone:
                pass
            end = time.monotonic() + 0.1
            while self.report is None and time.monotonic() < end:
                self.pump(end)
        if self.report is None:
            self.kill(self.killed or "done")
            while self.report is None:
                self.pump(time.monotonic() + 1.0)
        # Everything of the candidate's is dead now: take what is left in the pipes.
        for fd in list(self.open_fds):
            data, _eof = _read_available(fd)
            if data and fd != self.chan:
                self.take_output(fd, data)


def _apply_mutations(args, after):
    """Arguments the candidate changed in place are changed here the same way."""
    for a, b in zip(args, after):
        ta = type(a)
        if ta is not type(b) or a == b:
            continue
        if ta is list:
            a[:] = b
        elif ta is dict or ta is set:
            a.clear()
            a.update(b)


def _type_name(e):
    what = e.args[0] if e.args else "?"
    return what.__name__ if isinstance(what, type) else str(what)


_S = None

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


def _trusted_classify(e):
    info = getattr(e, "_rltf_info", None)
    if info is not None:
        return dict(info)
    return _classify(e)


def _status_of(e, info):
    if isinstance(e, _Timeout):
        return "timeout"
    if isinstance(e, NonDataError):
        return "failed"
    if info["line"] is not None:
        return "error"
    if isinstance(e, AssertionError):
        return "failed"
    return "error"


def _on_trusted_alarm(signum, frame):
    # Once the candidate is gone, its end decides the test (the _Gone on its way must not be replaced).
    if _S is not None and (_S.killed is not None or _S.report is not None):
        return
    raise _Timeout()


def _run_job(job):
    global _JOBS, _S
    lim = job["limits"]
    tests = job["tests"]
    n = len(tests)
    t_test = float(lim["test"])
    grace = max(0.25, 0.1 * t_test)
    cap = int(lim["output"])
    stop = bool(lim.get("stop"))
    stdio = any(t["k"] == 2 for t in tests)
    apps = any(t["k"] != 0 for t in tests)
    _JOBS += 1
    tmp = os.path.join(_BASE, str(_JOBS))
    os.mkdir(tmp, 0o700)
    if _DROP:
        _chown(tmp, _UID, _GID)
    chan_w, chan_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    stdin_max = max([len(t["i"]) * 4 for t in tests if t["k"] == 2] + [0])
    t0 = time.monotonic()
    if _ISO.get("cgroup"):
        _cgroup_limit(lim)
    zjob = {"limits": lim, "tmp": tmp, "stdin_max": stdin_max}
    socket.send_fds(_ZS, [json.dumps(zjob).encode()], [chan_c.fileno(), w_out, w_err])
    chan_c.close()
    os.close(w_out)
    os.close(w_err)
    # A program of ordinary size goes out at once, into the empty channel's buffer: the candidate
    # finds it waiting once the zygote has forked it.
    load_msg = {"op": "load", "src": job["source"], "stdio": stdio, "apps": apps, "t": t_test}
    early = _frame(bytes(_encode(load_msg)))
    if len(early) <= 65536:
        chan_w.sendall(early)
        load_msg = None
    msg, fds, _flags, _addr = socket.recv_fds(_ZS, 1 << 16, 1)
    if not msg or len(fds) != 1:
        _exit(3)
    pid = json.loads(msg)["pid"]
    chan = chan_w.detach()
    for fd in (chan, r_out, r_err):
        os.set_blocking(fd, False)
    S = _S = _Session(pid, fds[0], chan, r_out, r_err, cap, t_test, grace, t0 + float(lim["program"]))

    statuses = ["not_run"] * n
    details = [""] * n
    infos = [None] * n
    load = None
    syntax = None
    done = False
    printed = io.StringIO()
    real_stdout = sys.stdout
    old_alarm = signal.signal(signal.SIGALRM, _on_trusted_alarm)
    # Test code that reads what the program wrote (`open('out.txt')`) sees the program's directory.
    _chdir(tmp)

    def arm(seconds):
        # The trusted side's own alarm (for its own code) rings after the candidate's, which says where
        # the candidate was when its time ran out.
        seconds += 0.5 * grace
        signal.setitimer(signal.ITIMER_REAL, max(min(seconds, S.prog_deadline - time.monotonic()), 0.001))

    try:
        S.test_deadline = t0 + t_test
        r = S.exchange(load_msg)
        if type(r) is dict and r.get("e") == "syntax":
            syntax = r
        elif type(r) is dict and r.get("e") == "load":
            load = r
        elif type(r) is not dict or r.get("e") != "l":
            S.kill("malformed")
            S.wait_gone()
        tns = _TrustedNS()
        tns["__builtins__"] = builtins
        tns["__name__"] = "__rltf_program__"
        kinds = r.get("names") if type(r) is dict else None
        kinds = {k: v for k, v in kinds.items() if type(k) is str and type(v) is str} if type(kinds) is dict else {}
        program_names = frozenset(kinds)
        shadow = frozenset(k for k in program_names if k in _BUILTINS)
        for k in shadow:
            dict.__setitem__(tns, "__rltf_program_" + k, _remote_name(k))
        # The program's functions and classes, and the modules it imported that the worker has too,
        # known from the start (no round trip per name); its data is fetched when a test reads it.
        for k, v in kinds.items():
            if k in _BUILTINS:
                continue
            if v == "f":
                dict.__setitem__(tns, k, _remote_name(k))
            elif v.startswith("m:") and v[2:] in sys.modules and sys.modules[v[2:]] is not None:
                dict.__setitem__(tns, k, sys.modules[v[2:]])
        sys.stdout = printed
        if syntax is None and load is None:
            # The trusted parts of the problem: the prompt's helpers and the setup code, run here.
            failed = None
            try:
                S.test_deadline = time.monotonic() + t_test
                arm(t_test)
                try:
                    prompt = job.get("prompt") or ""
                    if prompt.strip() and not stdio:
                        pcode, stubs, prompt_defs = _prompt_info(prompt)
                        if pcode is not None:
                            try:
                                exec(pcode, tns)
                            except Exception:
                                pass
                            for name in _candidate_definitions(stubs, prompt_defs, job["source"]):
                                tns.pop(name, None)
                                if kinds.get(name) == "f":
                                    dict.__setitem__(tns, name, _remote_name(name))
                    if job.get("setup"):
                        before = set(tns)
                        exec(_compile_trusted(job["setup"], "<setup>", shadow, program_names), tns)
                        # The setup's plain data (and objects of the program's classes) join the
                        # program's namespace too, as if the setup had run there (`PI = 3`).
                        shared = {k: v for k, v in tns.items() if k not in before and type(k) is str
                                  and not k.startswith("__") and not isinstance(v, types.ModuleType)}
                        if shared:
                            pushed = {}
                            for k, v in shared.items():
                                try:
                                    _encode(v, _ref_of)
                                    pushed[k] = v
                                except _NotData:
                                    pass
                            if pushed:
                                S.answer(S.exchange({"op": "define", "v": pushed}), "the setup")
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _Gone:
                raise
            except BaseException as e:
                info = _trusted_classify(e)
                if isinstance(e, _Timeout):
                    info = {"type": "TimeoutError", "msg": "loading the program exceeded %g s" % t_test,
                            "line": getattr(e, "line", info["line"])}
                failed = {"e": "load", "kind": "timeout" if isinstance(e, _Timeout) else "error", "x": info}
            if failed is not None:
                load = failed
        if syntax is None and load is None:
            fn_name = job.get("fn") or ""
            for i, t in enumerate(tests):
                if S.killed is not None or S.report is not None:
                    raise _Gone()  # the candidate ended during the previous test
                kind = t["k"]
                status, detail, info = "passed", "", None
                S.test_deadline = time.monotonic() + t_test
                try:
                    arm(t_test)
                    try:
                        if kind == 0:
                            exec(_compile_trusted(t["c"], "<test %d>" % i, shadow, program_names), tns)
                        elif kind == 1:
                            args = _json_args(t["i"])
                            expected = json.loads(t["e"])
                            out = S.request({"op": "callfn", "fn": fn_name, "a": args}, fn_name)
                            if not _call_equal(out, expected):
                                status = "failed"
                                detail = _clean("expected %r, got %r" % (expected, out), 300)
                        else:
                            ocap = 1 << max(20, (max(cap, 4 * len(t["e"]) + 65536) - 1).bit_length())
                            out = S.request({"op": "stdio", "in": t["i"], "cap": ocap}, "the program")
                            if type(out) is not str:
                                raise NonDataError("the program's output is not text")
                            if not _stdio_equal(out, t["e"]):
                                status = "failed"
                                detail = _clean("expected %r, got %r" % (t["e"][:120], out[:120]), 300)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                except _Gone:
                    raise
                except _OutputLimit:
                    status, info = "error", {"type": "OutputLimitExceeded",
                                             "msg": "the program printed more than %d bytes" % cap, "line": None}
                    detail = info["type"]
                except BaseException as e:
                    info = _trusted_classify(e)
                    status = _status_of(e, info)
                    if status == "timeout":
                        info = {"type": "TimeoutError", "msg": "test %d exceeded %g s" % (i, t_test),
                                "line": getattr(e, "line", info["line"])}
                    elif isinstance(e, NonDataError):
                        info = {"type": "NonDataError", "msg": info["msg"], "line": None}
                    detail = info["type"] + (": " + info["msg"] if info["msg"] else "")
                statuses[i], details[i], infos[i] = status, _clean(detail, 300), info
                if stop and status != "passed":
                    break
        done = True
    except _Gone:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        sys.stdout = real_stdout
        _S = None
        _chdir(_CWD)
    S.finish()
    p = printed.getvalue()
    if p:
        S.take_output(S.r_out, p.encode("utf-8", "replace"))
    rep = S.report
    status = rep["status"]
    wall = time.monotonic() - t0
    for fd in (chan, r_out, r_err, S.pidfd):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        _rmdir(tmp)  # usually empty
    except OSError:
        _rmtree(tmp)

    killed = S.killed
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
            # The candidate did not finish: a limit killed it, it crashed, or the program ended the process.
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            if killed == "timeout":
                kind, info = "timeout", {"type": "TimeoutError", "line": None,
                                         "msg": "wall-clock limit exceeded (%.3g s)" % wall}
            elif killed == "output":
                kind, info = "error", {"type": "OutputLimitExceeded", "line": None,
                                       "msg": "the program wrote more than %d bytes of output" % cap}
            elif killed == "too large":
                kind, info = "error", {"type": "ProtocolError", "line": None,
                                       "msg": "the candidate's answer is over %d bytes" % _MAX_FRAME}
            elif killed == "malformed":
                kind, info = "error", {"type": "ProtocolError", "line": None,
                                       "msg": "the candidate sent malformed data on the result channel"}
            elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and rep["cpu"] >= float(lim["cpu"])):
                kind, info = "timeout", {"type": "TimeoutError", "line": None, "msg": "CPU time limit exceeded"}
            elif sig and killed is None:
                try:
                    signame = signal.Signals(sig).name
                except ValueError:
                    signame = "signal %d" % sig
                kind, info = "error", {"type": "Killed", "line": None, "msg": "killed by " + signame, "signal": sig}
            elif killed == "closed" and not os.WIFEXITED(status):
                kind, info = "error", {"type": "ProtocolError", "line": None,
                                       "msg": "the candidate closed its result channel"}
            else:
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
                kind, info = "error", {"type": "SystemExit", "line": None,
                                       "msg": "the process exited with status %d before its tests finished" % code}
            pending = [i for i in range(n) if statuses[i] == "not_run"]
            stopped = stop and any(st != "passed" for st in statuses)
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
        "stdout": S.out.decode("utf-8", "replace"),
        "stderr": S.err.decode("utf-8", "replace"),
        "truncated": S.truncated,
        "wall": wall,
        "maxrss": rep.get("maxrss", 0),
        "net": _NET,
        "iso": _ISO,
    }


def _main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _send({"hello": True, "pid": _ME, "net": _NET, "drop": _DROP, "python": sys.version.split()[0], "base": _BASE,
           "iso": _ISO, "cgroup": _CGROUP or "", "helpers": _HELPERS})
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
    _ZS.close()
    try:
        os.waitpid(_ZPID, 0)
    except ChildProcessError:
        pass
    _rmtree(_BASE)
    if _CGROUP is not None:
        for _ in range(100):
            try:
                _rmdir(_CGROUP)
                break
            except OSError:
                time.sleep(0.01)


_ZS, _ZPID, _ISO = _start_zygote()
_main()
