import pytest

from ray_semiqc.config import PRESETS, Config, load_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_survives_a_json_round_trip(name):
    config = load_preset(name)
    assert Config.from_json(config.to_json()) == config


def test_paper_preset_has_the_seeds_sizes():
    phantom = load_preset("paper").phantom
    assert (phantom.labelled_subjects, phantom.labelled_aorta_subjects, phantom.test_subjects) == (500, 138, 102)
    assert (phantom.sax_frames, phantom.aorta_frames, phantom.qc_train_subjects) == (50, 100, 1000)
    assert load_preset("paper").experiment.best_in_class_k == 30


def test_overrides_name_the_unknown_field():
    with pytest.raises(ValueError, match="train_stepz"):
        load_preset("smoke", seg={"train_stepz": 3})
    assert load_preset("smoke", seg={"train_steps": 3}).seg.train_steps == 3
