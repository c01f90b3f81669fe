"""Building blocks of the surface-EMG simulator (see :mod:`emgspasm.sources.simulator`).

``muap``: motor-unit action-potential shapes; ``pool``: a muscle's motor-unit pool and its
recruitment and rate laws; ``firing``: spike trains and their rendering into a signal;
``envelopes``: excitation time courses; ``plan``: what a recording contains, with its truth;
``blocks`` and ``scenarios``: what happens when in each scenario; ``interference``: noise, mains,
drift, artifacts and ECG crosstalk; ``render``: a plan turned into samples.
"""
