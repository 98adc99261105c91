"""Storage (rule ``ingest``): any movie -> in one pass, the lossless uint8 MRCZ archive and the stack's sum.

:mod:`.movies` reads MRC/MRCZ/TIFF/EER and recovers counts from vendor
gain-normalised floats; :mod:`.exposure` reads how a movie was recorded
(SerialEM ``.mdoc``); :mod:`.decimate` proves the counts fit uint8;
:mod:`.entropy` is the lossless bound the archive is measured against;
:mod:`.sums` the stack sums later stages read instead of the frames;
:mod:`.steps` the rule's step; :mod:`.figures` the report's storage
figure; :mod:`.settings` the ``ingest`` and ``compress`` config sections.
"""

from .decimate import DecimationError, to_uint8
from .entropy import EntropyBound, entropy_bound
from .exposure import Exposure, exposure_from_mdoc, mdoc_path, measured_dose_rate
from .movies import EXTENSIONS, IngestError, MovieSource, movie_format, open_movie, recover_counts
from .settings import CompressSettings, DoseSettings, IngestSettings

__all__ = [
    "EXTENSIONS",
    "CompressSettings",
    "DecimationError",
    "DoseSettings",
    "EntropyBound",
    "Exposure",
    "IngestError",
    "IngestSettings",
    "MovieSource",
    "entropy_bound",
    "exposure_from_mdoc",
    "mdoc_path",
    "measured_dose_rate",
    "movie_format",
    "open_movie",
    "recover_counts",
    "to_uint8",
]
