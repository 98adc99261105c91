"""The KOMA sum (written by rule ``outliers``, or ``koma_sum`` with outliers off) and rule ``koma``'s step.

The KOMA sum: the stack's sum after the outlier filter (filled values
rounded to whole counts, so window sums are exact), stored as the filled
values beside the raw sum ``ingest`` wrote (the fill is linear in the
counts), and its contrast, which decides whether it is kept out of windows.
Holds two frame-sized images, reads no frame, writes one JSON (with the
screen's block sums, about 0.2 MB for a K2 stack).

``koma``: the stack's window term from the sums of its window (read one at a
time: no chain through the session), the correction (gain, then the denoised
pattern) and the correction as one gain reference; correlated noise and the
fixed-pattern DQE loss before (gain only) and after, both from the stack's
half sums (:func:`stack_halves`): no frame is read. Only a normalised movie,
when asked for, reads the stack, a frame at a time. Holds the window's
running sums (and one frame for a movie).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import mrcz
from ..gain.reference import load_gain
from ..gain.settings import GainSettings
from ..jobs import progress, read_json, write_json
from ..outliers.fill import FrameFill, filled_sum
from ..storage.sums import read_half_sum, read_stack_sum, score_rows
from .correction import Correction, Spread, correction
from .drift import Views
from .noise import HalfSums
from .screen import block_means, block_sums, contrast, edge_block, window_screen
from .settings import KomaSettings
from .windows import nearest, window_half

SUM_FIELD = "stack_sum"  # where, in a KOMA sum record, its raw sum and filled values are
# In a KOMA sum record: the KOMA sum's block sums at the screen's two block sizes (whole counts, by size),
# so a window reads a stack's screen view from its record, and a spare's sum not at all.
BLOCKS_FIELD = "screen_block_sums"
SCREEN_BLOCK = 32  # px: the screen's contrast view (block_means' default)


@contextlib.contextmanager
def _stack_frames(
    counts_path: str | os.PathLike, flags_path: str | os.PathLike | None
) -> Iterator[tuple[tuple[int, ...], Iterator[np.ndarray]]]:
    """The stack's shape, and its frames streamed one at a time as float32 (the stack is never held whole),
    outliers filled when flags are given. Every frame's checksum is checked as it is read."""
    with mrcz.MrczReader(counts_path) as reader:
        shape = reader.shape
        if flags_path is None:
            yield shape, (raw.astype(np.float32) for raw in reader)
            return
        flags = mrcz.read(flags_path)
        if flags.shape != shape[1:]:
            raise ValueError(f"{flags_path}: outlier flags are {flags.shape}, frames are {shape[1:]}")
        yield shape, map(FrameFill(flags), reader)


