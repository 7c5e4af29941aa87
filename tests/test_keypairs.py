"""Personal key pairs and their backups (D3), through KeyPairService and the pure functions.

D3: "At first login a physician's private key pair is generated on their machine; it must
be backed up elsewhere, cannot be regenerated, and the vendor keeps no copy; it can be
downloaded again from the user's page. If someone else opened the account first, the key
was made on their machine and must be handed over."

These examples pin what the store keeps (the public half only), the lifecycle of a key
pair (none → generated → backup confirmed; retired by an administrator's replacement), the
distinct code of each way a backup can fail, the hand-over of source 001, who may do what,
and the audit event of every command (F3). Every person, password and key here is made up.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x448, x25519

from practiceid.adapters.sql import SqlStore
from practiceid.audit import PLATFORM_CHAIN, AuditEvent, Outcome
from practiceid.errors import (
    KeyBackupCorrupted,
    KeyBackupInvalid,
    KeyBackupMismatch,
    KeyBackupTruncated,
    KeyBackupUnreadable,
    KeyBackupWrongPassword,
    KeyPairExists,
    KeyPairNotFound,
    KeyPairRejected,
    PasswordRejected,
    PermissionDenied,
    PracticeIdError,
    StaleRecord,
)
from practiceid.keypairs import (
    GeneratedKeyPair,
    KeyPair,
    KeyPairStatus,
    RestoredKey,
    fingerprint,
    generate_key_pair,
    read_backup,
    write_backup,
)
from practiceid.ports import FactorUnitOfWorkFactory
from practiceid.testing import SampleStrongAuth, sample_strong_auth

from .conftest import together

BEGIN = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
END = "-----END ENCRYPTED PRIVATE KEY-----"
OTHER_PASSWORD = "Autre-Phrase-De-Sauvegarde-3"  # made up: a strong password, not the user's
KEY_PAIR_FIELDS = {
    "user_id",
    "public_key",
    "fingerprint",
    "generated_at",
    "generated_by",
    "algorithm",
    "status",
    "confirmed_at",
    "generation",
    "version",
}


@pytest.fixture
def clinic() -> SampleStrongAuth:
    return sample_strong_auth()


def _generate(clinic: SampleStrongAuth, user_id: str | None = None) -> GeneratedKeyPair:
    user = clinic.physician if user_id is None else user_id
    return clinic.key_pairs.generate(
        actor=user, user_id=user, backup_password=clinic.backup_password
    )


def _confirm(clinic: SampleStrongAuth, backup: bytes | str, password: str | None = None) -> KeyPair:
    return clinic.key_pairs.confirm_backup(
        actor=clinic.physician,
        user_id=clinic.physician,
        backup=backup,
        password=clinic.backup_password if password is None else password,
    )


def _stored(clinic: SampleStrongAuth, user_id: str | None = None) -> KeyPair | None:
    with clinic.unit_of_work() as uow:
        return uow.key_pairs.find(clinic.physician if user_id is None else user_id)


def _events(clinic: SampleStrongAuth) -> list[AuditEvent]:
    with clinic.unit_of_work() as uow:
        return [r.event for r in uow.audit.records(PLATFORM_CHAIN)]


def _key_events(clinic: SampleStrongAuth) -> list[AuditEvent]:
    return [e for e in _events(clinic) if e.action.startswith("key_pair.")]


def _private_bytes(key: x25519.X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _spki(key: x25519.X25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _secret_forms(made: GeneratedKeyPair) -> list[str]:
    """The private key, its backup and its encrypted body, in the forms a leak could take."""
    raw = _private_bytes(made.private_key)
    lines = made.backup.decode("ascii").splitlines()
    body = "".join(lines[lines.index(BEGIN) + 1 : lines.index(END)])
    return [raw.hex(), raw.hex().upper(), repr(raw), body[:40], body[-40:], BEGIN]


def _flip_body(backup: bytes) -> bytes:
    """Return the backup with one base64 character of its key changed."""
    at = backup.index(BEGIN.encode()) + len(BEGIN) + 20
    damaged = bytearray(backup)
    damaged[at] = ord("A") if damaged[at] != ord("A") else ord("B")
    return bytes(damaged)


# -- first login: what is stored -------------------------------------------------------------


def test_a_user_has_no_key_pair_before_their_first_login(clinic: SampleStrongAuth) -> None:
    assert clinic.key_pairs.key_pair(actor=clinic.physician, user_id=clinic.physician) is None
    assert _stored(clinic) is None


def test_generation_stores_only_the_public_key_and_its_fingerprint(
    clinic: SampleStrongAuth,
) -> None:
    """D3: the vendor keeps no copy: the record holds the public SPKI DER and its SHA-256."""
    made = _generate(clinic)
    stored = _stored(clinic)
    assert stored is not None
    assert stored.public_key == made.public_key == _spki(made.private_key.public_key())
    assert stored.fingerprint == made.fingerprint == hashlib.sha256(made.public_key).hexdigest()
    raw_private = _private_bytes(made.private_key)
    values = attrs.asdict(stored, recurse=False)
    for name, value in values.items():
        as_bytes = value if isinstance(value, bytes) else str(value).encode()
        assert raw_private not in as_bytes, name
        assert raw_private.hex().encode() not in as_bytes, name
        assert b"ENCRYPTED PRIVATE KEY" not in as_bytes, name
    assert made.backup not in values.values()


def test_the_stored_key_pair_has_no_field_for_a_private_key() -> None:
    """D3: no record could carry a private key or a backup."""
    assert {f.name for f in attrs.fields(KeyPair)} == KEY_PAIR_FIELDS


def test_a_new_key_pair_is_generated_by_the_user_at_generation_one(
    clinic: SampleStrongAuth,
) -> None:
    made = _generate(clinic)
    stored = clinic.key_pairs.key_pair(actor=clinic.physician, user_id=clinic.physician)
    assert stored == _stored(clinic)
    assert stored.user_id == clinic.physician
    assert stored.generated_by == clinic.physician
    assert stored.generated_at == clinic.clock.now()
    assert stored.status is KeyPairStatus.GENERATED
    assert stored.confirmed_at is None
    assert stored.generation == 1
    assert stored.is_usable
    assert stored.fingerprint == made.fingerprint


def test_the_backup_names_its_user_fingerprint_and_date_but_holds_the_key_encrypted(
    clinic: SampleStrongAuth,
) -> None:
    made = _generate(clinic)
    text = made.backup.decode("ascii")
    assert text.startswith("practiceid key backup\n")
    assert f"User: {clinic.physician}\n" in text
    assert f"Fingerprint: {made.fingerprint}\n" in text
    assert f"Created: {clinic.clock.now().isoformat()}\n" in text
    assert "-----BEGIN ENCRYPTED PRIVATE KEY-----" in text
    assert _private_bytes(made.private_key).hex() not in text


def test_the_private_key_and_backup_never_appear_in_a_repr(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    restored = clinic.key_pairs.restore(
        actor=clinic.physician,
        user_id=clinic.physician,
        backup=made.backup,
        password=clinic.backup_password,
    )
    stored = _stored(clinic)
    for shown in (repr(made), repr(restored), str(made), repr(stored)):
        assert made.fingerprint in shown
        for secret in _secret_forms(made):
            assert secret not in shown
        assert "private_key" not in shown
        assert "backup=" not in shown
    assert "public_key" not in repr(stored)  # the bytes would only be noise
    assert "public_key" not in repr(made)


def test_the_backup_is_standard_pkcs8_that_cryptography_opens_with_the_password(
    clinic: SampleStrongAuth,
) -> None:
    """D3: the backup is kept elsewhere, so any standard tool must be able to read it."""
    made = _generate(clinic)
    key = serialization.load_pem_private_key(made.backup, clinic.backup_password.encode())
    assert isinstance(key, x25519.X25519PrivateKey)
    assert _private_bytes(key) == _private_bytes(made.private_key)
    with pytest.raises(ValueError, match=r"(?i)password|decrypt"):
        serialization.load_pem_private_key(made.backup, b"not the password")


def test_a_unicode_backup_password_is_used_as_nfc_utf8_by_standard_tools() -> None:
    password = "Cle\u0301-Sauvegarde-Ærø-9"  # typed in NFD: é as e + combining acute
    made = generate_key_pair(password)
    nfc = "Clé-Sauvegarde-Ærø-9".encode()
    key = serialization.load_pem_private_key(made.backup, nfc)
    assert isinstance(key, x25519.X25519PrivateKey)
    assert fingerprint(key.public_key()) == made.fingerprint


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_reads_the_backup_as_is(tmp_path) -> None:
    made = generate_key_pair("Phrase-De-Test-Openssl-5", user_id="u-exemple")
    path = tmp_path / "u-exemple-key.pem"
    path.write_bytes(made.backup)
    result = subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            "pkey",
            "-in",
            str(path),
            "-passin",
            "pass:Phrase-De-Test-Openssl-5",
            "-pubout",
            "-outform",
            "DER",
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert fingerprint(result.stdout) == made.fingerprint


# -- lifecycle -------------------------------------------------------------------------------


def test_the_lifecycle_goes_from_none_to_generated_to_backup_confirmed(
    clinic: SampleStrongAuth,
) -> None:
    """D3: the key must be backed up: the user shows their file opens before it counts."""
    assert _stored(clinic) is None
    made = _generate(clinic)
    generated = _stored(clinic)
    assert generated.status is KeyPairStatus.GENERATED
    confirmed_at = clinic.clock.advance(minutes=5)
    confirmed = _confirm(clinic, made.backup)
    assert confirmed.status is KeyPairStatus.BACKUP_CONFIRMED
    assert confirmed.confirmed_at == confirmed_at
    assert confirmed.version == generated.version + 1
    assert _stored(clinic) == confirmed
    assert (confirmed.fingerprint, confirmed.generated_at) == (
        generated.fingerprint,
        generated.generated_at,
    )


def test_confirming_a_backup_again_changes_nothing_but_is_recorded(
    clinic: SampleStrongAuth,
) -> None:
    made = _generate(clinic)
    first = _confirm(clinic, made.backup)
    clinic.clock.advance(days=3)
    again = _confirm(clinic, made.backup)
    assert again == first
    assert [e.action for e in _key_events(clinic)] == [
        "key_pair.generate",
        "key_pair.confirm_backup",
        "key_pair.confirm_backup",
    ]


def test_the_backup_can_be_confirmed_as_text_as_well_as_bytes(clinic: SampleStrongAuth) -> None:
    """A host may hand over the file as pasted text; Windows line endings do no harm."""
    made = _generate(clinic)
    crlf = made.backup.decode("ascii").replace("\n", "\r\n")
    assert _confirm(clinic, crlf).status is KeyPairStatus.BACKUP_CONFIRMED


def _other_users_backup(clinic: SampleStrongAuth) -> bytes:
    return _generate(clinic, clinic.owner).backup


def _bare_pkcs8_of_another_key(clinic: SampleStrongAuth) -> bytes:
    """A backup made by another tool: no practiceid header, so no fingerprint to check first."""
    return x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(clinic.backup_password.encode()),
    )


BAD_BACKUPS: dict[str, type[KeyBackupInvalid]] = {
    "wrong password": KeyBackupWrongPassword,
    "empty password": KeyBackupWrongPassword,
    "other user's backup": KeyBackupMismatch,
    "another key, no header": KeyBackupMismatch,
    "truncated in the key": KeyBackupTruncated,
    "truncated in the header": KeyBackupTruncated,
    "corrupted key": KeyBackupCorrupted,
    "corrupted header": KeyBackupCorrupted,
    "a PDF": KeyBackupUnreadable,
    "a text": KeyBackupUnreadable,
    "empty file": KeyBackupUnreadable,
    "a public key": KeyBackupUnreadable,
    "not bytes": KeyBackupUnreadable,
}


def _bad_backup(clinic: SampleStrongAuth, backup: bytes, case: str) -> tuple[Any, str]:
    """Return the file and password of ``case`` (a key of BAD_BACKUPS)."""
    password = clinic.backup_password
    files: dict[str, Callable[[], Any]] = {
        "wrong password": lambda: backup,
        "empty password": lambda: backup,
        "other user's backup": lambda: _other_users_backup(clinic),
        "another key, no header": lambda: _bare_pkcs8_of_another_key(clinic),
        "truncated in the key": lambda: backup[: len(backup) - 60],
        "truncated in the header": lambda: backup[:60],
        "corrupted key": lambda: _flip_body(backup),
        "corrupted header": lambda: backup.replace(b"Algorithm: x25519", b"Algorithm: x25518"),
        "a PDF": lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        "a text": lambda: "Bonjour, voici ma clé.",
        "empty file": lambda: b"",
        "a public key": lambda: (
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ),
        "not bytes": lambda: None,
    }
    passwords = {"wrong password": OTHER_PASSWORD, "empty password": ""}
    return files[case](), passwords.get(case, password)


@pytest.mark.parametrize("case", list(BAD_BACKUPS))
def test_a_backup_that_cannot_confirm_the_key_says_why_and_changes_nothing(
    clinic: SampleStrongAuth, case: str
) -> None:
    """D3: each failure has its own code, so the host can tell the user what to do."""
    made = _generate(clinic)
    expected = BAD_BACKUPS[case]
    backup, password = _bad_backup(clinic, made.backup, case)
    before = _stored(clinic)
    count = len(_events(clinic))
    with pytest.raises(expected) as raised:
        _confirm(clinic, backup, password)
    assert type(raised.value) is expected
    assert _stored(clinic) == before
    assert before.status is KeyPairStatus.GENERATED
    refused = _events(clinic)[count:]
    assert [(e.action, e.outcome, e.code) for e in refused] == [
        ("key_pair.confirm_backup", Outcome.REFUSED, expected.code)
    ]


def test_each_way_a_backup_fails_has_a_distinct_code() -> None:
    kinds = (
        KeyBackupUnreadable,
        KeyBackupTruncated,
        KeyBackupCorrupted,
        KeyBackupWrongPassword,
        KeyBackupMismatch,
    )
    assert len({kind.code for kind in kinds}) == len(kinds)
    assert all(issubclass(kind, KeyBackupInvalid) for kind in kinds)
    assert KeyBackupInvalid.code not in {kind.code for kind in kinds}


def test_a_failed_confirmation_leaves_a_confirmed_backup_confirmed(
    clinic: SampleStrongAuth,
) -> None:
    made = _generate(clinic)
    confirmed = _confirm(clinic, made.backup)
    with pytest.raises(KeyBackupWrongPassword):
        _confirm(clinic, made.backup, OTHER_PASSWORD)
    assert _stored(clinic) == confirmed


def test_someone_elses_backup_names_both_fingerprints(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    theirs = _generate(clinic, clinic.owner)
    with pytest.raises(KeyBackupMismatch) as raised:
        _confirm(clinic, theirs.backup)
    assert raised.value.params == {"expected": made.fingerprint, "found": theirs.fingerprint}


def test_a_backup_cannot_be_confirmed_before_there_is_a_key_pair(
    clinic: SampleStrongAuth,
) -> None:
    made = generate_key_pair(clinic.backup_password)
    with pytest.raises(KeyPairNotFound) as raised:
        _confirm(clinic, made.backup)
    assert raised.value.params["user_id"] == clinic.physician
    assert _stored(clinic) is None


# -- a new device ----------------------------------------------------------------------------


def test_restoring_on_a_new_device_returns_the_private_key_of_the_stored_public_key(
    clinic: SampleStrongAuth,
) -> None:
    """D3: the backup brings the key to another machine; data encrypted for it opens."""
    made = _generate(clinic)
    _confirm(clinic, made.backup)
    restored = clinic.key_pairs.restore(
        actor=clinic.physician,
        user_id=clinic.physician,
        backup=made.backup,
        password=clinic.backup_password,
    )
    stored = _stored(clinic)
    assert isinstance(restored, RestoredKey)
    assert _spki(restored.private_key.public_key()) == stored.public_key
    assert restored.fingerprint == stored.fingerprint
    assert restored.user_id == clinic.physician
    assert restored.created == stored.generated_at.isoformat()
    # A sender encrypting to the stored public key agrees on a secret with the restored key.
    sender = x25519.X25519PrivateKey.generate()
    stored_key = serialization.load_der_public_key(stored.public_key)
    assert sender.exchange(stored_key) == restored.private_key.exchange(sender.public_key())


def test_restoring_confirms_a_backup_not_yet_confirmed(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    now = clinic.clock.advance(days=1)
    clinic.key_pairs.restore(
        actor=clinic.physician,
        user_id=clinic.physician,
        backup=made.backup,
        password=clinic.backup_password,
    )
    stored = _stored(clinic)
    assert stored.status is KeyPairStatus.BACKUP_CONFIRMED
    assert stored.confirmed_at == now


def test_the_backup_can_be_downloaded_again_and_the_new_file_restores_the_same_key(
    clinic: SampleStrongAuth,
) -> None:
    """D3: "it can be downloaded again from the user's page": write_backup again."""
    made = _generate(clinic)
    again = write_backup(
        made.private_key, OTHER_PASSWORD, user_id=clinic.physician, created=clinic.clock.now()
    )
    assert again != made.backup
    restored = clinic.key_pairs.restore(
        actor=clinic.physician, user_id=clinic.physician, backup=again, password=OTHER_PASSWORD
    )
    assert restored.fingerprint == made.fingerprint


def test_a_wrong_password_restores_nothing(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    with pytest.raises(KeyBackupWrongPassword):
        clinic.key_pairs.restore(
            actor=clinic.physician,
            user_id=clinic.physician,
            backup=made.backup,
            password=OTHER_PASSWORD,
        )
    assert _stored(clinic).status is KeyPairStatus.GENERATED


# -- no silent regeneration ------------------------------------------------------------------


def test_generating_again_is_refused_and_keeps_the_key(clinic: SampleStrongAuth) -> None:
    """D3: the key pair cannot be regenerated."""
    made = _generate(clinic)
    before = _stored(clinic)
    with pytest.raises(KeyPairExists) as raised:
        _generate(clinic)
    assert raised.value.code == "key_pair.exists"
    assert raised.value.params == {"user_id": clinic.physician, "fingerprint": made.fingerprint}
    assert _stored(clinic) == before


def test_registering_a_key_after_generation_is_refused(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    other = x25519.X25519PrivateKey.generate().public_key()
    with pytest.raises(KeyPairExists) as raised:
        clinic.key_pairs.register(
            actor=clinic.physician, user_id=clinic.physician, public_key=_spki(other)
        )
    assert raised.value.params["fingerprint"] == made.fingerprint
    assert _stored(clinic).fingerprint == made.fingerprint


def test_registering_again_is_refused_even_the_same_key(clinic: SampleStrongAuth) -> None:
    key = _spki(x25519.X25519PrivateKey.generate().public_key())
    first = clinic.key_pairs.register(
        actor=clinic.physician, user_id=clinic.physician, public_key=key
    )
    with pytest.raises(KeyPairExists):
        clinic.key_pairs.register(actor=clinic.physician, user_id=clinic.physician, public_key=key)
    assert _stored(clinic) == first


def test_not_even_a_key_manager_regenerates_a_confirmed_key(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    _confirm(clinic, made.backup)
    with pytest.raises(KeyPairExists):
        clinic.key_pairs.generate(
            actor=clinic.support, user_id=clinic.physician, backup_password=OTHER_PASSWORD
        )
    assert _stored(clinic).status is KeyPairStatus.BACKUP_CONFIRMED


# -- replacement -----------------------------------------------------------------------------


def _replace(clinic: SampleStrongAuth, previous: str, public_key: Any = None, actor: Any = None):
    return clinic.key_pairs.replace(
        actor=clinic.support if actor is None else actor,
        user_id=clinic.physician,
        previous_fingerprint=previous,
        public_key=public_key,
    )


@pytest.mark.parametrize(
    "who",
    ["physician", "owner"],
    ids=["the user themself", "an administrator not managing the account"],
)
def test_replacing_a_key_needs_users_manage_keys_even_over_ones_own_account(
    clinic: SampleStrongAuth, who: str
) -> None:
    made = _generate(clinic)
    actor = getattr(clinic, who)
    with pytest.raises(PermissionDenied) as raised:
        _replace(clinic, made.fingerprint, actor=actor)
    assert raised.value.params["permission"] == "users.manage_keys"
    assert raised.value.params["actor"] == actor
    assert _stored(clinic).status is KeyPairStatus.GENERATED


def test_a_key_manager_replaces_their_own_key_only_through_the_same_explicit_act(
    clinic: SampleStrongAuth,
) -> None:
    """users.manage_keys, not being the owner, is what allows a replacement."""
    made = clinic.key_pairs.generate(
        actor=clinic.support, user_id=clinic.support, backup_password=OTHER_PASSWORD
    )
    with pytest.raises(KeyPairExists):
        clinic.key_pairs.generate(
            actor=clinic.support, user_id=clinic.support, backup_password=OTHER_PASSWORD
        )
    result = clinic.key_pairs.replace(
        actor=clinic.support, user_id=clinic.support, previous_fingerprint=made.fingerprint
    )
    assert result.key_pair.status is KeyPairStatus.RETIRED


def test_replacing_with_a_stale_fingerprint_is_refused_and_names_both(
    clinic: SampleStrongAuth,
) -> None:
    """D3: never silent: the administrator names the key they replace."""
    made = _generate(clinic)
    stale = "0" * 64
    with pytest.raises(KeyPairExists) as raised:
        _replace(clinic, stale)
    assert raised.value.params == {
        "user_id": clinic.physician,
        "fingerprint": made.fingerprint,
        "expected": stale,
    }
    assert _stored(clinic).status is KeyPairStatus.GENERATED


def test_replacing_retires_the_key_and_says_what_becomes_unreadable(
    clinic: SampleStrongAuth,
) -> None:
    made = _generate(clinic)
    _confirm(clinic, made.backup)
    result = _replace(clinic, made.fingerprint)
    assert result.previous_fingerprint == made.fingerprint
    assert result.previous_generation == 1
    assert made.fingerprint in result.unreadable
    assert "generation 1" in result.unreadable
    assert "can no longer be read" in result.unreadable
    assert result.key_pair.status is KeyPairStatus.RETIRED
    assert not result.key_pair.is_usable
    assert _stored(clinic) == result.key_pair
    assert result.key_pair.fingerprint == made.fingerprint  # kept until the next generation


def test_a_retired_key_can_no_longer_be_confirmed_or_restored(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    _replace(clinic, made.fingerprint)
    with pytest.raises(KeyPairNotFound) as raised:
        _confirm(clinic, made.backup)
    assert raised.value.params["status"] == "retired"
    with pytest.raises(KeyPairNotFound):
        clinic.key_pairs.restore(
            actor=clinic.physician,
            user_id=clinic.physician,
            backup=made.backup,
            password=clinic.backup_password,
        )
    # The file itself still opens, for whoever must read old data with it.
    assert read_backup(made.backup, clinic.backup_password).fingerprint == made.fingerprint


def test_after_retirement_the_user_generates_generation_two_and_the_old_backup_mismatches(
    clinic: SampleStrongAuth,
) -> None:
    old = _generate(clinic)
    _confirm(clinic, old.backup)
    _replace(clinic, old.fingerprint)
    now = clinic.clock.advance(days=1)
    new = _generate(clinic)
    stored = _stored(clinic)
    assert new.fingerprint != old.fingerprint
    assert (stored.fingerprint, stored.generation, stored.status) == (
        new.fingerprint,
        2,
        KeyPairStatus.GENERATED,
    )
    assert (stored.generated_at, stored.generated_by, stored.confirmed_at) == (
        now,
        clinic.physician,
        None,
    )
    with pytest.raises(KeyBackupMismatch) as raised:
        _confirm(clinic, old.backup)
    assert raised.value.params == {"expected": new.fingerprint, "found": old.fingerprint}
    assert _confirm(clinic, new.backup).status is KeyPairStatus.BACKUP_CONFIRMED


def test_a_retired_key_is_followed_by_one_generation_only(clinic: SampleStrongAuth) -> None:
    old = _generate(clinic)
    _replace(clinic, old.fingerprint)
    _generate(clinic)
    with pytest.raises(KeyPairExists):
        _generate(clinic)
    assert _stored(clinic).generation == 2


def test_replacing_with_a_given_public_key_makes_the_next_generation_at_once(
    clinic: SampleStrongAuth,
) -> None:
    old = _generate(clinic)
    _confirm(clinic, old.backup)
    private = x25519.X25519PrivateKey.generate()  # made on the user's side
    result = _replace(clinic, old.fingerprint, public_key=_spki(private.public_key()))
    stored = _stored(clinic)
    assert result.key_pair == stored
    assert (stored.generation, stored.status, stored.confirmed_at) == (
        2,
        KeyPairStatus.GENERATED,
        None,
    )
    assert stored.fingerprint == fingerprint(private.public_key())
    assert stored.generated_by == clinic.support
    assert result.previous_fingerprint == old.fingerprint
    with pytest.raises(KeyBackupMismatch):
        _confirm(clinic, old.backup)
    backup = write_backup(private, OTHER_PASSWORD, user_id=clinic.physician)
    assert _confirm(clinic, backup, OTHER_PASSWORD).status is KeyPairStatus.BACKUP_CONFIRMED
    again = _replace(clinic, stored.fingerprint)
    assert (again.previous_generation, again.key_pair.generation) == (2, 2)


def test_replacing_a_key_with_itself_is_refused_and_changes_nothing(
    clinic: SampleStrongAuth,
) -> None:
    """D3: a replacement that would make nothing unreadable is no replacement."""
    old = _generate(clinic)
    with pytest.raises(KeyPairRejected) as raised:
        _replace(clinic, old.fingerprint, public_key=old.public_key)
    assert raised.value.codes == ("key_pair.same_key",)
    assert (_stored(clinic).generation, _stored(clinic).fingerprint) == (1, old.fingerprint)


def test_replacing_a_key_the_user_never_had_is_refused(clinic: SampleStrongAuth) -> None:
    with pytest.raises(KeyPairNotFound):
        _replace(clinic, "0" * 64)
    assert _stored(clinic) is None


def test_replacing_with_a_key_that_is_not_x25519_is_refused(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    with pytest.raises(KeyPairRejected) as raised:
        _replace(clinic, made.fingerprint, public_key=b"not a key")
    assert raised.value.codes == ("key_pair.invalid_public_key",)
    assert _stored(clinic).status is KeyPairStatus.GENERATED


# -- hand-over (source 001) and who may act ----------------------------------------------------


def test_a_key_made_by_whoever_opened_the_account_first_is_handed_over_and_confirmed(
    clinic: SampleStrongAuth,
) -> None:
    """D3, source 001: a colleague opened the account on their machine; the key was made
    there, in a session of the physician's account, and its backup file is handed over."""
    handed_over_password = "Cle-Remise-Par-La-Secretaire-4"
    in_their_session = clinic.physician  # the account is the actor, whoever typed
    made = clinic.key_pairs.generate(
        actor=in_their_session,
        user_id=clinic.physician,
        backup_password=handed_over_password,
        backup_password_confirmation=handed_over_password,
    )
    file_passed_on = made.backup.decode("ascii")  # e.g. on a USB stick, as a .pem file
    del made  # the colleague's machine keeps nothing once handed over
    stored = _stored(clinic)
    assert stored.generated_by == clinic.physician
    assert stored.status is KeyPairStatus.GENERATED

    later = clinic.clock.advance(days=2)
    confirmed = _confirm(clinic, file_passed_on, handed_over_password)
    assert confirmed.status is KeyPairStatus.BACKUP_CONFIRMED
    assert confirmed.confirmed_at == later
    restored = clinic.key_pairs.restore(
        actor=clinic.physician,
        user_id=clinic.physician,
        backup=file_passed_on,
        password=handed_over_password,
    )
    assert restored.fingerprint == stored.fingerprint


