"""Segment and measure a whole cohort with Ray Data → OUT/curves.parquet (one row per subject, ok or error).

    ray job submit --working-dir . -- python jobs/infer_cohort.py --preset paper --task sax \
        --cohort /mnt/shared/cohorts/ukbb --model /mnt/shared/runs/paper/models/sax/half/seed0/model.pt \
        --qc /mnt/shared/runs/paper/qc/sax/seed0/model.pt --out /mnt/shared/inference/sax --gpus-per-actor 1 --actors 1,8
    python jobs/infer_cohort.py --preset smoke --task sax --cohort runs/smoke/cohort \
        --model runs/smoke/models/sax/half/seed0/model.pt --out runs/smoke/inference/sax      # tiny, on a laptop CPU

Arguments are those of `semiqc infer` (`--help` lists them). Re-running with the same --out
resumes: subjects that already have a row are skipped.
"""

import sys

from ray_semiqc.cli import main

if __name__ == "__main__":
    sys.exit(main(["infer", *sys.argv[1:]]))
