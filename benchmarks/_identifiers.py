"""Section 7: validating one million identifiers, with python-stdnum as the yardstick.

A host screening imported data validates numbers by the million, most of them written by
hand: the question is whether ``is_valid`` keeps up with python-stdnum, the library a host
would otherwise pick. The issue's target: at least as fast as python-stdnum on comparable work.

Inputs: ``COUNT`` made-up numbers drawn from ``random.Random(SEED)``, the same on every run:
RPPS (11 digits, Luhn), ADELI and FINESS (9 digits, Luhn), INAMI (11 or 8 digits, any of the
four moduli) and BCE (10 digits, mod 97), in random order. About half are valid; the others
have one digit changed, two adjacent digits swapped, a digit dropped or added, or a letter
in place of a digit, and each is checked against an independent reference rule so that no
"invalid" input is valid by accident (a Luhn swap of 0 and 9, an INAMI typo another modulus
accepts). Written forms are mixed: compact, or in each number's usual groups separated by
spaces, dashes, dots, slashes or (a few) non-breaking spaces: ``100 0123 4565``,
``1-23456-25-005``, ``0403.019.261``.

What is compared, on the same inputs:

* ours: the kind's ``is_valid`` (``rpps``, ``adeli``, ``finess``, ``inami``, ``bce``);
* RPPS, ADELI, FINESS: ``stdnum.luhn.is_valid`` after ``stdnum.util.clean(x, " -./")``, the
  cheapest cleaning stdnum offers: the issue's yardstick. It does less than ours (no length
  check). For 9 digits, ``stdnum.fr.siren.is_valid`` does the same work as ours (compact,
  digits, length, Luhn): it is the comparable one for ADELI and FINESS;
* BCE: ``stdnum.be.vat.is_valid``. Ours wraps it (behind a type check, and after its own
  cleaning when the input holds more than printable ASCII), so expect a ratio a little below 1;
* INAMI: python-stdnum has no INAMI module. ``stdnum.be.vat.is_valid`` is the nearest stdnum
  work (a Belgian mod-97 number), but it rejects nearly all INAMI numbers on their length,
  before any checksum: a yardstick for the cost of a stdnum call, not the same work.

Timing: whole passes (:func:`benchmarks._timing.throughput`), best of ``ROUNDS``, round-robin,
gc off; one number takes about a microsecond, too close to the clock's own cost to time alone.
Each side runs a plain loop over one kind's numbers that calls its function(s) directly, so no
dispatch is charged to either side, and "all" sums the passes of every kind: together they
cover the same million numbers, grouped by kind. (A pass over the numbers in their mixed
order, through precomputed (function, number) pairs with the same dispatch on both sides,
moved the overall ratio by 1 to 2 % and took 20 s longer; it is not run.) ``validate``, the
path that returns the compact form, is timed on the valid numbers, next to ``is_valid`` on them.

Before timing, every input's verdict is checked: ours must match the generator's label on all
of them, and stdnum must match it wherever both should accept the written form (stdnum's
cleaning leaves the right number of digits), so that a benchmark bug cannot show as a speed-up.
"""

from __future__ import annotations

import importlib.metadata
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from stdnum import luhn
from stdnum.be import vat
from stdnum.fr import siren
from stdnum.util import clean

from benchmarks import _report, _timing
from practiceid.policies.identifiers import _common, adeli, bce, finess, inami, rpps

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SEED: Final = 20_260_419
COUNT: Final = 1_000_000
ROUNDS: Final = 3
VALID_SHARE: Final = 0.5
STDNUM_SEPARATORS: Final = " -./"  # what stdnum.be.vat.compact removes: the widest it offers

# Written forms: "" is compact, the others separate the number's usual groups.
NBSP: Final = "\u00a0"
FORMS: Final = ("", " ", "-", ".", "/", NBSP)
FORM_WEIGHTS: Final = (40, 25, 12, 10, 8, 5)
MUTATIONS: Final = ("digit", "swap", "length", "letter")
MUTATION_WEIGHTS: Final = (40, 30, 15, 15)
LETTERS: Final = "OolISBZ"  # what a digit is mistaken for when typed or read
_UNGROUP: Final = str.maketrans("", "", STDNUM_SEPARATORS + NBSP)
_NOT_FOR_SIREN: Final = "-/"  # stdnum.fr.siren.compact removes spaces and dots only


