"""Phantom cine-CMR cohort in the UK Biobank layout: the data source until real data is plugged in."""

from ray_semiqc.cohort.phantom.cohort import SubjectSpec, plan_cohort, write_cohort, write_subject

__all__ = ["SubjectSpec", "plan_cohort", "write_cohort", "write_subject"]
