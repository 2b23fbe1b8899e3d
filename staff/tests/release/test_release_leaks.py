"""Behavioural leak scan of the starter release: no function it ships outside a task region
computes what a task computes.

The release is built once. A subprocess that sees only the release (``python -I`` with the
release folder first on sys.path, so the editable install of the solution's ``cs231n`` is
never reached) imports every module of its ``cs231n`` package (the given fast layers
excepted), its ``tests/*.py`` and root ``conftest.py``, and the top-level definitions of its
notebooks, and calls every function it finds on the inputs of each array-only task. A
function whose result (or the first element of the tuple it returns) equals the solution's
answer on those inputs is a leaked reference implementation: of the task itself, or of a
piece a student could lift (a vectorized loss, an update rule, a normalization).

The task functions of the release raise NotImplementedError, and so does everything that
calls them (the layer_utils sandwiches, the models), so only code outside the regions can
match. A planted reference implementation checks that the scan catches what it should.
"""
import copy
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cs231n import layers, optim

# Modules of the release's package that are given, compiled code, not task material.
EXCEPTED_MODULES = ("cs231n.fast_layers", "cs231n.im2col_cython")
# Seconds one call may take before the scan gives up on it, and for the whole scan.
PER_CALL_SECONDS = 2.0
SCAN_TIMEOUT_SECONDS = 600


def task_inputs():
    """{task name: (solution function, positional inputs)} for every array-only task.

    Drawn with a fixed generator, with shifted and scaled values, so that no answer is the
    input itself, all zeros, or a value a constant function could return.
    """
    rng = np.random.default_rng(20260)

    def normal(*shape, scale=1.0, shift=0.0):
        return scale * rng.standard_normal(shape) + shift

    labels = rng.integers(0, 5, size=7)
    tasks = {
        "affine_forward": (layers.affine_forward, (normal(4, 3, 2), normal(6, 5), normal(5))),
        "relu_forward": (layers.relu_forward, (normal(4, 6),)),
        "svm_loss": (layers.svm_loss, (normal(7, 5, scale=2.0), labels)),
        "softmax_loss": (layers.softmax_loss, (normal(7, 5, scale=2.0), labels)),
        "batchnorm_forward (train)": (layers.batchnorm_forward,
                                      (normal(8, 4, scale=3.0, shift=2.0), normal(4), normal(4), {"mode": "train"})),
        "batchnorm_forward (test)": (layers.batchnorm_forward,
                                     (normal(8, 4, scale=3.0, shift=2.0), normal(4), normal(4),
                                      {"mode": "test", "running_mean": normal(4), "running_var": normal(4) ** 2 + 0.5})),
        "layernorm_forward": (layers.layernorm_forward,
                              (normal(5, 6, scale=3.0, shift=-1.0), normal(6), normal(6), {})),
        "dropout_forward": (layers.dropout_forward, (normal(6, 7, shift=3.0), {"mode": "train", "p": 0.6, "seed": 3})),
        "spatial_batchnorm_forward": (layers.spatial_batchnorm_forward,
                                      (normal(2, 3, 4, 4, scale=2.0, shift=1.0), normal(3), normal(3), {"mode": "train"})),
        "spatial_groupnorm_forward": (layers.spatial_groupnorm_forward,
                                      (normal(2, 6, 3, 2, scale=2.0, shift=1.0), normal(1, 6, 1, 1),
                                       normal(1, 6, 1, 1), 2, {})),
        "conv_forward_naive": (layers.conv_forward_naive,
                               (normal(2, 3, 5, 5), normal(4, 3, 3, 3), normal(4), {"stride": 2, "pad": 1})),
        "max_pool_forward_naive": (layers.max_pool_forward_naive,
                                   (normal(2, 3, 4, 6), {"pool_height": 2, "pool_width": 2, "stride": 2})),
    }
    w, dw = normal(4, 5), normal(4, 5)
    rules = {
        "sgd_momentum": (optim.sgd_momentum, {"learning_rate": 0.05, "velocity": normal(4, 5)}),
        "sgd_nesterov_momentum": (optim.sgd_nesterov_momentum, {"learning_rate": 0.05, "velocity": normal(4, 5)}),
        "adagrad": (optim.adagrad, {"learning_rate": 0.05, "cache": normal(4, 5) ** 2 + 0.1}),
        "rmsprop": (optim.rmsprop, {"learning_rate": 0.05, "cache": normal(4, 5) ** 2 + 0.1}),
        "adam": (optim.adam, {"learning_rate": 0.05, "m": normal(4, 5), "v": normal(4, 5) ** 2 + 0.1, "t": 5}),
    }
    for name, (rule, config) in rules.items():
        tasks[name] = (rule, (w, dw, config))
    return tasks