def _luhn_reference(number: str) -> bool:
    """Luhn, written out plainly: independent of both implementations under test."""
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _digits(number: str, *lengths: int) -> bool:
    return len(number) in lengths and number.isascii() and number.isdigit()


def _rpps_reference(number: str) -> bool:
    return _digits(number, 11) and _luhn_reference(number)


def _nine_reference(number: str) -> bool:
    return _digits(number, 9) and _luhn_reference(number)


def _inami_reference(number: str) -> bool:
    if not _digits(number, 8, 11):
        return False
    first_six, check = int(number[:6]), int(number[6:8])
    return any(modulus - first_six % modulus == check for modulus in (97, 89, 83, 79))


def _bce_reference(number: str) -> bool:
    """``stdnum.be.vat``'s rule: the old 9-digit form gets its leading 0 back."""
    if len(number) == 9:
        number = "0" + number
    return (
        _digits(number, 10)
        and number[0] in "01"
        and int(number) > 0
        and (int(number[:8]) + int(number[8:])) % 97 == 0
    )


def _rpps(rng: random.Random) -> str:
    partial = f"10{rng.randrange(10**8):08d}"
    return partial + _common.luhn_check_digit(partial)


def _nine(rng: random.Random) -> str:
    partial = f"{rng.randint(1, 95):02d}{rng.randrange(10**6):06d}"
    return partial + _common.luhn_check_digit(partial)


def _inami(rng: random.Random) -> str:
    first_six = f"{rng.choice('134578')}{rng.randrange(10**5):05d}"
    number = first_six + inami.check_digits(first_six, rng.choice(inami.MODULI))
    if rng.random() < 0.8:
        number += f"{rng.randrange(1000):03d}"
    return number


def _bce(rng: random.Random) -> str:
    first_eight = f"{rng.randrange(2)}{rng.randrange(1, 10**7):07d}"
    return f"{first_eight}{97 - int(first_eight) % 97:02d}"


def _each(func: Callable[[str], object]) -> Callable[[Sequence[str]], None]:
    """A pass calling ``func`` on every number."""

    def loop(numbers: Sequence[str]) -> None:
        for number in numbers:
            func(number)

    return loop


def _each_cleaned(func: Callable[[str], object]) -> Callable[[Sequence[str]], None]:
    """A pass calling ``func`` on every number after ``stdnum.util.clean``, in the loop."""

    def loop(numbers: Sequence[str]) -> None:
        tidy, separators = clean, STDNUM_SEPARATORS
        for number in numbers:
            func(tidy(number, separators))

    return loop


@dataclass(frozen=True)
class Yardstick:
    """A stdnum pass over the same numbers as ours."""

    name: str
    loop: Callable[[Sequence[str]], None]
    comparable: bool = False  # the nearest stdnum work to ours for this kind
    issue: bool = False  # the issue's yardstick (luhn or be.vat), summed in "all"


def _luhn(*, comparable: bool) -> Yardstick:
    loop = _each_cleaned(luhn.is_valid)
    return Yardstick("luhn.is_valid(clean(x))", loop, comparable=comparable, issue=True)


SIREN: Final = Yardstick("fr.siren.is_valid", _each(siren.is_valid), comparable=True)
VAT: Final = Yardstick("be.vat.is_valid", _each(vat.is_valid), comparable=True, issue=True)
VAT_NEAREST: Final = Yardstick("be.vat.is_valid (nearest)", _each(vat.is_valid), issue=True)


@dataclass(frozen=True)
class Kind:
    """One kind of number: how to make it, write it and judge it, and what it is timed against."""

    name: str
    weight: int
    groups: tuple[int, ...]  # the usual grouping; shorter numbers use the first groups
    make: Callable[[random.Random], str]
    reference: Callable[[str], bool]
    is_valid: Callable[[object], bool]
    validate: Callable[[object], str]
    yardsticks: tuple[Yardstick, ...]
    luhn_length: int | None = None  # Luhn kinds: the length stdnum's Luhn is checked at