def test_a_key_manager_may_generate_for_the_user_who_then_confirms_it(
    clinic: SampleStrongAuth,
) -> None:
    made = clinic.key_pairs.generate(
        actor=clinic.support, user_id=clinic.physician, backup_password=OTHER_PASSWORD
    )
    assert _stored(clinic).generated_by == clinic.support
    assert _confirm(clinic, made.backup, OTHER_PASSWORD).status is KeyPairStatus.BACKUP_CONFIRMED
    generated = next(e for e in _key_events(clinic) if e.action == "key_pair.generate")
    assert (generated.actor, generated.target_id) == (clinic.support, clinic.physician)
    assert generated.detail["generated_by"] == clinic.support


def test_a_colleague_without_users_manage_keys_cannot_generate_for_the_user(
    clinic: SampleStrongAuth,
) -> None:
    with pytest.raises(PermissionDenied):
        clinic.key_pairs.generate(
            actor=clinic.owner, user_id=clinic.physician, backup_password=OTHER_PASSWORD
        )
    with pytest.raises(PermissionDenied):
        clinic.key_pairs.key_pair(actor=clinic.owner, user_id=clinic.physician)
    assert _stored(clinic) is None


@pytest.mark.parametrize("who", ["support", "owner"])
@pytest.mark.parametrize("command", ["confirm_backup", "restore"])
def test_only_the_owner_confirms_or_restores_their_backup(
    clinic: SampleStrongAuth, who: str, command: str
) -> None:
    """D3: the backup is the user's: not even a key manager opens it through the service."""
    made = _generate(clinic)
    actor = getattr(clinic, who)
    count = len(_events(clinic))
    with pytest.raises(PermissionDenied) as raised:
        getattr(clinic.key_pairs, command)(
            actor=actor,
            user_id=clinic.physician,
            backup=made.backup,
            password=clinic.backup_password,
        )
    assert raised.value.params["reason"] == "not_owner"
    assert raised.value.params["permission"] == f"key_pair.{command}"
    assert _stored(clinic).status is KeyPairStatus.GENERATED
    refused = _events(clinic)[count:]
    assert [(e.action, e.outcome, e.code, e.actor) for e in refused] == [
        (f"key_pair.{command}", Outcome.REFUSED, "auth.permission_denied", actor)
    ]


