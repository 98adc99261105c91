"""The session report (rule ``session_report``; ``snakemake --report``).

:mod:`.session` gathers every stack's records from where the rule says they
are; :mod:`.facts` states what a facility asks first (time span, dose,
detector, disk, software, the gain's orientation check); :mod:`.summary`
writes the front page; :mod:`.table` the per-stack table; :mod:`.radius` draws KOMA's
radius curve on the session's own files; :mod:`.steps` is the rule's step.
Each stage draws its own figures (``mrczflow.<stage>.figures``).
"""

from .session import STAGES, ReportPaths, Session, anomalous, collect
from .summary import front_page, summary_html, summary_lines

__all__ = [
    "STAGES",
    "ReportPaths",
    "Session",
    "anomalous",
    "collect",
    "front_page",
    "summary_html",
    "summary_lines",
]