KINDS: Final = (
    Kind(
        name="RPPS",
        weight=25,
        groups=(3, 4, 4),
        make=_rpps,
        reference=_rpps_reference,
        is_valid=rpps.is_valid,
        validate=rpps.validate,
        yardsticks=(_luhn(comparable=True),),
        luhn_length=11,
    ),
    Kind(
        name="ADELI",
        weight=15,
        groups=(2, 2, 4, 1),
        make=_nine,
        reference=_nine_reference,
        is_valid=adeli.is_valid,
        validate=adeli.validate,
        yardsticks=(_luhn(comparable=False), SIREN),
        luhn_length=9,
    ),
    Kind(
        name="FINESS",
        weight=15,
        groups=(2, 6, 1),
        make=_nine,
        reference=_nine_reference,
        is_valid=finess.is_valid,
        validate=finess.validate,
        yardsticks=(_luhn(comparable=False), SIREN),
        luhn_length=9,
    ),
    Kind(
        name="INAMI",
        weight=25,
        groups=(1, 5, 2, 3),
        make=_inami,
        reference=_inami_reference,
        is_valid=inami.is_valid,
        validate=inami.validate,
        yardsticks=(VAT_NEAREST,),
    ),
    Kind(
        name="BCE",
        weight=20,
        groups=(4, 3, 3),
        make=_bce,
        reference=_bce_reference,
        is_valid=bce.is_valid,
        validate=bce.validate,
        yardsticks=(VAT,),
    ),
)


def _mutate(rng: random.Random, number: str, mutation: str) -> str:
    """Break ``number`` the way people do."""
    if mutation == "digit":
        at = rng.randrange(len(number))
        digit = rng.choice("0123456789".replace(number[at], ""))
        return number[:at] + digit + number[at + 1 :]
    if mutation == "swap":
        at = rng.randrange(len(number) - 1)
        return number[:at] + number[at + 1] + number[at] + number[at + 2 :]
    if mutation == "length":
        at = rng.randrange(len(number))
        if rng.random() < 0.5:
            return number[:at] + number[at + 1 :]
        return number[:at] + rng.choice("0123456789") + number[at:]
    # A letter from the third character on: ADELI's 2A/2B and FINESS's letter in second
    # place are valid.
    at = rng.randrange(2, len(number))
    return number[:at] + rng.choice(LETTERS) + number[at + 1 :]


def _invalid(rng: random.Random, kind: Kind, number: str, mutation: str) -> str:
    """A mutation of ``number`` that ``kind.reference`` refuses (drawn again until it does)."""
    while True:
        broken = _mutate(rng, number, mutation)
        if not kind.reference(broken):
            return broken
        mutation = rng.choice(MUTATIONS)


def _written(number: str, groups: tuple[int, ...], separator: str) -> str:
    """``number`` in its usual groups; what is left over stays with the last group."""
    if not separator:
        return number
    parts, start = [], 0
    for size in groups[:-1]:
        parts.append(number[start : start + size])
        start += size
    parts.append(number[start:])
    return separator.join(part for part in parts if part)


@dataclass
class Inputs:
    """The numbers, their kind, and whether each is valid (the reference rule's verdict)."""

    kinds: list[Kind] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    valid: list[bool] = field(default_factory=list)

    def of(self, kind: Kind, *, valid_only: bool = False) -> list[str]:
        """The written numbers of one kind, in order."""
        return [
            text
            for k, text, ok in zip(self.kinds, self.texts, self.valid, strict=True)
            if k is kind and (ok or not valid_only)
        ]


def generate(count: int = COUNT, seed: int = SEED) -> Inputs:
    """Draw ``count`` numbers, about ``VALID_SHARE`` valid, in mixed kinds and written forms."""
    rng = random.Random(seed)
    kinds = rng.choices(KINDS, [kind.weight for kind in KINDS], k=count)
    forms = rng.choices(FORMS, FORM_WEIGHTS, k=count)
    mutations = rng.choices(MUTATIONS, MUTATION_WEIGHTS, k=count)
    inputs = Inputs()
    for kind, form, mutation in zip(kinds, forms, mutations, strict=True):
        number = kind.make(rng)
        valid = rng.random() < VALID_SHARE
        if not valid:
            number = _invalid(rng, kind, number, mutation)
        elif not kind.reference(number):
            raise SystemExit(f"benchmark generator made an invalid {kind.name}: {number}")
        inputs.kinds.append(kind)
        inputs.texts.append(_written(number, kind.groups, form))
        inputs.valid.append(valid)
    return inputs