def stack_halves(half_path: str | os.PathLike, sum_path: str | os.PathLike) -> tuple[HalfSums, HalfSums]:
    """A stack's even and odd frames' sums on the scored rows (:func:`score_rows`): as recorded, and with the
    outlier filter's fill, from its half sum (``ingest``'s) and its KOMA sum record; no frame is read.

    The odd frames' sum is the stack sum's rows less the even one's. The
    fill of an outlier needs the rows around it, which a half sum has not:
    each half takes the KOMA sum's filled value in proportion to its frames
    (the fill's expectation in each half; their difference there is 0, where
    the frames' fills leave a little shot noise, on ~0.1% of the pixels).
    """
    info = read_sum_record(sum_path)
    where = info[SUM_FIELD]
    raw = _raw_sum(sum_path, where)
    frames = int(info["frames"])
    rows = score_rows(raw.shape[0])
    even = read_half_sum(half_path, raw.shape, frames)
    recorded = raw[rows]
    if (even > recorded).any():
        raise ValueError(
            f"{os.fspath(half_path)}: its even frames hold more counts than the stack sum"
            f" {where['path']} on its rows: not this stack's half sum; rerun ingest"
        )
    as_recorded = HalfSums.of(even, recorded - even, frames)
    start, _, step = rows.indices(raw.shape[0])
    y, x = np.divmod(np.asarray(where["filled_index"], np.int64), raw.shape[1])
    on = (y >= start) & ((y - start) % step == 0)
    at = ((y[on] - start) // step, x[on])
    value = np.asarray(where["filled_value"], np.float64)[on]
    filled_even = even.astype(np.float64)
    filled_even[at] = value * (as_recorded.n[0] / frames)
    filled_total = recorded.astype(np.float64)
    filled_total[at] = value
    filled_total -= filled_even  # now the odd frames' sum, filled
    return as_recorded, HalfSums.of(filled_even, filled_total, frames)


def _gain(
    path: str | os.PathLike | None, shape: tuple[int, int], orientation: GainSettings | None
) -> np.ndarray | None:
    """The gain applied before KOMA, oriented by ``orientation`` (None: the file is already oriented)."""
    orientation = orientation or GainSettings()
    return None if path is None else load_gain(path, shape, orientation.rotate, orientation.flip)


def koma_sum(
    stack_sum_path: str | os.PathLike,
    info_out: str | os.PathLike,
    *,
    stack: str,
    flags_path: str | os.PathLike | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    settings: KomaSettings | None = None,
    record_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """One stack's KOMA sum and contrast screen, from its raw sum (no frame is read), as JSON.

    The KOMA sum is the raw sum (``ingest``'s, kept anyway) with its outliers
    filled; only the filled values are stored (flat index and whole counts,
    a few thousand numbers), with the raw sum's path relative to ``info_out``:
    :func:`read_sum` puts them together. So KOMA stores no second image.
    The record also holds the KOMA sum's block sums at the screen's two block
    sizes, so a window judges a stack without reading its sum.
    Rule ``outliers`` writes it with the mask (:func:`write_koma_sum`, from
    what it holds); this reads the files, for rule ``koma_sum`` (outliers
    off) and the benchmarks.
    """
    raw, raw_info = read_stack_sum(stack_sum_path)
    flags = None
    if flags_path is not None:
        flags = mrcz.read(flags_path)
        if flags.shape != raw.shape:
            raise ValueError(f"{flags_path}: outlier flags are {flags.shape}, the stack sum is {raw.shape}")
    return write_koma_sum(
        info_out,
        raw,
        int(raw_info["frames"]),
        stack=stack,
        stack_sum_path=stack_sum_path,
        flags=flags,
        gain=_gain(gain_path, raw.shape, gain),
        settings=settings,
        record=read_json(record_path) if record_path else None,
    )


def write_koma_sum(
    info_out: str | os.PathLike,
    raw: np.ndarray,
    frames: int,
    *,
    stack: str,
    stack_sum_path: str | os.PathLike,
    flags: np.ndarray | None = None,
    gain: np.ndarray | None = None,
    settings: KomaSettings | None = None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the KOMA sum record of :func:`koma_sum` from images in hand.

    ``raw`` is the stack's raw sum (as stored at ``stack_sum_path``) of
    ``frames`` frames, ``flags`` its outlier flags (None: unfiltered), ``gain``
    the vendor gain already oriented (None: none), ``record`` its ingest record
    (time stamp and dose are copied).
    """
    settings = settings or KomaSettings()
    threshold = settings.high_contrast
    total = raw
    index = np.zeros(0, np.int64)
    if flags is not None:
        total = np.rint(filled_sum(raw, flags)).astype(np.int32)
        index = np.flatnonzero(total != raw)
    value = contrast(total, gain)
    info: dict[str, Any] = {
        "stack": stack,
        "frames": int(frames),
        "contrast": value,
        "threshold": threshold,
        "high_contrast": bool(value > threshold),
        "outlier_filtered": flags is not None,
    }
    if record:
        info.update({k: record.get(k) for k in ("timestamp", "dose_rate", "dose_per_frame")})
    info[SUM_FIELD] = {
        "path": os.path.relpath(stack_sum_path, os.path.dirname(os.path.abspath(info_out))),
        "shape": list(raw.shape),
        "filled_index": index.tolist(),
        "filled_value": total.reshape(-1)[index].tolist(),
    }
    info[BLOCKS_FIELD] = {
        str(block): _packed(block_sums(total, block)) for block in (SCREEN_BLOCK, edge_block(raw.shape))
    }
    write_json(info_out, info)
    return info


def _packed(sums: np.ndarray) -> dict[str, Any]:
    """Block sums as a record holds them: little-endian integers, base64 (a K2 sum's are ~16,000 numbers:
    a sixth of the space and a twentieth of the parsing of a JSON list)."""
    dtype = "<i4" if int(np.abs(sums).max(initial=0)) < 2**31 else "<i8"
    data = np.ascontiguousarray(sums, dtype)
    return {"shape": list(data.shape), "dtype": dtype, "base64": base64.b64encode(data.tobytes()).decode()}


def _unpacked(path: str | os.PathLike, block: int, packed: Any, shape: tuple[int, int]) -> np.ndarray:
    """The ``block``-px block sums of a ``shape`` sum from their record (:func:`_packed`), checked."""
    expected = (shape[0] // block, shape[1] // block)
    problem = None
    try:
        if packed["dtype"] not in ("<i4", "<i8"):
            problem = f"are of type {packed['dtype']!r}"
        else:
            sums = np.frombuffer(base64.b64decode(packed["base64"], validate=True), packed["dtype"])
            if sums.size != expected[0] * expected[1] or list(packed["shape"]) != list(expected):
                problem = f"are {packed['shape']} ({sums.size} numbers)"
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        problem = f"are not readable ({exc})"
    if problem:
        raise ValueError(
            f"{os.fspath(path)}: its {block}-px block sums {problem}, a {shape} sum has {expected};"
            " rerun outliers (koma_sum with outliers off)"
        )
    return sums.reshape(expected).astype(np.int64)


def _screen_views(
    path: str | os.PathLike, info: dict[str, Any], image: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """A stack's two screen views (block means at :data:`SCREEN_BLOCK` and at :func:`.screen.edge_block` px):
    from the record's block sums when it has them, else from ``image`` (a record written before they were
    stored); None when neither is there."""
    shape = (int(info[SUM_FIELD]["shape"][0]), int(info[SUM_FIELD]["shape"][1]))
    stored = info.get(BLOCKS_FIELD)
    views = []
    for block in (SCREEN_BLOCK, edge_block(shape)):
        if isinstance(stored, dict) and str(block) in stored:
            views.append(_unpacked(path, block, stored[str(block)], shape) / float(block * block))
        elif image is not None:
            views.append(block_means(image, block))
        else:
            return None
    return views[0], views[1]


def read_sum_record(path: str | os.PathLike) -> dict[str, Any]:
    """A stack's KOMA sum record (the JSON :func:`koma_sum` wrote: stack, frames, contrast, where the
    raw sum is), checked to be one; its sum is not read."""
    info = read_json(path)
    where = info.get(SUM_FIELD) if isinstance(info, dict) else None
    if (
        not isinstance(where, dict)
        or not {"path", "shape", "filled_index", "filled_value"} <= where.keys()
        or not {"stack", "frames", "high_contrast"} <= info.keys()
    ):
        raise ValueError(
            f"{os.fspath(path)}: not a KOMA sum record; rerun outliers (koma_sum with outliers off)"
        )
    shape = where["shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(n) is int and n > 0 for n in shape)):
        raise ValueError(
            f"{os.fspath(path)}: its sum's shape {shape!r} is not two positive whole numbers;"
            " rerun outliers (koma_sum with outliers off)"
        )
    return info


def _raw_sum(path: str | os.PathLike, where: dict[str, Any]) -> np.ndarray:
    """The raw sum the KOMA sum record at ``path`` names (``where``: its :data:`SUM_FIELD`), checked for shape."""
    raw_path = os.path.join(os.path.dirname(os.path.abspath(path)), where["path"])
    image, _ = read_stack_sum(raw_path)
    if list(image.shape) != where["shape"]:
        raise ValueError(
            f"{os.fspath(path)}: its record says {tuple(where['shape'])}, its raw sum {raw_path} is"
            f" {image.shape}; rerun outliers (koma_sum with outliers off)"
        )
    return image


def read_sum(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """A stack's KOMA sum (int32: the raw sum with its outliers filled) and its record (:func:`read_sum_record`)."""
    info = read_sum_record(path)
    where = info[SUM_FIELD]
    image = _raw_sum(path, where)
    image.reshape(-1)[np.asarray(where["filled_index"], np.int64)] = where["filled_value"]
    return image, info


def sum_shape(path: str | os.PathLike) -> tuple[int, int]:
    """The frame shape of a stack from its KOMA sum record."""
    ny, nx = read_json(path)[SUM_FIELD]["shape"]
    return int(ny), int(nx)


@dataclasses.dataclass
class _Member:
    """A stack of a window as the screen sees it: where its sum is, its frames and its block means."""

    path: str
    frames: int
    blocks: np.ndarray
    decision: str  # the config's: auto (the screen decides) or include
    # the KOMA sum's own verdict (its contrast against the gain above koma.high_contrast): for windows too small to judge
    absolute: bool
    edge_blocks: np.ndarray | None = None  # block means at screen.edge_block px, for the straight-edge view
    position: float = 0.0  # stacks from the corrected one (the order of the window's list)
    half: int = 0  # which interleaved half of the window (Spread)
    in_sum: bool = True  # whether its sum is in the window's running sum (a likely spare is not, at first)


class WindowSum:
    """The running sum of the stacks of a window that KOMA may use, and the counts the correction needs.

    Which stacks are high contrast (carbon film, crystalline ice) is judged
    against the window itself (:func:`.screen.window_screen`: each stack's
    block means over the window's block-wise median, so the detector's pattern
    and its drift are not read as contrast, and a stack is kept out when it
    stands out from the others), once every sum is in; a window of fewer than
    3 stacks takes each stack's own verdict from its KOMA sum. The config's
    include/exclude overrides both. Stacks kept out add nothing. With
    ``limit`` (``2a``) the window is topped up: it is given spare stacks
    beyond ``a`` on each side, and uses the ``limit`` kept stacks nearest the
    corrected one, so a window with ``e`` stacks kept out still averages
    ``2a`` (up to its spares). Holds one frame-sized int64 sum, the window's
    :class:`.correction.Spread` (three float32 images; twice while stacks
    are taken out of them or spares put in) and each stack's block means
    (two sizes).
    """

    def __init__(
        self, own: str, shape: tuple[int, ...], settings: KomaSettings, limit: int | None = None
    ) -> None:
        self.own, self.settings, self.limit = own, settings, limit
        self.total = np.zeros(shape, np.int64)
        self.spread = Spread.empty(shape)
        self.n_stacks = self.n_frames = 0
        self.members: dict[str, _Member] = {}
        self.own_member: _Member | None = None
        self.configured_out: list[str] = []
        self.screen: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _member(
        path: str | os.PathLike, image: np.ndarray | None, info: dict[str, Any], decision: str
    ) -> _Member:
        """A stack as the screen sees it; ``image`` (its sum) may be None when its record holds its block sums."""
        views = _screen_views(path, info, image)
        if views is None:
            image = read_sum(path)[0]  # a record without block sums: the views come from the sum itself
            views = _screen_views(path, info, image)
        blocks, edges = views
        return _Member(
            os.fspath(path), int(info["frames"]), blocks, decision, bool(info["high_contrast"]), edges
        )

    def add(self, path: str | os.PathLike, position: float | None = None, *, accumulate: bool = True) -> None:
        """Read one stack's sum and add it, unless the config keeps it out (the stack itself only joins the screen).

        ``position``: stacks from the corrected one in acquisition order (for
        the top-up, which uses the nearest; default: the order of adding).
        ``accumulate=False`` (a stack likely to be a spare): it joins the
        screen from its record's block sums, unread, and its sum enters the
        window's only if :meth:`correction` uses it after all (read then).
        """
        # A likely spare's sum is read only when its record lacks the block sums (written before they were).
        if accumulate:
            image, info = read_sum(path)
            shape = image.shape
        else:
            image, info = None, read_sum_record(path)
            shape = tuple(info[SUM_FIELD]["shape"])
        if shape != self.total.shape:
            raise ValueError(f"{os.fspath(path)}: stack sum is {shape}, {self.own}'s is {self.total.shape}")
        decision = self.settings.decision(info["stack"])
        if info["stack"] == self.own:
            self.own_member = self._member(path, image, info, decision)
            return
        if decision == "exclude":
            self.configured_out.append(info["stack"])
            return
        known = position is not None
        member = self._member(path, image, info, decision)
        member.position = float(position) if known else float(len(self.members))
        member.half = window_half(member.position) if known else len(self.members) % 2
        member.in_sum = accumulate
        if accumulate:
            self.total += image
            self.spread.add(image, member.half, member.position if known else None)
            self.n_stacks += 1
            self.n_frames += int(info["frames"])
        self.members[info["stack"]] = member

    def merge(self, other: WindowSum) -> None:
        """Take in the stacks of ``other`` (their sums added; nothing read again)."""
        self.total += other.total
        self.spread.merge(other.spread)
        self.n_stacks += other.n_stacks
        self.n_frames += other.n_frames
        self.members.update(other.members)
        self.configured_out += other.configured_out

    def judge(self) -> dict[str, bool]:
        """Each stack's verdict, high contrast or not (the stack itself too, when it was added)."""
        everyone = dict(self.members)
        if self.own_member is not None:
            everyone[self.own] = self.own_member
        everyone = dict(sorted(everyone.items(), key=lambda item: item[1].position))  # the window's order
        if len(everyone) >= 3:
            evidence = window_screen(
                {s: m.blocks for s, m in everyone.items()},
                threshold=self.settings.high_contrast,
                edges={s: m.edge_blocks for s, m in everyone.items()},
            )
            verdicts = {s: bool(evidence[s]["excluded"]) for s in everyone}
        else:
            evidence = {}
            verdicts = {s: m.absolute for s, m in everyone.items()}
        self.screen = evidence
        return {s: verdicts[s] and m.decision == "auto" for s, m in everyone.items()}

    def choose(self, verdicts: dict[str, bool] | None = None) -> tuple[list[str], list[str], list[str]]:
        """The stacks the window uses, those it leaves out (config, then screen) and its spares left unused.

        From ``verdicts`` (:meth:`judge`); with a ``limit`` the kept stacks
        nearest the corrected one are used (ties: the earlier).
        """
        verdicts = self.judge() if verdicts is None else verdicts
        kept = [s for s in self.members if not verdicts[s]]
        chosen = {kept[k] for k in nearest([self.members[s].position for s in kept], self.limit)}
        used, spare = [s for s in kept if s in chosen], [s for s in kept if s not in chosen]
        return used, self.configured_out + [s for s in self.members if verdicts[s]], spare

    def split(self, verdicts: dict[str, bool] | None = None) -> tuple[list[str], list[str]]:
        """The stacks the window uses and those it leaves out (config, then screen), from ``verdicts`` (:meth:`judge`)."""
        used, left_out, _ = self.choose(verdicts)
        return used, left_out

    @property
    def used(self) -> list[str]:
        return self.split()[0]

    def correction(self, gain: np.ndarray | None, verdicts: dict[str, bool] | None = None) -> Correction:
        """The window's correction from the stacks it uses (``verdicts``: :meth:`judge`'s, if already made)."""
        used, _, _ = self.choose(verdicts)
        total, spread, n_stacks, n_frames = self.total, self.spread, self.n_stacks, self.n_frames
        for stack, member in self.members.items():
            # Kept out or a spare after all: its sum leaves the window's; used after all (a spare taken
            # in for a stack kept out): its sum joins it.
            sign = (stack in used) - member.in_sum
            if sign:
                if total is self.total:
                    total = self.total.copy()
                    spread = self.spread.copy()
                image = read_sum(member.path)[0]
                total += sign * image
                spread.add(image, member.half, member.position if spread.positioned else None, sign=sign)
                n_stacks += sign
                n_frames += sign * member.frames
        if n_stacks == 0:
            raise ValueError(
                f"{self.own}: no stack of its window can enter KOMA (all high contrast or excluded)"
            )
        views = Views(
            edge_block(self.total.shape),
            [self.members[s].edge_blocks for s in used],
            [self.members[s].position for s in used] if spread.positioned else None,
        )
        return correction(
            total,
            n_stacks,
            n_frames,
            gain,
            form=self.settings.form,
            denoise=self.settings.denoise,
            spread=spread,
            views=views,
        )


def window_correction(
    sum_path: str | os.PathLike,
    window_paths: Sequence[str | os.PathLike],
    *,
    settings: KomaSettings | None = None,
    gain: np.ndarray | None = None,
    limit: int | None = None,
) -> tuple[Correction, dict[str, Any]]:
    """The correction of one stack from its own sum and the sums of the other stacks of its window.

    Reads each sum at most once (an O(a) read per stack, in parallel across
    the session: no stack waits on another's KOMA); the ``limit`` nearest
    enter the window's sum as they are read, the spares only the screen (from
    their records, their sums unread), so a sum is read (again) only when the
    screen keeps a near stack out (it leaves, a spare enters); ``window_paths`` are in acquisition order and may
    include the stack's own sum, which is not read again (its place in the
    list is the stack's position). ``limit``:
    how many stacks the window uses at most (``2a``; the list may hold spares).
    The stack itself joins the screen, which says whether it is high contrast
    (the report's verdict on it).
    """
    settings = settings or KomaSettings()
    own, own_info = read_sum(sum_path)
    window = WindowSum(own_info["stack"], own.shape, settings, limit)
    window.own_member = WindowSum._member(sum_path, own, own_info, settings.decision(own_info["stack"]))
    own_path = os.path.abspath(sum_path)
    places = [os.path.abspath(path) for path in window_paths]
    centre = places.index(own_path) if own_path in places else None
    others = [place for place in range(len(window_paths)) if places[place] != own_path]
    # The limit nearest stacks enter the running sum as they are read; the farther ones (the spares)
    # only join the screen, and are read again only if a nearer stack is kept out: no spare's sum is
    # added to be taken out again.
    likely = (
        set(others) if centre is None else {others[k] for k in nearest([p - centre for p in others], limit)}
    )
    for place in others:
        window.add(
            window_paths[place], None if centre is None else place - centre, accumulate=place in likely
        )
    verdicts = window.judge()  # the screen once: the correction and the record share it
    fix = window.correction(gain, verdicts)
    used, left_out, spare = window.choose(verdicts)
    decision = settings.decision(own_info["stack"])
    info = {
        "window": sorted([*used, *left_out, *spare, own_info["stack"]]),
        "window_stacks_used": len(used),
        # Each used stack's place from this one (None: places unknown): the report's radius curve takes
        # this step's own measurement for the window it is (report.radius), instead of making it again.
        "window_places": {s: window.members[s].position for s in used} if centre is not None else None,
        "excluded_in_window": sorted(left_out),
        "spare_unused": sorted(spare),
        "high_contrast": verdicts[own_info["stack"]] if decision == "auto" else decision == "exclude",
        "screen": window.screen.get(
            own_info["stack"], {"contrast": own_info["contrast"], "window": "too small"}
        ),
    }
    return fix, info


def noise_after(
    half_path: str | os.PathLike, sum_path: str | os.PathLike, fixes: Sequence[Correction]
) -> list[float]:
    """Correlated noise of one stack after each of ``fixes`` (for the report's radius curve), as rule koma
    scores it: on the outlier-filled halves of the stack (:func:`stack_halves`), each fix applied to the
    scored rows (a fix may come already restricted to them, :meth:`Correction.rows`). Reads no frame."""
    _, filled = stack_halves(half_path, sum_path)
    scored = filled.halves[0].shape[0]
    on_rows = [
        fix if fix.pattern.shape[0] == scored else fix.rows(score_rows(fix.pattern.shape[0])) for fix in fixes
    ]
    return [filled.correlation(fix.apply_sum) for fix in on_rows]


def koma(
    half_path: str | os.PathLike,
    sum_path: str | os.PathLike,
    window_paths: Sequence[str | os.PathLike],
    gain_out: str | os.PathLike | None,
    stats_out: str | os.PathLike,
    *,
    stack: str,
    radius: int,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    settings: KomaSettings | None = None,
    movie_out: str | os.PathLike | None = None,
    counts_path: str | os.PathLike | None = None,
    flags_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Normalise one stack with its KOMA term; write its statistics and (optionally) its gain reference and movie.

    The statistics (correlated noise and fixed-pattern DQE loss, with the gain
    alone and with KOMA) come from the stack's half sum ``half_path`` and its
    KOMA sum ``sum_path`` (:func:`stack_halves`): no frame is read.

    The gain reference is written when ``gain_out`` is given (``koma.write_gains``):
    by default it is not kept, since the sums it comes from are, so it can be
    made again at any time. The normalised movie (``movie_out``,
    ``koma.write_movies``) is made from the archive ``counts_path``, its
    outliers filled from ``flags_path``'s flags, a frame at a time.

    ``window_paths`` are the sums of the other stacks of its window (see
    :func:`window_correction`); ``radius`` is the one in force (the configured
    one clamped to the session's size), recorded; ``gain`` orients
    ``gain_path`` (None: already oriented, as the gamma gain is).
    """
    started = time.perf_counter()
    settings = settings or KomaSettings()
    if movie_out is not None and counts_path is None:
        raise ValueError(f"{stack}: a normalised movie is made from the stack's archive: give counts_path")
    record = read_sum_record(sum_path)
    ny, nx = record[SUM_FIELD]["shape"]
    fix, window_info = window_correction(
        sum_path,
        window_paths,
        settings=settings,
        gain=_gain(gain_path, (ny, nx), gain),
        limit=2 * radius,
    )
    as_recorded, filled = stack_halves(half_path, sum_path)
    scored = fix.rows(score_rows(ny))  # the correction, and the gain it applies, on the scored rows
    with_gain = None if scored.gain is None else lambda total, _: total * scored.gain
    if movie_out is not None:
        _write_movie(counts_path, flags_path, fix, movie_out, settings, stack)
    if gain_out is not None:
        mrcz.write(gain_out, fix.gain_reference(), compression=None)
    stats = {
        "stack": stack,
        "radius": radius,
        **window_info,
        "form": settings.form,
        "denoised": settings.denoise,
        "pattern_power_kept": fix.kept,
        "gain": "none" if gain_path is None else os.fspath(gain_path),
        "outlier_filtered": bool(record.get("outlier_filtered")),
        # Both metrics from the halves (koma.noise.half_correlation, fixed_pattern_loss); "before" is the gain
        # alone: correlated noise on the frames as recorded, the DQE loss on the outlier-filled ones.
        "correlated_noise_before": as_recorded.correlation(with_gain),
        "correlated_noise_after": filled.correlation(scored.apply_sum),
        "fixed_pattern_loss_before": filled.loss(with_gain),
        "fixed_pattern_loss_after": filled.loss(scored.apply_sum),
        "seconds": time.perf_counter() - started,
    }
    write_json(stats_out, stats)
    return stats


def _write_movie(
    counts_path: str | os.PathLike,
    flags_path: str | os.PathLike | None,
    fix: Correction,
    movie_out: str | os.PathLike,
    settings: KomaSettings,
    stack: str,
) -> None:
    """The stack normalised by ``fix``, written a frame at a time (removed if it fails)."""
    compression = (
        None if settings.movie_compression == "none" else mrcz.Compression(codec=settings.movie_compression)
    )
    with _stack_frames(counts_path, flags_path) as (shape, frames):
        if shape[1:] != fix.pattern.shape:
            raise ValueError(f"{counts_path}: frames of {shape[1:]} pixels, its sum has {fix.pattern.shape}")
        writer = mrcz.MrczWriter(movie_out, fix.pattern.shape, settings.movie_dtype, compression=compression)
        try:
            with progress(shape[0], f"koma {stack}") as bar:
                for frame in frames:
                    writer.write_frame(fix.apply(frame).astype(settings.movie_dtype))
                    bar.update(1)
        except BaseException:
            writer.abort()
            raise
    writer.close()
