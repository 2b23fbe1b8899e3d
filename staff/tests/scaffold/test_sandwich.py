"""The affine-norm-ReLU-dropout helper: the solution's own, absent from the release, and
written by the student in their regions of fc_net.py it works as the solution's does."""
import ast
import inspect
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cs231n import layer_utils
from cs231n.layer_utils import affine_relu_backward, affine_relu_forward
from task_regions import REPO_ROOT, solution_body, task_named, write_region
from tools.tasks import task_list

# The sandwiches the original assignment gives (and our weight-only backward, a speed-up).
GIVEN = {"affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
         "conv_relu_pool_forward", "conv_relu_pool_backward", "conv_relu_pool_weight_backward",
         "conv_bn_relu_forward", "conv_bn_relu_backward"}


def test_hidden_layer_without_norm_or_dropout_equals_affine_relu():
    rng = np.random.default_rng(231)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((3, 5))
    out, cache = layer_utils.affine_norm_relu_dropout_forward(x, w, b)
    expected_out, expected_cache = affine_relu_forward(x, w, b)
    dx, dw, db, dgamma, dbeta = layer_utils.affine_norm_relu_dropout_backward(dout, cache)
    assert np.array_equal(out, expected_out)
    for grad, expected in zip((dx, dw, db), affine_relu_backward(dout, expected_cache)):
        assert np.array_equal(grad, expected)
    assert dgamma is None and dbeta is None


def test_hidden_layer_rejects_an_unknown_normalization():
    with pytest.raises(ValueError, match="normalization"):
        layer_utils.affine_norm_relu_dropout_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4),
                                                     normalization="groupnorm")


def test_the_release_gives_only_the_original_sandwiches(starter):
    tree = ast.parse((starter / "cs231n/layer_utils.py").read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert defined == GIVEN
    hint = (starter / "cs231n/classifiers/fc_net.py").read_text(encoding="utf-8")
    assert "helper layer like the sandwiches of cs231n/layer_utils.py" in " ".join(hint.replace("#", "").split())


@pytest.mark.slow
def test_a_helper_written_in_the_students_regions_makes_normalized_nets_work(starter, tmp_path):
    root = tmp_path / "assignment"
    shutil.copytree(starter, root)
    shutil.copy(REPO_ROOT / "cs231n/layers.py", root / "cs231n/layers.py")
    init = task_named(root, "FullyConnectedNet.__init__")
    forward, backward = [task for task in task_list(root) if task.function == "FullyConnectedNet.loss"]
    write_region(root, init, solution_body(init))
    for task, helper in ((forward, layer_utils.affine_norm_relu_dropout_forward),
                         (backward, layer_utils.affine_norm_relu_dropout_backward)):
        # The student's helper, defined inside their region of loss().
        source = textwrap.dedent(inspect.getsource(helper)).split("\n")
        write_region(root, task, source + solution_body(task))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_batchnorm.py", "tests/test_dropout.py", "tests/test_fc_net.py",
                          "-k", "fully_connected_net or two_layer"],
                         cwd=root, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
