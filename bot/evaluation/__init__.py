"""Measuring the assistant: metrics over the eval sets (`metrics`), the peers it is compared
with (`baselines`) and the benchmark runs (`bench`).
"""