def test_a_key_manager_may_read_the_users_public_key(clinic: SampleStrongAuth) -> None:
    _generate(clinic)
    assert clinic.key_pairs.key_pair(actor=clinic.support, user_id=clinic.physician) == _stored(
        clinic
    )


# -- keys made elsewhere (WebCrypto) -----------------------------------------------------------


def _webcrypto_key() -> x25519.X25519PublicKey:
    """What crypto.subtle.generateKey({name: "X25519"}) then exportKey("spki") hands over."""
    return x25519.X25519PrivateKey.generate().public_key()


PUBLIC_FORMS: dict[str, Callable[[x25519.X25519PublicKey], Any]] = {
    "spki der": _spki,
    "spki der as bytearray": lambda key: bytearray(_spki(key)),
    "pem bytes": lambda key: key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ),
    "pem text": lambda key: key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii"),
    "raw 32 bytes": lambda key: key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ),
}


@pytest.mark.parametrize("form", list(PUBLIC_FORMS))
def test_a_public_key_made_in_the_browser_is_registered_in_any_usual_form(
    clinic: SampleStrongAuth, form: str
) -> None:
    key = _webcrypto_key()
    stored = clinic.key_pairs.register(
        actor=clinic.physician, user_id=clinic.physician, public_key=PUBLIC_FORMS[form](key)
    )
    assert stored == _stored(clinic)
    assert stored.public_key == _spki(key)
    assert stored.fingerprint == fingerprint(key) == hashlib.sha256(_spki(key)).hexdigest()
    assert (stored.status, stored.generation, stored.generated_by) == (
        KeyPairStatus.GENERATED,
        1,
        clinic.physician,
    )
    assert [e.action for e in _key_events(clinic)] == ["key_pair.register"]


