"""Section 8: authorization decisions, with pycasbin (RBAC with domains) as the yardstick.

Every request of a host asks "may this user do this here?", often several times: the issue's
targets are under 2 us per decision and at least 100x faster than pycasbin, the library a host
would otherwise pick for roles per establishment.

The policy: ``USERS`` users and ``ESTABLISHMENTS`` establishments (every product kind, then
kinds drawn from ``random.Random(SEED)``; each with its product's role templates), the whole
permission catalogue; each user is a member of one to three establishments with one or two
of its roles (weighted: few administrators and support staff, many clinicians and
secretaries). practiceid sees it through its pure functions only (``Establishment.open``,
``Membership.join``, ``compute_access``): no service, no store. Each membership's ``Access``
is computed once, before timing ("warm membership"), as a host keeps it for a session.

pycasbin is loaded with the same policy, in memory: one ``p`` line per (role, establishment,
permission) that the establishment's role holds, one ``g`` line per (user, role,
establishment) of a membership. Its model is RBAC with domains where a permission is one
string (``MODEL``). The matcher tests the two equalities before ``g()``: the same rule as
casbin's documented ``g(r.sub, p.sub, r.dom) && r.dom == p.dom && ...``, but it skips the role
look-up on lines of other establishments and permissions, which made the stock enforcer about
twice as fast on this policy when we tried both orders. Two enforcers are timed:

* ``casbin.Enforcer``, the stock one, which evaluates the matcher on ``p`` lines in order
  until one allows (on every line, for a denial): the issue's yardstick, milliseconds a call
  with this policy, so timed on the first ``STOCK_QUERIES`` queries only;
* ``casbin.FastEnforcer`` with ``cache_key_order=[1, 2]``, casbin's own answer to large
  policies: ``p`` lines indexed by (domain, permission), so a call evaluates the matcher on at
  most a few lines. The stricter yardstick; timed on the first ``FAST_QUERIES`` queries.

Queries: ``QUERIES`` (access, permission) pairs over the warm accesses; about half ask for a
permission the access holds, the others for one it lacks. For the target variant,
``CROSS_SHARE`` of them name another establishment than the access's (one where the user is
also a member when there is one): tenant isolation must deny them whatever the permission.

What is timed, on the same queries: ``access.allows(permission)``, ``decide(access,
permission)``, ``decide(access, permission, Target.establishment(id))`` with the target built
in the call as a host would, the same with targets built beforehand (to show what building one
costs), and ``enforcer.enforce(user, establishment, permission)``. Timing: whole passes
(:func:`benchmarks._timing.throughput`), best and median of ``ROUNDS``, round-robin, gc off: a
call takes well under a microsecond, too close to the clock's own cost to time alone. Every
figure includes the loop's own cost, printed as "loop only".

Before timing, every answer is checked (:func:`check_agreement`): ``decide``, ``allows`` and
casbin must agree on every query, so that a benchmark bug cannot show as a speed-up.
"""

from __future__ import annotations

import importlib.metadata
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import casbin
from casbin.model import FastModel, Model

from benchmarks import _report, _timing
from practiceid.authorization import Access, Reason, Target, compute_access, decide
from practiceid.establishments import (
    ROLE_TEMPLATES,
    Establishment,
    EstablishmentId,
    OrganisationId,
    ProductKind,
    RoleId,
)
from practiceid.memberships import Membership
from practiceid.permissions import Permission
from practiceid.testing import sample_user
from practiceid.users import User, UserId

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SEED: Final = 20_260_501
USERS: Final = 2_000
ESTABLISHMENTS: Final = 50
ESTABLISHMENTS_PER_ORGANISATION: Final = 5
QUERIES: Final = 50_000
FAST_QUERIES: Final = 5_000
STOCK_QUERIES: Final = 200
ROUNDS: Final = 5
STOCK_ROUNDS: Final = 3
ALLOWED_SHARE: Final = 0.5
CROSS_SHARE: Final = 0.1
TARGET_US: Final = 2.0
TARGET_RATIO: Final = 100.0
WHEN: Final = datetime(2026, 1, 5, tzinfo=UTC)

# How often a membership draws each role template: administrators and support are few.
ROLE_WEIGHTS: Final = {
    "administrator": 1,
    "user_manager": 1,
    "physician": 5,
    "nurse": 3,
    "assistant": 3,
    "secretary": 4,
    "trainee": 2,
    "support": 1,
}

