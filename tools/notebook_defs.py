"""Load the functions and classes a notebook defines, without running its experiments.

Every code cell is parsed with ast; its top-level imports, function definitions and class
definitions are executed, in notebook order, into one namespace. Everything else (training
runs, plots, prints) is left out. IPython magic lines (`%...`, `!...`) are blanked before
parsing. The framework tests then exercise the notebook's own code.
"""
import ast
import json
from pathlib import Path

from tools.cells import blank_magics, cell_source

DEFINITION_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def parsed_code_cells(notebook_path):
    """(source, ast.Module) for every code cell that parses as Python once magics are blanked."""
    cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    parsed = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = blank_magics(cell_source(cell))
        try:
            parsed.append((source, ast.parse(source)))
        except SyntaxError:
            continue
    return parsed


def definition_nodes(notebook_path):
    """The top-level import/def/class statements of every parseable code cell."""
    return [node for _, tree in parsed_code_cells(notebook_path) for node in tree.body
            if isinstance(node, DEFINITION_NODES)]


def _calls_training(node):
    return any(isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
               and call.func.id.startswith("train")
               for call in ast.walk(node))


def models_built_in_cells(notebook_path, namespace, builder="nn.Sequential("):
    """The `model` each top-level cell builds with `builder`, without training it.

    Runs only the cell's top-level assignments that call no train* function (so the
    hyperparameters, model and optimizer are built, and nothing is trained or printed),
    in a copy of `namespace`. Returns the models in notebook order.
    """
    models = []
    for source, tree in parsed_code_cells(notebook_path):
        if builder not in source:
            continue
        assignments = [node for node in tree.body
                       if isinstance(node, ast.Assign) and not _calls_training(node)]
        cell_namespace = dict(namespace)
        module = ast.Module(body=assignments, type_ignores=[])
        exec(compile(module, str(notebook_path), "exec"), cell_namespace)
        if cell_namespace.get("model") is not None:
            models.append(cell_namespace["model"])
    return models


def load_definitions(notebook_path, namespace=None):
    """Execute the notebook's definitions into `namespace` (a new dict by default) and return it.

    Globals the definitions read at call time (device, dtype, loaders, ...) must be put
    into the namespace by the caller.
    """
    namespace = {} if namespace is None else namespace
    namespace.setdefault("__name__", "notebook_definitions")
    module = ast.Module(body=definition_nodes(notebook_path), type_ignores=[])
    exec(compile(module, str(notebook_path), "exec"), namespace)
    return namespace
