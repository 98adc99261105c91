"""The session report (rule ``session_report``; ``snakemake --report``).

:mod:`.session` gathers every stack's records from where the rule says they
are; :mod:`.facts` states what a facility asks first (time span, dose,
detector, disk, software, the gain's orientation check); :mod:`.summary`
writes the front page; :mod:`.table` the per-stack table; :mod:`.radius` draws KOMA's
radius curve on the session's own files; :mod:`.steps` is the rule's step.
Each stage draws its own figures (``mrczflow.<stage>.figures``).
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "ReportPaths": ".session",
    "STAGES": ".session",
    "Session": ".session",
    "anomalous": ".session",
    "collect": ".session",
    "front_page": ".summary",
    "summary_html": ".summary",
    "summary_lines": ".summary",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
