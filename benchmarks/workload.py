"""The benchmark's signal and the pipelines that process it (emgspasm, scipy, NeuroKit2).

The signal is synthetic but shaped like a night of surface EMG: a resting floor of white noise
(2 µV RMS), 50 Hz mains hum with a weaker third harmonic, bursts of activity of a few seconds
about once a minute and a sprinkling of isolated single potentials at rest. It is generated from
a seed, so every pipeline (and every subprocess) sees exactly the same samples.

Each pipeline takes ``(samples, fs)`` with ``samples`` float32 ``(n, channels)`` in µV and returns
the number of events it found: a check that it ran end to end, not a measure of accuracy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

FS = 2000.0
BLOCK_S = 10.0
"""Block length in which the streaming pipelines are fed, as ``emgspasm detect`` does."""


def make_emg(seconds: float, channels: int, fs: float = FS, seed: int = 0) -> np.ndarray:
    """``seconds`` of synthetic surface EMG, float32 ``(n, channels)`` in µV."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fs))
    x = np.empty((n, channels), dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, channels)
    chunk = int(60 * fs)  # generate a minute at a time: no full-length float64 temporaries
    for s in range(0, n, chunk):
        t = (np.arange(s, min(n, s + chunk))[:, None] / fs) % 1.0  # 1 s holds whole periods
        hum = 20.0 * np.sin(2 * np.pi * 50 * t + phase) + 3.0 * np.sin(2 * np.pi * 150 * t)
        x[s : s + len(t)] = 2.0 * rng.standard_normal((len(t), channels)) + hum
    for c in range(channels):
        _add_bursts(x[:, c], fs, rng)
        _add_potentials(x[:, c], fs, rng)
    return x


def _add_bursts(x: np.ndarray, fs: float, rng: np.random.Generator) -> None:
    """Bursts of 3-15 s at 15-60 µV RMS, one in each minute-and-a-half slot after the first 5 s."""
    slot = int(90 * fs)
    ramp = int(0.5 * fs)
    for s in range(int(5 * fs), len(x) - slot + 1, slot):
        length = int(rng.uniform(3, 15) * fs)
        a = s + int(rng.integers(0, slot - length))
        rise = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
        env = np.concatenate([rise, np.ones(length - 2 * ramp), rise[::-1]])
        x[a : a + length] += rng.uniform(15, 60) * env * rng.standard_normal(length)


def _add_potentials(x: np.ndarray, fs: float, rng: np.random.Generator) -> None:
    """About two isolated biphasic potentials (8 ms, 40 µV peak) per minute."""
    width = int(0.008 * fs)
    shape = 40.0 * np.sin(np.linspace(0, 2 * np.pi, width))
    for a in rng.integers(0, len(x) - width, size=int(len(x) / fs / 30)):
        x[a : a + width] += shape


def run_emgspasm(x: np.ndarray, fs: float) -> int:
    """The emgspasm Detector (night profile) fed 10 s Frames, then flushed.

    Large frames have their filters run a block ahead in a second thread
    (``emgspasm.detect.detector.THREADS``).
    """
    from emgspasm.config import profile
    from emgspasm.detect import Detector
    from emgspasm.frames import Frame

    detector = Detector(profile("night"))
    names = tuple(f"ch{c}" for c in range(x.shape[1]))
    block = int(BLOCK_S * fs)
    found = 0
    for s in range(0, len(x), block):
        found += len(detector.process(Frame(x[s : s + block], s, fs, names)))
    return found + len(detector.flush())


def run_emgspasm_one_thread(x: np.ndarray, fs: float) -> int:
    """:func:`run_emgspasm` with every channel in the calling thread."""
    from emgspasm.detect import detector

    threads = detector.THREADS
    detector.THREADS = 1
    try:
        return run_emgspasm(x, fs)
    finally:
        detector.THREADS = threads


def run_scipy(x: np.ndarray, fs: float) -> int:
    """Plain scipy, streaming in the same 10 s blocks with the filter state carried.

    The same filters as emgspasm (4-pole Butterworth band-pass 20-450 Hz, notches at 50 and
    150 Hz), then rectification, a causal 50 ms moving average and a fixed threshold at four times
    the envelope's median over the first second. Events are upward threshold crossings.
    """
    sos = np.vstack(
        [signal.butter(2, [20, 450], btype="bandpass", fs=fs, output="sos")]
        + [signal.tf2sos(*signal.iirnotch(f0, q, fs=fs)) for f0, q in ((50, 25), (150, 75))]
    )
    win = int(0.05 * fs)
    block = int(BLOCK_S * fs)
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0].astype(np.float64)
    tail = np.zeros((win - 1, x.shape[1]))
    threshold = above = None
    found = 0
    for s in range(0, len(x), block):
        y, zi = signal.sosfilt(sos, x[s : s + block], axis=0, zi=zi)
        rect = np.concatenate([tail, np.abs(y)])
        env = ndimage.uniform_filter1d(rect, win, axis=0, origin=(win - 1) // 2)[win - 1 :]
        tail = rect[-(win - 1) :]
        if threshold is None:
            threshold = 4.0 * np.median(env[: int(fs)], axis=0)
            above = env[0] > threshold
        now = env > threshold
        found += int(np.count_nonzero(now[0] & ~above) + np.count_nonzero(now[1:] & ~now[:-1]))
        above = now[-1]
    return found


def run_neurokit(x: np.ndarray, fs: float) -> int:
    """NeuroKit2's ``emg_process`` (clean, amplitude, activation) on each channel in turn."""
    import neurokit2 as nk

    found = 0
    for c in range(x.shape[1]):
        signals, _ = nk.emg_process(x[:, c].astype(np.float64), sampling_rate=int(fs))
        found += int(signals["EMG_Onsets"].sum())
    return found


PIPELINES = {
    "emgspasm": run_emgspasm,
    "emgspasm-1t": run_emgspasm_one_thread,
    "scipy": run_scipy,
    "neurokit2": run_neurokit,
}
