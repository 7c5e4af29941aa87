"""Section 9: profiles: checking an uploaded logo, choosing free initials, saving a practitioner.

a) Checking an uploaded logo (C7). ``check_logo`` reads the PNG or JPEG headers only (type,
   dimensions, a truncated upload); Pillow is the library a host would otherwise pick. Its fair
   equivalent is lazy: ``Image.open(io.BytesIO(data))``, which parses the headers without
   decoding pixels, then ``.format`` (PNG or JPEG, else refused) and ``.size``. Three Pillow
   variants are timed, on the same inputs:

   * ``Image.open`` as a host would first write it: Pillow tries every plugin it has before
     it gives up on an input that is no image, which is what it costs on refused inputs;
   * ``Image.open(..., formats=("PNG", "JPEG"))``: the same, trying those two plugins only,
     the careful host's version (the stricter yardstick);
   * ``Image.open`` then ``verify()``, Pillow's integrity check, reported as a second
     yardstick: for PNG it reads every chunk after the header and checks its CRC up to
     ``IEND``; for JPEG, Pillow has no ``verify`` of its own and checks nothing more than
     ``open`` did (only decoding the pixels would).

   Inputs (``uploads``): valid PNGs of several sizes from ``sample_png``, up to the largest
   side allowed (2048), and one RGBA PNG saved by Pillow with the ancillary chunks an image
   editor writes; valid JPEGs saved by Pillow itself (baseline and progressive), because
   ``sample_jpeg`` is headers with filler for scan data (both libraries accept it, so it
   could be used, but a real file is the honest input); and refused inputs: SVG text, a PNG
   cut in half, a JPEG cut in its scan data, a GIF, random bytes. Every valid input is within
   practiceid's documented limits (16 to 2048 pixels a side, 512 KiB), so the two libraries
   are compared on "is this a whole PNG or JPEG, and what size": Pillow has no such limits,
   a host would add them after ``open`` (two comparisons).

   Before timing, each input's verdict is checked against the one written next to it, for
   practiceid and for each Pillow variant, and wherever both accept, the type and dimensions
   must be equal; the inputs on which they disagree (truncated files) are printed as such.

b) ``initials.nearest_free`` (A7) with 0, 50 and 500 initials already taken in the
   establishment, in two shapes: unrelated initials (the derived ones are free: one look-up),
   and the initials the search tries first (``JD``, ``JDu``, ``JDup``, ``JeD``, ...,
   ``JD2``, ...), so that every call walks past all of them: the worst case for that many
   taken. No library offers initials unique within an establishment: there is no yardstick,
   and ratios are to the 0-taken case.

c) ``ProfileService.save_practitioner`` end to end, on the in-memory store (no I/O):
   authorization, identifiers, the workplace address (its postal code, e-mail and phone),
   the profession's rules, the supervisor check, the store's update and commit. Each
   member's practitioner data is saved once before timing, so every timed call replaces it
   with the same data. The phone check (``contact.clean_phone``, phonenumbers against the
   country's numbering plan) and the e-mail check (``email_policy.parse``, email-validator,
   no DNS) are timed alone on the same values, to give their share of the whole.

Timing: every call on its own (:func:`benchmarks._timing.run`), ``ROUNDS`` rounds, cases
compared together round-robin, gc off during a round, the clock's overhead subtracted.
"""

from __future__ import annotations

import importlib.metadata
import io
import math
import random
import statistics
import string
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from PIL import Image, PngImagePlugin

from benchmarks import _report, _timing
from practiceid import AccessService, ProductKind
from practiceid.adapters import InMemoryStore, SystemClock
from practiceid.policies import contact, initials
from practiceid.policies.identifiers import inami
from practiceid.policies.logo import check_logo
from practiceid.profiles import ProfileService
from practiceid.testing import sample_user
from practiceid.testing.samples import sample_inami, sample_jpeg, sample_png, sample_workplace

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.establishments import EstablishmentId
    from practiceid.practitioners import Practitioner
    from practiceid.users import UserId

SEED: Final = 20_260_507
ROUNDS: Final = 5
LOGO_PASSES: Final = 100  # x 12 inputs per round
SAVE_PASSES: Final = 25  # x 8 members per round
PART_PASSES: Final = 100  # clean_phone and the e-mail check, same 8 values