def arrays_of(value):
    """The arrays a task returns that a leak could reproduce: the first element of its
    tuple (output, loss or new weights) and any other array in it (a loss's gradient);
    caches and configs are left out."""
    if not isinstance(value, tuple):
        return [np.asarray(value, dtype=float)]
    first, rest = value[0], value[1:]
    return [np.asarray(first, dtype=float)] + [item.astype(float) for item in rest if isinstance(item, np.ndarray)]


def is_trivial(answer, inputs):
    """True when a function could produce ``answer`` without computing anything."""
    if answer.size > 1 and np.all(answer == answer.flat[0]):
        return True
    return any(isinstance(item, np.ndarray) and item.shape == answer.shape and np.allclose(item, answer)
               for item in inputs)


def solution_answers():
    """{task: (inputs, [expected arrays])}, computed with the solution on copies of the inputs."""
    answers = {}
    for name, (function, inputs) in task_inputs().items():
        expected = arrays_of(function(*copy.deepcopy(inputs)))
        # The inputs must make every answer non-trivial, or a match would prove nothing.
        assert not is_trivial(expected[0], inputs), f"{name}: the solution's answer is trivial on these inputs"
        answers[name] = (inputs, expected)
    return answers


# The subprocess. It sees the release only: the release folder is first on sys.path and the
# flags -I keep PYTHONPATH, the user site and the script's folder out.
WORKER = r'''
import copy, importlib, importlib.util, inspect, io, json, os, pickle, signal, sys, traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

release, answers_path, report_path, per_call, only_extra = sys.argv[1:6]
extra_files = sys.argv[6:]
release, per_call, only_extra = Path(release), float(per_call), only_extra == "1"
sys.path.insert(0, str(release))
os.environ["MPLBACKEND"] = "Agg"

import numpy as np

EXCEPTED = {excepted!r}
with open(answers_path, "rb") as f:
    answers = pickle.load(f)


class CallTimeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise CallTimeout()


signal.signal(signal.SIGALRM, on_alarm)
functions, import_errors, outside = [], [], []


def collect(namespace, module_name, origin):
    for attribute, value in list(vars(namespace).items()) if not isinstance(namespace, dict) else list(namespace.items()):
        candidates = [(attribute, value)]
        if inspect.isclass(value) and getattr(value, "__module__", None) == module_name:
            candidates = [(f"{{attribute}}.{{name}}", member.__func__ if isinstance(member, (staticmethod, classmethod)) else member)
                          for name, member in vars(value).items()]
        for qualified, function in candidates:
            if inspect.isfunction(function) and function.__module__ == module_name:
                functions.append((f"{{origin}}:{{qualified}}", function))


def load_file(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


quiet = io.StringIO()
with redirect_stdout(quiet), redirect_stderr(quiet):
    if not only_extra:
        package = release / "cs231n"
        for path in sorted(package.rglob("*.py")):
            name = ".".join(path.relative_to(release).with_suffix("").parts)
            if name.endswith(".__init__"):
                name = name[: -len(".__init__")]
            if name in EXCEPTED:
                continue
            try:
                module = importlib.import_module(name)
            except Exception as error:
                import_errors.append(f"{{name}}: {{type(error).__name__}}: {{error}}")
                continue
            if not str(Path(module.__file__).resolve()).startswith(str(release.resolve())):
                outside.append(f"{{name}} -> {{module.__file__}}")
            collect(module, name, str(path.relative_to(release)))
        for path in sorted((release / "tests").glob("*.py")) + [release / "conftest.py"]:
            if not path.is_file():
                continue
            name = "release_" + "_".join(path.relative_to(release).with_suffix("").parts)
            try:
                collect(load_file(path, name), name, str(path.relative_to(release)))
            except Exception as error:
                import_errors.append(f"{{path.relative_to(release)}}: {{type(error).__name__}}: {{error}}")
        from tools.notebook_defs import load_definitions
        for notebook in sorted(release.glob("*.ipynb")):
            namespace = {{"__name__": "notebook_" + notebook.stem}}
            try:
                load_definitions(notebook, namespace)
            except Exception as error:
                import_errors.append(f"{{notebook.name}}: {{type(error).__name__}}: {{error}}")
            collect(namespace, namespace["__name__"], notebook.name)
    for index, path in enumerate(extra_files):
        name = f"planted_{{index}}"
        collect(load_file(path, name), name, Path(path).name)


def first_array(result):
    if isinstance(result, (tuple, list)) and result:
        result = result[0]
    try:
        return np.asarray(result, dtype=float)
    except BaseException:
        return None


def is_trivial(answer, inputs):
    if answer.size > 1 and np.all(answer == answer.flat[0]):
        return True
    return any(isinstance(item, np.ndarray) and item.shape == answer.shape and np.allclose(item, answer)
               for item in inputs)


called, calls, matches, timeouts = set(), 0, [], []
workdir = Path.cwd()
for qualified, function in functions:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        continue
    for task, (inputs, expected) in answers.items():
        try:
            signature.bind(*inputs)
        except TypeError:
            continue
        called.add(qualified)
        calls += 1
        args = copy.deepcopy(inputs)
        signal.setitimer(signal.ITIMER_REAL, per_call)
        try:
            with redirect_stdout(quiet), redirect_stderr(quiet), np.errstate(all="ignore"):
                result = function(*args)
        except CallTimeout:
            timeouts.append(f"{{qualified}} on {{task}}")
            continue
        except BaseException:
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            os.chdir(workdir)
            quiet.seek(0)
            quiet.truncate()
        answer = first_array(result)
        if answer is None or not np.all(np.isfinite(answer)) or is_trivial(answer, inputs):
            continue
        for which, value in enumerate(expected):
            if answer.shape == value.shape and np.allclose(answer, value, rtol=1e-7, atol=1e-10):
                matches.append(f"{{qualified}} reproduces {{task}}" + ("" if which == 0 else " (its gradient)"))
                break

with open(report_path, "w") as f:
    json.dump({{"functions": len(functions), "called": len(called), "calls": calls, "matches": matches,
               "timeouts": timeouts, "import_errors": import_errors, "outside": outside}}, f, indent=1)
'''.format(excepted=set(EXCEPTED_MODULES))


