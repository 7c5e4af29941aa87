"""Section 14: personal key pairs (D3) and second factors (F5).

a) Making a key pair. :func:`~practiceid.keypairs.generate_key_pair` (an X25519 key, its
   SubjectPublicKeyInfo DER and SHA-256 fingerprint, and its backup: PKCS#8 encrypted by
   ``cryptography``'s ``BestAvailableEncryption``, PBES2 with PBKDF2-HMAC-SHA256 and
   AES-256-CBC, under a plain header and a checksum) against the alternative the issue
   names, RSA-OAEP with a key of at least 3 072 bits: an RSA-3072 key (public exponent
   65 537) made by ``cryptography``, encrypted the same way (PKCS#8 PEM,
   ``BestAvailableEncryption``, same password) and fingerprinted the same way. Also each
   key generation alone, and each backup alone (a key made beforehand, encrypted): where
   the time goes.
b) Opening a backup. :func:`~practiceid.keypairs.read_backup` with the stored key's
   fingerprint (size and text checks, the header, the checksum, the DER's length, then
   PBKDF2 and AES, then the fingerprint) against ``cryptography``'s bare
   ``load_pem_private_key`` on the same file (it skips the header, as RFC 7468 allows): with
   the right password, a wrong one, and the file with one base64 character of its key
   changed (``read_backup`` refuses it by its checksum, before PBKDF2; what
   ``load_pem_private_key`` makes of it is printed).
c) Checking a TOTP code (RFC 6238: SHA-1, 6 digits, 30 s). :func:`~practiceid.policies.
   factors.match_totp` (the step before, the current one and the one after, all three
   computed and compared in constant time, and only a step after the last accepted one)
   against pyotp's ``TOTP.verify(code, for_time=..., valid_window=1)`` (it stops at the
   first step that matches, and keeps no record of used steps) and its
   ``verify_and_get_timecode`` (the same, returning the step so that the caller can refuse
   it twice), with the current step's code and with a wrong code; one code alone with
   each. Then ``FactorService.verify`` end to end, for a physician of
   :func:`practiceid.testing.sample_strong_auth` holding an authenticator app and a set of
   recovery codes: the user read, the guessing budget, the secret unsealed (AES-GCM), the
   codes checked, the factor and the budget written, the audit record appended (HMAC
   chain), one commit; a wrong code is also checked against the recovery codes and for
   replay, counted against the budget and recorded as a refusal. In memory, on a SQLite
   file and on PostgreSQL, where :class:`~practiceid.adapters.sql.SqlStore` holds second
   factors (else skipped, the reason printed). The clock moves 30 s before each right
   code (a code is good once) and 4 minutes before each wrong one (at most 4 wrong codes
   in the 15-minute window: the budget of 5 never runs out); the codes of every step are
   computed beforehand, a dict look-up within the timed call.
d) Checking a recovery code (16 Crockford base-32 characters, 80 bits) against a set of 10:
   :func:`~practiceid.policies.factors.recovery_digest` and a constant-time comparison
   with each stored SHA-256 digest until one matches (what ``FactorService`` does), against
   the set stored as argon2-cffi Argon2id hashes (its ``PasswordHasher`` defaults) and the
   entered code, normalized the same way, verified against each hash until one matches (a
   salted hash has no index). The right code is the middle of the set (the 6th: 6
   verifications; 5.5 on average over the set), the wrong one is verified against all 10.
   With ``PRACTICEID_BENCH_KEYS_SCANS=0`` the Argon2id loops are not run: their time is
   their number of verifications times one verification's median, measured in the same
   rounds (marked ``*``). Making the set, both ways, is timed once.

Configuration (environment): ``PRACTICEID_BENCH_POSTGRES_URL``, else
``PRACTICEID_TEST_POSTGRES_URL`` (unset: PostgreSQL is skipped, the reason printed; a schema
``practiceid_bench_keys_<random>``, dropped at the end); ``PRACTICEID_BENCH_KEYS_CALLS``,
calls per case and round of the functions of a) to d) (100; ``20`` for a quick run);
``PRACTICEID_BENCH_KEYS_VERIFIES``, ``FactorService.verify`` calls per case and round (40;
``10``); ``PRACTICEID_BENCH_KEYS_RSA``, RSA-3072 keys per case and round (6; ``1``);
``PRACTICEID_BENCH_KEYS_SCANS``, Argon2id loops per case and round in d) (1; ``0``). The
SQLite file goes to a temporary directory (``TMPDIR``), removed at the end.

The section runs in a process of its own (``python -m benchmarks._keys``; ``bench_keys``
starts it), as sections 10 to 13 do.

Timing: every call is timed on its own (:func:`benchmarks._timing.run`: ``perf_counter_ns``,
gc off during a round, the clock's overhead subtracted), the cases compared together
round-robin in the same run: ``ROUNDS`` rounds for b) and c), ``SLOW_ROUNDS`` for a) and d)
(RSA key generation and Argon2id take a tenth of a second or more a call).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.metadata
import os
import platform
import random
import sqlite3
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import argon2
import pyotp
import sqlalchemy as sa
from cryptography.hazmat.backends.openssl import backend as openssl_backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa, x25519

import practiceid
from benchmarks import _report, _section, _timing
from benchmarks._devices import Counted, counting
from benchmarks._onboarding import POSTGRES, SQLITE
from benchmarks._sql import POSTGRES_ENVS
from practiceid.adapters.keys import StaticKeyProvider
from practiceid.adapters.memory import InMemoryStore
from practiceid.adapters.sql import SqlStore
from practiceid.audit import AUDIT_KEY_PURPOSE
from practiceid.errors import KeyBackupCorrupted, KeyBackupWrongPassword, SecondFactorFailed
from practiceid.factors import TOTP_KEY_PURPOSE
from practiceid.keypairs import fingerprint, generate_key_pair, read_backup, write_backup
from practiceid.policies.factors import (
    TotpParameters,
    clean_code,
    match_totp,
    new_recovery_code,
    recovery_digest,
    totp_code,
)
from practiceid.second_factors import SignInMethod
from practiceid.testing import SAMPLE_BACKUP_PASSWORD, ManualClock, sample_strong_auth

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from practiceid.testing import SampleStrongAuth

CALLS_ENV: Final = "PRACTICEID_BENCH_KEYS_CALLS"
VERIFIES_ENV: Final = "PRACTICEID_BENCH_KEYS_VERIFIES"
RSA_ENV: Final = "PRACTICEID_BENCH_KEYS_RSA"
SCANS_ENV: Final = "PRACTICEID_BENCH_KEYS_SCANS"
DEFAULT_CALLS: Final = 100
DEFAULT_VERIFIES: Final = 40
DEFAULT_RSA: Final = 6
DEFAULT_SCANS: Final = 1

MEMORY: Final = "in memory"
ROUNDS: Final = 5  # b), c)
SLOW_ROUNDS: Final = 3  # a), d): RSA key generation and Argon2id
SEED: Final = 20_261_207

PASSWORD: Final = SAMPLE_BACKUP_PASSWORD
WRONG_PASSWORD: Final = "Sauvegarde-Cle-Privee-Clinique-8"
USER: Final = "bench-physician"
CREATED: Final = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
RSA_BITS: Final = 3_072
RSA_EXPONENT: Final = 65_537

TOTP: Final = TotpParameters()  # SHA-1, 6 digits, 30 s: what authenticator apps read
WINDOW: Final = 1  # steps accepted before and after the current one (FactorSettings' default)
TOTP_START: Final = 1_796_000_000  # a Unix time in 2026; the cases' times step on from it
APP_STEP: Final = timedelta(seconds=30)  # c): the clock moves this much before a right code
MISS_STEP: Final = timedelta(minutes=4)  # ... and this much before a wrong one

COUNTED: Final = 10  # c): calls of each case run with the statement counters on, untimed

RECOVERY_CODES: Final = 10  # FactorSettings' default
ARGON2: Final = argon2.PasswordHasher()  # argon2-cffi's defaults (RFC 9106's second choice)
CROCKFORD_ENTRY: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})

KEYS: Final = StaticKeyProvider.generate(TOTP_KEY_PURPOSE, AUDIT_KEY_PURPOSE)


# -- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: calls per case, RSA keys, Argon2id loops, which PostgreSQL."""

    calls: int  # per case and round, the functions of a) to d)
    verifies: int  # per case and round, FactorService.verify
    rsa: int  # RSA-3072 keys per case and round
    scans: int  # Argon2id loops per case and round; 0: computed
    postgres_url: str | None
    postgres_from: str  # the variable that gave the URL, or why there is none


