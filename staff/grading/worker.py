"""Runs inside the sandbox: import the submission, run each probe, write the raw values.

    python -I worker.py SPEC_JSON OUT_DIR

This process is untrusted: it runs the submission's code. It only computes. For check
``i`` it writes ``values-i.npz`` (arrays) and ``values-i.json`` (everything else), or
``error-i.json`` when the student call raised. Whatever it writes is data that the
grader compares with its own reference values; nothing here decides a score.
"""
import importlib
import json
import os
import sys
import traceback

SANDBOX = os.path.dirname(os.path.abspath(__file__))


def _isolate_imports():
    # Editable installs hook "cs231n" to the grader's checkout; only the sandbox's copy counts.
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if "editable" not in (getattr(finder, "__module__", "") + type(finder).__name__).lower()]
    sys.path.insert(0, SANDBOX)


class Package:
    """The package under test, imported lazily so that an import error fails only the
    checks that need that module."""

    modules = {"layers": "cs231n.layers", "optim": "cs231n.optim", "solver": "cs231n.solver",
               "fc_net": "cs231n.classifiers.fc_net", "cnn": "cs231n.classifiers.cnn"}

    def __init__(self):
        self._notebooks = {}

    def __getattr__(self, name):
        if name not in self.modules:
            raise AttributeError(name)
        module = importlib.import_module(self.modules[name])
        location = os.path.realpath(getattr(module, "__file__", "") or "")
        if not location.startswith(os.path.realpath(SANDBOX) + os.sep):
            raise ImportError(f"{self.modules[name]} was loaded from outside the submission")
        return module

    def notebook(self, name, namespace):
        from tools import notebook_defs

        if name not in self._notebooks:
            path = os.path.join(SANDBOX, name)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"the submission has no {name}")
            self._notebooks[name] = notebook_defs.load_definitions(path, dict(namespace))
        return self._notebooks[name]

    def notebook_models(self, name, namespace):
        from tools import notebook_defs

        return notebook_defs.models_built_in_cells(os.path.join(SANDBOX, name), namespace)


def _describe(error):
    """The exception and the innermost frame that belongs to the submission: its package
    in this sandbox or a notebook's cell (never the grader's Python, whose path may hold
    the word cs231n too)."""
    frames = traceback.extract_tb(error.__traceback__)
    package = os.path.join(SANDBOX, "cs231n") + os.sep
    ours = [frame for frame in frames if frame.filename.startswith(package) or frame.filename.endswith(".ipynb")]
    where = ""
    if ours:
        frame = ours[-1]
        name = frame.filename.split(SANDBOX + os.sep)[-1]
        where = f" (at {name}, line {frame.lineno}, in {frame.name}: {(frame.line or '').strip()[:120]})"
    message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}{where}" if message else f"{type(error).__name__}{where}"


def _write_atomically(path, write):
    temporary = path + ".partial"
    write(temporary)
    os.replace(temporary, path)


def _save(out_dir, index, values):
    import numpy as np

    if not isinstance(values, dict):
        raise TypeError("a probe must return a dict")
    arrays, others = {}, {}
    for key, value in values.items():
        try:
            array = np.asarray(value)
        except ValueError:  # ragged lists, such as a list of shapes, travel as JSON
            array = None
        if value is not None and array is not None and array.dtype.kind in "biuf":
            arrays[key] = array
        else:
            others[key] = value
    _write_atomically(os.path.join(out_dir, f"values-{index}.json"),
                      lambda path: json.dump(others, open(path, "w"), default=_json_default))
    _write_atomically(os.path.join(out_dir, f"values-{index}.npz"),
                      lambda path: np.savez(open(path, "wb"), **arrays))


def _json_default(value):
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    return repr(value)


def main():
    spec_path, out_dir = sys.argv[1], sys.argv[2]
    _isolate_imports()
    with open(spec_path) as handle:
        spec = json.load(handle)
    import numpy as np

    import probes

    package = Package()
    probes.forward_budget = spec.get("forward_seconds")
    for check in spec["checks"]:
        index = check["index"]
        rng = np.random.default_rng([spec["seed"], index])
        np.random.seed(spec["seed"] % 2**31)
        try:
            values = getattr(probes, check["probe"])(package, rng, **check["params"])
            _save(out_dir, index, values)
        except BaseException as error:  # SystemExit and KeyboardInterrupt fail one check too
            report = {"error": _describe(error)}
            _write_atomically(os.path.join(out_dir, f"error-{index}.json"),
                              lambda path: json.dump(report, open(path, "w")))


if __name__ == "__main__":
    main()