def run_scan(release, tmp_path, only_extra=False, extra_files=()):
    """Run the scan in a subprocess that sees only ``release``; return its report."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    worker = tmp_path / "leak_scan_worker.py"
    worker.write_text(WORKER)
    answers_path, report_path = tmp_path / "answers.pkl", tmp_path / "report.json"
    with open(answers_path, "wb") as f:
        pickle.dump(solution_answers(), f)
    workdir = tmp_path / "cwd"
    workdir.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "CIFAR10", "PYTEST"))}
    env.update(HOME=str(workdir), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-I", str(worker), str(release), str(answers_path), str(report_path),
               str(PER_CALL_SECONDS), "1" if only_extra else "0", *map(str, extra_files)]
    process = subprocess.run(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=SCAN_TIMEOUT_SECONDS)
    assert process.returncode == 0 and report_path.is_file(), (
        f"the scan failed (exit {process.returncode}):\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}")
    return json.loads(report_path.read_text())


@pytest.mark.slow
def test_no_released_function_computes_a_task(real_release, tmp_path):
    report = run_scan(real_release, tmp_path)
    summary = (f"{report['functions']} functions found, {report['called']} called "
               f"({report['calls']} calls on {len(task_inputs())} tasks), "
               f"{len(report['matches'])} matches, {len(report['timeouts'])} timed out")
    print(summary)
    assert not report["outside"], f"modules imported from outside the release: {report['outside']}"
    # Only an optional framework the environment lacks may keep a module from importing.
    assert not [error for error in report["import_errors"] if "ModuleNotFoundError" not in error], (
        report["import_errors"])
    assert report["called"] >= 100, f"the scan reached too few functions: {summary}"
    assert not report["matches"], f"{summary}:\n" + "\n".join(report["matches"])


PLANTED = '''
import numpy as np


def looks_harmless(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, None


def tidy(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean()


def step(w, dw, config):
    v = config.get("momentum", 0.9) * config["velocity"] - config["learning_rate"] * dw
    return w + v


def identity(x, *rest):
    return x
'''


def test_scan_catches_planted_reference_implementations(real_release, tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(textwrap.dedent(PLANTED))
    report = run_scan(real_release, tmp_path / "scan", only_extra=True, extra_files=[planted])
    found = {match.split(" reproduces ")[0].split(":")[-1] + " -> " + match.split(" reproduces ")[1]
             for match in report["matches"]}
    assert {"looks_harmless -> affine_forward", "tidy -> softmax_loss", "step -> sgd_momentum"} <= found, found
    # The identity returns an input, which no task's answer equals: it never counts.
    assert not any(item.startswith("identity") for item in found), found
