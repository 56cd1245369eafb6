"""The semiQCSeg experiment on Ray: five training scenarios × tasks × seeds → RUN/report.html.

    semiqc experiment --preset demo --cohort runs/demo/cohort --out runs/demo

The coordinator actor (coordinator.py) owns the order and the state; this driver asks it for
the next stage, runs that stage's items with the Ray functions of the other modules and
records what each produced. Re-running with the same RUN resumes at the first item not done.

    train_baselines  Tune grid: full, half (half with snapshots for the QC cases)
    qc               QC set: qc_train segmented by a half-model snapshot, the half and full models; LSTM on Ray
    inference        Ray Data: the half model over the unlabelled pool, QC-scored, masks written
    selection        rank → K best-in-class | K random | K random + dense CRF (one Ray task per subject)
    train_ssl        Tune grid: ssl_noqc, ssl_crf, semiqcseg
    evaluate         one Ray task per model over the test split
    results          tables, figures, report
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
import ray
import torch
from ray.experimental.tqdm_ray import tqdm

from ray_semiqc.cohort.manifest import MANIFEST_FILE, SubjectRecord, read_manifest
from ray_semiqc.cohort.nifti import write_volume
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.config import Config, load_preset
from ray_semiqc.distributed.coordinator import SSL_SCENARIOS, ExperimentCoordinator, ExperimentState, plan_items
from ray_semiqc.distributed.inference import infer_cohort
from ray_semiqc.distributed.qc import build_qc_set, cross_validate_qc_on_ray, train_qc_on_ray
from ray_semiqc.distributed.session import ensure_ray
from ray_semiqc.distributed.tune_grid import SegTrial, run_seg_grid
from ray_semiqc.evaluate.cases import evaluate_model
from ray_semiqc.evaluate.results import EvaluatedModel, QCArtefacts, RunArtefacts, write_results
from ray_semiqc.evaluate.selection import pool_true_dice, select_augmentation
from ray_semiqc.files import output_path
from ray_semiqc.models.checkpoint import load_checkpoint
from ray_semiqc.qc.assessment import ASSESSMENT_FILE
from ray_semiqc.qc.curves_table import STATUS_OK, read_curves_table
from ray_semiqc.qc.ranking import rank_cases
from ray_semiqc.run_layout import RunLayout, WorkItem
from ray_semiqc.seg.crf import crf_pseudo_label
from ray_semiqc.seg.train import snapshot_path
from ray_semiqc.tasks import get_task


def _log(message: str) -> None:
    print(f"[semiqc experiment {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _claim_config(layout: RunLayout, config: Config) -> None:
    """Write RUN/config.json, or refuse to resume a run that was started with another config."""
    if layout.config.exists():
        if Config.load(layout.config) != config:
            raise ValueError(
                f"{layout.config}: this run was started with another configuration; use a new --out or the same options"
            )
        return
    config.save(layout.config)


def run_experiment(config: Config, cohort: Path | None, out: Path) -> Path:
    """Run (or resume) the whole experiment in OUT; without a cohort, synthesise the preset's phantom into OUT/cohort."""
    layout = RunLayout(Path(out).resolve())
    _claim_config(layout, config)
    ensure_ray()
    if cohort is None:
        cohort = layout.root / "cohort"
        if not (cohort / MANIFEST_FILE).exists():
            from ray_semiqc.distributed.synth import synthesise_cohort

            _log(f"no --cohort: synthesising the {config.preset} phantom (seed 0) into {cohort}")
            synthesise_cohort(cohort, config, seed=0)
    coordinator = ExperimentCoordinator.remote(str(layout.root), config.experiment)
    _Stages(layout, Path(cohort).resolve(), config, coordinator).run_all()
    return layout.report


def evaluate_run(run: Path, cohort: Path, out: Path | None = None) -> Path:
    """Evaluate a finished run's models on any cohort's `test` split (full-cycle labels) → OUT/report.html."""
    layout = RunLayout(Path(run).resolve())
    config = Config.load(layout.config)
    cohort = Path(cohort).resolve()
    out_dir = Path(out).resolve() if out else layout.evaluations_dir(cohort.name)
    state = ExperimentState(layout.root, config.experiment)
    trained = [WorkItem.from_key(key) for key in state.completed if key.startswith("train_")]
    items = [WorkItem("evaluate", item.task, item.scenario, item.seed) for item in trained]
    if not items:
        raise FileNotFoundError(f"{layout.root}: no trained models recorded in its state.json")
    ensure_ray()
    started = time.perf_counter()
    evaluated = _evaluate_models(layout, cohort, config, items, RunLayout(out_dir))
    return write_results(
        out_dir,
        config,
        evaluated,
        _run_artefacts(state.completed),
        timings_s={"evaluate": time.perf_counter() - started},
        notes=_notes(config, cohort, f"models of run {layout.root}"),
    )