def _count(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").replace("_", "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise SystemExit(f"{name}={raw!r}: expected a number from {minimum}")
    return value


def read_config() -> Config:
    """Read the environment (see the module's docstring)."""
    counts = (
        _count(CALLS_ENV, DEFAULT_CALLS),
        _count(VERIFIES_ENV, DEFAULT_VERIFIES),
        _count(RSA_ENV, DEFAULT_RSA),
        _count(SCANS_ENV, DEFAULT_SCANS, minimum=0),
    )
    for name in POSTGRES_ENVS:
        if url := os.environ.get(name, "").strip():
            return Config(*counts, url, name)
    return Config(*counts, None, f"neither {' nor '.join(POSTGRES_ENVS)} is set")


# -- tables ----------------------------------------------------------------------------------------


def _row(result: _timing.Result, baseline: _timing.Result | None) -> list[str]:
    """name, calls, median, p95, and the ratio to ``baseline`` (a dash without one)."""
    ratio, to = "-", ""
    if baseline is not None:
        ratio, to = _report.ratio(result.median_us, baseline.median_us), baseline.name
    return [
        result.name,
        f"{result.calls:,}",
        _report.us(result.median_us),
        _report.us(result.p95_us),
        ratio,
        to,
    ]


def _table(results: dict[str, _timing.Result], rows: Sequence[tuple[str, str | None]]) -> None:
    """One row per (case, the case it is divided by), in the order given."""
    _report.table(
        ["case", "calls", "median us", "p95 us", "ratio", "ratio to"],
        [_row(results[name], results[to] if to else None) for name, to in rows],
    )


# -- a) making a key pair --------------------------------------------------------------------------

GENERATE: Final = "generate_key_pair (X25519 + backup)"
RSA_FULL: Final = "RSA-3072 key + backup, same encryption"
X25519_ALONE: Final = "X25519 key alone"
RSA_ALONE: Final = "RSA-3072 key alone"
BACKUP_ALONE: Final = "write_backup alone (X25519 key made)"
RSA_BACKUP_ALONE: Final = "RSA-3072 backup alone (key made)"


def _secret(password: str) -> serialization.KeySerializationEncryption:
    return serialization.BestAvailableEncryption(password.encode("utf-8"))


def _generate(password: str) -> object:
    return generate_key_pair(password, user_id=USER, created=CREATED)


def _x25519_alone(_password: str) -> object:
    return x25519.X25519PrivateKey.generate()


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=RSA_BITS)


def _rsa_alone(_password: str) -> object:
    return _rsa_key()


def _rsa_backup(key: rsa.RSAPrivateKey, password: str) -> tuple[bytes, str]:
    """The RSA key's backup and fingerprint, as generate_key_pair makes them for X25519."""
    backup = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _secret(password)
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return backup, hashlib.sha256(der).hexdigest()


def _rsa_full(password: str) -> object:
    return _rsa_backup(_rsa_key(), password)


PBKDF2_OID: Final = bytes.fromhex("06092a864886f70d01050c")  # 1.2.840.113549.1.5.12


