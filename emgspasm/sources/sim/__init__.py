"""Building blocks of the surface-EMG simulator (see :mod:`emgspasm.sources.simulator`).

``muap``: motor-unit action-potential shapes; ``pool``: a muscle's motor-unit pool and its
recruitment; ``firing``: spike trains and their rendering into a signal; ``envelopes``: excitation
time courses; ``schedule``: what happens when in each scenario, with its ground truth;
``interference``: noise, mains, drift, artifacts and ECG crosstalk.
"""
