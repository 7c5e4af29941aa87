"""Key pairs (D3) and second factors (F5) at their edges: odd input, toggled requirements.

Each refusal is coded; nothing stored changes.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from practiceid import (
    AccountDeactivated,
    FactorRejected,
    KeyBackupCorrupted,
    KeyBackupMismatch,
    KeyBackupUnreadable,
    KeyPairStatus,
    LastFactor,
    SignInMethod,
    UserNotFound,
    personal_keys,
)
from practiceid.keypairs import _checksum, _header_text, fingerprint, read_backup, write_backup
from practiceid.testing import SampleStrongAuth, sample_strong_auth

PASSWORD = "Cle-De-Secours-Du-Cabinet-58"


@pytest.fixture
def practice() -> SampleStrongAuth:
    return sample_strong_auth()


def _rewrite_header(backup: bytes, **fields: str) -> bytes:
    """Return ``backup`` with header fields changed and its checksum made right again."""
    head, _, block = backup.decode("ascii").partition("\n\n")
    values = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    del values["Checksum"]
    values.update(fields)
    encrypted = base64.b64decode("".join(block.strip().splitlines()[1:-1]))
    header = _header_text(values)
    return (header + f"Checksum: {_checksum(header, encrypted)}\n\n" + block).encode("ascii")


def test_a_backup_that_names_another_algorithm_is_unreadable() -> None:
    """D3: only X25519 keys are backups of practiceid's key pairs."""
    backup = write_backup(x25519.X25519PrivateKey.generate(), PASSWORD)
    with pytest.raises(KeyBackupUnreadable) as raised:
        read_backup(_rewrite_header(backup, Algorithm="rsa-3072"), PASSWORD)
    assert raised.value.params["reason"] == "algorithm"


def test_a_header_naming_another_fingerprint_than_its_key_is_damage() -> None:
    """D3: a header edited to name another key, with its checksum redone, is still caught."""
    backup = write_backup(x25519.X25519PrivateKey.generate(), PASSWORD)
    other = fingerprint(x25519.X25519PrivateKey.generate().public_key())
    with pytest.raises(KeyBackupCorrupted) as raised:
        read_backup(_rewrite_header(backup, Fingerprint=other), PASSWORD)
    assert raised.value.params["reason"] == "fingerprint"


def test_an_encrypted_key_of_another_algorithm_is_unreadable() -> None:
    """D3: a bare PKCS#8 file of an Ed25519 key opens, but is not a key pair of ours."""
    other = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    with pytest.raises(KeyBackupUnreadable) as raised:
        read_backup(other, PASSWORD)
    assert raised.value.params["reason"] == "algorithm"


@pytest.mark.parametrize("user_id", [None, "", 42])
def test_key_pair_commands_answer_an_unusable_user_id_with_user_not_found(
    practice: SampleStrongAuth, user_id: object
) -> None:
    with pytest.raises(UserNotFound):
        practice.key_pairs.key_pair(actor=practice.physician, user_id=user_id)  # type: ignore[arg-type]
    with pytest.raises(UserNotFound):
        practice.factors.factors(actor=practice.physician, user_id=user_id)  # type: ignore[arg-type]


def test_verifying_the_password_of_a_deactivated_account_is_refused(
    practice: SampleStrongAuth,
) -> None:
    """A6: a deactivated account re-authenticates for nothing, even with its password."""
    with practice.unit_of_work() as uow:
        uow.users.update(uow.users.get(practice.physician).deactivate())
        uow.commit()
    with pytest.raises(AccountDeactivated):
        practice.accounts.verify_password(practice.physician, practice.password)