MODEL: Final = """\
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, dom, obj

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.dom == p.dom && r.obj == p.obj && g(r.sub, p.sub, r.dom)
"""

LOOP: Final = "loop only"
ALLOWS: Final = "access.allows(p)"
DECIDE: Final = "decide(access, p)"
DECIDE_TARGET: Final = "decide(access, p, Target.establishment(id))"
DECIDE_BUILT: Final = "decide(access, p, target), target built before"
DECIDE_ID: Final = "decide(access, p, establishment_id)"
FAST: Final = "casbin FastEnforcer.enforce"
STOCK: Final = "casbin Enforcer.enforce"


@dataclass(frozen=True)
class Policy:
    """Users, establishments, memberships and their warm accesses, and casbin's lines."""

    users: dict[UserId, User]
    establishments: dict[EstablishmentId, Establishment]
    memberships: list[Membership]
    accesses: dict[tuple[UserId, EstablishmentId], Access]
    p_lines: list[list[str]]
    g_lines: list[list[str]]
    compute_s: float


@dataclass(frozen=True)
class Query:
    """One question: ``access`` (its user, its establishment) asks for ``permission``.

    ``target`` is the establishment the target variant names: the access's own, or another
    (``cross``). ``own`` and ``elsewhere`` are the same question as casbin requests.
    """

    access: Access
    permission: Permission
    target: EstablishmentId
    built: Target

    @property
    def cross(self) -> bool:
        return self.target != self.access.establishment_id

    @property
    def own(self) -> tuple[str, str, str]:
        return (self.access.user_id, str(self.access.establishment_id), self.permission.value)

    @property
    def elsewhere(self) -> tuple[str, str, str]:
        return (self.access.user_id, self.target, self.permission.value)


def build_policy(seed: int = SEED) -> Policy:
    """Draw the establishments, users and memberships; compute every access once."""
    rng = random.Random(seed)
    kinds = list(ProductKind)
    establishments = {}
    for index in range(ESTABLISHMENTS):
        establishment_id = EstablishmentId(f"est-{index:02d}")
        establishments[establishment_id] = Establishment.open(
            establishment_id,
            organisation_id=OrganisationId(f"org-{index // ESTABLISHMENTS_PER_ORGANISATION}"),
            name=f"Establishment {index}",
            product=kinds[index % len(kinds)] if index < len(kinds) else rng.choice(kinds),
            created_at=WHEN,
        )
    users = {}
    memberships = []
    for index in range(USERS):
        user = sample_user(id=UserId(f"user-{index:04d}"))
        users[user.id] = user
        for establishment in rng.sample(list(establishments.values()), rng.randint(1, 3)):
            templates = ROLE_TEMPLATES[establishment.product]
            weights = [ROLE_WEIGHTS[t.key] for t in templates]
            roles: set[RoleId] = set()
            wanted = rng.randint(1, 2)
            while len(roles) < wanted:
                roles.add(RoleId(rng.choices(templates, weights)[0].key))
            memberships.append(
                Membership.join(user.id, establishment.id, roles=sorted(roles), created_at=WHEN)
            )
    started = time.perf_counter()
    accesses = {
        (m.user_id, m.establishment_id): compute_access(
            user=users[m.user_id],
            establishment=establishments[m.establishment_id],
            membership=m,
        )
        for m in memberships
    }
    compute_s = time.perf_counter() - started
    p_lines = [
        [role.id, establishment.id, permission.value]
        for establishment in establishments.values()
        for role in establishment.roles
        for permission in sorted(role.permissions)
    ]
    g_lines = [
        [m.user_id, role, m.establishment_id] for m in memberships for role in sorted(m.roles)
    ]
    return Policy(users, establishments, memberships, accesses, p_lines, g_lines, compute_s)