ACCEPTED: Final = ("PNG", "JPEG")
OURS: Final = "practiceid check_logo"
PILLOW_OPEN: Final = "Pillow open"
PILLOW_FORMATS: Final = "Pillow open, formats=PNG/JPEG"
PILLOW_VERIFY: Final = "Pillow open + verify"
PILLOWS: Final = (PILLOW_OPEN, PILLOW_FORMATS, PILLOW_VERIFY)

SAVE: Final = "save_practitioner"
PHONE: Final = "contact.clean_phone alone"
EMAIL: Final = "email_policy.parse alone"
VALIDATORS: Final = ("phonenumbers", "email-validator")

Verdict = tuple[str, int, int] | str  # (format, width, height) when accepted, else why not


# -- a) logo -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """An uploaded file and the verdicts expected of each library, written down beforehand."""

    name: str
    data: bytes
    ours: bool  # check_logo accepts it
    pillow: bool  # Image.open (either variant) gives a PNG or JPEG
    verified: bool  # and verify() raises nothing


def _picture(width: int, height: int) -> Image.Image:
    """An RGB picture with smooth gradients, as a logo has: what JPEG is made for."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = red.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return Image.merge("RGB", (red, green, blue))


def _saved(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _editor_png(width: int, height: int) -> bytes:
    """An RGBA PNG with the ancillary chunks an image editor writes (pHYs, tEXt)."""
    text = PngImagePlugin.PngInfo()
    text.add_text("Software", "practiceid benchmark")
    picture = _picture(width, height).convert("RGBA")
    return _saved(picture, "PNG", pnginfo=text, dpi=(144, 144), optimize=True)


def uploads() -> list[Upload]:
    """The inputs of a), valid ones first: the same bytes on every run of one Pillow."""
    jpeg = _saved(_picture(1200, 400), "JPEG", quality=85, progressive=True)
    png_400 = sample_png(400, 150)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
        b'<rect width="120" height="40" fill="#0a6"/></svg>'
    )
    valid = [
        ("PNG 120x40, sample_png", sample_png()),
        ("PNG 400x150, sample_png", png_400),
        ("PNG 2048x2048, sample_png", sample_png(2048, 2048)),
        ("PNG 600x200 RGBA, editor", _editor_png(600, 200)),
        ("JPEG 120x40, q85", _saved(_picture(120, 40), "JPEG", quality=85)),
        ("JPEG 400x150, q85", _saved(_picture(400, 150), "JPEG", quality=85)),
        ("JPEG 1200x400, progressive", jpeg),
    ]
    return [
        *(Upload(name, data, ours=True, pillow=True, verified=True) for name, data in valid),
        Upload("SVG text", svg, ours=False, pillow=False, verified=False),
        Upload(
            "PNG 400x150 cut in half",
            png_400[: len(png_400) // 2],
            ours=False,
            pillow=True,
            verified=False,
        ),
        Upload(
            "JPEG 1200x400 cut at 80%",
            jpeg[: len(jpeg) * 4 // 5],
            ours=False,
            pillow=True,
            verified=True,
        ),
        Upload(
            "GIF 120x40",
            _saved(_picture(120, 40).convert("P"), "GIF"),
            ours=False,
            pillow=False,
            verified=False,
        ),
        Upload(
            "random bytes, 4 KiB",
            random.Random(SEED).randbytes(4096),
            ours=False,
            pillow=False,
            verified=False,
        ),
    ]


def ours_verdict(data: bytes) -> Verdict:
    """practiceid's verdict: the type and dimensions, or the first problem's code."""
    logo, problems = check_logo(data)
    if logo is None:
        return problems[0][0].removeprefix("logo.")
    return logo.media_type.removeprefix("image/").upper(), logo.width, logo.height


def _pillow(image: Image.Image) -> Verdict:
    if image.format not in ACCEPTED:
        return f"{image.format}, refused"
    width, height = image.size
    return str(image.format), width, height


def pillow_open(data: bytes) -> Verdict:
    """``Image.open``, then ``.format`` and ``.size``: headers only, no pixels decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _pillow(image)
    except OSError as error:  # UnidentifiedImageError is one
        return type(error).__name__