def test_every_form_of_one_public_key_has_the_same_fingerprint() -> None:
    key = _webcrypto_key()
    assert len({fingerprint(make(key)) for make in PUBLIC_FORMS.values()}) == 1


def _other_public(make: Callable[[], Any]) -> bytes:
    return (
        make()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


NOT_PUBLIC_KEYS: dict[str, Callable[[], Any]] = {
    "empty": lambda: b"",
    "junk": lambda: b"not a public key",
    "31 bytes": lambda: bytes(31),
    "33 bytes": lambda: bytes(33),
    "spki cut short": lambda: _spki(_webcrypto_key())[:-1],
    "ed25519": lambda: _other_public(ed25519.Ed25519PrivateKey.generate),
    "x448": lambda: _other_public(x448.X448PrivateKey.generate),
    "p-256": lambda: _other_public(lambda: ec.generate_private_key(ec.SECP256R1())),
    "a pem private key": lambda: x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ),
    "pem with junk": lambda: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
    "text": lambda: "clé publique",
    "none": lambda: None,
    "number": lambda: 25519,
    "too large": lambda: b"\x30" * (64 * 1024 + 1),
}


@pytest.mark.parametrize("case", list(NOT_PUBLIC_KEYS))
def test_anything_but_an_x25519_public_key_is_rejected(clinic: SampleStrongAuth, case: str) -> None:
    count = len(_events(clinic))
    with pytest.raises(KeyPairRejected) as raised:
        clinic.key_pairs.register(
            actor=clinic.physician, user_id=clinic.physician, public_key=NOT_PUBLIC_KEYS[case]()
        )
    assert raised.value.codes == ("key_pair.invalid_public_key",)
    assert raised.value.violations[0].field == "public_key"
    assert _stored(clinic) is None
    refused = _events(clinic)[count:]
    assert [(e.action, e.outcome, e.code) for e in refused] == [
        ("key_pair.register", Outcome.REFUSED, "key_pair.rejected")
    ]


