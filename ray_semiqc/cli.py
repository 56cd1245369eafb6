"""`semiqc` — one subcommand per pipeline stage; each parses its arguments and calls one function.

semiqc synth --preset smoke --out runs/smoke/cohort
semiqc validate runs/smoke/cohort
semiqc experiment --preset smoke --cohort runs/smoke/cohort --out runs/smoke
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ray_semiqc.config import PRESETS, load_preset
from ray_semiqc.tasks import TASKS


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def _synth(args) -> int:
    from ray_semiqc.distributed.synth import synthesise_cohort

    config = load_preset(args.preset)
    manifest = synthesise_cohort(args.out, config, seed=args.seed, n_unlabelled=args.subjects, montage=args.montage)
    print(f"cohort of {len(manifest.records)} subjects written to {args.out}")
    return 0


def _validate(args) -> int:
    from ray_semiqc.cohort.validate import validate_cohort

    report = validate_cohort(args.cohort)
    for subject_id in report.unusable_subjects:  # one line per bad subject, every reason on it
        print(" | ".join(str(p) for p in report.problems if p.subject_id == subject_id))
    print(f"{report.checked} subjects checked, {len(report.unusable_subjects)} unusable")
    return 1 if report.unusable_subjects else 0


def _import_acdc(args) -> int:
    from ray_semiqc.cohort.acdc import import_acdc

    manifest = import_acdc(args.acdc, args.out)
    for problem in manifest.problems:
        print(problem)
    print(f"{len(manifest.records)} ACDC subjects written to {args.out}")
    return 0


def _train(args) -> int:
    from ray_semiqc.distributed.train_seg import SegRun, train_segmenter_on_ray

    run = SegRun(cohort=args.cohort, task=args.task, subset=args.subset, out=args.out, seed=args.seed)
    checkpoint = train_segmenter_on_ray(run, load_preset(args.preset), workers=args.workers, use_gpu=args.gpu)
    print(f"checkpoint: {checkpoint}")
    return 0


def _segment(args) -> int:
    from ray_semiqc.seg.predict import segment_subjects_to_folder

    result = segment_subjects_to_folder(args.model, args.cohort, args.subjects, args.out)
    for problem in result.problems:
        print(problem)
    print(f"{len(result.written)} segmentations written to {args.out}, {len(result.problems)} subjects failed")
    return 1 if result.problems else 0


def _qc_build_set(args) -> int:
    from ray_semiqc.distributed.qc import build_qc_set

    out = build_qc_set(args.cohort, args.task, args.models, args.out, load_preset(args.preset), seed=args.seed)
    print(f"QC training set: {out}")
    return 0


def _qc_train(args) -> int:
    from ray_semiqc.distributed.qc import train_qc_on_ray

    out = train_qc_on_ray(args.set, args.out, load_preset(args.preset), seed=args.seed, workers=args.workers)
    print(f"QC model: {out}")
    return 0


def _qc_assess(args) -> int:
    from ray_semiqc.distributed.qc import cross_validate_qc_on_ray

    out = cross_validate_qc_on_ray(args.set, args.out, load_preset(args.preset), seed=args.seed)
    print(f"cross-validated QC assessment: {out}")
    return 0


def _qc_score(args) -> int:
    from ray_semiqc.distributed.qc import score_curves

    out = score_curves(args.curves, args.model, args.out)
    print(f"ranked cases: {out}")
    return 0


def _infer(args) -> int:
    from ray_semiqc.distributed.inference import infer_cohort

    config = load_preset(args.preset)
    overrides = {
        "subjects_per_block": args.subjects_per_block,
        "gpus_per_actor": args.gpus_per_actor,
        "actors": args.actors,
    }
    config = config.replace(inference={k: v for k, v in overrides.items() if v is not None})
    summary = infer_cohort(
        args.cohort,
        args.task,
        args.model,
        args.out,
        config,
        qc_model_path=args.qc,
        write_masks=args.masks,
        split=args.split,
    )
    print(summary)
    return 0 if summary.subjects_ok > 0 or summary.subjects_total == 0 else 1


def _experiment(args) -> int:
    from ray_semiqc.distributed.experiment import run_experiment

    config = load_preset(args.preset)
    overrides = {"seeds": args.seeds, "scenarios": args.scenarios, "tasks": args.tasks}
    config = config.replace(experiment={k: v for k, v in overrides.items() if v is not None})
    report = run_experiment(config, cohort=args.cohort, out=args.out)
    print(f"report: {report}")
    return 0


def _evaluate(args) -> int:
    from ray_semiqc.distributed.experiment import evaluate_run

    report = evaluate_run(args.run, args.cohort, out=args.out)
    print(f"report: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semiqc", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    presets = sorted(PRESETS)

    synth = commands.add_parser("synth", help="generate a phantom cohort in the UK Biobank layout")
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument("--preset", choices=presets, default="demo")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--subjects", type=int, default=None, help="size of the unlabelled pool (default: preset)")
    synth.add_argument(
        "--montage", action="store_true", help="also write montage.png (slices × frames, label contours)"
    )
    synth.set_defaults(handler=_synth)

    validate = commands.add_parser("validate", help="check a cohort; one line per bad subject")
    validate.add_argument("cohort", type=Path)
    validate.set_defaults(handler=_validate)

    acdc = commands.add_parser("import-acdc", help="read an ACDC folder into a cohort in our layout")
    acdc.add_argument("acdc", type=Path)
    acdc.add_argument("--out", type=Path, required=True)
    acdc.set_defaults(handler=_import_acdc)

    train = commands.add_parser("train", help="train a segmentation network (Ray Train)")
    train.add_argument("--cohort", type=Path, required=True)
    train.add_argument("--task", choices=sorted(TASKS), required=True)
    train.add_argument("--subset", choices=["full", "half"], default="full")
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--preset", choices=presets, default="demo")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--workers", type=int, default=1)
    train.add_argument("--gpu", action="store_true")
    train.set_defaults(handler=_train)

    segment = commands.add_parser("segment", help="segment whole cine sequences of some subjects")
    segment.add_argument("--model", type=Path, required=True)
    segment.add_argument("--cohort", type=Path, required=True)
    segment.add_argument("--subjects", nargs="+", required=True)
    segment.add_argument("--out", type=Path, required=True)
    segment.set_defaults(handler=_segment)

    qc = commands.add_parser("qc", help="the curve-based quality-control classifier")
    qc_commands = qc.add_subparsers(dest="qc_command", required=True)
    build = qc_commands.add_parser("build-set", help="segment qc_train subjects and label them as a clinician would")
    build.add_argument("--cohort", type=Path, required=True)
    build.add_argument("--task", choices=sorted(TASKS), required=True)
    build.add_argument(
        "--models", type=Path, nargs="+", required=True, help="segmentation checkpoints that make the cases"
    )
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--preset", choices=presets, default="demo")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(handler=_qc_build_set)
    qc_train = qc_commands.add_parser("train", help="train the LSTM QC classifier and choose its threshold")
    qc_train.add_argument("--set", type=Path, required=True)
    qc_train.add_argument("--out", type=Path, required=True)
    qc_train.add_argument("--preset", choices=presets, default="demo")
    qc_train.add_argument("--seed", type=int, default=0)
    qc_train.add_argument("--workers", type=int, default=1)
    qc_train.set_defaults(handler=_qc_train)
    assess = qc_commands.add_parser("assess", help="cross-validate the QC method by subject: every subject tested once")
    assess.add_argument("--set", type=Path, required=True)
    assess.add_argument("--out", type=Path, required=True)
    assess.add_argument("--preset", choices=presets, default="demo")
    assess.add_argument("--seed", type=int, default=0)
    assess.set_defaults(handler=_qc_assess)
    score = qc_commands.add_parser("score", help="rank curves by probability of an accurate segmentation")
    score.add_argument("--curves", type=Path, required=True)
    score.add_argument("--model", type=Path, required=True)
    score.add_argument("--out", type=Path, required=True)
    score.set_defaults(handler=_qc_score)

    infer = commands.add_parser("infer", help="cohort-scale inference with Ray Data → curves.parquet")
    infer.add_argument("--cohort", type=Path, required=True)
    infer.add_argument("--task", choices=sorted(TASKS), required=True)
    infer.add_argument("--model", type=Path, required=True)
    infer.add_argument(
        "--qc", type=Path, default=None, help="QC model: adds the probability of an accurate segmentation"
    )
    infer.add_argument("--out", type=Path, required=True)
    infer.add_argument("--preset", choices=presets, default="demo")
    infer.add_argument("--subjects-per-block", type=int, default=None)
    infer.add_argument("--gpus-per-actor", type=float, default=None)
    infer.add_argument("--actors", type=_ints, default=None, help="MIN,MAX segmentation actors")
    infer.add_argument("--masks", action="store_true", help="also write seg_*.nii.gz per subject")
    infer.add_argument("--split", choices=["unlabelled", "test", "qc_train", "labelled"], default="unlabelled")
    infer.set_defaults(handler=_infer)

    experiment = commands.add_parser("experiment", help="the five-scenario semiQCSeg experiment → report.html")
    experiment.add_argument("--preset", choices=presets, default="demo")
    experiment.add_argument(
        "--cohort", type=Path, default=None, help="default: synthesise the preset's phantom into OUT/cohort"
    )
    experiment.add_argument("--out", type=Path, required=True)
    experiment.add_argument("--seeds", type=_ints, default=None)
    experiment.add_argument("--scenarios", type=_names, default=None)
    experiment.add_argument("--tasks", type=_names, default=None)
    experiment.set_defaults(handler=_experiment)

    evaluate = commands.add_parser("evaluate", help="evaluate a run's models on any cohort with full-cycle labels")
    evaluate.add_argument("--run", type=Path, required=True)
    evaluate.add_argument("--cohort", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, default=None, help="default: RUN/evaluations/<cohort name>")
    evaluate.set_defaults(handler=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
