"""Benchmarks for practiceid's password policy, run by ``make bench`` (``python -m benchmarks``).

Standard library timing only (``time.perf_counter_ns`` and ``statistics``); Django is a
bench-only dependency used as the yardstick a host would otherwise pick.
"""