# -- backup passwords --------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["abc", "password123", "aaaaaaaaaaaaaaaaaaaa"])
def test_a_weak_backup_password_is_rejected_and_nothing_is_stored(
    clinic: SampleStrongAuth, password: str
) -> None:
    """The backup may be copied anywhere: its encryption is only as strong as its password."""
    with pytest.raises(PasswordRejected) as raised:
        clinic.key_pairs.generate(
            actor=clinic.physician, user_id=clinic.physician, backup_password=password
        )
    assert raised.value.codes
    assert _stored(clinic) is None
    assert [(e.action, e.code) for e in _key_events(clinic)] == [
        ("key_pair.generate", "password.rejected")
    ]


def test_a_mistyped_backup_password_confirmation_is_rejected(clinic: SampleStrongAuth) -> None:
    with pytest.raises(PasswordRejected):
        clinic.key_pairs.generate(
            actor=clinic.physician,
            user_id=clinic.physician,
            backup_password=clinic.backup_password,
            backup_password_confirmation=clinic.backup_password + "x",
        )
    assert _stored(clinic) is None


INVALID_PASSWORDS: dict[str, object] = {
    "empty": "",
    "bytes": b"Phrase-En-Octets-1",
    "none": None,
    "number": 1234567890,
    "1025 ascii bytes": "a" * 1025,
    "1026 utf-8 bytes": "é" * 513,
    "lone surrogate": "Phrase-\ud800-1",
}


