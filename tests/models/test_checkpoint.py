import dataclasses
import math

import pytest
import torch

from ray_semiqc.config import load_preset
from ray_semiqc.models.checkpoint import CheckpointMeta, load_checkpoint, model_version, save_checkpoint
from ray_semiqc.models.registry import build_network, network_arguments
from ray_semiqc.tasks import AORTA, SAX


def _saved(tmp_path, name="res_unet", task=SAX):
    seg = load_preset("smoke").seg
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = build_network(name, task, seg).eval()
    meta = CheckpointMeta(
        network=name,
        task=task.name,
        arguments=network_arguments(name, task, seg),
        preset="smoke",
        crop_size=64,
        normalisation=task.normalisation,
        step=7,
        validation_dice=0.5,
        history=({"step": 7, "validation_dice": 0.5},),
    )
    return model, meta, save_checkpoint(tmp_path / "model.pt", model, meta)


def test_checkpoint_rebuilds_the_same_network_from_its_own_description(tmp_path):
    model, meta, path = _saved(tmp_path)
    loaded, loaded_meta = load_checkpoint(path, expect_task="sax", expect_network="res_unet")
    assert loaded_meta == meta
    image = torch.randn(2, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded(image), model(image))
    assert not loaded.training


def test_checkpoint_of_the_wrong_task_is_refused(tmp_path):
    _, _, path = _saved(tmp_path)
    with pytest.raises(ValueError, match=r"model.pt: checkpoint is for task 'sax', expected 'aorta'"):
        load_checkpoint(path, expect_task="aorta")


def test_checkpoint_of_the_wrong_network_is_refused(tmp_path):
    _, _, path = _saved(tmp_path, "vgg_fcn", AORTA)
    with pytest.raises(ValueError, match=r"holds network 'vgg_fcn', expected 'res_unet'"):
        load_checkpoint(path, expect_network="res_unet")


def test_a_bare_state_dict_is_not_a_checkpoint(tmp_path):
    model, _, _ = _saved(tmp_path)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="not a ray_semiqc segmentation checkpoint"):
        load_checkpoint(tmp_path / "weights.pt")


def test_nan_validation_dice_survives_the_round_trip(tmp_path):
    model, meta, _ = _saved(tmp_path)
    path = save_checkpoint(
        tmp_path / "never_validated.pt", model, CheckpointMeta(**{**meta.__dict__, "validation_dice": math.nan})
    )
    assert math.isnan(load_checkpoint(path)[1].validation_dice)


def test_a_version_names_the_weights_not_the_file(tmp_path):
    model, meta, path = _saved(tmp_path)
    version = model_version(*load_checkpoint(path))
    assert version.startswith("res_unet/sax/smoke/seed0/step7/") and len(version.rsplit("/", 1)[1]) == 12
    assert version == model_version(model, meta)
    # the same weights with another recorded history (its measured throughput differs run to run): the same version
    rerun = save_checkpoint(
        tmp_path / "rerun.pt", model, dataclasses.replace(meta, history=({"step": 7, "worker_images_per_s": 93.9},))
    )
    assert rerun.read_bytes() != path.read_bytes() and model_version(*load_checkpoint(rerun)) == version
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # other weights, same description (e.g. half vs full data at step 7)
    assert model_version(model, meta) != version