def pillow_formats(data: bytes) -> Verdict:
    """The same, trying the PNG and JPEG plugins only."""
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED) as image:
            return _pillow(image)
    except OSError as error:
        return type(error).__name__


def pillow_verify(data: bytes) -> Verdict:
    """``Image.open``, the format checked, then ``verify()``: Pillow's integrity check."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            verdict = _pillow(image)
            if isinstance(verdict, tuple):
                image.verify()
            return verdict
    except (OSError, SyntaxError) as error:  # PNG CRC mismatches raise SyntaxError
        return type(error).__name__


def _accepted(verdict: Verdict) -> bool:
    return isinstance(verdict, tuple)


def _show(verdict: Verdict) -> str:
    if isinstance(verdict, tuple):
        image_format, width, height = verdict
        return f"{image_format} {width}x{height}"
    return verdict


def check_logos(inputs: Sequence[Upload]) -> None:
    """Refuse to time verdicts other than those written down, or dimensions that differ."""
    problems = []
    for upload in inputs:
        ours = ours_verdict(upload.data)
        for who, verdict, expected in (
            ("practiceid", ours, upload.ours),
            (PILLOW_OPEN, pillow_open(upload.data), upload.pillow),
            (PILLOW_FORMATS, pillow_formats(upload.data), upload.pillow),
            (PILLOW_VERIFY, pillow_verify(upload.data), upload.verified),
        ):
            if _accepted(verdict) != expected:
                problems.append(f"{who} says {_show(verdict)} for {upload.name}")
            elif expected and upload.ours and verdict != ours:
                problems.append(f"{who} says {_show(verdict)}, practiceid {_show(ours)}")
    # sample_jpeg is not timed (see the docstring) but must pass both too.
    filler = sample_jpeg()
    if ours_verdict(filler) != pillow_verify(filler):
        problems.append("sample_jpeg: practiceid and Pillow disagree")
    if problems:
        raise SystemExit("logo benchmark verdicts are not as expected:\n  " + "\n  ".join(problems))


def bench_logo(overhead_ns: int) -> dict[str, float]:
    """Section 9a. Return each Pillow variant over ours: medians, and valid files' geomean."""
    inputs = uploads()
    check_logos(inputs)
    data = [upload.data for upload in inputs]
    funcs = {
        OURS: check_logo,
        PILLOW_OPEN: pillow_open,
        PILLOW_FORMATS: pillow_formats,
        PILLOW_VERIFY: pillow_verify,
    }
    results = _timing.run(
        [_timing.Case(name, func, data, LOGO_PASSES) for name, func in funcs.items()],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )
    ours = results[OURS]
    valid = sum(upload.ours for upload in inputs)
    pillow = importlib.metadata.version("pillow")
    print(f"9a. Checking an uploaded logo: {valid} valid PNG and JPEG files and")
    print(f"{len(inputs) - valid} refused ones, against Pillow {pillow}:")
    _report.table(
        ["case", "calls", "median us", "p95 us", "/ practiceid"],
        [
            [
                r.name,
                f"{r.calls:,}",
                _report.us(r.median_us),
                _report.us(r.p95_us),
                _report.ratio(r.median_us, ours.median_us),
            ]
            for r in results.values()
        ],
    )
    print()
    _report.table(
        ["input", "bytes", "practiceid", "Pillow open", "formats=", "+ verify"],
        [
            [
                upload.name,
                f"{len(upload.data):,}",
                _show(ours_verdict(upload.data)),
                _show(pillow_open(upload.data)),
                _show(pillow_formats(upload.data)),
                _show(pillow_verify(upload.data)),
            ]
            for upload in inputs
        ],
        left=1,
    )
    _report.note("verdicts checked before timing against the ones written down; wherever")
    _report.note("both accept, the type and dimensions are equal. They disagree on the cut")
    _report.note("files: Pillow's open reads up to the first image data and accepts both;")
    _report.note("verify catches the cut PNG, not the cut JPEG (it checks nothing in a JPEG).")
    _report.note("practiceid requires IEND / EOI at the end: it refuses both.")
    print()
    per_input = {
        name: [
            theirs / mine
            for theirs, mine in zip(results[name].per_input_us, ours.per_input_us, strict=True)
        ]
        for name in PILLOWS
    }
    rows = []
    for index, upload in enumerate(inputs):
        row = [upload.name, _report.us(ours.per_input_us[index])]
        for name in PILLOWS:
            row += [
                _report.us(results[name].per_input_us[index]),
                _report.ratio(per_input[name][index], 1),
            ]
        rows.append(row)
    valid = [index for index, upload in enumerate(inputs) if upload.ours]
    refused = [index for index, upload in enumerate(inputs) if not upload.ours]
    geomeans = {
        group: {name: _geomean([per_input[name][i] for i in indices]) for name in PILLOWS}
        for group, indices in (("valid", valid), ("refused", refused))
    }
    for group, indices in (("valid", valid), ("refused", refused)):
        row = [f"{len(indices)} {group}, geometric mean", ""]
        for name in PILLOWS:
            row += ["", _report.ratio(geomeans[group][name], 1)]
        rows.append(row)
    _report.table(
        ["input", "ours us", "open us", "/ ours", "formats= us", "/ ours", "verify us", "/ ours"],
        rows,
    )
    _report.note("per input: median of that input's calls over all rounds. / ours above 1:")
    _report.note("Pillow takes longer. Pillow's open tries each of its plugins on bytes that")
    _report.note("are no image; formats=(PNG, JPEG) tries two. Neither decodes pixels.")
    return {
        **{
            f"{name}, all {len(inputs)}": results[name].median_us / ours.median_us
            for name in PILLOWS
        },
        **{f"{name}, {len(valid)} valid (geomean)": geomeans["valid"][name] for name in PILLOWS},
    }