@pytest.mark.parametrize("case", list(INVALID_PASSWORDS))
def test_write_backup_refuses_a_password_that_cannot_protect_it(case: str) -> None:
    key = x25519.X25519PrivateKey.generate()
    with pytest.raises(KeyPairRejected) as raised:
        write_backup(key, INVALID_PASSWORDS[case])  # type: ignore[arg-type]
    assert raised.value.codes == ("key_pair.invalid_password",)
    assert raised.value.violations[0].field == "password"
    with pytest.raises(KeyPairRejected):
        generate_key_pair(INVALID_PASSWORDS[case])  # type: ignore[arg-type]


# A password of 256 code points, all 4 UTF-8 bytes, with every class the policy asks for:
# 1024 bytes, which the default PasswordPolicy (256 code points, 1024 bytes) accepts.
POLICY_MAXIMUM = "\U0001d400\U0001d41a\U0001d7ce\U0001f600" + "".join(
    chr(0x20000 + (i * 7919) % 40000) for i in range(252)
)


@pytest.mark.parametrize(
    "password",
    [
        "x",
        "a" * 1023,
        "é" * 511 + "a",
        "e\u0301" * 511 + "a",
    ],
    ids=["one character", "1023 ascii", "1023 utf-8 bytes", "1534 bytes in nfd, 1023 in nfc"],
)
def test_write_backup_accepts_up_to_1023_utf8_bytes_after_nfc(password: str) -> None:
    key = x25519.X25519PrivateKey.generate()
    backup = write_backup(key, password)
    assert read_backup(backup, password).fingerprint == fingerprint(key.public_key())


