"""Per-call timing in rounds, with the clock's own cost subtracted.

Every call is timed on its own with :func:`time.perf_counter_ns`, so that a p95 exists and a
mix of fast and slow inputs stays visible. Cases compared with each other are run round-robin
(round 1 of every case, then round 2 of every case, ...), so that a noisy neighbour slowing
the machine for a few seconds hurts all of them alike. As in :mod:`timeit`, the garbage
collector is off while a round runs.

Calls of about a microsecond (identifier checks) cost little more than the clock itself, and
a million of them would be a million samples to keep: :func:`throughput` times whole passes
over the inputs instead (:class:`Batch`), with the same round-robin and gc rules, and keeps
the best round as :mod:`timeit` advises, and the median round to show the spread.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

NS_PER_US = 1_000


def clock_overhead_ns(samples: int = 50_000) -> int:
    """Median time between two back-to-back ``perf_counter_ns`` calls: subtracted per call."""
    clock = time.perf_counter_ns
    deltas = []
    for _ in range(samples):
        start = clock()
        deltas.append(clock() - start)
    return int(statistics.median(deltas))


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (linear interpolation between closest ranks)."""
    if len(samples) == 1:
        return float(samples[0])
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


@dataclass(frozen=True)
class Case:
    """One thing to time: ``func`` called once per input, ``passes`` times over ``inputs``."""

    name: str
    func: Callable[[str], object]
    inputs: Sequence[str]
    passes: int = 1
    warmup_passes: int = 1


@dataclass(frozen=True)
class Result:
    """What one case measured.

    Attributes:
        name: the case's name.
        calls: calls measured, over all rounds (warm-up excluded).
        median_us: the median, over rounds, of each round's median time per call.
        p95_us: the 95th percentile of every measured call, all rounds pooled.
        per_input_us: for each input, the median of its calls over all rounds.
    """

    name: str
    calls: int
    median_us: float
    p95_us: float
    per_input_us: tuple[float, ...]


def _one_round(case: Case, overhead_ns: int) -> list[list[int]]:
    """Run ``case.passes`` timed passes; return the samples (ns) of each input."""
    clock = time.perf_counter_ns
    func = case.func
    per_input: list[list[int]] = [[] for _ in case.inputs]
    gc.collect()
    gc.disable()
    try:
        for _ in range(case.passes):
            for samples, password in zip(per_input, case.inputs, strict=True):
                start = clock()
                func(password)
                elapsed = clock() - start
                samples.append(max(elapsed - overhead_ns, 0))
    finally:
        gc.enable()
    return per_input


def run(cases: Sequence[Case], *, rounds: int, overhead_ns: int) -> dict[str, Result]:
    """Warm every case up, then time ``rounds`` rounds of each, round-robin."""
    for case in cases:
        for _ in range(case.warmup_passes):
            for password in case.inputs:
                case.func(password)
    round_medians: dict[str, list[float]] = {case.name: [] for case in cases}
    by_input: dict[str, list[list[int]]] = {case.name: [[] for _ in case.inputs] for case in cases}
    for _ in range(rounds):
        for case in cases:
            samples = _one_round(case, overhead_ns)
            flat = [sample for per_input in samples for sample in per_input]
            round_medians[case.name].append(statistics.median(flat))
            for pooled, new in zip(by_input[case.name], samples, strict=True):
                pooled.extend(new)
    results = {}
    for case in cases:
        pooled_inputs = by_input[case.name]
        everything = [sample for per_input in pooled_inputs for sample in per_input]
        results[case.name] = Result(
            name=case.name,
            calls=len(everything),
            median_us=statistics.median(round_medians[case.name]) / NS_PER_US,
            p95_us=percentile(everything, 0.95) / NS_PER_US,
            per_input_us=tuple(statistics.median(s) / NS_PER_US for s in pooled_inputs),
        )
    return results


def time_once_us(func: Callable[[str], object], password: str) -> float:
    """Time a single call, in microseconds (for screening candidates, not for reporting)."""
    start = time.perf_counter_ns()
    func(password)
    return (time.perf_counter_ns() - start) / NS_PER_US


@dataclass(frozen=True)
class Batch:
    """Work timed as a whole: ``loop(inputs)`` runs it once over every input.

    For calls too cheap to time one by one (about a microsecond, close to the clock's own
    cost): the figure is then a throughput, and the loop's own cost is part of it, alike for
    every batch built the same way.
    """

    name: str
    loop: Callable[[Sequence[Any]], object]
    inputs: Sequence[Any]
    warmup: int = 1_000  # leading inputs run once, untimed, before the first round


@dataclass(frozen=True)
class Throughput:
    """What one batch measured: the best and the median, over rounds, of a whole pass."""

    name: str
    items: int
    best_s: float
    median_s: float

    @property
    def per_second(self) -> float:
        """Inputs per second in the best round."""
        return self.items / self.best_s

    @property
    def per_second_median(self) -> float:
        """Inputs per second in the median round."""
        return self.items / self.median_s


def throughput(batches: Sequence[Batch], *, rounds: int) -> dict[str, Throughput]:
    """Warm every batch up, then time ``rounds`` whole passes of each, round-robin, gc off."""
    for batch in batches:
        batch.loop(batch.inputs[: batch.warmup])
    clock = time.perf_counter_ns
    elapsed: dict[str, list[int]] = {batch.name: [] for batch in batches}
    for _ in range(rounds):
        for batch in batches:
            gc.collect()
            gc.disable()
            try:
                start = clock()
                batch.loop(batch.inputs)
                elapsed[batch.name].append(clock() - start)
            finally:
                gc.enable()
    return {
        batch.name: Throughput(
            name=batch.name,
            items=len(batch.inputs),
            best_s=min(elapsed[batch.name]) / 1e9,
            median_s=statistics.median(elapsed[batch.name]) / 1e9,
        )
        for batch in batches
    }
