"""The session report (rule ``session_report``; ``snakemake --report``).

:mod:`.session` gathers every stack's records from where the rule says they
are; :mod:`.summary` writes the front page; :mod:`.radius` draws KOMA's
radius curve on the session's own files; :mod:`.steps` is the rule's step.
Each stage draws its own figures (``mrczflow.<stage>.figures``).
"""

from .session import STAGES, ReportPaths, Session, anomalous, collect
from .summary import summary_html, summary_lines

__all__ = ["STAGES", "ReportPaths", "Session", "anomalous", "collect", "summary_html", "summary_lines"]
