import pytest
import torch

import ray_semiqc.seg.train as train_module
from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.config import load_preset
from ray_semiqc.seg.dataset import build_training_set, labelled_records, select_subset, split_validation
from ray_semiqc.seg.preprocess import to_slices
from ray_semiqc.seg.train import train_segmenter, validate
from ray_semiqc.tasks import AORTA, SAX

NO_AUGMENTATION = {"rotation_deg": 0.0, "scale_range": 0.0, "intensity_jitter": 0.0}


def _sets(root, task, crop=48):
    train, val = split_validation(read_manifest(root).records, 0.25, seed=0)
    return build_training_set(root, train, task, crop), build_training_set(root, val, task, crop)


def test_unannotated_frames_never_reach_the_loss(tmp_path, monkeypatch, tiny):
    tiny.write_cohort(tmp_path, n_labelled=3, unannotated_label_class=1)
    config = load_preset("smoke").replace(seg={**NO_AUGMENTATION, "train_steps": 6, "batch_size": 2})
    targets = []

    class RecordingLoss(train_module.DiceCELoss):
        def forward(self, logits, target):
            targets.append(target[:, 0].clone())
            return super().forward(logits, target)

    monkeypatch.setattr(train_module, "DiceCELoss", RecordingLoss)
    train_set, val_set = _sets(tmp_path, AORTA)
    train_segmenter(config, AORTA, train_set, val_set, "cpu", seed=0)
    seen = torch.cat(targets).numpy()
    assert len(seen) >= 6 * 2
    # every target the loss saw is the true label of an annotated frame, never the filled-in frames
    annotated_planes, _ = to_slices(
        tiny.disc_labels(tiny.SHAPE_AORTA, sax=False, phase_shift=0)[..., list(tiny.ANNOTATED)], 48
    )
    for plane in seen:
        assert plane.mean() < 0.5  # the un-annotated frames were labelled aorta everywhere
        assert 0 < plane.sum() <= annotated_planes.sum(axis=(1, 2)).max() * 1.5


def test_training_is_deterministic_per_seed(tiny_cohort):
    config = load_preset("smoke").replace(seg={"train_steps": 4, "validate_every_steps": 2})
    train_set, val_set = _sets(tiny_cohort, AORTA)
    runs = [train_segmenter(config, AORTA, train_set, val_set, "cpu", seed=s) for s in (1, 1, 2)]
    states = [r.model.state_dict() for r in runs]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])
    scores = [[(h["step"], h["train_loss"], h["validation_dice"]) for h in r.meta.history] for r in runs[:2]]
    assert scores[0] == scores[1]


def test_best_checkpoint_and_snapshots_are_kept(tiny_cohort):
    config = load_preset("smoke").replace(seg={"train_steps": 9, "validate_every_steps": 3})
    train_set, val_set = _sets(tiny_cohort, AORTA)
    result = train_segmenter(config, AORTA, train_set, val_set, "cpu", seed=0, snapshot_steps=(2, 9))
    dice_by_step = {h["step"]: h["validation_dice"] for h in result.meta.history}
    assert sorted(dice_by_step) == [2, 3, 6, 9]
    assert result.meta.validation_dice == max(dice_by_step.values())
    assert dice_by_step[result.meta.step] == result.meta.validation_dice
    assert sorted(result.snapshots) == [2, 9]
    assert result.snapshots[2][1].step == 2 and result.snapshots[2][1].validation_dice == dice_by_step[2]
    assert result.meta.training_set == train_set.summary()
    # the returned model really is the best one: re-validating it gives the recorded Dice
    again = validate(result.model, val_set, AORTA, torch.device("cpu"), 16, bf16=False)["validation_dice"]
    assert again == pytest.approx(result.meta.validation_dice, abs=1e-6)


def test_bad_training_input_is_refused_before_any_step(tiny_cohort):
    config = load_preset("smoke")
    train_set, val_set = _sets(tiny_cohort, AORTA)
    empty = build_training_set(tiny_cohort, [], AORTA, 48)
    with pytest.raises(ValueError, match="aorta: no training slices"):
        train_segmenter(config, AORTA, empty, val_set, "cpu", seed=0)
    unknown = config.replace(seg={"network": {"sax": "res_unet", "aorta": "segformer"}})
    with pytest.raises(ValueError, match="unknown network 'segformer'"):
        train_segmenter(unknown, AORTA, train_set, val_set, "cpu", seed=0)
    wrong_labels = [{"image": torch.zeros(2, 1, 48, 48), "label": torch.full((2, 48, 48), 2, dtype=torch.uint8)}]
    with pytest.raises(ValueError, match=r"aorta: training labels hold values \[2\] outside its classes 0..1"):
        train_segmenter(config, AORTA, wrong_labels, val_set, "cpu", seed=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        train_segmenter(config, AORTA, [], val_set, "cpu", seed=0)
    too_late = config.seg.train_steps + 1
    with pytest.raises(ValueError, match=rf"snapshot steps \[{too_late}\] lie outside 1..{too_late - 1}"):
        train_segmenter(config, AORTA, train_set, val_set, "cpu", seed=0, snapshot_steps=(too_late,))


def test_a_list_of_batches_trains_like_any_other_source(tiny_cohort):
    config = load_preset("smoke").replace(seg={"train_steps": 3, "validate_every_steps": 3})
    train_set, val_set = _sets(tiny_cohort, AORTA)
    batches = list(train_set.batches(4))
    result = train_segmenter(config, AORTA, batches, val_set, "cpu", seed=0, training_set_summary={"n_subjects": 3})
    assert result.meta.step == 3 and result.meta.training_set == {"n_subjects": 3}


def test_smoke_sax_half_model_beats_an_untrained_one(smoke_cohort, smoke_config):
    records = labelled_records(read_manifest(smoke_cohort).records, SAX)
    train, val = split_validation(select_subset(records, "half", seed=0), smoke_config.seg.validation_fraction, seed=0)
    crop = smoke_config.seg.crop_size["sax"]
    train_set, val_set = (
        build_training_set(smoke_cohort, train, SAX, crop),
        build_training_set(smoke_cohort, val, SAX, crop),
    )
    untrained = train_segmenter(
        smoke_config.replace(seg={"train_steps": 1, "validate_every_steps": 1, "learning_rate": 0.0}),
        SAX,
        train_set,
        val_set,
        "cpu",
        seed=0,
    )
    trained = train_segmenter(smoke_config, SAX, train_set, val_set, "cpu", seed=0)
    assert trained.meta.validation_dice > untrained.meta.validation_dice + 0.2, (
        trained.meta.history,
        untrained.meta.validation_dice,
    )