def _geomean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(value) for value in values))


# -- b) initials ---------------------------------------------------------------------------

NAMES: Final = (
    ("Jean", "Dupont"),
    ("Jean-Pierre", "Van den Bossche"),
    ("Élodie", "de la Fontaine"),
    ("Anne", "Peeters"),
    ("Marie-Claire", "Lefèvre"),
    ("Thomas", "Nguyen"),
)
TAKEN_COUNTS: Final = (50, 500)
WORST: Final = "500, all on the path"
# Calls per name per round; the worst case costs about a millisecond a call.
CHEAP_PASSES: Final = 200
PATH_PASSES: Final = {50: 100, 500: 20}

Query = tuple[str, str, frozenset[str]]  # first name, last name, keys of taken initials


@dataclass(frozen=True)
class Taken:
    """One case of b): a query per name, each with the keys of the initials taken."""

    name: str
    on_path: bool
    passes: int
    queries: list[Query]


def _on_path(first: str, last: str, count: int) -> frozenset[str]:
    """The first ``count`` initials ``nearest_free`` would give, in its order: all taken."""
    taken: set[str] = set()
    for _ in range(count):
        taken.add(initials.key(initials.nearest_free(first, last, taken=taken)))
    if len(taken) != count:
        raise SystemExit(f"initials benchmark: {first} {last} gave a repeated alternative")
    return frozenset(taken)


def _unrelated(rng: random.Random, first: str, last: str, count: int) -> frozenset[str]:
    """``count`` other members' initials (two to four letters), none the derived ones."""
    derived = initials.key(initials.derive(first, last))
    taken: set[str] = set()
    while len(taken) < count:
        drawn = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(2, 4)))
        if initials.key(drawn) != derived:
            taken.add(initials.key(drawn))
    return frozenset(taken)


def _nearest(query: Query) -> str:
    first, last, taken = query
    return initials.nearest_free(first, last, taken=taken)


