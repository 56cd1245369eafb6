"""The whole semiQCSeg experiment (five scenarios × tasks × seeds) → RUN/report.html.

    ray job submit --working-dir . -- python jobs/run_experiment.py --preset paper \
        --cohort /mnt/shared/cohorts/paper --out /mnt/shared/runs/paper --seeds 0,1,2
    python jobs/run_experiment.py --preset smoke --out runs/smoke      # tiny, on a laptop CPU

Arguments are those of `semiqc experiment` (`--help` lists them). Re-running with the same
--out resumes the experiment where it stopped.
"""

import sys

from ray_semiqc.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", *sys.argv[1:]]))
