#!/usr/bin/python3
"""Derives deny candidates from the libraries the allow list trusts.

Walks the importable modules of each library and the standard library (bounded by a per-module alarm and a global
deadline), disassembles every function and method with `dis`, resolves the global and attribute chains it loads
(`os.system`, `subprocess.Popen`, a helper of the same package…) and keeps a call graph. A callable is a candidate
when it reaches a sink transitively; the reason is the path to the sink. Classes whose constructor and pickle hooks
reach no sink are proposed as allow candidates (classes only: functions are never bulk-allowed).

Run with Debian's interpreter:  /usr/bin/python3 tools/derive-rules/derive.py 600 tools/derive-rules/candidates.json
A third argument walks only the libraries named (comma-separated), e.g. to add the allow candidates of a library
installed later; tools/derive-rules/merge-allow.py folds its classes into candidates.json.
"""
import dis, importlib, inspect, json, pkgutil, signal, sys, time, types, warnings

LIBRARIES = ["torch", "torchvision", "numpy", "scipy", "pandas", "sklearn", "joblib", "xgboost", "statsmodels",
             "skimage", "dill", "cloudpickle", "onnx", "yaml",
             # not trusted today; walked for allow candidates (benign breadth set)
             "gensim", "networkx", "nltk", "sympy", "astropy", "imblearn"]
STDLIB = ["os", "shutil", "subprocess", "pickle", "pickletools", "copyreg", "importlib", "logging", "doctest", "pdb",
          "code", "codeop", "runpy", "pydoc", "timeit", "trace", "cProfile", "profile", "zipfile", "tarfile",
          "tempfile", "pathlib", "urllib", "http", "socket", "ftplib", "smtplib", "webbrowser", "ctypes", "shelve",
          "multiprocessing", "concurrent", "asyncio", "distutils", "venv", "ensurepip", "idlelib", "xmlrpc", "imaplib",
          "telnetlib", "site", "sysconfig", "platform", "zipimport", "pkgutil", "functools", "operator", "builtins"]
SINKS = {
    "builtins.exec": "runs code (exec)", "builtins.eval": "runs code (eval)", "builtins.compile": "compiles code",
    "builtins.__import__": "imports a module by name", "importlib.import_module": "imports a module by name",
    "os.system": "spawns a shell", "os.popen": "spawns a shell", "os.execv": "replaces the process",
    "os.execve": "replaces the process", "os.execl": "replaces the process", "os.execvp": "replaces the process",
    "os.spawnv": "spawns a process", "os.spawnl": "spawns a process", "os.posix_spawn": "spawns a process",
    "os.fork": "forks the process", "os.remove": "deletes a file", "os.unlink": "deletes a file",
    "os.rmdir": "deletes a folder", "os.removedirs": "deletes folders", "os.rename": "moves a file",
    "os.replace": "moves a file", "os.write": "writes a file", "os.kill": "signals a process",
    "shutil.rmtree": "deletes a folder tree", "shutil.move": "moves files", "shutil.copyfile": "writes a file",
    "shutil.copy": "writes a file", "shutil.copytree": "writes files",
    "subprocess.Popen": "spawns a process", "subprocess.run": "spawns a process", "subprocess.call": "spawns a process",
    "subprocess.check_call": "spawns a process", "subprocess.check_output": "spawns a process",
    "socket.socket": "opens a socket", "socket.create_connection": "opens a socket",
    "urllib.request.urlopen": "downloads from a URL", "urllib.request.urlretrieve": "downloads from a URL",
    "http.client.HTTPConnection": "opens an HTTP connection", "http.client.HTTPSConnection": "opens an HTTP connection",
    "pickle.load": "unpickles a nested stream", "pickle.loads": "unpickles a nested stream",
    "pickle.Unpickler": "unpickles a nested stream", "marshal.loads": "loads code objects",
    "torch.load": "loads a nested torch checkpoint (pickle)", "numpy.load": "loads a file, pickles allowed on request",
    "joblib.load": "loads a nested joblib pickle", "ctypes.CDLL": "loads a native library",
    "ctypes.cdll": "loads a native library", "ctypes.PyDLL": "loads a native library",
}
MODULE_DEADLINE_S = 8
ROOT_DEADLINE_S = 60
TOTAL_DEADLINE_S = float(sys.argv[1]) if len(sys.argv) > 1 else 600
MAX_MODULES_PER_LIBRARY = 2500
MAX_DEPTH = 6


class Timeout(Exception):
    pass


def on_alarm(*_):
    raise Timeout()


def walk(root, started):
    """Imports a library and its submodules, each under an alarm; yields loaded modules."""
    names = [root]
    try:
        signal.alarm(ROOT_DEADLINE_S)  # a library's first import loads its dependencies too
        package = importlib.import_module(root)
        signal.alarm(0)
    except BaseException:
        signal.alarm(0)
        return
    if hasattr(package, "__path__"):
        try:
            names += [m.name for m in pkgutil.walk_packages(package.__path__, root + ".", onerror=lambda _: None)]
        except BaseException:
            pass
    for name in names[:MAX_MODULES_PER_LIBRARY]:
        if time.time() - started > TOTAL_DEADLINE_S:
            return
        if any(part in ("tests", "test", "testing", "conftest", "__main__") for part in name.split(".")[1:]):
            continue
        try:
            signal.alarm(MODULE_DEADLINE_S)
            yield importlib.import_module(name)
        except BaseException:
            pass
        finally:
            signal.alarm(0)