def initials_cases() -> list[Taken]:
    """Nothing taken, then for each count: unrelated initials, and those on the path."""
    rng = random.Random(SEED)
    nothing = [(first, last, frozenset[str]()) for first, last in NAMES]
    cases = [Taken("nothing taken", on_path=False, passes=CHEAP_PASSES, queries=nothing)]
    for count in TAKEN_COUNTS:
        unrelated = [(first, last, _unrelated(rng, first, last, count)) for first, last in NAMES]
        on_path = [(first, last, _on_path(first, last, count)) for first, last in NAMES]
        cases += [
            Taken(f"{count} unrelated", on_path=False, passes=CHEAP_PASSES, queries=unrelated),
            Taken(
                f"{count}, all on the path",
                on_path=True,
                passes=PATH_PASSES[count],
                queries=on_path,
            ),
        ]
    return cases


def check_initials(cases: Sequence[Taken]) -> None:
    """Derived initials when they are free; never a taken one; a walk when on the path."""
    problems = []
    for case in cases:
        for first, last, taken in case.queries:
            found = initials.nearest_free(first, last, taken=taken)
            derived = initials.derive(first, last)
            if initials.key(found) in taken:
                problems.append(f"{case.name}: {found} for {first} {last} is taken")
            elif case.on_path == (found == derived):
                problems.append(f"{case.name}: {found} for {first} {last} (derived: {derived})")
    if problems:
        raise SystemExit("initials benchmark answers are wrong:\n  " + "\n  ".join(problems))


def bench_initials(overhead_ns: int) -> float:
    """Section 9b. Return the median of the worst case (500 taken, all on the path), in us."""
    cases = initials_cases()
    check_initials(cases)
    results = _timing.run(
        [_timing.Case(case.name, _nearest, case.queries, case.passes) for case in cases],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )
    baseline = results["nothing taken"].median_us
    print()
    print(f"9b. initials.nearest_free for {len(NAMES)} names, with initials already taken:")
    _report.table(
        ["case", "calls", "median us", "p95 us", "/ nothing taken"],
        [
            [
                r.name,
                f"{r.calls:,}",
                _report.us(r.median_us),
                _report.us(r.p95_us),
                _report.ratio(r.median_us, baseline),
            ]
            for r in results.values()
        ],
    )
    _report.note("no yardstick: no library offers initials unique within an establishment.")
    _report.note("unrelated: the derived initials are free (one look-up in the taken set).")
    _report.note("on the path: taken are the first N the search tries (JD, JDu, JDup, ...,")
    _report.note("JD2, ...; past JD99, JD100, ...): every call walks N candidates, the worst")
    _report.note("case for N taken. Each call derives the initials and folds every candidate.")
    return results[WORST].median_us


# -- c) save_practitioner ------------------------------------------------------------------

# Belgian members of one practice: the phones mix landlines, mobiles and the international
# form (one French number; a number in international form is checked against its country).
MEMBERS: Final = (
    ("Anne", "Peeters", "081 22 33 44"),
    ("Luc", "Janssens", "02 555 12 34"),
    ("Sofie", "Maes", "0470 12 34 56"),
    ("Karim", "El Amrani", "+32 2 555 12 35"),
    ("Claire", "Dubois", "+33 1 42 68 53 00"),
    ("Pieter", "Claes", "0491 23 45 67"),
    ("Nadia", "Lambert", "04 223 45 67"),
    ("Marc", "Wouters", "010 45 67 89"),
)


@dataclass(frozen=True)
class Member:
    """What one save sends: the member, their INAMI number and their workplace."""

    user_id: UserId
    inami: str
    workplace: dict[str, object]

    @property
    def phone(self) -> str:
        return str(self.workplace["phone"])

    @property
    def email(self) -> str:
        return str(self.workplace["email"])


@dataclass(frozen=True)
class Practice:
    """A general practice in an in-memory store, its owner and the profile service."""

    profiles: ProfileService
    owner: UserId
    establishment: EstablishmentId
    members: list[Member]

    def save(self, member: Member) -> Practitioner:
        """The use case under test, as a host's form handler calls it."""
        return self.profiles.save_practitioner(
            actor=self.owner,
            establishment_id=self.establishment,
            user_id=member.user_id,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": member.inami},
            addresses=[member.workplace],
        )


