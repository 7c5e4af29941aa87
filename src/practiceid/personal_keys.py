"""The key pair service: first-login key pairs, backups confirmed, restored, replaced (D3).

The private key never reaches a repository. :meth:`KeyPairService.generate` makes the pair
where the host calls it and returns the private key and its backup to the caller;
:meth:`KeyPairService.register` stores a public key made elsewhere (a browser's WebCrypto).
Either way only the public key and its fingerprint are stored.

>>> from practiceid.testing import sample_strong_auth
>>> clinic = sample_strong_auth()
>>> made = clinic.key_pairs.generate(
...     actor=clinic.physician, user_id=clinic.physician, backup_password=clinic.backup_password
... )
>>> clinic.key_pairs.key_pair(actor=clinic.physician, user_id=clinic.physician).status
<KeyPairStatus.GENERATED: 'generated'>
>>> clinic.key_pairs.confirm_backup(
...     actor=clinic.physician,
...     user_id=clinic.physician,
...     backup=made.backup,
...     password=clinic.backup_password,
... ).status
<KeyPairStatus.BACKUP_CONFIRMED: 'backup_confirmed'>
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs

from practiceid._rerun import rerun_stale
from practiceid.access import AccessService
from practiceid.auditing import Auditor, NoRequestContext, audited
from practiceid.errors import (
    DuplicateRecord,
    KeyBackupMismatch,
    KeyPairExists,
    KeyPairNotFound,
    KeyPairRejected,
    PermissionDenied,
    StaleRecord,
    UserNotFound,
    Violation,
)
from practiceid.keypairs import (
    GeneratedKeyPair,
    KeyPair,
    RestoredKey,
    fingerprint,
    generate_key_pair,
    load_public_key,
    public_key_der,
    read_backup,
)
from practiceid.permissions import Permission
from practiceid.policies.password import PasswordPolicy
from practiceid.ports.audit import RequestContext
from practiceid.ports.clock import Clock
from practiceid.ports.factors import FactorUnitOfWork, FactorUnitOfWorkFactory
from practiceid.users import User, UserId

__all__ = ["KeyPairService", "KeyReplacement"]

_T = TypeVar("_T")


@attrs.frozen
class KeyReplacement:
    """What an administrator's replacement of a key pair did (D3).

    ``unreadable`` says it in words a host can show before and after: everything encrypted
    for the previous key can no longer be read, unless a backup of that key turns up.
    ``key_pair`` is the stored record: the new key (``generation`` + 1) when one was given,
    otherwise the old one, retired, until the user generates the next at their next login.
    """

    key_pair: KeyPair
    previous_fingerprint: str
    previous_generation: int
    unreadable: str


def _unreadable(previous: KeyPair) -> str:
    return (
        f"Everything encrypted for key {previous.fingerprint} (generation "
        f"{previous.generation}) can no longer be read, unless a backup of that key is "
        "restored."
    )


@attrs.frozen(kw_only=True)
class KeyPairService:
    """Use cases for personal key pairs (D3). Build one per application; thread-safe.

    Every command records one audit event (F3) on the platform chain: the fingerprints,
    never a key or a password.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.FactorUnitOfWork`.
        access: decides acts on another's account (``users.manage_keys``).
        clock: dates key pairs and confirmations.
        backup_password_policy: the rules a backup password must pass in :meth:`generate`
            (the account password rules, A4, by default): the backup's encryption is only
            as strong as its password, as the file may be copied anywhere.
        request_context: the peer address and request id of the audit events.
        retries: how many times a use case runs when a concurrent change made it stale.
    """

    unit_of_work: FactorUnitOfWorkFactory
    access: AccessService
    clock: Clock
    backup_password_policy: PasswordPolicy = attrs.field(factory=PasswordPolicy)
    request_context: RequestContext = attrs.field(factory=NoRequestContext)
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(1))

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events."""
        return Auditor(self.clock, self.request_context)

    def _run(self, use_case: Callable[[], _T]) -> _T:
        return rerun_stale(use_case, self.retries)

    def _user(self, uow: FactorUnitOfWork, user_id: object) -> User:
        if not isinstance(user_id, str) or not user_id:
            raise UserNotFound(user_id=str(user_id))
        return uow.users.get(UserId(user_id))

    def _self_or(
        self, uow: FactorUnitOfWork, actor: UserId, user_id: UserId, permission: Permission
    ) -> None:
        """Allow the user themself, or a holder of ``permission`` over their account."""
        if actor != user_id:
            self.access.authorize_account(uow, actor=actor, permission=permission, user_id=user_id)

    def _owner(self, actor: UserId, user_id: UserId, action: str) -> None:
        if actor != user_id:
            raise PermissionDenied(
                "only the key's owner may do this",
                actor=actor,
                permission=action,
                reason="not_owner",
            )

    # -- reading -------------------------------------------------------------------------

    def key_pair(self, *, actor: UserId, user_id: UserId) -> KeyPair | None:
        """Return the user's key pair (public half), or None before the first login.

        The user themself, or a holder of ``users.manage_keys``. Records nothing.

        Raises:
            PermissionDenied, UserNotFound.
        """
        with self.unit_of_work() as uow:
            user = self._user(uow, user_id)
            self._self_or(uow, actor, user.id, Permission.USERS_MANAGE_KEYS)
            return uow.key_pairs.find(user.id)

    # -- first login ---------------------------------------------------------------------

    @audited("key_pair.generate")
    def generate(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        backup_password: str,
        backup_password_confirmation: str | None = None,
    ) -> GeneratedKeyPair:
        """Generate the user's key pair at first login, where this runs (D3).

        Returns the private key and its backup file to the caller, once; only the public
        key is stored. ``backup_password`` must pass
        :attr:`backup_password_policy` (with ``backup_password_confirmation`` when given).
        The actor is the user, signed in for the first time, or someone else who opened
        the account (source 001: then they hand the backup over, and the user confirms
        it), or a holder of ``users.manage_keys``.

        Raises:
            KeyPairExists: the user has a key pair: it is never regenerated silently;
                replacing it is :meth:`replace`.
            PasswordRejected: a weak backup password.
            PermissionDenied, UserNotFound.
        """
        with self.unit_of_work() as uow:
            user = self._user(uow, user_id)
            self._self_or(uow, actor, user.id, Permission.USERS_MANAGE_KEYS)
            self._check_free(uow, user.id)
        self.backup_password_policy.validate(
            backup_password,
            confirmation=backup_password_confirmation
            if backup_password_confirmation is not None
            else backup_password,
        )
        made = generate_key_pair(backup_password, user_id=user.id, created=self.clock.now())
        self._store(actor, user.id, made.public_key, made.fingerprint, "key_pair.generate")
        return made

    @audited("key_pair.register")
    def register(self, *, actor: UserId, user_id: UserId, public_key: bytes | str) -> KeyPair:
        """Store a public key generated elsewhere (a browser's WebCrypto) at first login.

        ``public_key``: X25519, as SPKI DER or PEM, or the raw 32 bytes.

        Raises:
            KeyPairRejected: not an X25519 public key.
            KeyPairExists, PermissionDenied, UserNotFound.
        """
        key = load_public_key(public_key)
        return self._store(
            actor, user_id, public_key_der(key), fingerprint(key), "key_pair.register"
        )

    @staticmethod
    def _check_free(uow: FactorUnitOfWork, user_id: UserId) -> KeyPair | None:
        stored = uow.key_pairs.find(user_id)
        if stored is not None and stored.is_usable:
            raise KeyPairExists(user_id=user_id, fingerprint=stored.fingerprint)
        return stored

    def _store(
        self, actor: UserId, user_id: UserId, public: bytes, key_fingerprint: str, action: str
    ) -> KeyPair:
        def use_case() -> KeyPair:
            with self.unit_of_work() as uow:
                user = self._user(uow, user_id)
                self._self_or(uow, actor, user.id, Permission.USERS_MANAGE_KEYS)
                retired = self._check_free(uow, user.id)
                now = self.clock.now()
                if retired is None:
                    new = KeyPair(
                        user_id=user.id,
                        public_key=public,
                        fingerprint=key_fingerprint,
                        generated_at=now,
                        generated_by=actor,
                    )
                    try:
                        stored = uow.key_pairs.add(new)
                    except DuplicateRecord:  # a concurrent first login won
                        raise StaleRecord(entity="key_pair", user_id=user.id) from None
                else:
                    stored = uow.key_pairs.update(
                        retired.succeed(public, key_fingerprint, now=now, by=actor)
                    )
                self._record(uow, action, actor, stored, generated_by=actor)
                uow.commit()
                return stored

        return self._run(use_case)

    def _record(
        self, uow: FactorUnitOfWork, action: str, actor: UserId, key_pair: KeyPair, **extra: str
    ) -> None:
        self.auditor.record(
            uow,
            action,
            actor=actor,
            target_type="user",
            target_id=key_pair.user_id,
            details={
                "fingerprint": key_pair.fingerprint,
                "generation": key_pair.generation,
                "status": str(key_pair.status),
                **extra,
            },
        )

    # -- backups -------------------------------------------------------------------------

    @audited("key_pair.confirm_backup")
    def confirm_backup(
        self, *, actor: UserId, user_id: UserId, backup: bytes | str, password: str
    ) -> KeyPair:
        """Confirm the user's backup: it opens with its password and holds their key (D3).

        Only the owner confirms, having re-loaded the file (downloaded at first login, or
        handed over by whoever opened the account first, source 001). Confirming again is
        harmless.

        Raises:
            KeyBackupUnreadable, KeyBackupTruncated, KeyBackupCorrupted,
            KeyBackupWrongPassword, KeyBackupMismatch: the file cannot confirm the key,
                each reason its own code.
            KeyPairNotFound: no key pair yet (or a retired one). PermissionDenied.
        """
        self._owner(actor, user_id, "key_pair.confirm_backup")
        stored = self._usable(user_id)
        read_backup(backup, password, expected_fingerprint=stored.fingerprint)

        def use_case() -> KeyPair:
            with self.unit_of_work() as uow:
                current = self._current(uow, user_id)
                if current.fingerprint != stored.fingerprint:  # replaced meanwhile
                    raise KeyBackupMismatch(expected=current.fingerprint, found=stored.fingerprint)
                confirmed = current.confirm(self.clock.now())
                changed = confirmed != current
                if changed:
                    confirmed = uow.key_pairs.update(confirmed)
                self._record(uow, "key_pair.confirm_backup", actor, confirmed)
                uow.commit()
                return confirmed

        return self._run(use_case)

    @audited("key_pair.restore")
    def restore(
        self, *, actor: UserId, user_id: UserId, backup: bytes | str, password: str
    ) -> RestoredKey:
        """Open the user's backup on a new device, checked against the stored key (D3).

        Returns the private key to the caller. Only the owner restores; a restore also
        confirms a backup not yet confirmed, since it proves the file works.

        Raises:
            as :meth:`confirm_backup`.
        """
        self._owner(actor, user_id, "key_pair.restore")
        stored = self._usable(user_id)
        restored = read_backup(backup, password, expected_fingerprint=stored.fingerprint)

        def use_case() -> None:
            with self.unit_of_work() as uow:
                current = self._current(uow, user_id)
                if current.fingerprint != restored.fingerprint:  # replaced meanwhile
                    raise KeyBackupMismatch(
                        expected=current.fingerprint, found=restored.fingerprint
                    )
                confirmed = current.confirm(self.clock.now())
                if confirmed != current:
                    current = uow.key_pairs.update(confirmed)
                self._record(uow, "key_pair.restore", actor, current)
                uow.commit()

        self._run(use_case)
        return restored

    def _usable(self, user_id: UserId) -> KeyPair:
        with self.unit_of_work() as uow:
            return self._current(uow, user_id)

    def _current(self, uow: FactorUnitOfWork, user_id: object) -> KeyPair:
        user = self._user(uow, user_id)
        stored = uow.key_pairs.get(user.id)
        if not stored.is_usable:
            raise KeyPairNotFound(user_id=user.id, status=str(stored.status))
        return stored

    # -- replacement ---------------------------------------------------------------------

    @audited("key_pair.replace")
    def replace(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        previous_fingerprint: str,
        public_key: bytes | str | None = None,
    ) -> KeyReplacement:
        """Replace a user's key pair: an administrator's explicit, audited act (D3).

        Never silent: the actor names the fingerprint of the key they replace, and the
        result (and the audit event) states what becomes unreadable. With ``public_key``
        (made on the user's side) it becomes the next generation at once; without, the
        old key is retired and the user generates the next at their next login. Needs
        ``users.manage_keys``, even over one's own account.

        Raises:
            KeyPairExists: ``previous_fingerprint`` is not the stored key's (it changed
                meanwhile, or the wrong one was named); ``params`` has both.
            KeyPairNotFound: the user has no key pair to replace.
            KeyPairRejected: ``public_key`` is not an X25519 public key, or is the key it
                would replace (``key_pair.same_key``).
            PermissionDenied, UserNotFound.
        """
        key = None if public_key is None else load_public_key(public_key)

        def use_case() -> KeyReplacement:
            with self.unit_of_work() as uow:
                user = self._user(uow, user_id)
                self.access.authorize_account(
                    uow, actor=actor, permission=Permission.USERS_MANAGE_KEYS, user_id=user.id
                )
                previous = uow.key_pairs.get(user.id)
                if previous.fingerprint != previous_fingerprint:
                    raise KeyPairExists(
                        user_id=user.id,
                        fingerprint=previous.fingerprint,
                        expected=str(previous_fingerprint),
                    )
                if key is not None and fingerprint(key) == previous.fingerprint:
                    raise KeyPairRejected(
                        [
                            Violation(
                                "key_pair.same_key",
                                "the new key is the key it would replace",
                                "public_key",
                            )
                        ]
                    )
                if key is None:
                    after = previous.retire()
                else:
                    after = previous.succeed(
                        public_key_der(key), fingerprint(key), now=self.clock.now(), by=actor
                    )
                stored = uow.key_pairs.update(after)
                self._record(
                    uow,
                    "key_pair.replace",
                    actor,
                    stored,
                    previous_fingerprint=previous.fingerprint,
                    unreadable=_unreadable(previous),
                )
                uow.commit()
                return KeyReplacement(
                    key_pair=stored,
                    previous_fingerprint=previous.fingerprint,
                    previous_generation=previous.generation,
                    unreadable=_unreadable(previous),
                )

        return self._run(use_case)