@pytest.mark.parametrize(
    "password", ["a" * 1024, "é" * 512, "e\u0301" * 512], ids=["ascii", "utf-8", "nfd"]
)
def test_write_backup_refuses_1024_utf8_bytes_with_a_code(password: str) -> None:
    """cryptography's PKCS#8 encryption takes at most 1023 bytes: refused with a code."""
    key = x25519.X25519PrivateKey.generate()
    with pytest.raises(KeyPairRejected) as raised:
        write_backup(key, password)
    assert raised.value.codes == ("key_pair.invalid_password",)


def test_a_backup_password_of_1024_bytes_that_the_policy_accepts_is_refused_with_a_code(
    clinic: SampleStrongAuth,
) -> None:
    """The account policy allows 1024 bytes, one more than a PKCS#8 backup takes: generate
    answers with a coded refusal, records it, and stores no key."""
    assert len(POLICY_MAXIMUM) == 256
    assert len(POLICY_MAXIMUM.encode()) == 1024
    clinic.key_pairs.backup_password_policy.validate(POLICY_MAXIMUM)
    with pytest.raises(KeyPairRejected):
        clinic.key_pairs.generate(
            actor=clinic.physician, user_id=clinic.physician, backup_password=POLICY_MAXIMUM
        )
    assert clinic.key_pairs.key_pair(actor=clinic.physician, user_id=clinic.physician) is None


def test_a_rejected_password_is_never_echoed_in_the_error() -> None:
    secret = "Secret-Qui-Ne-Doit-Pas-Fuir-" + "z" * 1000
    with pytest.raises(KeyPairRejected) as raised:
        write_backup(x25519.X25519PrivateKey.generate(), secret)
    assert "Secret-Qui" not in str(raised.value)
    assert "Secret-Qui" not in json.dumps(raised.value.to_dict())


# -- audit (F3) --------------------------------------------------------------------------------


def _run_generate(clinic: SampleStrongAuth, made: dict[str, Any]) -> None:
    made["made"] = _generate(clinic)


def _run_register(clinic: SampleStrongAuth, made: dict[str, Any]) -> None:
    private = x25519.X25519PrivateKey.generate()
    made["made"] = GeneratedKeyPair(
        public_key=_spki(private.public_key()),
        fingerprint=fingerprint(private.public_key()),
        private_key=private,
        backup=write_backup(private, clinic.backup_password),
    )
    clinic.key_pairs.register(
        actor=clinic.physician, user_id=clinic.physician, public_key=made["made"].public_key
    )


def _run_confirm(clinic: SampleStrongAuth, made: dict[str, Any]) -> None:
    _confirm(clinic, made["made"].backup)


def _run_restore(clinic: SampleStrongAuth, made: dict[str, Any]) -> None:
    clinic.key_pairs.restore(
        actor=clinic.physician,
        user_id=clinic.physician,
        backup=made["made"].backup,
        password=clinic.backup_password,
    )


def _run_replace(clinic: SampleStrongAuth, made: dict[str, Any]) -> None:
    _replace(clinic, made["made"].fingerprint)


_Step = Callable[[SampleStrongAuth, dict[str, Any]], None]
AUDITED: dict[str, tuple[list[_Step], _Step]] = {
    "key_pair.generate": ([], _run_generate),
    "key_pair.register": ([], _run_register),
    "key_pair.confirm_backup": ([_run_generate], _run_confirm),
    "key_pair.restore": ([_run_generate], _run_restore),
    "key_pair.replace": ([_run_generate], _run_replace),
}


