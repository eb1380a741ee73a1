"""Program analysis of generated API code (Gorilla's AST criterion, StaticJudge). Internal; see
rltf/judge/gorilla_check.hpp and docs/rlaif.md.

It runs only inside rltf::PythonExecutor's sandbox, as the *program* of a job: the C++ side appends
one call to this file, with its data as JSON literals. Two kinds of job:

  analysis  _rltf_spec(db) / _rltf_parse_calls(texts) / _rltf_analyse(code, modules): the candidate
            code is data here. It is parsed (ast, symtable-free pyflakes), never executed, so what
            the job prints (one line, "\\x01RLTF " + JSON) can be trusted.
  execution _rltf_install(spec) followed by the candidate code: fake modules of the API library
            (generated from the database) are installed, then the candidate runs; the executor's
            own outcome (pass / runtime_error / syntax_error / timeout) says whether it ran to
            completion. Its output is never read.

This file is embedded into the generated header rltf/judge/detail/gorilla_script.hpp at configure
time (cmake/RltfEmbed.cmake); edit it here."""

import ast
import json
import re
import sys

_MARK = "\x01RLTF "
_FETCHERS = ("from_pretrained",)


def _emit(value):
    sys.stdout.write(_MARK + json.dumps(value) + "\n")
    sys.stdout.flush()


def _parse(text):
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _string_constants(tree):
    """Names assigned exactly one string constant (and nothing else) anywhere in the tree."""
    values, bad = {}, set()
    for node in ast.walk(tree):
        targets, value = [], None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, (ast.AugAssign, ast.For, ast.With)):
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    bad.add(n.id)
            continue
        for t in targets:
            if isinstance(t, ast.Name):
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and t.id not in values:
                    values[t.id] = value.value
                else:
                    bad.add(t.id)
            else:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        bad.add(n.id)
    return {k: v for k, v in values.items() if k not in bad}


def _value(node, consts):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    return ast.unparse(node)


