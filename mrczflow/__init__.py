"""mrczflow: lossless 8-bit MRCZ storage and open gain/outlier correction for cryo-EM movies.

Modules
-------
mrczflow.mrcz
    Read and write MRC2014 and MRCZ (blosc-compressed MRC) files.
mrczflow.simulate
    Direct-detector simulator with ground truth (the data source for tests and the demo).
mrczflow.metrics
    Quality scores against simulator ground truth.
"""

__version__ = "0.1.0"
