"""Benchmarks for practiceid's password policy, login and identifier validation.

Run by ``make bench`` (``python -m benchmarks``). Standard library timing only
(``time.perf_counter_ns`` and ``statistics``); the yardsticks are those a host would otherwise
pick: Django (a bench-only dependency) for passwords and logins, python-stdnum (already a
dependency) for identifiers.
"""
