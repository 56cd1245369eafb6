import numpy as np
import pandas as pd

from ray_semiqc.evaluate.figures import cycle_curves_figure, dice_change_figure, segmentation_panel_figure
from ray_semiqc.tasks import SAX


def _per_case() -> pd.DataFrame:
    """Three test subjects (2 healthy, 1 DCM): semiqcseg − half = +2, −1, +4 points; one error row."""
    rows = []
    for subject, group, half, change in (
        ("s0", "healthy", 80.0, 2.0),
        ("s1", "healthy", 70.0, -1.0),
        ("s2", "DCM", 60.0, 4.0),
    ):
        for scenario, dice in (("half", half), ("semiqcseg", half + change)):
            rows.append(
                dict(task="sax", seed=0, scenario=scenario, subject_id=subject, group=group, status="ok", dice_pct=dice)
            )
    rows.append(
        dict(task="sax", seed=0, scenario="semiqcseg", subject_id="s3", group="DCM", status="error", dice_pct=np.nan)
    )
    return pd.DataFrame(rows)


def test_dice_change_plots_each_case_once_coloured_by_group():
    axis = dice_change_figure(_per_case(), "sax").axes[0]
    points = {
        label.split(" ")[0]: collection.get_offsets().data
        for collection, label in zip(axis.collections, axis.get_legend_handles_labels()[1])
    }
    np.testing.assert_array_equal(points["disease"], [[60.0, 4.0]])
    np.testing.assert_array_equal(sorted(map(tuple, points["healthy"])), [(70.0, -1.0), (80.0, 2.0)])
    assert axis.get_legend_handles_labels()[1] == ["disease (n=1)", "healthy (n=2)"]


def test_segmentation_panel_has_one_slice_per_scenario_then_the_manual_one():
    image = np.random.default_rng(0).random((16, 16))
    truth = np.zeros((16, 16), np.uint8)
    truth[4:10, 4:10] = 1
    figure = segmentation_panel_figure(image, truth, {"half": truth, "semiqcseg": np.roll(truth, 2, 0)}, SAX, "s0")
    assert [axis.get_title() for axis in figure.axes] == [
        "(b) Half dataset",
        "(e) SemiQCSeg",
        "(f) Manual segmentation",
    ]
    for axis in figure.axes:
        assert len(axis.images) == 2  # the image and the filled prediction
        assert len(axis.collections) >= 1  # the ground-truth contour


def test_cycle_curves_draw_the_manual_curve_and_one_per_scenario():
    frames = np.arange(10.0)
    truth = {name: 100 + frames for name in SAX.curve_names}
    predicted = {"half": {name: 90 + frames for name in SAX.curve_names}, "semiqcseg": truth}
    figure = cycle_curves_figure(truth, predicted, SAX, "s0")
    assert len(figure.axes) == len(SAX.curve_names)
    for axis, name in zip(figure.axes, SAX.curve_names):
        manual, half, semiqcseg = axis.get_lines()
        assert manual.get_label() == "manual" and axis.get_ylabel() == name
        np.testing.assert_array_equal(half.get_ydata(), 90 + frames)
