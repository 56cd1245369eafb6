import sys

from ray_semiqc.cli import main

sys.exit(main())
