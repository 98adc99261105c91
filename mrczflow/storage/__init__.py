"""Storage (rule ``ingest``): any movie -> in one pass, the lossless uint8 MRCZ archive and the stack's sum.

:mod:`.movies` reads MRC/MRCZ/TIFF/EER and recovers counts from vendor
gain-normalised floats; :mod:`.exposure` reads how a movie was recorded
(SerialEM ``.mdoc``); :mod:`.decimate` proves the counts fit uint8;
:mod:`.entropy` is the lossless bound the archive is measured against;
:mod:`.sums` the stack sums later stages read instead of the frames;
:mod:`.steps` the rule's step; :mod:`.figures` the report's storage
figure; :mod:`.settings` the ``ingest`` and ``compress`` config sections.
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "CompressSettings": ".settings",
    "DecimationError": ".decimate",
    "DoseSettings": ".settings",
    "EXTENSIONS": ".movies",
    "EntropyBound": ".entropy",
    "Exposure": ".exposure",
    "IngestError": ".errors",
    "IngestSettings": ".settings",
    "MovieSource": ".movies",
    "entropy_bound": ".entropy",
    "exposure_from_mdoc": ".exposure",
    "mdoc_path": ".exposure",
    "measured_dose_rate": ".exposure",
    "movie_format": ".movies",
    "open_movie": ".movies",
    "recover_counts": ".movies",
    "to_uint8": ".decimate",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