def qualname_of(obj):
    try:
        return _qualname_of(obj)
    except BaseException:
        return None  # torch's lazy class proxies raise on attribute access


def _qualname_of(obj):
    module = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(module, str) and isinstance(qual, str) and "<" not in qual:
        return f"{module}.{qual}"
    return None


def code_objects(code, depth=0):
    yield code
    if depth < 4:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from code_objects(const, depth + 1)


def references(func, module):
    """Dotted names a function's code loads: globals resolved through its module, then attribute chains."""
    out = set()
    code = getattr(func, "__code__", None)
    if code is None:
        return out
    env = getattr(func, "__globals__", vars(module))
    for co in code_objects(code):
        chain = None
        for ins in dis.get_instructions(co):
            op = ins.opname
            if op in ("LOAD_GLOBAL", "LOAD_NAME"):
                name = ins.argval
                value = env.get(name, getattr(__builtins__, name, None) if name in dir(__builtins__) else None)
                if value is None:
                    chain = None
                    continue
                chain = "builtins." + name if name in dir(__builtins__) and name not in env else qualname_of(value)
                if chain:
                    out.add(chain)
            elif op in ("LOAD_ATTR", "LOAD_METHOD") and chain:
                chain = f"{chain}.{ins.argval}"
                out.add(chain)
            elif op == "IMPORT_NAME":
                chain = ins.argval
                out.add(chain)
            elif op == "IMPORT_FROM" and chain:
                out.add(f"{chain}.{ins.argval}")
            else:
                chain = None
    return out


def resolve_alias(name, seen_modules):
    """`np.load` spelled through a module object resolves to its defining function (`numpy.lib.npyio.load`)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = seen_modules.get(".".join(parts[:i]))
        if module is None:
            continue
        obj = module
        for attr in parts[i:]:
            try:
                obj = getattr(obj, attr, None)
            except BaseException:
                return name
            if obj is None:
                return name
        return qualname_of(obj) or name
    return name


def collect(started):
    graph, classes, modules = {}, {}, {}
    for root in LIBRARIES + STDLIB:
        for module in walk(root, started):
            modules[module.__name__] = module
            try:
                signal.alarm(MODULE_DEADLINE_S)
                collect_module(module, graph, classes)
            except BaseException:
                pass  # a lazy attribute that fails to load, or a module too slow to read: left out
            finally:
                signal.alarm(0)
    return graph, classes, modules


def collect_module(module, graph, classes):
    if True:
        if True:
            for attr, obj in list(vars(module).items()):
                if getattr(obj, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(obj):
                    graph.setdefault(qualname_of(obj), references(obj, module))
                elif inspect.isclass(obj):
                    classes[qualname_of(obj)] = obj
                    for member in vars(obj).values():
                        fn = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                        if inspect.isfunction(fn):
                            graph.setdefault(qualname_of(fn), references(fn, module))


def reaching(graph, modules):
    """callable → [path to a sink], by bounded fixpoint over the call graph."""
    edges = {caller: {resolve_alias(c, modules) for c in callees} | callees for caller, callees in graph.items()}
    path = {s: [s] for s in SINKS}
    for _ in range(MAX_DEPTH):
        changed = False
        for caller, callees in edges.items():
            if caller in path:
                continue
            for callee in sorted(callees):
                if callee in path and caller not in path:
                    path[caller] = [caller] + path[callee]
                    changed = True
        if not changed:
            break
    return {k: v for k, v in path.items() if k not in SINKS}


def main():
    global LIBRARIES
    if len(sys.argv) > 3:
        LIBRARIES = sys.argv[3].split(",")
    signal.signal(signal.SIGALRM, on_alarm)
    warnings.simplefilter("ignore")
    started = time.time()
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    sys.stdout = sys.stderr  # libraries print while they import
    graph, classes, modules = collect(started)
    graph.pop(None, None)
    classes.pop(None, None)
    path = reaching(graph, modules)
    deny = [{"callable": name, "sink": SINKS[p[-1]], "path": p} for name, p in sorted(path.items())
            if not name.split(".")[-1].startswith("__")]
    allow = []
    for name, cls in sorted(classes.items()):
        if not name or name.split(".")[0] not in LIBRARIES:
            continue
        hooks = [f"{name}.{h}" for h in ("__init__", "__new__", "__setstate__", "__reduce__", "__reduce_ex__")
                 if h in vars(cls)]
        if any(h in path for h in hooks) or name in path:
            continue
        allow.append({"class": name, "hooks": hooks})
    json.dump({"generated_by": "tools/derive-rules/derive.py", "python": sys.version.split()[0],
               "libraries": {r: getattr(modules.get(r), "__version__", None) for r in LIBRARIES if r in modules},
               "functions_scanned": len(graph), "deny_candidates": deny, "allow_candidates": allow},
              out, indent=1)


if __name__ == "__main__":
    main()
