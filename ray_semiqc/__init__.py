"""ray_semiqc — quality-controlled semi-supervised segmentation of cine cardiac MR (semiQCSeg) on Ray."""

__version__ = "0.1.0"