def draw_queries(policy: Policy, count: int = QUERIES, seed: int = SEED) -> list[Query]:
    """About ``ALLOWED_SHARE`` held permissions; ``CROSS_SHARE`` targets elsewhere."""
    rng = random.Random(seed + 1)
    accesses = list(policy.accesses.values())
    catalogue = list(Permission)
    memberships_of: dict[UserId, list[EstablishmentId]] = {}
    for user_id, establishment_id in policy.accesses:
        memberships_of.setdefault(user_id, []).append(establishment_id)
    queries = []
    for _ in range(count):
        access = rng.choice(accesses)
        own = access.establishment_id
        if own is None:  # only organisation accesses have none; none is drawn here
            raise SystemExit("authorization benchmark: an establishment access has no id")
        held = [p for p in catalogue if p in access.permissions]
        lacking = [p for p in catalogue if p not in access.permissions]
        permission = rng.choice(held if rng.random() < ALLOWED_SHARE else lacking)
        target = own
        if rng.random() < CROSS_SHARE:
            others = [e for e in memberships_of[access.user_id] if e != own]
            if not others:
                others = [e for e in policy.establishments if e != own]
            target = rng.choice(others)
        queries.append(Query(access, permission, target, Target.establishment(target)))
    return queries


def build_enforcers(policy: Policy) -> tuple[casbin.Enforcer, casbin.FastEnforcer]:
    """The stock enforcer and the indexed one, each loaded with the same lines."""
    model = Model()
    model.load_model_from_text(MODEL)
    stock = casbin.Enforcer(model)
    fast_model = FastModel([1, 2])  # p lines and requests indexed by (domain, permission)
    fast_model.load_model_from_text(MODEL)
    fast = casbin.FastEnforcer(fast_model, cache_key_order=[1, 2])
    for enforcer in (stock, fast):
        enforcer.add_policies(policy.p_lines)
        enforcer.add_grouping_policies(policy.g_lines)
        if len(enforcer.get_policy()) != len(policy.p_lines) or len(
            enforcer.get_grouping_policy()
        ) != len(policy.g_lines):
            raise SystemExit("authorization benchmark: casbin did not take the whole policy")
    return stock, fast


@dataclass(frozen=True)
class Checked:
    """How many answers :func:`check_agreement` compared."""

    queries: int
    stock: int
    same: int
    cross: int
    held_there: int


def check_agreement(
    policy: Policy,
    queries: Sequence[Query],
    stock: casbin.Enforcer,
    fast: casbin.FastEnforcer,
) -> Checked:
    """Refuse to time answers that disagree; return how many were compared.

    Same-establishment queries: ``allows``, ``decide`` with and without a target, and casbin's
    ``enforce(user, establishment, permission)`` must all give the same answer (the stock
    enforcer on the queries it is timed on: it costs milliseconds a call).

    Cross-establishment queries ask another question in each library, so they are compared
    apart. practiceid's ``Access`` is valid in one establishment: a target elsewhere is denied
    (``other_establishment``) whatever the user holds there, and a host that means to act
    there computes that establishment's access. casbin has no such value: a request names its
    domain, so ``enforce(user, target, permission)`` answers "may the user do it over there?",
    which is true whenever the user holds the permission there as well. Casbin is therefore
    checked against the access practiceid computed for the target's establishment (none, so
    denied, when the user is not a member there), and ``decide`` against
    ``other_establishment``.
    """
    problems: list[str] = []

    def expect(what: str, query: Query, *, got: bool, want: bool) -> None:
        if got != want and len(problems) < 10:
            problems.append(f"{what}: {got} for {query.own} -> {query.target}, expected {want}")

    same = cross = held_there = 0
    for index, query in enumerate(queries):
        access, permission = query.access, query.permission
        allowed = access.allows(permission)
        expect("decide", query, got=decide(access, permission).allowed, want=allowed)
        expect("FastEnforcer", query, got=fast.enforce(*query.own), want=allowed)
        if index < STOCK_QUERIES:
            expect("Enforcer", query, got=stock.enforce(*query.own), want=allowed)
        with_target = decide(access, permission, query.built)
        by_id = decide(access, permission, query.target)
        expect("decide by id", query, got=by_id.allowed, want=with_target.allowed)
        if not query.cross:
            same += 1
            expect("decide with target", query, got=with_target.allowed, want=allowed)
            continue
        cross += 1
        denied = with_target.reason is Reason.OTHER_ESTABLISHMENT
        expect("decide, cross-establishment", query, got=denied, want=True)
        there = policy.accesses.get((access.user_id, query.target))
        held = there is not None and there.allows(permission)
        held_there += held
        expect("FastEnforcer, cross", query, got=fast.enforce(*query.elsewhere), want=held)
    if problems:
        raise SystemExit("authorization benchmark answers disagree:\n  " + "\n  ".join(problems))
    return Checked(len(queries), min(STOCK_QUERIES, len(queries)), same, cross, held_there)


