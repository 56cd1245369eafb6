"""Evaluate a finished run's models on any cohort in the UK Biobank layout with full-cycle labels.

    ray job submit --working-dir . -- python jobs/evaluate.py --run /mnt/shared/runs/paper --cohort /mnt/shared/ukbb_test
    python jobs/evaluate.py --run runs/smoke --cohort runs/smoke/cohort      # tiny, on a laptop CPU

Arguments are those of `semiqc evaluate` (`--help` lists them).
"""

import sys

from ray_semiqc.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