def pbkdf2_iterations(backup: bytes) -> int:
    """The PBKDF2 iteration count of an encrypted PKCS#8 PEM file (PBES2), read from its DER."""
    text = backup.decode("ascii")
    body = text.split("-----BEGIN ENCRYPTED PRIVATE KEY-----")[1].split("-----END")[0]
    der = base64.b64decode("".join(body.split()))
    at = der.index(PBKDF2_OID) + len(PBKDF2_OID)  # then SEQUENCE { OCTET STRING salt, INTEGER }
    if der[at] != 0x30 or der[at + 2] != 0x04:
        raise SystemExit("key benchmark: unexpected PBKDF2 parameters in a backup")
    at += 2 + 2 + der[at + 3]
    if der[at] != 0x02:
        raise SystemExit("key benchmark: unexpected PBKDF2 parameters in a backup")
    return int.from_bytes(der[at + 2 : at + 2 + der[at + 1]], "big")


@dataclass
class KeyGeneration:
    """What a) measured, and the sizes of what it made."""

    results: dict[str, _timing.Result]
    x25519_backup_bytes: int
    x25519_public_bytes: int
    rsa_backup_bytes: int
    rsa_public_bytes: int
    iterations: tuple[int, int]  # PBKDF2's, in the X25519 backup and in the RSA one


def bench_generation(config: Config, overhead_ns: int) -> KeyGeneration:
    """a): both key pairs with their backups, each key alone, each backup alone."""
    made = generate_key_pair(PASSWORD, user_id=USER, created=CREATED)
    restored = read_backup(made.backup, PASSWORD, expected_fingerprint=made.fingerprint)
    if restored.fingerprint != made.fingerprint:
        raise SystemExit("key benchmark: a generated backup does not read back")
    rsa_key = _rsa_key()
    rsa_pem, _ = _rsa_backup(rsa_key, PASSWORD)
    loaded = serialization.load_pem_private_key(rsa_pem, PASSWORD.encode("utf-8"))
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size != RSA_BITS:
        raise SystemExit("key benchmark: the RSA backup does not read back")
    x25519_key = made.private_key
    fast = [PASSWORD] * config.calls
    slow = [PASSWORD] * config.rsa
    cases = [
        _timing.Case(GENERATE, _generate, fast),
        _timing.Case(RSA_FULL, _rsa_full, slow, warmup_passes=0),
        _timing.Case(X25519_ALONE, _x25519_alone, fast),
        _timing.Case(RSA_ALONE, _rsa_alone, slow, warmup_passes=0),
        _timing.Case(
            BACKUP_ALONE,
            lambda pw: write_backup(x25519_key, pw, user_id=USER, created=CREATED),
            fast,
        ),
        _timing.Case(RSA_BACKUP_ALONE, lambda pw: _rsa_backup(rsa_key, pw), fast),
    ]
    results = _timing.run(cases, rounds=SLOW_ROUNDS, overhead_ns=overhead_ns)
    rsa_public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyGeneration(
        results,
        len(made.backup),
        len(made.public_key),
        len(rsa_pem),
        len(rsa_public),
        (pbkdf2_iterations(made.backup), pbkdf2_iterations(rsa_pem)),
    )


def print_generation(made: KeyGeneration) -> dict[str, float]:
    """Print a); return its key ratios."""
    _report.heading("14a. Making a key pair and its backup: X25519 against RSA-3072")
    results = made.results
    _table(
        results,
        [
            (GENERATE, None),
            (RSA_FULL, GENERATE),
            (X25519_ALONE, None),
            (RSA_ALONE, X25519_ALONE),
            (BACKUP_ALONE, None),
            (RSA_BACKUP_ALONE, BACKUP_ALONE),
        ],
    )
    ours, theirs = made.iterations
    counts = f"{ours:,}" if ours == theirs else f"{ours:,} (X25519) and {theirs:,} (RSA)"
    _report.note("both backups: PKCS#8 PEM under BestAvailableEncryption (PBES2: PBKDF2-HMAC-")
    _report.note(f"SHA256, {counts} iterations, AES-256-CBC), the same password; both with")
    _report.note("the SPKI SHA-256 fingerprint; generate_key_pair adds its header and checksum.")
    _report.note(
        f"sizes: X25519 backup {made.x25519_backup_bytes:,} bytes, public key"
        f" {made.x25519_public_bytes} bytes (SPKI DER); RSA-3072 backup"
        f" {made.rsa_backup_bytes:,} bytes, public key {made.rsa_public_bytes} bytes."
    )
    _report.note("RSA key generation searches for primes: its time varies widely from key to key,")
    _report.note(f"so the two RSA-3072 rows differ by more than the backup's cost ({RSA_ENV}).")
    return {
        "RSA-3072 key + backup / generate_key_pair": (
            results[RSA_FULL].median_us / results[GENERATE].median_us
        ),
        "RSA-3072 key alone / X25519 key alone": (
            results[RSA_ALONE].median_us / results[X25519_ALONE].median_us
        ),
    }


# -- b) opening a backup ---------------------------------------------------------------------------

READ_RIGHT: Final = "read_backup, right password"
LOAD_RIGHT: Final = "load_pem_private_key, right password"
READ_WRONG: Final = "read_backup, wrong password"
LOAD_WRONG: Final = "load_pem_private_key, wrong password"
READ_DAMAGED: Final = "read_backup, damaged file"
ANOTHER_KEY: Final = "ANOTHER key, no error"
LOAD_DAMAGED: Final = "load_pem_private_key, damaged file"


def damage(backup: bytes) -> bytes:
    """The backup with one base64 character of its encrypted key changed."""
    lines = backup.split(b"\n")
    end = lines.index(b"-----END ENCRYPTED PRIVATE KEY-----")
    line = bytearray(lines[end - 2])  # a full line, inside the ciphertext, no padding
    position = len(line) // 2
    line[position] = ord("B") if line[position] != ord("B") else ord("C")
    lines[end - 2] = bytes(line)
    return b"\n".join(lines)


def _read(backup: bytes, fingerprint: str) -> Callable[[str], object]:
    def run(password: str) -> object:
        try:
            return read_backup(backup, password, expected_fingerprint=fingerprint)
        except (KeyBackupWrongPassword, KeyBackupCorrupted) as error:
            return error

    return run