def check_agreement(inputs: Inputs) -> str:
    """Refuse to time verdicts that disagree with the labels; return what was compared."""
    problems: list[str] = []
    compared = {"ours": 0, "luhn": 0, "fr.siren": 0, "be.vat": 0}

    def expect(who: str, kind: Kind, text: str, *, got: object, want: bool) -> None:
        compared[who] += 1
        if bool(got) != want and len(problems) < 10:
            problems.append(f"{who} says {got} for {kind.name} {text!r}, expected {want}")

    for kind, text, valid in zip(inputs.kinds, inputs.texts, inputs.valid, strict=True):
        expect("ours", kind, text, got=kind.is_valid(text), want=valid)
        if kind.name == "BCE":
            expect("be.vat", kind, text, got=vat.is_valid(text), want=valid)
        elif kind.luhn_length and _digits(text.translate(_UNGROUP), kind.luhn_length):
            got = luhn.is_valid(clean(text, STDNUM_SEPARATORS))
            expect("luhn", kind, text, got=got, want=valid)
            if SIREN in kind.yardsticks and set(text).isdisjoint(_NOT_FOR_SIREN):
                expect("fr.siren", kind, text, got=siren.is_valid(text), want=valid)
    if problems:
        raise SystemExit("identifier benchmark verdicts disagree:\n  " + "\n  ".join(problems))
    return ", ".join(f"{who} on {count:,}" for who, count in compared.items())


def _batches(inputs: Inputs) -> list[_timing.Batch]:
    """Every pass to time, each of ours next to its yardsticks, then validate."""
    batches = []
    for kind in KINDS:
        texts = inputs.of(kind)
        batches.append(_timing.Batch(f"{kind.name}: ours", _each(kind.is_valid), texts))
        batches += [
            _timing.Batch(f"{kind.name}: {stick.name}", stick.loop, texts)
            for stick in kind.yardsticks
        ]
    for kind in KINDS:
        valid = inputs.of(kind, valid_only=True)
        batches += [
            _timing.Batch(f"{kind.name}: validate", _each(kind.validate), valid),
            _timing.Batch(f"{kind.name}: is_valid, valid", _each(kind.is_valid), valid),
        ]
    return batches


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f}"


@dataclass(frozen=True)
class Total:
    """Kinds summed: numbers, and the best pass times of ours and of the yardsticks."""

    numbers: int
    ours_s: float
    theirs_s: float

    @property
    def ratio(self) -> float:
        """Throughput ours / stdnum: above 1, we are faster."""
        return self.theirs_s / self.ours_s


def _total(results: dict[str, _timing.Throughput], *, comparable: bool) -> Total:
    """All kinds against the issue's yardsticks, or all but INAMI against comparable ones."""
    numbers, ours_s, theirs_s = 0, 0.0, 0.0
    for kind in KINDS:
        for stick in kind.yardsticks:
            if stick.comparable if comparable else stick.issue:
                ours = results[f"{kind.name}: ours"]
                numbers += ours.items
                ours_s += ours.best_s
                theirs_s += results[f"{kind.name}: {stick.name}"].best_s
    return Total(numbers, ours_s, theirs_s)


