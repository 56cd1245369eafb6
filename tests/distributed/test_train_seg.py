"""Segmentation training on Ray Train: in-process (num_workers=0), then one real run that is
killed mid-way and re-run under the same name on 2 workers, continuing from its last checkpoint."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import torch
from ray.train.v2._internal.constants import CHECKPOINT_MANAGER_SNAPSHOT_FILENAME

from ray_semiqc.distributed.train_seg import (
    STATE_FILE,
    STORAGE_DIR,
    SegRun,
    ShardEpochs,
    make_seg_trainer,
    train_segmenter_on_ray,
)
from ray_semiqc.models.checkpoint import load_checkpoint


def test_in_process_trainer_writes_a_self_describing_checkpoint(ray_session, smoke_cohort, smoke_config, tmp_path):
    config = smoke_config.replace(seg={"train_steps": 4, "validate_every_steps": 2})
    run = SegRun(cohort=smoke_cohort, task="sax", subset="full", out=tmp_path, seed=0, snapshot_steps=(1,))
    trainer = make_seg_trainer(run, config, workers=0, use_gpu=False)
    trainer.fit()
    model, meta = load_checkpoint(tmp_path / "model.pt", expect_task="sax", expect_network="res_unet")
    assert [h["step"] for h in meta.history] == [1, 2, 4]
    # smoke: 6 SAX-labelled subjects, 1 held out for validation; ED + ES frames × 6 slices each
    assert meta.training_set == {"n_subjects": 5, "n_images": 10, "n_slices": 60}
    assert meta.preset == "smoke" and meta.crop_size == 48 and meta.seed == 0
    snapshot, snapshot_meta = load_checkpoint(tmp_path / "snapshots" / "step1.pt")
    assert snapshot_meta.step == 1
    assert not all(torch.equal(a, b) for a, b in zip(snapshot.state_dict().values(), model.state_dict().values()))


class _CountingShard:
    """Stands in for a Ray Data shard: counts full passes over it."""

    def __init__(self, n: int):
        self.passes, self.n = 0, n

    def iter_torch_batches(self, batch_size, device, local_shuffle_buffer_size, local_shuffle_seed):
        self.passes += 1
        for start in range(0, self.n, batch_size):
            index = torch.arange(start, min(start + batch_size, self.n))
            yield {"image": index.float()[:, None, None, None], "label": index}


def test_shard_is_streamed_once_then_reshuffled_from_memory():
    shard = _CountingShard(10)
    epochs = ShardEpochs(shard, batch_size=4, shuffle_buffer_slices=8, seed=0)
    first, second, third = ([b["label"] for b in epochs] for _ in range(3))
    assert shard.passes == 1
    assert [len(b) for b in second] == [4, 4, 2]
    assert sorted(torch.cat(second).tolist()) == sorted(torch.cat(first).tolist()) == list(range(10))
    assert torch.cat(second).tolist() != torch.cat(third).tolist()  # a fresh order each epoch


_KILLED_RUN = textwrap.dedent(
    """
    import sys, ray
    from ray_semiqc.config import load_preset
    from ray_semiqc.distributed.train_seg import SegRun, train_segmenter_on_ray
    ray.init(address=sys.argv[1], log_to_driver=False)
    config = load_preset("smoke").replace(seg={"train_steps": 100000, "validate_every_steps": 2})
    run = SegRun(cohort=sys.argv[2], task="sax", subset="half", out=sys.argv[3], seed=0, name="killed")
    train_segmenter_on_ray(run, config, workers=1, use_gpu=False)
    """
)


def test_killed_run_continues_from_its_last_checkpoint_on_two_workers(
    ray_session, smoke_cohort, smoke_config, tmp_path
):
    address = ray_session.get_runtime_context().gcs_address
    out = tmp_path / "model"
    driver = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, address, str(smoke_cohort), str(out)], start_new_session=True
    )
    experiment = out / STORAGE_DIR / "killed"
    deadline = time.monotonic() + 180
    try:
        # killed once Ray Train has registered a checkpoint (its manager snapshot is written after that)
        while not (experiment / CHECKPOINT_MANAGER_SNAPSHOT_FILENAME).exists():
            assert driver.poll() is None, "the run to be killed ended by itself"
            assert time.monotonic() < deadline, "no checkpoint within 3 minutes"
            time.sleep(0.5)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the whole driver process group, mid-run
        driver.wait()
    assert not (out / "model.pt").exists()
    reached = {torch.load(p, weights_only=False)["step"] for p in experiment.glob(f"checkpoint_*/{STATE_FILE}")}

    resumed_steps = max(reached) + 4
    config = smoke_config.replace(seg={"train_steps": resumed_steps, "validate_every_steps": 2})
    run = SegRun(cohort=smoke_cohort, task="sax", subset="half", out=out, seed=0, name="killed")
    model_path = train_segmenter_on_ray(run, config, workers=2, use_gpu=False)
    _, meta = load_checkpoint(model_path, expect_task="sax")
    assert meta.resumed_from_step in reached and meta.resumed_from_step >= 2
    steps = [h["step"] for h in meta.history]
    # the killed run's validations are carried over, then the new ones continue from where it stopped
    assert steps == list(range(2, resumed_steps + 1, 2))
    assert meta.seg_config["train_steps"] == resumed_steps
