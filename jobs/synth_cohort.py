"""Generate a phantom cohort in the UK Biobank layout, one Ray task per subject.

    ray job submit --working-dir . -- python jobs/synth_cohort.py --preset paper --out /mnt/shared/cohorts/paper
    python jobs/synth_cohort.py --preset smoke --out runs/smoke/cohort      # tiny, on a laptop CPU

Arguments are those of `semiqc synth` (`--help` lists them).
"""

import sys

from ray_semiqc.cli import main

if __name__ == "__main__":
    sys.exit(main(["synth", *sys.argv[1:]]))