def print_main_table(results: dict[str, _timing.Throughput]) -> tuple[Total, Total]:
    """The is_valid table; return the two totals (issue's yardsticks, comparable work)."""
    lines = []
    for kind in KINDS:
        ours = results[f"{kind.name}: ours"]
        for index, stick in enumerate(kind.yardsticks):
            theirs = results[f"{kind.name}: {stick.name}"]
            lines.append(
                [
                    "" if index else kind.name,
                    "" if index else f"{ours.items:,}",
                    "" if index else _rate(ours.per_second),
                    stick.name + (" *" if stick.comparable else ""),
                    _rate(theirs.per_second),
                    _report.ratio(ours.per_second, theirs.per_second),
                    _report.ratio(ours.per_second_median, theirs.per_second_median),
                ]
            )
    issue, comparable = _total(results, comparable=False), _total(results, comparable=True)
    for label, yardstick, total in (
        ("all", "luhn; INAMI, BCE: be.vat", issue),
        ("all but INAMI", "the * one of each kind", comparable),
    ):
        lines.append(
            [
                label,
                f"{total.numbers:,}",
                _rate(total.numbers / total.ours_s),
                yardstick,
                _rate(total.numbers / total.theirs_s),
                _report.ratio(total.ratio, 1),
                "",
            ]
        )
    _report.table(
        [
            "kind",
            "numbers",
            "ours is_valid/s",
            "stdnum yardstick",
            "stdnum/s",
            "ours/stdnum",
            "medians",
        ],
        lines,
        left=1,
    )
    return issue, comparable


def print_validate_table(results: dict[str, _timing.Throughput]) -> None:
    """``validate`` on the valid numbers, next to ``is_valid`` on the same numbers."""
    lines = []
    for kind in KINDS:
        returned = results[f"{kind.name}: validate"]
        checked = results[f"{kind.name}: is_valid, valid"]
        lines.append(
            [
                kind.name,
                f"{returned.items:,}",
                _rate(returned.per_second),
                _rate(checked.per_second),
                _report.ratio(returned.per_second, checked.per_second),
            ]
        )
    _report.table(
        ["valid only", "numbers", "ours validate/s", "ours is_valid/s", "validate/is_valid"],
        lines,
    )


def print_environment(inputs: Inputs, generated_s: float, checked: str) -> None:
    """Print what the numbers were measured on, and how."""
    print(f"Python         {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"python-stdnum  {importlib.metadata.version('python-stdnum')}")
    valid = sum(inputs.valid) / len(inputs.valid)
    print(f"inputs         {len(inputs.texts):,} made-up numbers ({valid:.1%} valid), seed {SEED},")
    print(f"               drawn in {generated_s:.1f} s; written forms, in percent:")
    forms = zip(("compact", *map(repr, FORMS[1:])), FORM_WEIGHTS, strict=True)
    print("               " + ", ".join(f"{form} {weight}" for form, weight in forms))
    print("verdicts       all as labelled (checked before timing):")
    print(f"               {checked}")
    print(f"method         whole passes per kind, best of {ROUNDS} rounds, round-robin, gc off;")
    print("               throughputs in numbers per second; ours/stdnum above 1: we are faster.")


def bench_identifiers() -> dict[str, float]:
    """Section 7: generate, check the verdicts, time, print. Return the key ratios."""
    started = time.perf_counter()
    _report.heading("7. Validating one million identifiers (python-stdnum as the yardstick)")
    inputs = generate()
    generated_s = time.perf_counter() - started
    print_environment(inputs, generated_s, check_agreement(inputs))
    results = _timing.throughput(_batches(inputs), rounds=ROUNDS)
    print()
    issue, comparable = print_main_table(results)
    _report.note("* = comparable work. luhn = stdnum.luhn.is_valid after stdnum.util.clean(x,")
    _report.note("' -./'): no length check. fr.siren.is_valid: the same work as ours for 9 digits.")
    _report.note("be.vat refuses INAMI numbers on length: a stdnum call's cost, not the same work.")
    _report.note("Our bce.is_valid wraps stdnum.be.vat.is_valid: a little below 1 expected.")
    _report.note("all = every kind's pass summed (the same million numbers, grouped by kind).")
    _report.note("medians = the same ratio from each pass's median round.")
    print()
    print_validate_table(results)
    _report.note(f"section time: {time.perf_counter() - started:.1f} s")
    return {
        "identifiers, the million: ours / stdnum (luhn, be.vat)": issue.ratio,
        "identifiers, comparable work (all but INAMI): ours / stdnum": comparable.ratio,
        "BCE: ours / stdnum.be.vat": (
            results["BCE: ours"].per_second / results["BCE: be.vat.is_valid"].per_second
        ),
    }


if __name__ == "__main__":
    bench_identifiers()