@pytest.mark.parametrize("action", list(AUDITED))
def test_each_command_records_one_event_with_the_fingerprint_and_never_a_secret(
    clinic: SampleStrongAuth, action: str
) -> None:
    setup, command = AUDITED[action]
    made: dict[str, Any] = {}
    for step in setup:
        step(clinic, made)
    count = len(_events(clinic))
    command(clinic, made)
    new = _events(clinic)[count:]
    assert [e.action for e in new] == [action]
    event = new[0]
    assert event.outcome is Outcome.SUCCEEDED
    assert event.establishment_id is None  # the platform chain: a key is the account's
    assert (event.target_type, event.target_id) == ("user", clinic.physician)
    assert event.detail["fingerprint"] == made["made"].fingerprint
    assert {"fingerprint", "generation", "status"} <= set(event.detail)
    text = json.dumps(event.canonical(), default=str)
    for secret in [
        *_secret_forms(made["made"]),
        made["made"].public_key.hex(),
        clinic.backup_password,
    ]:
        assert secret not in text


def test_a_replacement_event_names_the_previous_key_and_what_became_unreadable(
    clinic: SampleStrongAuth,
) -> None:
    made = _generate(clinic)
    result = _replace(clinic, made.fingerprint)
    event = _key_events(clinic)[-1]
    assert event.actor == clinic.support
    assert event.detail["previous_fingerprint"] == made.fingerprint
    assert event.detail["unreadable"] == result.unreadable
    assert event.detail["status"] == "retired"


def test_reading_a_key_pair_records_nothing(clinic: SampleStrongAuth) -> None:
    _generate(clinic)
    count = len(_events(clinic))
    clinic.key_pairs.key_pair(actor=clinic.physician, user_id=clinic.physician)
    assert len(_events(clinic)) == count


def test_each_refusal_records_one_event_with_its_code(clinic: SampleStrongAuth) -> None:
    made = _generate(clinic)
    attempts: list[tuple[Callable[[], object], str, str]] = [
        (lambda: _generate(clinic), "key_pair.generate", "key_pair.exists"),
        (
            lambda: clinic.key_pairs.register(
                actor=clinic.physician, user_id=clinic.physician, public_key=b"junk"
            ),
            "key_pair.register",
            "key_pair.rejected",
        ),
        (
            lambda: _confirm(clinic, made.backup[:100]),
            "key_pair.confirm_backup",
            "key_backup.truncated",
        ),
        (
            lambda: clinic.key_pairs.restore(
                actor=clinic.physician,
                user_id=clinic.physician,
                backup=made.backup,
                password=OTHER_PASSWORD,
            ),
            "key_pair.restore",
            "key_backup.wrong_password",
        ),
        (lambda: _replace(clinic, "f" * 64), "key_pair.replace", "key_pair.exists"),
    ]
    for attempt, action, code in attempts:
        count = len(_events(clinic))
        with pytest.raises(PracticeIdError) as raised:
            attempt()
        assert raised.value.code == code
        new = _events(clinic)[count:]
        assert [(e.action, e.outcome, e.code) for e in new] == [(action, Outcome.REFUSED, code)]
        assert new[0].target_id == clinic.physician
        text = json.dumps(new[0].canonical(), default=str)
        assert made.backup.decode("ascii")[-80:] not in text
        assert OTHER_PASSWORD not in text


# -- concurrent first logins ------------------------------------------------------------------

THREADS = 8


@pytest.fixture
def factory(sample_unit_of_work) -> FactorUnitOfWorkFactory | None:
    """The unit of work of the store under test: None is the in-memory default."""
    return sample_unit_of_work


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_first_logins_store_exactly_one_key(factory, round_) -> None:
    """D3: 8 registrations for one new user at once: one wins, the rest are told a key
    exists, and the stored key is the winner's."""
    clinic = sample_strong_auth(unit_of_work=factory)
    keys = [_spki(_webcrypto_key()) for _ in range(THREADS)]
    calls = [
        (
            lambda key=key: clinic.key_pairs.register(
                actor=clinic.physician, user_id=clinic.physician, public_key=key
            )
        )
        for key in keys
    ]
    outcomes = together(calls)
    winners = [o for o in outcomes if isinstance(o, KeyPair)]
    assert len(winners) == 1, outcomes
    losers = [o for o in outcomes if not isinstance(o, KeyPair)]
    assert all(isinstance(o, KeyPairExists) for o in losers), outcomes
    assert not any(isinstance(o, StaleRecord) for o in outcomes)
    stored = _stored(clinic)
    assert stored == winners[0]
    assert stored.public_key in keys
    assert stored.public_key == keys[outcomes.index(winners[0])]
    assert all(o.params["fingerprint"] == stored.fingerprint for o in losers)
    events = _key_events(clinic)
    assert sorted((e.outcome, e.code) for e in events) == sorted(
        [(Outcome.SUCCEEDED, "")] + [(Outcome.REFUSED, "key_pair.exists")] * (THREADS - 1)
    )


def test_the_sql_row_of_a_key_pair_holds_no_private_material(tmp_path) -> None:
    """D3 on disk: the vendor's database keeps the public half only."""
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    store.create_schema()
    try:
        clinic = sample_strong_auth(unit_of_work=store.unit_of_work)
        made = _generate(clinic)
        with store.engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT * FROM practiceid_key_pairs").mappings().all()
        assert len(rows) == 1
        row = dict(rows[0])
        assert set(row) == KEY_PAIR_FIELDS
        assert bytes(row["public_key"]) == made.public_key
        assert row["fingerprint"] == made.fingerprint
        raw = _private_bytes(made.private_key)
        for name, value in row.items():
            as_bytes = (
                bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            )
            assert raw not in as_bytes, name
            assert raw.hex().encode() not in as_bytes, name
        clinic.clock.advance(timedelta(hours=1))
        assert _confirm(clinic, made.backup).status is KeyPairStatus.BACKUP_CONFIRMED
    finally:
        store.close()
