"""The experiment's state machine, without Ray: order of stages, persistence, resume."""

import json

import pytest

from ray_semiqc.config import load_preset
from ray_semiqc.distributed.coordinator import ExperimentState, plan_items, trained_scenarios
from ray_semiqc.run_layout import RunLayout, WorkItem


def test_ssl_scenarios_imply_the_half_model_they_start_from():
    experiment = load_preset("smoke").experiment.__class__(scenarios=("semiqcseg",))
    assert trained_scenarios(experiment) == (("half",), ("semiqcseg",))
    with pytest.raises(ValueError, match="unknown scenario"):
        trained_scenarios(experiment.__class__(scenarios=("full", "teacher_student")))


def test_stages_come_in_the_seed_order_and_resume_from_the_file(tmp_path):
    experiment = load_preset("smoke").experiment
    state = ExperimentState(tmp_path, experiment)
    stage, items = state.next_stage()
    assert stage == "train_baselines"
    assert [i.key for i in items] == [
        "train_baselines/aorta/full/seed0",
        "train_baselines/aorta/half/seed0",
        "train_baselines/sax/full/seed0",
        "train_baselines/sax/half/seed0",
    ]
    for item in items:
        state.complete(item.key, {"model": f"{item.key}/model.pt"})
    state.add_time("train_baselines", 12.5)

    resumed = ExperimentState(tmp_path, experiment)  # a new driver reads state.json
    stage, items = resumed.next_stage()
    assert stage == "qc" and [i.key for i in items] == ["qc/aorta/seed0", "qc/sax/seed0"]
    assert resumed.outputs(WorkItem("train_baselines", "sax", "half", 0)) == {
        "model": "train_baselines/sax/half/seed0/model.pt"
    }
    assert json.loads(RunLayout(tmp_path).state.read_text())["timings_s"] == {"train_baselines": 12.5}
    with pytest.raises(KeyError, match="qc/sax/seed0 has not completed"):
        resumed.outputs(WorkItem("qc", "sax", None, 0))


def test_every_trained_model_is_evaluated_and_the_experiment_ends():
    experiment = load_preset("smoke").experiment
    evaluated = [i.key for i in plan_items(experiment, "evaluate")]
    assert len(evaluated) == 2 * 5 and "evaluate/sax/semiqcseg/seed0" in evaluated
    assert plan_items(experiment, "results") == [WorkItem("results")]


@pytest.mark.parametrize(
    "item",
    [WorkItem("results"), WorkItem("qc", "sax", None, 3), WorkItem("train_ssl", "aorta", "semiqcseg", 12)],
)
def test_a_work_item_is_read_back_from_its_key(item):
    assert WorkItem.from_key(item.key) == item


@pytest.mark.parametrize("key", ["qc/sax", "train_ssl/aorta/semiqcseg/twelve", "a/b/c/d/seed1"])
def test_a_malformed_key_is_refused(key):
    with pytest.raises(ValueError, match="work-item key|seed name"):
        WorkItem.from_key(key)
