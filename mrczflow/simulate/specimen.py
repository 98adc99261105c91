"""Specimens: particles in vitreous ice, carbon film edges, crystalline ice; and drift.

A specimen is a transmission image ``S`` (mean about 1 for ice) rendered once
per stack on a canvas a little larger than the frame, then cropped at a
sub-pixel shift for each frame (bilinear), so drift costs a few frame-sized
operations per frame. Contrast levels: particles -3 to -8% (weak phase
contrast of proteins in ice), carbon film 30% darker with grain, crystalline
ice +-25% patches of ice grains: the last two are the high-contrast stacks KOMA must keep
out of its window.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

KINDS = ("vacuum", "particles", "carbon", "crystalline")


def render(
    kind: str,
    shape: tuple[int, int],
    margin: int,
    rng: np.random.Generator,
    particle_radius: float = 12.0,
    particle_density: float = 4e-4,
    film_transmission: float = 0.7,
) -> np.ndarray:
    """Transmission image of ``kind`` on a canvas ``shape + 2*margin`` (float32).

    ``film_transmission``: the carbon film's (0.7: a usual film; near 1: a thin one).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown specimen {kind!r}; choose from {KINDS}")
    ny, nx = shape[0] + 2 * margin, shape[1] + 2 * margin
    if kind == "vacuum":
        return np.ones((ny, nx), np.float32)
    ice = 1 + 0.02 * _smooth_noise((ny, nx), max(ny, nx) / 4, rng)
    particles = np.zeros((ny, nx))
    count = rng.poisson(particle_density * ny * nx)
    ys, xs = rng.uniform(0, ny, count).astype(int), rng.uniform(0, nx, count).astype(int)
    particles[ys, xs] = rng.uniform(0.03, 0.08, count) * 2 * np.pi * (particle_radius / 2) ** 2
    particles = ndimage.gaussian_filter(particles, particle_radius / 2)
    image = ice - particles
    if kind == "carbon":
        y, x = np.mgrid[0:ny, 0:nx]
        # The rim of a hole in holey carbon: ice inside the circle, film outside, the edge
        # passing within a third of the frame from its centre.
        angle = rng.uniform(0, 2 * np.pi)
        radius = max(ny, nx) * rng.uniform(0.8, 1.5)
        offset = radius + max(ny, nx) * rng.uniform(-0.3, 0.3)
        centre = np.array([ny / 2, nx / 2]) + offset * np.array([np.sin(angle), np.cos(angle)])
        film = np.hypot(y - centre[0], x - centre[1]) > radius
        grain = 1 + 0.05 * _smooth_noise((ny, nx), 2.0, rng)
        image = np.where(film, film_transmission * grain, image)
    elif kind == "crystalline":
        image = image * (1 + 0.25 * _smooth_noise((ny, nx), 10.0, rng))
    return np.clip(image, 0.05, None).astype(np.float32)


def _smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.normal(size=shape), scale)
    return noise / (noise.std() or 1)


def drift_path(n_frames: int, speed: float, rng: np.random.Generator) -> np.ndarray:
    """``(n_frames, 2)`` shifts in px: fast at the start, settling (beam-induced motion)."""
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    settle = max(n_frames / 4, 1.0)
    t = np.arange(n_frames)
    along = speed * settle * (1 - np.exp(-t / settle))
    jitter = np.cumsum(rng.normal(0, 0.05 * speed, (n_frames, 2)), axis=0)
    return along[:, None] * direction[None, :] + jitter


def crop(canvas: np.ndarray, shape: tuple[int, int], margin: int, shift: np.ndarray) -> np.ndarray:
    """The frame-sized view of ``canvas`` shifted by ``shift`` px, bilinear."""
    dy, dx = float(shift[0]), float(shift[1])
    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - iy, dx - ix
    y0, x0 = margin + iy, margin + ix
    inside = min(y0, x0) >= 0 and y0 + shape[0] < canvas.shape[0] and x0 + shape[1] < canvas.shape[1]
    if not inside:
        raise ValueError(f"drift {shift} exceeds the specimen margin {margin}")
    a = canvas[y0 : y0 + shape[0], x0 : x0 + shape[1]]
    b = canvas[y0 : y0 + shape[0], x0 + 1 : x0 + shape[1] + 1]
    c = canvas[y0 + 1 : y0 + shape[0] + 1, x0 : x0 + shape[1]]
    d = canvas[y0 + 1 : y0 + shape[0] + 1, x0 + 1 : x0 + shape[1] + 1]
    return ((1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d)).astype(np.float32)
