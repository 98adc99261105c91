"""mrczflow: lossless 8-bit MRCZ storage and open gain/outlier correction for cryo-EM movies.

One subpackage per stage of the workflow (and of the paper):

mrczflow.mrcz
    Read and write MRC2014 and MRCZ (blosc-compressed MRC) files.
mrczflow.storage
    Movies in any detector format -> lossless uint8 MRCZ and the stack's sum, in one pass (rule ingest).
mrczflow.outliers
    Per-stack hot/dead pixel filter, paper section 4 (rule outliers).
mrczflow.gain
    Gamma-corrected gain, paper section 5.1 (rules fit_gamma, apply_gain, normalise).
mrczflow.koma
    Knock-out moving average, paper section 5.2 (rule koma; its sums come with rule outliers).
mrczflow.report
    The session report (rule session_report).

The direct-detector simulator with ground truth, and the scores against it, is
a subpackage of its own for tests, benchmarks and the demo; no stage imports it.

Shared: :mod:`.settings` (config section -> settings object), :mod:`.jobs` (log
banner, progress, JSON records, a job's verdict), :mod:`.fileio` (atomic
writes), :mod:`.figures` (figure style), :mod:`.cli` (the ``mrczflow`` command).
"""

__version__ = "0.1.0"