def _load(backup: bytes) -> Callable[[str], object]:
    def run(password: str) -> object:
        try:
            return serialization.load_pem_private_key(backup, password.encode("utf-8"))
        except ValueError as error:
            return error

    return run


def _outcome(value: object, expected_fingerprint: str) -> str:
    """What a case returned: an error and its reason, the key, or another key."""
    if isinstance(value, Exception):
        reason = getattr(value, "params", {}).get("reason")
        return type(value).__name__ + (f" ({reason})" if reason else "")
    key = getattr(value, "private_key", value)  # read_backup's RestoredKey, or the key
    if not isinstance(key, x25519.X25519PrivateKey):
        return f"a {type(key).__name__}"
    return "the key" if fingerprint(key.public_key()) == expected_fingerprint else ANOTHER_KEY


@dataclass
class BackupReads:
    """What b) measured, and what each case returned."""

    results: dict[str, _timing.Result]
    outcomes: dict[str, str]


def bench_reads(config: Config, overhead_ns: int) -> BackupReads:
    """b): read_backup against load_pem_private_key, right, wrong, damaged."""
    made = generate_key_pair(PASSWORD, user_id=USER, created=CREATED)
    damaged = damage(made.backup)
    read, load = _read(made.backup, made.fingerprint), _load(made.backup)
    read_damaged, load_damaged = _read(damaged, made.fingerprint), _load(damaged)
    right, wrong = [PASSWORD] * config.calls, [WRONG_PASSWORD] * config.calls
    cases = [
        _timing.Case(READ_RIGHT, read, right),
        _timing.Case(LOAD_RIGHT, load, right),
        _timing.Case(READ_WRONG, read, wrong),
        _timing.Case(LOAD_WRONG, load, wrong),
        _timing.Case(READ_DAMAGED, read_damaged, right),
        _timing.Case(LOAD_DAMAGED, load_damaged, right),
    ]
    outcomes = {case.name: _outcome(case.func(case.inputs[0]), made.fingerprint) for case in cases}
    expected = {
        READ_RIGHT: "the key",
        LOAD_RIGHT: "the key",
        READ_WRONG: "KeyBackupWrongPassword",
        LOAD_WRONG: "ValueError",
        READ_DAMAGED: "KeyBackupCorrupted (checksum)",
    }
    for name, outcome in expected.items():
        if outcomes[name] != outcome:
            raise SystemExit(f"key benchmark: {name} gave {outcomes[name]}, not {outcome}")
    results = _timing.run(cases, rounds=ROUNDS, overhead_ns=overhead_ns)
    return BackupReads(results, outcomes)


def print_reads(reads: BackupReads) -> dict[str, float]:
    """Print b); return its key ratios."""
    _report.heading("14b. Opening a key backup: read_backup against load_pem_private_key")
    results = reads.results
    _table(
        results,
        [
            (READ_RIGHT, LOAD_RIGHT),
            (LOAD_RIGHT, None),
            (READ_WRONG, LOAD_WRONG),
            (LOAD_WRONG, None),
            (READ_DAMAGED, None),
            (LOAD_DAMAGED, READ_DAMAGED),
        ],
    )
    print()
    _report.table(
        ["case", "outcome"], [[name, outcome] for name, outcome in reads.outcomes.items()], left=2
    )
    _report.note("the same file for both (header, checksum, then the PEM block); read_backup")
    _report.note("also checks the key against the stored fingerprint. Damaged: one base64")
    _report.note("character of the ciphertext changed; read_backup refuses it before PBKDF2.")
    if reads.outcomes[LOAD_DAMAGED] == ANOTHER_KEY:
        _report.note("load_pem_private_key returned a different key without an error: AES-CBC has")
        _report.note("no integrity check, the changed block decrypts to other key bytes and the")
        _report.note("padding survives. read_backup's checksum and fingerprint catch it.")
    return {
        "read_backup / load_pem_private_key, right password": (
            results[READ_RIGHT].median_us / results[LOAD_RIGHT].median_us
        ),
        "load_pem_private_key / read_backup, damaged file": (
            results[LOAD_DAMAGED].median_us / results[READ_DAMAGED].median_us
        ),
    }


# -- c) checking a TOTP code -----------------------------------------------------------------------

MATCH_RIGHT: Final = "match_totp, right code"
PYOTP_RIGHT: Final = "pyotp verify, right code"
PYOTP_STEP_RIGHT: Final = "pyotp verify_and_get_timecode, right"
MATCH_WRONG: Final = "match_totp, wrong code"
PYOTP_WRONG: Final = "pyotp verify, wrong code"
PYOTP_STEP_WRONG: Final = "pyotp verify_and_get_timecode, wrong"
ONE_CODE: Final = "totp_code, one code"
PYOTP_ONE: Final = "pyotp TOTP.at, one code"
SERVICE_RIGHT: Final = "FactorService.verify, right code"
SERVICE_WRONG: Final = "FactorService.verify, wrong code"


def _wrong_code(rng: random.Random, taken: set[str]) -> str:
    """A 6-digit code none of ``taken``: refused by every step of the window."""
    while True:
        code = f"{rng.randrange(10**TOTP.digits):0{TOTP.digits}d}"
        if code not in taken:
            return code


@dataclass(frozen=True)
class TotpInputs:
    """One secret; for each input (its index, as text), a time, its code and a wrong code."""

    secret: bytes
    times: list[int]
    right: list[str]
    wrong: list[str]

    @property
    def indices(self) -> list[str]:
        return [str(i) for i in range(len(self.times))]


def totp_inputs(calls: int, rng: random.Random) -> TotpInputs:
    """``calls`` times, each in a step of its own, anywhere within the step."""
    secret = rng.randbytes(20)
    times = [TOTP_START + 90 * i + rng.randrange(TOTP.period) for i in range(calls)]
    right = [totp_code(secret, t, TOTP) for t in times]
    wrong = [
        _wrong_code(rng, {totp_code(secret, t + d * TOTP.period, TOTP) for d in (-1, 0, 1)})
        for t in times
    ]
    return TotpInputs(secret, times, right, wrong)