def _plain_callee(func):
    """The dotted text of a callee made of names and attributes only, else None."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    parts.append(func.id)
    return ".".join(reversed(parts))


def _model_ids(callee, call, consts):
    """String model ids a call fetches: X.from_pretrained(id), pipeline(task, model=id)."""
    ids = []
    last = callee.rsplit(".", 1)[-1]

    def take(node):
        v = _value(node, consts) if node is not None else None
        if isinstance(node, (ast.Constant, ast.Name)) and isinstance(v, str) and v != ast.unparse(node):
            ids.append(v)

    kw = {k.arg: k.value for k in call.keywords if k.arg}
    if last in _FETCHERS:
        take(call.args[0] if call.args else kw.get("pretrained_model_name_or_path"))
    elif last == "pipeline":
        take(call.args[1] if len(call.args) > 1 else kw.get("model"))
    return ids


def _calls(tree):
    consts = _string_constants(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _plain_callee(node.func)
        if callee is None:
            continue
        args = [_value(a, consts) for a in node.args if not isinstance(a, ast.Starred)]
        args += [_value(k.value, consts) for k in node.keywords if k.arg]
        out.append({"func": callee, "args": args, "ids": _model_ids(callee, node, consts),
                    "line": getattr(node, "lineno", 0)})
    return out


def _reference_call(text):
    """The API call of a database api_call: its first call (breadth first) with a plain callee."""
    tree = _parse(text.strip())
    if tree is None:
        return None
    for c in _calls(tree):
        return {"func": c["func"], "args": c["args"], "ids": c["ids"]}
    return None


def _rltf_parse_calls(texts):
    _emit([_reference_call(t) for t in texts])


# ----------------------------------------------------------------------------------------------
# The stub library's specification, from the API database.


def _imports(tree):
    """(alias -> module) and (module -> imported names) of a tree's absolute imports."""
    alias, names = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                for i in range(1, len(parts) + 1):
                    names.setdefault(".".join(parts[:i]), set())
                for i in range(1, len(parts)):
                    names[".".join(parts[:i])].add(parts[i])
                alias[a.asname or parts[0]] = a.name if a.asname else parts[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            for i in range(1, len(parts) + 1):
                names.setdefault(".".join(parts[:i]), set())
            for i in range(1, len(parts)):
                names[".".join(parts[:i])].add(parts[i])
            for a in node.names:
                if a.name != "*":
                    names[node.module].add(a.name)
                    alias[a.asname or a.name] = None  # a name, not a module
    return alias, names


def _rltf_spec(db):
    """db: [{"api_call", "api_name", "example_code", "framework"}] -> {"modules": {m: [names]}, "ids": [...]}."""
    std = set(sys.stdlib_module_names)
    modules, ids = {}, set()

    def add(module, name=None):
        if module.split(".")[0] in std:
            return
        modules.setdefault(module, set())
        if name:
            modules[module].add(name)

    for rec in db:
        ids.add(rec["api_name"])
        trees = []
        for text in (rec.get("example_code") or "", rec["api_call"]):
            t = _parse(text)
            if t is not None:
                trees.append(t)
        alias = {}
        # Example code is often not valid Python (prose, shell lines, >>> prompts): its import lines
        # and from_pretrained ids are read line by line as well.
        for line in (rec.get("example_code") or "").replace("\\n", "\n").splitlines():
            t = _parse(line.strip())
            if t is not None:
                trees.append(t)
            for mid in re.findall(r"(?:from_pretrained|pipeline)\(\s*(?:[\w-]+\s*,\s*)?(?:model\s*=\s*)?['\"]([^'\"]+)['\"]", line):
                ids.add(mid)
        for t in trees:
            a, n = _imports(t)
            alias.update(a)
            for m, ns in n.items():
                add(m)
                for x in ns:
                    add(m, x)
            for c in _calls(t):
                ids.update(c["ids"])
            for node in ast.walk(t):  # module.attribute uses: torch.no_grad, np.argmax
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    m = alias.get(node.value.id)
                    if m:
                        add(m, node.attr)
        ref = _reference_call(rec["api_call"])
        if ref is not None:
            ids.update(ref["ids"])
            root = ref["func"].split(".")[0]
            if root in alias and alias[root]:
                add(alias[root], ref["func"].split(".")[1] if "." in ref["func"] else None)
            elif not any(root in ns for ns in modules.values()):
                # A class or function the example does not import: the framework's library.
                add("transformers", root)
    for m in list(modules):  # parents of submodules know them
        parts = m.split(".")
        for i in range(1, len(parts)):
            add(".".join(parts[:i]), parts[i])
    _emit({"modules": {m: sorted(ns) for m, ns in sorted(modules.items())}, "ids": sorted(i for i in ids if i)})


# ----------------------------------------------------------------------------------------------
# Analysis of one candidate (never executed here).


def _import_problems(tree, modules):
    import importlib.util
    std = set(sys.stdlib_module_names)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            problems.append("line %d: relative import" % node.lineno)
            continue
        if isinstance(node, ast.Import):
            wanted = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            wanted = [(node.module, a.name) for a in node.names]
        else:
            continue
        for module, name in wanted:
            top = module.split(".")[0]
            if top in modules or any(m.startswith(top + ".") for m in modules):
                if module not in modules:
                    problems.append("line %d: no module %s in the API database" % (node.lineno, module))
                elif name not in (None, "*") and name not in modules[module] and module + "." + name not in modules:
                    problems.append("line %d: %s has no %s in the API database" % (node.lineno, module, name))
            elif top in std:
                try:
                    mod = __import__(module, fromlist=["_"])
                except ImportError:
                    problems.append("line %d: no module %s" % (node.lineno, module))
                    continue
                if name not in (None, "*") and not hasattr(mod, name) and \
                        importlib.util.find_spec(module + "." + name) is None:
                    problems.append("line %d: %s has no %s" % (node.lineno, module, name))
            elif importlib.util.find_spec(top) is None:
                problems.append("line %d: no module %s on this machine or in the API database" % (node.lineno, top))
    return problems


def _incomplete(tree, code):
    import io
    import tokenize
    why = []
    body = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) and
            not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))]
    if not body:
        why.append("no statement beyond imports")
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis:
            why.append("line %d: ... placeholder" % node.lineno)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stmts = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if all(isinstance(s, ast.Pass) for s in stmts):
                why.append("line %d: %s has an empty body" % (node.lineno, node.name))
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                why.append("line %d: raises NotImplementedError" % node.lineno)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT and any(w in tok.string.upper() for w in ("TODO", "FIXME", "XXX")):
                why.append("line %d: %s" % (tok.start[0], tok.string.strip()[:60]))
    except (tokenize.TokenError, SyntaxError):
        why.append("cannot tokenize")
    return why


def _undefined(code):
    from pyflakes import api, messages

    class Collect:
        def __init__(self):
            self.found = []

        def unexpectedError(self, filename, msg):
            self.found.append(str(msg))

        def syntaxError(self, filename, msg, lineno, offset, text):
            self.found.append("line %s: %s" % (lineno, msg))

        def flake(self, m):
            if isinstance(m, (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)):
                self.found.append("line %d: %s" % (m.lineno, m.message % m.message_args))

    r = Collect()
    api.check(code, "<candidate>", r)
    return r.found


