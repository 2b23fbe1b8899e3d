"""Shared plots, printouts and diagrams of the notebooks."""
import os
import types

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nbformat  # noqa: E402

from cs231n import diagrams, plot_utils  # noqa: E402
from cs231n.run_figures import RECORD_FIGURES_TO, recorded_figures, recording_figures  # noqa: E402


def fake_solver(losses, num_epochs=2, num_train=100, batch_size=50, val=0.3, train=0.5):
    """Just the attributes the helpers read from a trained Solver."""
    return types.SimpleNamespace(
        loss_history=list(losses), iteration=len(losses), num_epochs=num_epochs,
        batch_size=batch_size, X_train=np.zeros((num_train, 3)),
        val_acc_history=[0.1, val], train_acc_history=[0.1, train], best_val_acc=val,
    )


def test_a_run_that_stopped_early_or_ended_non_finite_diverged():
    assert not plot_utils.run_diverged(fake_solver([2.3, 2.0, 1.5, 1.0]))
    assert plot_utils.run_diverged(fake_solver([2.3, 40.0]))  # stopped after 2 of 4 updates
    assert plot_utils.run_diverged(fake_solver([2.3, 2.0, 1.5, np.nan]))


def test_the_sweep_plots_the_last_loss_and_marks_diverged_runs():
    scales = [1e-3, 1e-2, 1e-1]
    runs = {"a": [fake_solver([2.3, 2.0, 1.5, 0.5]), fake_solver([2.3, 2.0, 1.0, 0.25]),
                  fake_solver([2.3, np.inf])]}
    figure = plot_utils.plot_weight_scale_sweep(scales, runs, title="sweep")
    loss_ax = figure.axes[2]
    line = loss_ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata()[:2], [0.5, 0.25])  # the last values, not means
    assert np.isnan(line.get_ydata()[2])
    crosses = [artist for artist in loss_ax.get_lines() if artist.get_marker() == "X"]
    assert len(crosses) == 1 and "diverged" in crosses[0].get_label()
    matplotlib.pyplot.close(figure)


def test_sweep_printout_matches_the_plot(capsys):
    plot_utils.print_weight_scale_sweep([1e-3, 1e-1], {"a": [fake_solver([2.3, 2.0, 1.5, 0.5]),
                                                             fake_solver([2.3, np.nan])]})
    lines = capsys.readouterr().out.splitlines()
    assert "final loss 0.5" in lines[0] and lines[1].endswith("diverged")


def print_recorded_experiments(**record_as):
    plot_utils.print_final_accuracies({"keep ratio 1": fake_solver([2.3], val=0.29, train=0.98),
                                       "keep ratio 0.25": fake_solver([2.3], val=0.31, train=0.9)},
                                      record_as=record_as.get("accuracies"))
    plot_utils.print_weight_scale_sweep([1e-3, 1e-1], {"a": [fake_solver([2.3, 2.0, 1.5, 0.5]),
                                                             fake_solver([2.3, np.nan])]},
                                        record_as=record_as.get("sweep"))


def test_the_print_helpers_record_nothing_unless_the_runner_asks(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(RECORD_FIGURES_TO, raising=False)
    monkeypatch.chdir(tmp_path)
    print_recorded_experiments()
    unrecorded = capsys.readouterr()
    print_recorded_experiments(accuracies="dropout", sweep="sweep")
    assert capsys.readouterr() == unrecorded and os.listdir(tmp_path) == []


def test_the_print_helpers_record_what_they_print_and_print_the_same(tmp_path, capsys):
    print_recorded_experiments()
    unrecorded = capsys.readouterr().out
    path = tmp_path / "executed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    with recording_figures(path):
        print_recorded_experiments(accuracies="dropout", sweep="sweep")
    assert capsys.readouterr().out == unrecorded
    figures = recorded_figures(nbformat.read(path, as_version=4))
    assert figures["dropout"]["keep ratio 0.25: final train acc"] == 0.9
    assert figures["dropout"]["keep ratio 1: final val acc"] == figures["dropout"]["keep ratio 1: best val acc"] == 0.29
    assert figures["sweep"]["weight scales"] == [1e-3, 1e-1]
    assert figures["sweep"]["a: best train acc"] == [0.5, 0.5] and figures["sweep"]["a: best val acc"] == [0.3, 0.3]
    assert figures["sweep"]["a: final loss"] == [0.5, float("inf")]  # the second run diverged


@pytest.mark.parametrize("num_images, expected", [
    (4170, "Trained on 4,170 images, 12x fewer than the full training split's 49,000 "
           "(83 updates instead of about 975); the 40% bar is set for the full split."),
    (49000, "Trained on all 49,000 training images (980 updates); the 40% bar applies."),
    (50, "Trained on 50 images, 980x fewer than the full training split's 49,000 "
         "(1 update instead of about 980); the 40% bar is set for the full split."),
])
def test_training_size_note(num_images, expected):
    updates = num_images // 50
    assert plot_utils.training_size_note(num_images, updates, "the 40% bar") == expected


@pytest.mark.parametrize("draw", [diagrams.plot_batchnorm_graph, diagrams.plot_normalization_axes])
def test_diagrams_are_titled(draw):
    figure = draw()
    titles = [figure._suptitle.get_text() if figure._suptitle else ""] + [ax.get_title() for ax in figure.axes]
    assert any(title.strip() for title in titles)
    matplotlib.pyplot.close(figure)


def test_normalization_panels_shade_the_cells_that_share_statistics():
    figure = diagrams.plot_normalization_axes(num_samples=4, num_channels=6, num_groups=2)
    shaded = []
    for ax in figure.axes:
        faces = [patch for patch in ax.patches if patch.get_alpha() is None]  # the front faces
        shaded.append(sum(matplotlib.colors.to_hex(face.get_facecolor()) != "#ffffff" for face in faces))
    # batch: one channel of 4 images; layer: 6 channels of one image; instance: 1; group: 3
    assert shaded == [4, 6, 1, 3]
    matplotlib.pyplot.close(figure)


def test_print_errors_checks_shapes_then_prints_each_error_beside_its_bound(capsys):
    with pytest.raises(ValueError, match=r"db has shape \(1, 5\), expected \(5,\)"):
        plot_utils.print_errors({"db": (np.zeros((1, 5)), np.zeros(5))}, 1e-9)
    plot_utils.print_errors({"dx": (np.array([1.0]), np.array([1.0]))}, 1e-9)
    assert capsys.readouterr().out == "dx relative error: 0.00e+00  (should be < 1e-09)\n"