def _run_artefacts(completed: dict[str, dict]) -> RunArtefacts:
    """The run's QC assessments, QC cross-validations (where the run made them) and selection files,
    in task/seed order, from its recorded state."""
    qc, selections = [], []
    for key, outputs in sorted(completed.items()):
        item = WorkItem.from_key(key)
        if item.stage == "qc":
            cross_validation = outputs.get("cross_validation")
            qc.append(
                QCArtefacts(
                    item.task,
                    item.seed,
                    Path(outputs["assessment"]),
                    Path(cross_validation) if cross_validation else None,
                )
            )
        elif item.stage == "selection":
            selections.append(Path(outputs["selection"]))
    return RunArtefacts(qc=qc, selections=selections)


def _notes(config: Config, cohort: Path, what: str) -> list[str]:
    experiment = config.experiment
    differences = config.differences(load_preset(config.preset))
    resources = ray.cluster_resources()
    return [
        f"overrides of the {config.preset} preset: {', '.join(differences) or 'none'}",
        f"{what}; evaluated on the test split of {cohort}",
        f"preset {config.preset}: tasks {', '.join(experiment.tasks)}; scenarios {', '.join(experiment.scenarios)}; "
        f"seeds {', '.join(map(str, experiment.seeds))}; K = {experiment.best_in_class_k}; "
        f"{config.seg.train_steps} optimizer steps per model, every scenario from scratch",
        f"machine: {platform.machine()} {platform.system()}, {resources.get('CPU', 0):g} CPUs, "
        f"{resources.get('GPU', 0):g} GPUs in the Ray cluster",
    ]


@ray.remote
def _crf_pseudo_label_task(
    model_path: str, cohort: str, record: SubjectRecord, task_name: str, out_path: str, config_json: str
) -> str:
    """Refine one subject's full-cycle pseudo-label with the dense CRF and write it as a label volume."""
    config = Config.from_json(config_json)
    torch.set_num_threads(max(1, int(config.experiment.crf_cpus)))
    task = get_task(task_name)
    model, meta = load_checkpoint(Path(model_path), expect_task=task_name)
    subject = load_subject(Path(cohort), record, task, with_label=False)
    labels = crf_pseudo_label(
        model,
        subject.image,
        task,
        crop_size=meta.crop_size,
        batch_size=config.seg.predict_batch_size,
        crf=config.crf,
    )
    write_volume(Path(out_path), labels, subject.affine)
    return out_path


@ray.remote
def _evaluate_model_task(model_path: str, cohort: str, task_name: str, config_json: str):
    """One model over the test split: (per-case rows, figure data, the size of its training set)."""
    config = Config.from_json(config_json)
    torch.set_num_threads(max(1, int(config.experiment.evaluation_cpus)))
    model, meta = load_checkpoint(Path(model_path), expect_task=task_name)
    records = read_manifest(Path(cohort)).split("test")
    rows, figures = evaluate_model(
        model, Path(cohort), records, get_task(task_name), meta.crop_size, "cpu", config.seg.predict_batch_size
    )
    return rows, figures, meta.training_set


def _wait_all(refs: list, description: str) -> list:
    """ray.get with a Ray progress bar, results in the order of `refs`."""
    bar = tqdm(total=len(refs), desc=description)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        bar.update(len(done))
    bar.close()
    return ray.get(refs)


def _evaluate_models(
    run: RunLayout, cohort: Path, config: Config, items: list[WorkItem], out: RunLayout
) -> list[EvaluatedModel]:
    """Every item's model over the cohort's test split, one Ray task each; results persisted per model."""
    if not read_manifest(cohort).split("test"):
        raise ValueError(f"{cohort}: no subjects in the `test` split to evaluate on")
    options = {"num_cpus": config.experiment.evaluation_cpus}
    refs = [
        _evaluate_model_task.options(**options).remote(
            str(run.model_path(i.task, i.scenario, i.seed)), str(cohort), i.task, config.to_json()
        )
        for i in items
    ]
    evaluated = []
    for item, (rows, figures, training_set) in zip(items, _wait_all(refs, "evaluate models on the test split")):
        model = EvaluatedModel(item.task, item.scenario, item.seed, rows, figures, training_set)
        model.save(out.evaluation_dir(item.task, item.scenario, item.seed))
        evaluated.append(model)
    return evaluated


