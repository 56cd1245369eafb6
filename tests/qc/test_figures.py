import numpy as np

from ray_semiqc.qc.assessment import QCAssessment
from ray_semiqc.qc.figures import qc_roc_figure, subject_curves_figure
from ray_semiqc.qc.threshold import operating_point_at
from ray_semiqc.tasks import SAX


def test_subject_panel_shows_each_curve_beside_its_truth_and_the_verdict(sax_cycle):
    rng = np.random.default_rng(0)
    curves, truth = sax_cycle(rng, erroneous=True), sax_cycle(rng)
    figure = subject_curves_figure(
        SAX, curves, "s1", qc_probability_good=0.2, threshold_p_erroneous=0.3, truth_curves=truth
    )
    axes = figure.axes
    assert [axis.get_title() for axis in axes] == ["LV blood pool (mL)", "Myocardium (mL)", "RV blood pool (mL)"]
    for axis, name in zip(axes, SAX.curve_names):
        segmentation, manual = axis.get_lines()
        np.testing.assert_array_equal(segmentation.get_ydata(), curves[name])
        np.testing.assert_array_equal(manual.get_ydata(), truth[name])
    assert figure._suptitle.get_text() == "SAX s1: P(accurate) = 0.20 → QC: erroneous"  # 0.8 ≥ 0.3


def test_roc_figure_marks_the_calibrated_operating_point():
    erroneous = np.array([True, True, True, False, False, False])
    p_erroneous = np.array([0.9, 0.7, 0.2, 0.6, 0.3, 0.1])
    point = operating_point_at(erroneous, p_erroneous, 0.5, sensitivity_weight=0.8)  # Se 2/3, Sp 2/3
    axis = qc_roc_figure(QCAssessment("sax", erroneous, p_erroneous, None, point)).axes[0]
    roc, chance, marker = axis.get_lines()
    assert (roc.get_xdata()[-1], roc.get_ydata()[-1]) == (1.0, 1.0)
    np.testing.assert_allclose(chance.get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(marker.get_xydata(), [[1 / 3, 2 / 3]])
    assert "n = 6 (3 erroneous)" in axis.get_title() and "AUC = 0.778" in roc.get_label()