def _loop_only(queries: Sequence[Query]) -> None:
    for query in queries:
        _ = query.access, query.permission


def _allows(queries: Sequence[Query]) -> None:
    for query in queries:
        query.access.allows(query.permission)


def _decide(queries: Sequence[Query]) -> None:
    for query in queries:
        decide(query.access, query.permission)


def _decide_target(queries: Sequence[Query]) -> None:
    establishment = Target.establishment
    for query in queries:
        decide(query.access, query.permission, establishment(query.target))


def _decide_id(queries: Sequence[Query]) -> None:
    for query in queries:
        decide(query.access, query.permission, query.target)


def _decide_built(queries: Sequence[Query]) -> None:
    for query in queries:
        decide(query.access, query.permission, query.built)


def _enforce(enforcer: casbin.Enforcer) -> Callable[[Sequence[tuple[str, str, str]]], None]:
    def loop(requests: Sequence[tuple[str, str, str]]) -> None:
        enforce = enforcer.enforce
        for user, domain, permission in requests:
            enforce(user, domain, permission)

    return loop


def _ns(result: _timing.Throughput, *, median: bool = False) -> float:
    """Nanoseconds per query in the best (or the median) round."""
    return (result.median_s if median else result.best_s) / result.items * 1e9


def _share(queries: Sequence[Query]) -> str:
    allowed = sum(q.access.allows(q.permission) for q in queries) / len(queries)
    return f"{allowed:.1%}"


def print_environment(policy: Policy, queries: Sequence[Query], checked: Checked) -> None:
    """Print the policy, the queries and the model, and how they were checked and timed."""
    products = Counter(e.product.value for e in policy.establishments.values())
    count = len(policy.accesses)
    fast_share = _share(queries[:FAST_QUERIES])
    stock_share = _share(queries[:STOCK_QUERIES])
    lines = [
        ("casbin", f"{importlib.metadata.version('casbin')}"),
        ("policy", f"{len(policy.users):,} users, {len(policy.establishments)} establishments"),
        ("", "(" + ", ".join(f"{kind} {n}" for kind, n in sorted(products.items())) + "),"),
        ("", f"{len(Permission)} permissions, {len(policy.memberships):,} memberships;"),
        ("", f"casbin: {len(policy.p_lines):,} p lines, {len(policy.g_lines):,} g lines"),
        ("warm", f"{count:,} accesses computed once, before timing, by compute_access:"),
        ("", f"{policy.compute_s * 1e3:.0f} ms, {policy.compute_s / count * 1e6:.1f} us each"),
        ("queries", f"{len(queries):,}, seed {SEED}, {_share(queries)} allowed (no target);"),
        ("", f"{checked.cross:,} ({CROSS_SHARE:.0%}) target another establishment: denied,"),
        ("", f"{checked.held_there:,} of them for a permission the user holds over there;"),
        ("", f"FastEnforcer on the first {FAST_QUERIES:,} ({fast_share} allowed),"),
        ("", f"Enforcer on the first {STOCK_QUERIES} ({stock_share} allowed)"),
        ("answers", "all agree, checked before timing: allows, decide and FastEnforcer"),
        ("", f"on {checked.queries:,}, Enforcer on {checked.stock}; decide with a target on"),
        ("", f"the {checked.same:,} in the access's establishment; on the other {checked.cross:,}"),
        ("", "decide says other_establishment, and FastEnforcer, asked about the"),
        ("", "target's establishment, matches the user's access there"),
        ("method", f"whole passes, best and median of {ROUNDS} rounds ({STOCK_ROUNDS} for"),
        ("", "the Enforcer), round-robin, gc off; ns per query, loop included"),
    ]
    lines += [("model" if not n else "", line) for n, line in enumerate(_model_lines())]
    for label, text in lines:
        print(f"{label:<12} {text}".rstrip())


def _model_lines() -> list[str]:
    return [line for line in MODEL.splitlines() if line]