def test_an_establishment_requirement_can_be_lifted_and_set_again(
    practice: SampleStrongAuth,
) -> None:
    """F5: lifting the requirement lets the last factor go; setting it again keeps it."""
    factors = practice.factors
    where = practice.establishment.id
    enrolment = factors.begin_totp(actor=practice.physician, user_id=practice.physician)
    factors.confirm_totp(
        actor=practice.physician, factor_id=enrolment.factor.id, code=practice.app_code(enrolment)
    )
    assert factors.require_second_factor(
        actor=practice.owner, establishment_id=where, required=True
    )
    again = factors.require_second_factor(
        actor=practice.owner, establishment_id=where, required=True
    )
    assert again.required
    with pytest.raises(LastFactor):
        factors.remove(
            actor=practice.physician, factor_id=enrolment.factor.id, password=practice.password
        )

    lifted = factors.require_second_factor(
        actor=practice.owner, establishment_id=where, required=False
    )

    assert not lifted.required
    assert lifted.version == again.version + 1
    factors.remove(
        actor=practice.physician, factor_id=enrolment.factor.id, password=practice.password
    )
    signed_in = factors.sign_in(practice.login, practice.password)
    assert signed_in.method is SignInMethod.PASSWORD
    assert not signed_in.enrolment_required
    restored = factors.require_second_factor(
        actor=practice.owner, establishment_id=where, required=True
    )
    assert restored.required
    assert factors.sign_in(practice.login, practice.password).enrolment_required


@pytest.mark.parametrize(
    ("establishment_id", "required", "code"),
    [
        ("", True, "establishment.invalid_id"),
        (5, True, "establishment.invalid_id"),
        ("any", "yes", "factor.invalid_requirement"),
        ("any", 1, "factor.invalid_requirement"),
    ],
)
def test_a_requirement_with_bad_input_is_refused_with_a_code(
    practice: SampleStrongAuth, establishment_id: object, required: object, code: str
) -> None:
    with pytest.raises(FactorRejected) as raised:
        practice.factors.require_second_factor(
            actor=practice.owner,
            establishment_id=establishment_id,  # type: ignore[arg-type]
            required=required,  # type: ignore[arg-type]
        )
    assert raised.value.codes == (code,)


@pytest.mark.parametrize("command", ["restore", "confirm_backup"])
def test_a_key_replaced_while_its_backup_was_read_is_neither_restored_nor_confirmed(
    practice: SampleStrongAuth, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """D3: the backup is checked against the key stored when the command commits."""
    me = practice.physician
    made = practice.key_pairs.generate(
        actor=me, user_id=me, backup_password=practice.backup_password
    )
    successor = x25519.X25519PrivateKey.generate()
    real = personal_keys.read_backup

    def read_while_replaced(*args: object, **kwargs: object) -> object:
        opened = real(*args, **kwargs)  # type: ignore[arg-type]
        practice.key_pairs.replace(
            actor=practice.support,
            user_id=me,
            previous_fingerprint=made.fingerprint,
            public_key=successor.public_key().public_bytes_raw(),
        )
        return opened

    monkeypatch.setattr(personal_keys, "read_backup", read_while_replaced)
    with pytest.raises(KeyBackupMismatch) as raised:
        getattr(practice.key_pairs, command)(
            actor=me, user_id=me, backup=made.backup, password=practice.backup_password
        )
    assert raised.value.params["found"] == made.fingerprint
    stored = practice.key_pairs.key_pair(actor=me, user_id=me)
    assert stored is not None
    assert stored.status is KeyPairStatus.GENERATED
    assert stored.fingerprint == fingerprint(successor.public_key())


def test_a_deactivated_account_passes_no_second_step(practice: SampleStrongAuth) -> None:
    """A6, F5: even with a right code, kept by a store that revoked nothing."""
    me = practice.physician
    enrolment = practice.factors.begin_totp(actor=me, user_id=me)
    practice.factors.confirm_totp(
        actor=me, factor_id=enrolment.factor.id, code=practice.app_code(enrolment)
    )
    practice.clock.advance(seconds=30)
    with practice.unit_of_work() as uow:  # around the services: its factors stay
        uow.users.update(uow.users.get(me).deactivate())
        uow.commit()
    code = practice.app_code(enrolment)
    with pytest.raises(AccountDeactivated):
        practice.factors.verify(user_id=me, code=code)
    with pytest.raises(AccountDeactivated):
        practice.factors.second_step(user_id=me, code=code)
