"""The key pair lifecycle as a state machine (D3): none → generated → backup confirmed, retired.

Rules generate, register, confirm and restore (with the right backup, an old one, a wrong
password) and replace (retiring, or with a new key, naming the right or a stale
fingerprint). A model tracks the status, the generation and which backups are current;
invariants: the store matches the model, a key is never regenerated silently (generation
moves only by an explicit replacement), and only the current key's backup ever opens.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from practiceid import (
    KeyBackupInvalid,
    KeyBackupMismatch,
    KeyBackupWrongPassword,
    KeyPairExists,
    KeyPairNotFound,
    KeyPairStatus,
)
from practiceid.keypairs import generate_key_pair
from practiceid.testing import SampleStrongAuth, sample_strong_auth

WRONG = "Pas-Le-Bon-Mot-De-Passe-31"


class KeyPairMachine(RuleBasedStateMachine):
    """D3: the stored key pair follows the lifecycle, whatever the order of the commands."""

    @initialize()
    def practice(self) -> None:
        self.sample: SampleStrongAuth = sample_strong_auth()
        self.status: KeyPairStatus | None = None
        self.generation = 0
        self.fingerprint: str | None = None
        self.backups: list[tuple[bytes, str]] = []  # every backup made, and its fingerprint
        self.password = self.sample.backup_password

    def _stored(self):
        s = self.sample
        return s.key_pairs.key_pair(actor=s.physician, user_id=s.physician)

    def _new(self, generation: int) -> None:
        self.status = KeyPairStatus.GENERATED
        self.generation = generation

    @rule()
    def generate(self) -> None:
        s = self.sample
        try:
            made = s.key_pairs.generate(
                actor=s.physician, user_id=s.physician, backup_password=self.password
            )
        except KeyPairExists:
            assert self.status in {KeyPairStatus.GENERATED, KeyPairStatus.BACKUP_CONFIRMED}
            return
        assert self.status in {None, KeyPairStatus.RETIRED}
        self._new(self.generation + 1)
        self.fingerprint = made.fingerprint
        self.backups.append((made.backup, made.fingerprint))

    @rule()
    def register(self) -> None:
        s = self.sample
        made = generate_key_pair(self.password, user_id=s.physician)  # in the browser
        try:
            s.key_pairs.register(actor=s.physician, user_id=s.physician, public_key=made.public_key)
        except KeyPairExists:
            assert self.status in {KeyPairStatus.GENERATED, KeyPairStatus.BACKUP_CONFIRMED}
            return
        assert self.status in {None, KeyPairStatus.RETIRED}
        self._new(self.generation + 1)
        self.fingerprint = made.fingerprint
        self.backups.append((made.backup, made.fingerprint))

    @precondition(lambda self: self.backups)
    @rule(which=st.integers(0, 20), restore=st.booleans(), right_password=st.booleans())
    def load_a_backup(self, which: int, restore: bool, right_password: bool) -> None:  # noqa: FBT001
        s = self.sample
        backup, made_for = self.backups[which % len(self.backups)]
        command = s.key_pairs.restore if restore else s.key_pairs.confirm_backup
        password = self.password if right_password else WRONG
        usable = self.status in {KeyPairStatus.GENERATED, KeyPairStatus.BACKUP_CONFIRMED}
        try:
            command(actor=s.physician, user_id=s.physician, backup=backup, password=password)
        except KeyPairNotFound:
            assert not usable
            return
        except KeyBackupMismatch:
            assert usable
            assert made_for != self.fingerprint
            return
        except KeyBackupWrongPassword:
            assert usable
            assert made_for == self.fingerprint
            assert not right_password
            return
        except KeyBackupInvalid as error:  # pragma: no cover - the files are intact
            raise AssertionError(error.code) from error
        assert usable
        assert made_for == self.fingerprint
        assert right_password
        self.status = KeyPairStatus.BACKUP_CONFIRMED

    @rule(stale=st.booleans(), with_key=st.booleans())
    def replace(self, stale: bool, with_key: bool) -> None:  # noqa: FBT001
        s = self.sample
        named = "0" * 64 if stale else (self.fingerprint or "0" * 64)
        made = generate_key_pair(self.password, user_id=s.physician) if with_key else None
        try:
            result = s.key_pairs.replace(
                actor=s.support,
                user_id=s.physician,
                previous_fingerprint=named,
                public_key=None if made is None else made.public_key,
            )
        except KeyPairNotFound:
            assert self.status is None
            return
        except KeyPairExists:
            assert stale or self.fingerprint is None
            return
        assert not stale
        assert self.fingerprint in result.unreadable
        if made is None:
            self.status = KeyPairStatus.RETIRED
        else:
            self._new(self.generation + 1)
            self.fingerprint = made.fingerprint
            self.backups.append((made.backup, made.fingerprint))

    @invariant()
    def the_store_matches_the_model(self) -> None:
        stored = self._stored()
        if self.status is None:
            assert stored is None
            return
        assert stored is not None
        assert (stored.status, stored.generation, stored.fingerprint) == (
            self.status,
            self.generation,
            self.fingerprint,
        )
        if self.status is not KeyPairStatus.RETIRED:  # a retired key keeps its history
            confirmed = self.status is KeyPairStatus.BACKUP_CONFIRMED
            assert (stored.confirmed_at is not None) == confirmed


KeyPairMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestKeyPairLifecycle = KeyPairMachine.TestCase