def bench_access() -> dict[str, float]:
    """Section 8: build, check, time, print. Return the key ratios."""
    started = time.perf_counter()
    _report.heading("8. Authorization decisions (pycasbin, RBAC with domains, as the yardstick)")
    policy = build_policy()
    queries = draw_queries(policy)
    stock, fast = build_enforcers(policy)
    checked = check_agreement(policy, queries, stock, fast)
    print_environment(policy, queries, checked)
    own = [q.own for q in queries]
    results = _timing.throughput(
        [
            _timing.Batch(LOOP, _loop_only, queries),
            _timing.Batch(ALLOWS, _allows, queries),
            _timing.Batch(DECIDE, _decide, queries),
            _timing.Batch(DECIDE_TARGET, _decide_target, queries),
            _timing.Batch(DECIDE_BUILT, _decide_built, queries),
            _timing.Batch(DECIDE_ID, _decide_id, queries),
            _timing.Batch(FAST, _enforce(fast), own[:FAST_QUERIES]),
        ],
        rounds=ROUNDS,
    )
    results |= _timing.throughput(
        [_timing.Batch(STOCK, _enforce(stock), own[:STOCK_QUERIES], warmup=20)],
        rounds=STOCK_ROUNDS,
    )
    fast_ns, stock_ns = _ns(results[FAST]), _ns(results[STOCK])
    print()
    rows = []
    for name in (LOOP, ALLOWS, DECIDE, DECIDE_TARGET, DECIDE_BUILT, DECIDE_ID, FAST, STOCK):
        result = results[name]
        ns = _ns(result)
        ours = name not in {LOOP, FAST, STOCK}
        rows.append(
            [
                name,
                f"{result.items:,}",
                f"{ns:,.0f}",
                f"{_ns(result, median=True):,.0f}",
                _report.ratio(fast_ns, ns) if ours else "",
                _report.ratio(stock_ns, ns) if ours else "",
            ]
        )
    _report.table(
        ["case", "queries", "best ns", "median ns", "FastEnforcer / ours", "Enforcer / ours"],
        rows,
    )
    _report.note("ratios: casbin's time per query over ours (best rounds); above 1, we are faster.")
    _report.note("casbin runs on a prefix of the same queries (same mix, allowed share above).")
    _report.note("Target.establishment(id) builds a frozen attrs value in the call: compare the")
    _report.note("row with the target built before, and the bare establishment id (the fast form).")
    _report.note("A denial builds a Decision once per access and permission, then reuses it.")
    print()
    verdicts = []
    for name in (ALLOWS, DECIDE, DECIDE_ID, DECIDE_TARGET):
        median_us = _ns(results[name], median=True) / 1e3
        met = median_us < TARGET_US
        verdicts.append([f"{name} < {TARGET_US:g} us", _report.us(median_us) + " us", _met(met)])
        for label, theirs in (("Enforcer", stock_ns), ("FastEnforcer", fast_ns)):
            ratio = theirs / _ns(results[name])
            verdicts.append(
                [
                    f"  >= {TARGET_RATIO:.0f}x faster than casbin {label}",
                    _report.ratio(ratio, 1),
                    _met(ratio >= TARGET_RATIO),
                ]
            )
    _report.table(["issue's target", "measured", "met"], verdicts)
    _report.note("time: median round; ratios: best rounds. The issue's yardstick is the stock")
    _report.note("Enforcer; FastEnforcer (policy indexed by domain and permission) is the")
    _report.note("stricter comparison.")
    _report.note(f"section time: {time.perf_counter() - started:.1f} s")
    decide_ns, target_ns = _ns(results[DECIDE]), _ns(results[DECIDE_TARGET])
    id_ns = _ns(results[DECIDE_ID])
    return {
        "decide by establishment id: casbin Enforcer / practiceid": stock_ns / id_ns,
        "decide by establishment id: casbin FastEnforcer / practiceid": fast_ns / id_ns,
        "decide, no target: casbin Enforcer / practiceid": stock_ns / decide_ns,
        "decide, no target: casbin FastEnforcer / practiceid": fast_ns / decide_ns,
        "decide with a target: casbin Enforcer / practiceid": stock_ns / target_ns,
        "decide with a target: casbin FastEnforcer / practiceid": fast_ns / target_ns,
    }


def _met(met: bool) -> str:  # noqa: FBT001 - a table cell from a verdict
    return "yes" if met else "NO"


if __name__ == "__main__":
    bench_access()