def _rltf_analyse(code, modules):
    out = {"syntax": None, "truncated": False, "imports": [], "undefined": [], "incomplete": [], "calls": []}
    try:
        compile(code, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        line = getattr(e, "lineno", None) or 0
        last = len(code.rstrip().splitlines())
        out["syntax"] = "line %d: %s" % (line, getattr(e, "msg", str(e)))
        out["truncated"] = line >= last
        out["incomplete"] = ["does not compile"]
        _emit(out)
        return
    tree = ast.parse(code)
    out["imports"] = _import_problems(tree, {m: set(ns) for m, ns in modules.items()})
    out["undefined"] = _undefined(code)
    out["incomplete"] = _incomplete(tree, code)
    out["calls"] = _calls(tree)
    _emit(out)


# ----------------------------------------------------------------------------------------------
# The stub library, installed before a candidate runs.


def _rltf_install(spec):
    import importlib.abc
    import importlib.machinery
    import types

    modules = {m: frozenset(ns) for m, ns in spec["modules"].items()}
    known_ids = frozenset(spec["ids"])
    tops = {m.split(".")[0] for m in modules}

    def check_id(what, name):
        if isinstance(name, str) and name not in known_ids:
            raise OSError("%s: '%s' is not a model of the API database" % (what, name))

    class Value:
        """A permissive result: any attribute, call, index or arithmetic gives another Value."""

        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Value()

        def __call__(self, *args, **kwargs):
            return Value()

        def __getitem__(self, key):
            return Value()

        def __setitem__(self, key, value):
            pass

        def __delitem__(self, key):
            pass

        def __iter__(self):
            return iter(())

        def __len__(self):
            return 0

        def __bool__(self):
            return True

        def __int__(self):
            return 0

        def __index__(self):
            return 0

        def __float__(self):
            return 0.0

        def __round__(self, n=None):
            return 0

        def __str__(self):
            return "<stub>"

        def __repr__(self):
            return "<stub>"

        def __format__(self, spec):
            try:
                return format(0.0, spec)
            except (ValueError, TypeError):
                return "<stub>"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __contains__(self, item):
            return False

        def __lt__(self, other):
            return False

        __le__ = __gt__ = __ge__ = __lt__

    def _arith(self, *other):
        return Value()

    for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
               "lshift", "rshift"):
        setattr(Value, "__%s__" % op, _arith)
        setattr(Value, "__r%s__" % op, _arith)
    for op in ("neg", "pos", "abs", "invert"):
        setattr(Value, "__%s__" % op, _arith)

    class Meta(type):
        def __getattr__(cls, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Value()

    def make(module, name):
        if name == "pipeline":
            def pipeline(*args, **kwargs):
                check_id("pipeline", args[1] if len(args) > 1 else kwargs.get("model"))
                return Value()
            return pipeline

        def from_pretrained(cls, *args, **kwargs):
            check_id(name + ".from_pretrained", args[0] if args else kwargs.get("pretrained_model_name_or_path"))
            return cls()

        return Meta(name, (Value,), {"from_pretrained": classmethod(from_pretrained), "__module__": module})

    class StubModule(types.ModuleType):
        def __getattr__(self, name):
            full = self.__name__ + "." + name
            if full in modules:
                return __import__(full, fromlist=["_"])
            if name in modules[self.__name__] and not name.startswith("__"):
                obj = make(self.__name__, name)
                setattr(self, name, obj)
                return obj
            raise AttributeError("module '%s' has no attribute '%s' (not in the API database)" % (self.__name__, name))

    class Loader(importlib.abc.Loader):
        def create_module(self, s):
            m = StubModule(s.name)
            m.__path__ = []
            m.__all__ = sorted(n for n in modules[s.name] if self_name_ok(n))
            return m

        def exec_module(self, module):
            pass

    def self_name_ok(n):
        return not n.startswith("_")

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname in modules:
                return importlib.machinery.ModuleSpec(fullname, Loader(), is_package=True)
            if fullname.split(".")[0] in tops:
                raise ModuleNotFoundError("No module named '%s' (not in the API database)" % fullname, name=fullname)
            return None

    for m in list(sys.modules):
        if m.split(".")[0] in tops:
            del sys.modules[m]
    sys.meta_path.insert(0, Finder())