class _Stages:
    """Runs each stage's pending items and records their outputs with the coordinator."""

    def __init__(self, layout: RunLayout, cohort: Path, config: Config, coordinator):
        self.layout, self.cohort, self.config, self.coordinator = layout, cohort, config, coordinator

    def run_all(self) -> None:
        while (upcoming := ray.get(self.coordinator.next_stage.remote())) is not None:
            stage, items = upcoming
            _log(f"stage {stage}: {len(items)} item(s): {', '.join(i.key for i in items)}")
            started = time.perf_counter()
            getattr(self, stage)(items)
            elapsed = time.perf_counter() - started
            ray.get(self.coordinator.add_time.remote(stage, elapsed))
            _log(f"stage {stage} done in {elapsed:.1f} s")

    def _complete(self, item: WorkItem, outputs: dict) -> None:
        ray.get(self.coordinator.complete.remote(item.key, outputs))

    def _outputs(self, item: WorkItem) -> dict:
        return ray.get(self.coordinator.outputs.remote(item))

    def _train(self, items: list[WorkItem], trials: list[SegTrial], name: str) -> None:
        outcome = run_seg_grid(trials, self.cohort, self.config, self.layout.tune_dir, name)
        failed = {key: error for key, error in outcome.items() if error is not None}
        for item, trial in zip(items, trials):
            if item.key not in failed:
                self._complete(item, {"model": str(Path(trial.out) / RunLayout.MODEL_FILE)})
        if failed:
            raise RuntimeError("segmentation trial(s) failed:\n" + "\n".join(f"{k}: {e}" for k, e in failed.items()))

    def train_baselines(self, items: list[WorkItem]) -> None:
        has_ssl = any(s in self.config.experiment.scenarios for s in SSL_SCENARIOS)
        trials = [
            SegTrial(
                key=i.key,
                task=i.task,
                scenario=i.scenario,
                seed=i.seed,
                subset=i.scenario,
                out=str(self.layout.model_dir(i.task, i.scenario, i.seed)),
                # the half model's snapshots are the spread of models that make the QC training cases
                snapshot_steps=tuple(self.config.qc.model_spread_steps) if (i.scenario == "half" and has_ssl) else (),
            )
            for i in items
        ]
        self._train(items, trials, "train_baselines")

    def qc(self, items: list[WorkItem]) -> None:
        trained = ray.get(self.coordinator.completed.remote())
        for item in items:
            half = self.layout.model_dir(item.task, "half", item.seed)
            # The spread of models that make the QC cases: the half model part-trained and final (the
            # model whose outputs QC will rank), and the full model when this run trains it.
            models = [snapshot_path(half, step) for step in self.config.qc.model_spread_steps]
            baselines = [WorkItem("train_baselines", item.task, scenario, item.seed) for scenario in ("half", "full")]
            models += [Path(trained[b.key]["model"]) for b in baselines if b.key in trained]
            out = self.layout.qc_dir(item.task, item.seed)
            qc_set = build_qc_set(self.cohort, item.task, models, out, self.config, seed=item.seed)
            qc_model = train_qc_on_ray(
                qc_set, out, self.config, seed=item.seed, workers=self.config.experiment.qc_train_workers
            )
            outputs = {"set": str(qc_set), "model": str(qc_model), "assessment": str(out / ASSESSMENT_FILE)}
            if self.config.experiment.cross_validate_qc:
                outputs["cross_validation"] = str(cross_validate_qc_on_ray(qc_set, out, self.config, seed=item.seed))
            self._complete(item, outputs)

    def inference(self, items: list[WorkItem]) -> None:
        for item in items:
            summary = infer_cohort(
                self.cohort,
                item.task,
                Path(self._outputs(WorkItem("train_baselines", item.task, "half", item.seed))["model"]),
                self.layout.inference_dir(item.task, item.seed),
                self.config,
                qc_model_path=Path(self._outputs(WorkItem("qc", item.task, None, item.seed))["model"]),
                write_masks=True,
            )
            _log(f"inference {item.task} seed {item.seed}: {summary}")
            self._complete(item, {"curves": str(summary.curves_path), "subjects_ok": summary.subjects_ok})

    def selection(self, items: list[WorkItem]) -> None:
        manifest = read_manifest(self.cohort)
        records = manifest.by_id()
        groups = {r.subject_id: r.group for r in manifest.records}
        for item in items:
            task = get_task(item.task)
            curves_path = Path(self._outputs(WorkItem("inference", item.task, None, item.seed))["curves"])
            curves = read_curves_table(curves_path)
            segmented = [r["subject_id"] for r in curves.to_pylist() if r["status"] == STATUS_OK]
            chosen = select_augmentation(
                rank_cases(curves),
                segmented,
                groups,
                task=item.task,
                seed=item.seed,
                k=self.config.experiment.best_in_class_k,
                scenarios=tuple(self.config.experiment.scenarios),
                rng=np.random.default_rng(item.seed),
            )
            masks = curves_path.parent / "masks"
            pseudo: dict[str, list[tuple[str, str]]] = {
                scenario: [(sid, str(output_path(masks, sid, task.seg_file))) for sid in group["subject_id"]]
                for scenario, group in chosen.groupby("scenario")
            }
            if "ssl_crf" in pseudo:
                pseudo["ssl_crf"] = self._crf_labels(item, [sid for sid, _ in pseudo["ssl_crf"]], records)
            selection_path = self.layout.selection_path(item.task, item.seed)
            selection_path.parent.mkdir(parents=True, exist_ok=True)
            chosen.to_parquet(selection_path, index=False)
            self._complete(item, {"selection": str(selection_path), "pseudo_labelled": pseudo})

    def _crf_labels(self, item: WorkItem, subject_ids: list[str], records) -> list[tuple[str, str]]:
        task = get_task(item.task)
        half_model = self._outputs(WorkItem("train_baselines", item.task, "half", item.seed))["model"]
        out = self.layout.pseudo_dir(item.task, "ssl_crf", item.seed)
        options = {"num_cpus": self.config.experiment.crf_cpus}
        refs = [
            _crf_pseudo_label_task.options(**options).remote(
                half_model,
                str(self.cohort),
                records[sid],
                item.task,
                str(output_path(out, sid, task.label_file)),
                self.config.to_json(),
            )
            for sid in subject_ids
        ]
        return list(zip(subject_ids, _wait_all(refs, f"CRF pseudo-labels {item.task} seed {item.seed}")))

    def train_ssl(self, items: list[WorkItem]) -> None:
        trials = []
        for i in items:
            selection = self._outputs(WorkItem("selection", i.task, None, i.seed))
            pseudo = selection["pseudo_labelled"].get(i.scenario, [])
            trials.append(
                SegTrial(
                    key=i.key,
                    task=i.task,
                    scenario=i.scenario,
                    seed=i.seed,
                    subset="half",
                    out=str(self.layout.model_dir(i.task, i.scenario, i.seed)),
                    pseudo_labelled=tuple((sid, path) for sid, path in pseudo),
                )
            )
        self._train(items, trials, "train_ssl")

    def evaluate(self, items: list[WorkItem]) -> None:
        for model in _evaluate_models(self.layout, self.cohort, self.config, items, self.layout):
            item = WorkItem("evaluate", model.task, model.scenario, model.seed)
            self._complete(item, {"folder": str(self.layout.evaluation_dir(model.task, model.scenario, model.seed))})

    def _pool_dice(self, completed: dict[str, dict]) -> dict[tuple[str, int], dict[str, float]]:
        """True Dice of the pool's pseudo-labels (where the cohort hides truth for its pool), after the fact."""
        records = read_manifest(self.cohort).split("unlabelled")
        return {
            (item.task, item.seed): pool_true_dice(
                self.cohort, records, item.task, Path(completed[item.key]["curves"]).parent / "masks"
            )
            for item in plan_items(self.config.experiment, "inference")
        }

    def results(self, items: list[WorkItem]) -> None:
        completed = ray.get(self.coordinator.completed.remote())
        evaluated = [
            EvaluatedModel.load(Path(completed[i.key]["folder"]))
            for i in plan_items(self.config.experiment, "evaluate")
        ]
        report = write_results(
            self.layout.root,
            self.config,
            evaluated,
            _run_artefacts(completed),
            timings_s=ray.get(self.coordinator.timings_s.remote()),
            notes=_notes(self.config, self.cohort, "this run's models"),
            pool_dice=self._pool_dice(completed),
        )
        self._complete(items[0], {"report": str(report)})
        _log(f"report: {report}")