def _match(inputs: TotpInputs, codes: list[str]) -> Callable[[str], object]:
    secret, times = inputs.secret, inputs.times

    def run(index: str) -> object:
        i = int(index)
        return match_totp(secret, codes[i], now=times[i], last_step=-1, params=TOTP, window=WINDOW)

    return run


def _pyotp(inputs: TotpInputs) -> pyotp.TOTP:
    secret = base64.b32encode(inputs.secret).decode("ascii")
    return pyotp.TOTP(secret, digits=TOTP.digits, digest=hashlib.sha1, interval=TOTP.period)


def _pyotp_verify(inputs: TotpInputs, codes: list[str]) -> Callable[[str], object]:
    totp, times = _pyotp(inputs), inputs.times

    def run(index: str) -> object:
        i = int(index)
        return totp.verify(codes[i], for_time=times[i], valid_window=WINDOW)

    return run


def _pyotp_step(inputs: TotpInputs, codes: list[str]) -> Callable[[str], object]:
    totp, times = _pyotp(inputs), inputs.times

    def run(index: str) -> object:
        i = int(index)
        try:
            return totp.verify_and_get_timecode(codes[i], for_time=times[i], valid_window=WINDOW)
        except pyotp.exceptions.OTPVerificationError:
            return None

    return run


def check_totp(inputs: TotpInputs) -> None:
    """Refuse to time TOTP checks that do not agree with each other."""
    totp = _pyotp(inputs)
    cases: list[tuple[str, Callable[[str], object], Callable[[int], object]]] = [
        (MATCH_RIGHT, _match(inputs, inputs.right), lambda i: inputs.times[i] // TOTP.period),
        (MATCH_WRONG, _match(inputs, inputs.wrong), lambda _i: None),
        (PYOTP_RIGHT, _pyotp_verify(inputs, inputs.right), lambda _i: True),
        (PYOTP_WRONG, _pyotp_verify(inputs, inputs.wrong), lambda _i: False),
        (
            PYOTP_STEP_RIGHT,
            _pyotp_step(inputs, inputs.right),
            lambda i: inputs.times[i] // TOTP.period,
        ),
        (PYOTP_STEP_WRONG, _pyotp_step(inputs, inputs.wrong), lambda _i: None),
    ]
    for i, moment in enumerate(inputs.times):
        if totp.at(moment) != inputs.right[i]:
            raise SystemExit(f"key benchmark: pyotp and totp_code disagree at {moment}")
        for name, run, expected in cases:
            if (found := run(str(i))) != expected(i):
                raise SystemExit(f"key benchmark: {name} gave {found!r} at {moment}")


@dataclass
class Practice:
    """A physician with an authenticator app and recovery codes, on one store."""

    backend: str
    store: InMemoryStore | SqlStore
    sample: SampleStrongAuth
    secret: bytes
    right: dict[int, str] = field(default_factory=dict)  # step -> the app's code
    wrong: dict[int, str] = field(default_factory=dict)  # step -> a code of no step near

    def codes_for(self, calls: int, rng: random.Random) -> None:
        """The codes of every step the clock can reach in ``calls`` calls of each case."""
        first = int(self.sample.clock.now().timestamp()) // TOTP.period
        steps = calls * (1 + MISS_STEP // APP_STEP) + 2
        for step in range(first, first + steps + 1):
            near = {totp_code(self.secret, (step + d) * TOTP.period, TOTP) for d in (-1, 0, 1)}
            self.right[step] = totp_code(self.secret, step * TOTP.period, TOTP)
            self.wrong[step] = _wrong_code(rng, near)


class Unsupported(Exception):
    """The store cannot hold second factors (yet)."""


@dataclass
class Databases:
    """The SQL stores c) makes, so that :meth:`close` removes them all."""

    config: Config
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="practiceid-bench-keys-"))
    )
    schema: str = field(default_factory=lambda: f"practiceid_bench_keys_{uuid.uuid4().hex[:12]}")
    stores: list[SqlStore] = field(default_factory=list)
    schema_made: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # backend -> why

    def store(self, backend: str) -> InMemoryStore | SqlStore:
        """A new store with practiceid's schema, its audit chains HMAC-sealed."""
        if backend == MEMORY:
            return InMemoryStore(keys=KEYS)
        if backend == SQLITE:
            store = SqlStore.from_url(f"sqlite:///{self.directory / 'factors'}.db", keys=KEYS)
        else:
            assert self.config.postgres_url is not None  # noqa: S101 - no PostgreSQL backend
            store = SqlStore.from_url(self.config.postgres_url, schema=self.schema, keys=KEYS)
            self.schema_made = True
        self.stores.append(store)
        store.create_schema()
        with store.unit_of_work() as uow:
            if not all(hasattr(uow, name) for name in ("factors", "factor_guards")):
                raise Unsupported("SqlStore's unit of work has no factors repository yet")
        return store

    def close(self) -> None:
        """Close every store, drop the PostgreSQL schema, remove the SQLite file."""
        for store in self.stores:
            store.close()
        if self.schema_made and self.config.postgres_url is not None:
            with SqlStore.from_url(self.config.postgres_url) as admin, admin.engine.begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        for path in sorted(self.directory.iterdir()):
            path.unlink()
        self.directory.rmdir()


def build_practice(dbs: Databases, backend: str, rng: random.Random) -> Practice:
    """sample_strong_auth on ``backend``; its physician enrols an app and recovery codes."""
    store = dbs.store(backend)
    sample = sample_strong_auth(unit_of_work=store.unit_of_work, clock=ManualClock(), keys=KEYS)
    factors, physician = sample.factors, sample.physician
    enrolment = factors.begin_totp(actor=physician, user_id=physician)
    factors.confirm_totp(
        actor=physician, factor_id=enrolment.factor.id, code=sample.app_code(enrolment)
    )
    factors.new_recovery_codes(actor=physician, user_id=physician)
    secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    practice = Practice(backend, store, sample, secret)
    practice.codes_for((1 + ROUNDS) * dbs.config.verifies + COUNTED + 4, rng)
    return practice