def build_practice() -> Practice:
    """The owner, the practice and its members, each with a recognised GP's INAMI number."""
    store = InMemoryStore()
    owner = sample_user()
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.commit()
    access = AccessService(unit_of_work=store.unit_of_work, clock=SystemClock())
    group = access.found_organisation(owner=owner.id, name="Maison médicale du Parc")
    practice = access.open_establishment(
        actor=owner.id,
        organisation_id=group.id,
        name="Maison médicale du Parc",
        product=ProductKind.GENERAL_PRACTICE,
    )
    members = []
    for first, last, phone in MEMBERS:
        email = f"{first}.{last.replace(' ', '')}@mm-parc.be".lower()
        added = access.add_member(
            actor=owner.id,
            establishment_id=practice.id,
            email=email,
            roles=["physician"],
            first_name=first,
            last_name=last,
        )
        workplace = sample_workplace(email=email, phone=phone)
        members.append(Member(added.user.id, sample_inami("003"), workplace))
    return Practice(ProfileService(access=access), owner.id, practice.id, members)


def check_practice(practice: Practice) -> None:
    """Save everyone once (the timed calls then replace); check what was stored."""
    policy = practice.profiles.access.email_policy
    problems = []
    for member in practice.members:
        stored = practice.save(member)
        phone, phone_problems = contact.clean_phone(member.phone, country="BE")
        workplace = stored.workplace
        if (
            phone_problems
            or workplace is None
            or workplace.phone != phone
            or workplace.email != policy.parse(member.email)
            or stored.inami != inami.parse(member.inami)
            or not stored.is_recognised_general_practitioner
        ):
            problems.append(f"{member.phone}, {member.email}: stored {stored!r}")
    if problems:
        raise SystemExit("save_practitioner benchmark: unexpected data\n  " + "\n  ".join(problems))


def bench_save(overhead_ns: int) -> tuple[float, float]:
    """Section 9c. Return save_practitioner's median (us) and clean_phone's share of it."""
    practice = build_practice()
    check_practice(practice)
    members = practice.members
    policy = practice.profiles.access.email_policy

    def phone(member: Member) -> object:
        return contact.clean_phone(member.phone, country="BE")

    def email(member: Member) -> object:
        return policy.parse(member.email)

    results = _timing.run(
        [
            _timing.Case(SAVE, practice.save, members, SAVE_PASSES),
            _timing.Case(PHONE, phone, members, PART_PASSES),
            _timing.Case(EMAIL, email, members, PART_PASSES),
        ],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )
    whole = results[SAVE].median_us
    print()
    print(f"9c. save_practitioner end to end, in-memory store, {len(members)} members")
    print("of one practice, each saved again with the same data (an update):")
    _report.table(
        ["case", "calls", "median us", "p95 us", "share of save"],
        [
            [
                r.name,
                f"{r.calls:,}",
                _report.us(r.median_us),
                _report.us(r.p95_us),
                f"{r.median_us / whole:.0%}",
            ]
            for r in results.values()
        ],
    )
    _report.note("no yardstick: the whole use case is practiceid's own. Parts are timed alone,")
    _report.note("warm, on the same values: their shares are of the medians, approximate.")
    versions = ", ".join(f"{n} {importlib.metadata.version(n)}" for n in VALIDATORS)
    _report.note(f"{versions} (no DNS look-up).")
    return whole, results[PHONE].median_us / whole


@dataclass(frozen=True)
class Profiles:
    """What section 9 hands on to the summary."""

    logo: dict[str, float]  # Pillow over ours: "<variant>, all 12" and "..., 7 valid (geomean)"
    worst_initials_us: float  # nearest_free, 500 taken, all on the path
    save_us: float  # save_practitioner's median
    phone_share: float  # clean_phone's median over save_practitioner's


def bench_profiles(overhead_ns: int) -> Profiles:
    """Section 9: logo, initials, save. Return the key figures for the summary."""
    started = time.perf_counter()
    _report.heading("9. Profiles: logo check (Pillow as the yardstick), initials, saving")
    logo = bench_logo(overhead_ns)
    worst_initials_us = bench_initials(overhead_ns)
    save_us, phone_share = bench_save(overhead_ns)
    _report.note(f"section time: {time.perf_counter() - started:.1f} s")
    return Profiles(logo, worst_initials_us, save_us, phone_share)


if __name__ == "__main__":
    bench_profiles(_timing.clock_overhead_ns())