def _service_right(practice: Practice) -> Callable[[str], object]:
    factors, clock = practice.sample.factors, practice.sample.clock
    user, codes = practice.sample.physician, practice.right

    def run(_index: str) -> object:
        now = clock.advance(APP_STEP)
        return factors.verify(user_id=user, code=codes[int(now.timestamp()) // TOTP.period])

    return run


def _service_wrong(practice: Practice) -> Callable[[str], object]:
    factors, clock = practice.sample.factors, practice.sample.clock
    user, codes = practice.sample.physician, practice.wrong

    def run(_index: str) -> object:
        now = clock.advance(MISS_STEP)
        try:
            factors.verify(user_id=user, code=codes[int(now.timestamp()) // TOTP.period])
        except SecondFactorFailed as error:
            return error
        raise SystemExit("key benchmark: FactorService.verify accepted a wrong code")

    return run


def check_practice(practice: Practice) -> None:
    """Refuse to time a practice whose codes do not do what the cases say."""
    verification = _service_right(practice)("0")
    if getattr(verification, "method", None) is not SignInMethod.TOTP:
        raise SystemExit(f"key benchmark: a right code gave {verification!r}")
    error = _service_wrong(practice)("0")
    if type(error) is not SecondFactorFailed:
        raise SystemExit(f"key benchmark: a wrong code gave {error!r}")


@dataclass
class TotpChecks:
    """What c) measured."""

    results: dict[str, _timing.Result]
    practices: list[Practice]
    skipped: dict[str, str]
    counted: dict[tuple[str, str], Counted] = field(default_factory=dict)  # (backend, case)


def count_statements(checks: TotpChecks) -> None:
    """Run ``COUNTED`` right and wrong codes on each SQL store, counting its statements."""
    for practice in checks.practices:
        store = practice.store
        if not isinstance(store, SqlStore):
            continue
        for case, run in (
            (SERVICE_RIGHT, _service_right(practice)),
            (SERVICE_WRONG, _service_wrong(practice)),
        ):
            with counting(store, COUNTED) as counted:
                for index in range(COUNTED):
                    run(str(index))
            checks.counted[practice.backend, case] = counted


def bench_totp(dbs: Databases, config: Config, overhead_ns: int, rng: random.Random) -> TotpChecks:
    """c): match_totp against pyotp; FactorService.verify on every store that can."""
    inputs = totp_inputs(config.calls, rng)
    check_totp(inputs)
    indices = inputs.indices
    totp = _pyotp(inputs)
    times = inputs.times
    cases = [
        _timing.Case(MATCH_RIGHT, _match(inputs, inputs.right), indices),
        _timing.Case(PYOTP_RIGHT, _pyotp_verify(inputs, inputs.right), indices),
        _timing.Case(PYOTP_STEP_RIGHT, _pyotp_step(inputs, inputs.right), indices),
        _timing.Case(MATCH_WRONG, _match(inputs, inputs.wrong), indices),
        _timing.Case(PYOTP_WRONG, _pyotp_verify(inputs, inputs.wrong), indices),
        _timing.Case(PYOTP_STEP_WRONG, _pyotp_step(inputs, inputs.wrong), indices),
        _timing.Case(ONE_CODE, lambda i: totp_code(inputs.secret, times[int(i)], TOTP), indices),
        _timing.Case(PYOTP_ONE, lambda i: totp.at(times[int(i)]), indices),
    ]
    backends = [MEMORY, SQLITE] + ([POSTGRES] if config.postgres_url is not None else [])
    practices = []
    for backend in backends:
        try:
            practice = build_practice(dbs, backend, rng)
        except Unsupported as error:
            dbs.skipped[backend] = str(error)
            continue
        except Exception as error:  # the SQL repositories of F5 are new: say why, go on
            if backend == MEMORY:
                raise
            dbs.skipped[backend] = f"{type(error).__name__}: {error}"
            continue
        check_practice(practice)
        practices.append(practice)
        service = [str(i) for i in range(config.verifies)]
        cases += [
            _timing.Case(f"{SERVICE_RIGHT}, {backend}", _service_right(practice), service),
            _timing.Case(f"{SERVICE_WRONG}, {backend}", _service_wrong(practice), service),
        ]
    if config.postgres_url is None:
        dbs.skipped[POSTGRES] = config.postgres_from
    results = _timing.run(cases, rounds=ROUNDS, overhead_ns=overhead_ns)
    checks = TotpChecks(results, practices, dbs.skipped)
    count_statements(checks)
    return checks


def print_totp(checks: TotpChecks) -> dict[str, float]:
    """Print c); return its key ratios."""
    _report.heading("14c. Checking a TOTP code: match_totp and FactorService.verify against pyotp")
    results = checks.results
    rows: list[tuple[str, str | None]] = [
        (MATCH_RIGHT, PYOTP_RIGHT),
        (PYOTP_RIGHT, None),
        (PYOTP_STEP_RIGHT, PYOTP_RIGHT),
        (MATCH_WRONG, PYOTP_WRONG),
        (PYOTP_WRONG, None),
        (PYOTP_STEP_WRONG, PYOTP_WRONG),
        (ONE_CODE, PYOTP_ONE),
        (PYOTP_ONE, None),
    ]
    for practice in checks.practices:
        rows += [
            (f"{SERVICE_RIGHT}, {practice.backend}", PYOTP_RIGHT),
            (f"{SERVICE_WRONG}, {practice.backend}", PYOTP_WRONG),
        ]
    _table(results, rows)
    _report.note("RFC 6238 (SHA-1, 6 digits, 30 s), a window of one step each side. match_totp")
    _report.note("computes and compares all three steps; pyotp stops at the first that matches")
    _report.note("(the right code here is the current step's, the second it tries) and, in")
    _report.note("verify, keeps no record of the steps used. FactorService.verify: the physician")
    _report.note("of sample_strong_auth with an app and 10 recovery codes; read, unseal, check,")
    _report.note("write the factor and the budget, append the audit record, commit; a wrong code")
    _report.note("is also tried as a recovery code and for replay, counted, and recorded as a")
    _report.note("refusal (a second unit of work).")
    for backend, reason in checks.skipped.items():
        _report.note(f"FactorService.verify on {backend} skipped: {reason}.")
    if checks.counted:
        print()
        _report.table(
            ["FactorService.verify, per call", "where", "statements", "commits", "driver us"],
            [
                [
                    case.removeprefix("FactorService.verify, "),
                    backend,
                    f"{sum(n for k, n in c.counts.items() if k != 'COMMIT') / c.commands:.1f}",
                    f"{c.counts['COMMIT'] / c.commands:.1f}",
                    _report.us(sum(c.driver_ns.values()) / c.commands / 1e3),
                ]
                for (backend, case), c in checks.counted.items()
            ],
            left=2,
        )
        for (backend, case), c in checks.counted.items():
            kinds = ", ".join(
                f"{kind} {c.counts[kind] / c.commands:g}" for kind in c.order if kind != "COMMIT"
            )
            for line in textwrap.wrap(
                f"{case.removeprefix('FactorService.verify, ')}, {backend}: {kinds}",
                width=_report.RULE_WIDTH - 8,
            ):
                _report.note(line)
        _report.note(
            f"{COUNTED} calls of each, untimed, after the rounds; driver us: time spent in the"
            " driver's execute, mean per call (not the commits, nor their fsync)."
        )
    ratios = {
        "match_totp / pyotp verify, right code": (
            results[MATCH_RIGHT].median_us / results[PYOTP_RIGHT].median_us
        ),
        "match_totp / pyotp verify, wrong code": (
            results[MATCH_WRONG].median_us / results[PYOTP_WRONG].median_us
        ),
    }
    for practice in checks.practices:
        service = results[f"{SERVICE_RIGHT}, {practice.backend}"]
        ratios[f"FactorService.verify ({practice.backend}) / pyotp verify, right code"] = (
            service.median_us / results[PYOTP_RIGHT].median_us
        )
    return ratios


# -- d) recovery codes -----------------------------------------------------------------------------

DIGEST_RIGHT: Final = "recovery_digest + compare, right code"
DIGEST_WRONG: Final = "recovery_digest + compare, wrong code"
ARGON2_ONE: Final = "Argon2id, one verification"
ARGON2_RIGHT: Final = "Argon2id x up to 10, right code"
ARGON2_WRONG: Final = "Argon2id x 10, wrong code"


def _entry(code: str) -> str | None:
    """The code as it is stored: what recovery_digest hashes, for the Argon2id yardstick."""
    cleaned = clean_code(code)
    return None if cleaned is None else cleaned.translate(CROCKFORD_ENTRY)


def _digest_check(salt: str, digests: Sequence[bytes]) -> Callable[[str], object]:
    """What FactorService does with a recovery code (its _verify)."""

    def run(code: str) -> object:
        digest = recovery_digest(salt, code)
        return digest is not None and any(hmac.compare_digest(digest, d) for d in digests)

    return run


def _argon2_scan(hashes: Sequence[str]) -> Callable[[str], object]:
    """The yardstick: the entered code verified against each hash until one matches."""

    def run(code: str) -> object:
        entry = _entry(code)
        if entry is None:
            return None
        for position, stored in enumerate(hashes, start=1):
            try:
                ARGON2.verify(stored, entry)
            except argon2.exceptions.VerifyMismatchError:
                continue
            return position
        return None

    return run


def _argon2_one(stored: str) -> Callable[[str], object]:
    def run(code: str) -> object:
        try:
            return ARGON2.verify(stored, _entry(code) or "")
        except argon2.exceptions.VerifyMismatchError:
            return False

    return run


@dataclass
class RecoveryChecks:
    """What d) measured."""

    results: dict[str, _timing.Result]
    right_verifications: int  # Argon2id verifications the right code takes
    scans_run: bool
    digests_s: float  # making the set's digests
    hashes_s: float  # making the set's Argon2id hashes


def bench_recovery(config: Config, overhead_ns: int) -> RecoveryChecks:
    """d): a code against 10 SHA-256 digests, and against 10 Argon2id hashes."""
    salt = str(uuid.uuid4())  # the factor's id
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    began = time.perf_counter()
    digests = [recovery_digest(salt, code) or b"" for code in codes]
    digests_s = time.perf_counter() - began
    began = time.perf_counter()
    hashes = [ARGON2.hash(_entry(code) or "") for code in codes]
    hashes_s = time.perf_counter() - began
    issued = set(codes)
    wrong: list[str] = []
    while len(wrong) < RECOVERY_CODES:
        if (code := new_recovery_code()) not in issued:
            wrong.append(code)
    middle = RECOVERY_CODES // 2  # the 6th code: 6 verifications
    ours, scan = _digest_check(salt, digests), _argon2_scan(hashes)
    if not all(ours(c) for c in codes) or any(ours(c) for c in wrong):
        raise SystemExit("key benchmark: the digest check does not tell right from wrong")
    if scan(codes[middle]) != middle + 1 or scan(wrong[0]) is not None:
        raise SystemExit("key benchmark: the Argon2id loop does not tell right from wrong")
    if ours(codes[middle].lower().replace("-", " ")) is not True:
        raise SystemExit("key benchmark: a code typed in lower case with spaces is refused")
    cases = [
        _timing.Case(DIGEST_RIGHT, ours, [codes[i % RECOVERY_CODES] for i in range(config.calls)]),
        _timing.Case(DIGEST_WRONG, ours, [wrong[i % RECOVERY_CODES] for i in range(config.calls)]),
        _timing.Case(ARGON2_ONE, _argon2_one(hashes[0]), [codes[0], wrong[0]]),
    ]
    if config.scans:
        cases += [
            _timing.Case(ARGON2_RIGHT, scan, [codes[middle]] * config.scans, warmup_passes=0),
            _timing.Case(ARGON2_WRONG, scan, wrong[: config.scans], warmup_passes=0),
        ]
    results = _timing.run(cases, rounds=SLOW_ROUNDS, overhead_ns=overhead_ns)
    if not config.scans:
        one = results[ARGON2_ONE]
        for name, verifications in ((ARGON2_RIGHT, middle + 1), (ARGON2_WRONG, RECOVERY_CODES)):
            results[name] = _timing.Result(
                name=f"{name} *",
                calls=0,
                median_us=verifications * one.median_us,
                p95_us=verifications * one.p95_us,
                per_input_us=(),
            )
    return RecoveryChecks(results, middle + 1, bool(config.scans), digests_s, hashes_s)


def print_recovery(checks: RecoveryChecks) -> dict[str, float]:
    """Print d); return its key ratios."""
    _report.heading("14d. Checking a recovery code against a set of 10: SHA-256 against Argon2id")
    results = checks.results
    _table(
        results,
        [
            (DIGEST_RIGHT, None),
            (DIGEST_WRONG, None),
            (ARGON2_ONE, DIGEST_WRONG),
            (ARGON2_RIGHT, DIGEST_RIGHT),
            (ARGON2_WRONG, DIGEST_WRONG),
        ],
    )
    params = f"time_cost={ARGON2.time_cost}, {ARGON2.memory_cost // 1024} MiB, {ARGON2.parallelism}"
    _report.note(f"argon2-cffi PasswordHasher defaults: {params} lanes. The right code is the")
    _report.note(
        f"{checks.right_verifications}th of the set ({checks.right_verifications}"
        " verifications; 5.5 on average); a wrong one is verified against all 10."
    )
    if not checks.scans_run:
        _report.note(f"*: not run ({SCANS_ENV}=0): verifications x one verification's median.")
    _report.note("recovery_digest: NFKC, spaces and dashes out, Crockford letters mapped, then")
    _report.note("SHA-256 with the factor's id as salt; compared in constant time with each.")
    _report.note(
        f"making the set of 10: digests {checks.digests_s * 1e6:,.0f} us, Argon2id hashes"
        f" {checks.hashes_s:.2f} s (once each, untimed by the rounds)."
    )
    return {
        "Argon2id x up to 10 / recovery digests, right code": (
            results[ARGON2_RIGHT].median_us / results[DIGEST_RIGHT].median_us
        ),
        "Argon2id x 10 / recovery digests, wrong code": (
            results[ARGON2_WRONG].median_us / results[DIGEST_WRONG].median_us
        ),
    }


# -- the section -----------------------------------------------------------------------------------


def print_environment(config: Config, overhead_ns: int) -> None:
    """Versions, settings, and what is compared with what."""
    _report.heading("14. Key pairs (D3) and second factors (F5)")
    print(f"Python      {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"platform    {platform.platform()} ({platform.machine()}, {os.cpu_count()} CPUs)")
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("cryptography", "pyotp", "argon2-cffi", "sqlalchemy", "psycopg")
    )
    print(f"libraries   practiceid {practiceid.__version__}, {versions},")
    print(f"            {openssl_backend.openssl_version_text()}, SQLite {sqlite3.sqlite_version}")
    if config.postgres_url is None:
        print(f"PostgreSQL  skipped: {config.postgres_from}.")
        print(f"            Set {POSTGRES_ENVS[0]} (or {POSTGRES_ENVS[1]}) to a server's URL.")
    else:
        host = sa.make_url(config.postgres_url).host or "local socket"
        print(f"PostgreSQL  on {host} ({config.postgres_from})")
    print(f"calls       per case and round: {config.calls} ({CALLS_ENV}),")
    print(f"            FactorService.verify {config.verifies} ({VERIFIES_ENV}),")
    print(f"            RSA-3072 keys {config.rsa} ({RSA_ENV}),")
    print(f"            Argon2id loops {config.scans} ({SCANS_ENV}; 0: computed)")
    clock = f"clock overhead ({overhead_ns} ns)"
    print(f"method      every call timed alone, gc off during a round, {clock}")
    print("            subtracted; the cases compared run round-robin in the same rounds:")
    rounds = f"{SLOW_ROUNDS} in a) and d), {ROUNDS} in b) and c)"
    print(f"            {rounds}; median = median over rounds of each round's median;")
    print("            times in microseconds.")
    print(f"load        {_section.load_average()} (1, 5, 15 min) as the section starts")


def run_section() -> dict[str, float]:
    """Run a) to d) in this process and print them; return the ratios."""
    started = time.perf_counter()
    config = read_config()
    times: dict[str, float] = {}
    dbs = Databases(config)
    rng = random.Random(SEED)
    try:
        overhead_ns = _timing.clock_overhead_ns()
        print_environment(config, overhead_ns)
        made = _section.timed("a) key pairs", times, lambda: bench_generation(config, overhead_ns))
        ratios = print_generation(made)
        reads = _section.timed("b) backups", times, lambda: bench_reads(config, overhead_ns))
        ratios |= print_reads(reads)
        checks = _section.timed(
            "c) TOTP codes", times, lambda: bench_totp(dbs, config, overhead_ns, rng)
        )
        ratios |= print_totp(checks)
        recovery = _section.timed(
            "d) recovery codes", times, lambda: bench_recovery(config, overhead_ns)
        )
        ratios |= print_recovery(recovery)
    finally:
        _section.timed("tear-down", times, dbs.close)
    _section.print_took(14, times, started)
    return ratios


def bench_keys() -> dict[str, float]:
    """Run the section in a process of its own, as sections 10 to 13."""
    return _section.run_apart("benchmarks._keys")


def main(argv: Sequence[str]) -> None:
    """``python -m benchmarks._keys [--summary PATH]``: run section 14."""
    _section.main(run_section, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
