"""Users' personal key pairs and their password-protected backups (D3).

At first login a physician's key pair is generated on their side; only its public key and
fingerprint are stored, the vendor keeps no copy of the private key, and the user keeps a
backup elsewhere (sources 000, 001). This module holds what runs on the user's side, as
plain functions the host calls where it holds the private key (a desktop client, or the
server process that hands the backup straight to the browser):

* :func:`generate_key_pair`: a new X25519 key pair, and its backup file;
* :func:`write_backup`: the backup of a private key, again (D3: "it can be downloaded again");
* :func:`read_backup`: a backup opened with its password, checked against the fingerprint
  the store holds, each failure a distinct coded error;
* :func:`fingerprint` and :func:`load_public_key` for public keys made elsewhere (WebCrypto).

and :class:`KeyPair`, the stored record: public key, fingerprint, and where its lifecycle
stands (generated → backup confirmed; retired when an administrator replaces it).

Why X25519 (docs/keys.md has the sources): 128-bit security like RSA-3072, a key made in
microseconds where RSA-3072 takes tens to hundreds of milliseconds, 32-byte keys, no padding
choices to get wrong, and the KEM of HPKE (RFC 9180), which ``cryptography`` implements, for
encrypting to the key.

>>> from datetime import datetime, UTC
>>> made = generate_key_pair("correct horse battery staple", user_id="u-1")
>>> restored = read_backup(
...     made.backup, "correct horse battery staple", expected_fingerprint=made.fingerprint
... )
>>> restored.fingerprint == made.fingerprint, restored.user_id
(True, 'u-1')
>>> read_backup(made.backup, "wrong", expected_fingerprint=made.fingerprint)
Traceback (most recent call last):
...
practiceid.errors.KeyBackupWrongPassword: wrong password for this key backup
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import unicodedata
from datetime import datetime

import attrs
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from practiceid.errors import (
    KeyBackupCorrupted,
    KeyBackupMismatch,
    KeyBackupTruncated,
    KeyBackupUnreadable,
    KeyBackupWrongPassword,
    KeyPairRejected,
    Violation,
)
from practiceid.users import UserId

__all__ = [
    "BACKUP_MEDIA_TYPE",
    "GeneratedKeyPair",
    "KeyAlgorithm",
    "KeyPair",
    "KeyPairStatus",
    "RestoredKey",
    "fingerprint",
    "generate_key_pair",
    "load_public_key",
    "read_backup",
    "write_backup",
]

BACKUP_MEDIA_TYPE = "application/x-pem-file"
"""The media type to serve a backup file with (its name: ``<something>.pem``)."""

MAX_BACKUP_BYTES = 64 * 1024
"""Larger input is not a key backup: refused before any parsing."""

MAX_PASSWORD_BYTES = 1023
"""A backup password longer than this, in UTF-8 after NFC, is refused.

``cryptography``'s PKCS#8 encryption takes at most 1023 bytes (OpenSSL's PEM limit), one
less than an account password may have (A4)."""

_MAGIC = "practiceid key backup"
_BEGIN = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
_END = "-----END ENCRYPTED PRIVATE KEY-----"
_FORMAT_VERSION = "1"
_HEADER_FIELDS = ("Version", "User", "Algorithm", "Fingerprint", "Created")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class KeyAlgorithm(enum.StrEnum):
    """The algorithm of a personal key pair. Stored with each key, so others can be added."""

    X25519 = "x25519"


class KeyPairStatus(enum.StrEnum):
    """Where a user's key pair stands (D3). No record at all means no key pair yet."""

    GENERATED = "generated"
    """Generated; the user has not yet shown that their backup file opens."""
    BACKUP_CONFIRMED = "backup_confirmed"
    """The user re-loaded their backup with its password and it matched the stored key."""
    RETIRED = "retired"
    """An administrator replaced the key; the user generates a new one at next login."""


@attrs.frozen
class KeyPair:
    """A user's key pair as stored: the public half only, never the private key (D3).

    ``public_key`` is the SubjectPublicKeyInfo DER; ``fingerprint`` the lowercase hex
    SHA-256 of it. ``generated_by`` is who was signed in when it was made: the user, or
    someone who opened the account first (source 001), who then hands the backup over.
    ``generation`` counts the user's key pairs, from 1; each replacement adds one.
    """

    user_id: UserId
    public_key: bytes = attrs.field(repr=False)
    fingerprint: str
    generated_at: datetime
    generated_by: UserId
    algorithm: KeyAlgorithm = KeyAlgorithm.X25519
    status: KeyPairStatus = KeyPairStatus.GENERATED
    confirmed_at: datetime | None = None
    generation: int = 1
    version: int = 0

    @property
    def is_usable(self) -> bool:
        """True unless retired: data encrypted to this key can be read with its backup."""
        return self.status is not KeyPairStatus.RETIRED

    def confirm(self, now: datetime) -> KeyPair:
        """Return the key pair with its backup confirmed at ``now`` (kept if already)."""
        if self.status is KeyPairStatus.BACKUP_CONFIRMED:
            return self
        return attrs.evolve(self, status=KeyPairStatus.BACKUP_CONFIRMED, confirmed_at=now)

    def retire(self) -> KeyPair:
        """Return the key pair retired: the user will generate the next generation."""
        return attrs.evolve(self, status=KeyPairStatus.RETIRED)

    def succeed(
        self, public_key: bytes, key_fingerprint: str, *, now: datetime, by: UserId
    ) -> KeyPair:
        """Return the next generation: a new public key, its backup not yet confirmed."""
        return attrs.evolve(
            self,
            public_key=public_key,
            fingerprint=key_fingerprint,
            generated_at=now,
            generated_by=by,
            status=KeyPairStatus.GENERATED,
            confirmed_at=None,
            generation=self.generation + 1,
        )


@attrs.frozen
class GeneratedKeyPair:
    """A key pair just made on the user's side, with its backup file.

    ``private_key`` and ``backup`` never appear in ``repr``. Keep the private key where
    the user works (it decrypts their data); offer ``backup`` for download at once, named
    for instance ``<login>-key.pem``: practiceid keeps no copy of either.
    """

    public_key: bytes = attrs.field(repr=False)
    fingerprint: str
    private_key: x25519.X25519PrivateKey = attrs.field(repr=False)
    backup: bytes = attrs.field(repr=False)


@attrs.frozen
class RestoredKey:
    """A private key read back from its backup (D3), and what the file said about it."""

    private_key: x25519.X25519PrivateKey = attrs.field(repr=False)
    fingerprint: str
    user_id: str | None
    created: str | None


def _violation(code: str, message: str, field: str) -> KeyPairRejected:
    return KeyPairRejected([Violation(code, message, field)])


def _password_bytes(password: object) -> bytes | None:
    """Return the password as NFC UTF-8 bytes, or None when it cannot be a password."""
    if not isinstance(password, str) or not password:
        return None
    try:
        encoded = unicodedata.normalize("NFC", password).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return None
    return encoded if len(encoded) <= MAX_PASSWORD_BYTES else None


def public_key_der(key: x25519.X25519PublicKey) -> bytes:
    """Return the SubjectPublicKeyInfo DER of ``key``: what the store holds."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(public_key: bytes | x25519.X25519PublicKey) -> str:
    """Return the fingerprint of a public key: the lowercase hex SHA-256 of its SPKI DER.

    ``public_key`` is a key object, or anything :func:`load_public_key` reads.
    """
    if not isinstance(public_key, x25519.X25519PublicKey):
        public_key = load_public_key(public_key)
    return hashlib.sha256(public_key_der(public_key)).hexdigest()


def load_public_key(data: object) -> x25519.X25519PublicKey:
    """Return the X25519 public key in ``data``: SPKI DER, PEM, or the raw 32 bytes.

    Public keys made elsewhere (``crypto.subtle.exportKey("spki", …)`` in a browser) are
    registered this way.

    Raises:
        KeyPairRejected: ``key_pair.invalid_public_key`` for anything else.
    """
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if isinstance(data, bytes) and len(data) <= MAX_BACKUP_BYTES:
        try:
            if len(data) == 32:  # noqa: PLR2004 - the raw size of an X25519 key
                return x25519.X25519PublicKey.from_public_bytes(data)
            if data.lstrip().startswith(b"-----BEGIN"):
                key = serialization.load_pem_public_key(data)
            else:
                key = serialization.load_der_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            pass
        else:
            if isinstance(key, x25519.X25519PublicKey):
                return key
    raise _violation("key_pair.invalid_public_key", "not an X25519 public key", "public_key")


def _header_text(fields: dict[str, str]) -> str:
    lines = [_MAGIC] + [f"{name}: {fields[name]}" for name in _HEADER_FIELDS if name in fields]
    return "\n".join(lines) + "\n"


def _checksum(header: str, der: bytes) -> str:
    return hashlib.sha256(header.encode("utf-8") + der).hexdigest()


def write_backup(
    private_key: x25519.X25519PrivateKey,
    password: str,
    *,
    user_id: str | None = None,
    created: datetime | None = None,
) -> bytes:
    """Return the backup file of ``private_key``: password-protected PKCS#8 PEM (D3).

    The key is encrypted by ``cryptography``'s best available encryption (PBES2:
    PBKDF2-HMAC-SHA256 and AES-256-CBC). The PEM block is preceded by a few plain lines
    (RFC 7468 allows text outside the block): the user id, the algorithm, the fingerprint,
    the date and a checksum, so :func:`read_backup` can tell a damaged file from a wrong
    password, and someone else's file from both. ``openssl pkey`` reads the file as is.
    The password is normalized to NFC before use, as account passwords are.

    Raises:
        KeyPairRejected: ``key_pair.invalid_password``: empty, not text, or longer than
            :data:`MAX_PASSWORD_BYTES` in UTF-8.
    """
    secret = _password_bytes(password)
    if secret is None:
        raise _violation(
            "key_pair.invalid_password",
            f"a backup password is 1 to {MAX_PASSWORD_BYTES} UTF-8 bytes of text",
            "password",
        )
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )
    fields = {"Version": _FORMAT_VERSION, "Algorithm": str(KeyAlgorithm.X25519)}
    if user_id is not None:
        fields["User"] = _one_line(user_id)
    fields["Fingerprint"] = fingerprint(private_key.public_key())
    if created is not None:
        fields["Created"] = created.isoformat()
    header = _header_text(fields)
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    text = (
        header
        + f"Checksum: {_checksum(header, der)}\n\n"
        + "\n".join([_BEGIN, *lines, _END])
        + "\n"
    )
    return text.encode("ascii")


def _one_line(value: str) -> str:
    """Return ``value`` safe for one header line: printable ASCII, at most 200 characters."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in value)
    return cleaned[:200]


def generate_key_pair(
    password: str, *, user_id: str | None = None, created: datetime | None = None
) -> GeneratedKeyPair:
    """Generate a key pair on the user's side, and its backup under ``password`` (D3).

    Raises:
        KeyPairRejected: the password cannot protect a backup (see :func:`write_backup`).
    """
    private_key = x25519.X25519PrivateKey.generate()
    backup = write_backup(private_key, password, user_id=user_id, created=created)
    public = private_key.public_key()
    return GeneratedKeyPair(
        public_key=public_key_der(public),
        fingerprint=fingerprint(public),
        private_key=private_key,
        backup=backup,
    )


@attrs.frozen
class _Parsed:
    header: dict[str, str]
    header_text: str | None
    checksum: str | None
    der: bytes


def _text_of(data: object) -> str:
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if isinstance(data, str):
        if len(data) > MAX_BACKUP_BYTES:
            raise KeyBackupUnreadable(reason="too_large")
        data = data.encode("utf-8", "replace")
    if not isinstance(data, bytes):
        raise KeyBackupUnreadable(reason="not_bytes")
    if len(data) > MAX_BACKUP_BYTES:
        raise KeyBackupUnreadable(reason="too_large")
    if data.startswith(b"\xef\xbb\xbf"):  # a byte order mark some editors add
        data = data[3:]
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        if _BEGIN.encode("ascii") in data or data.startswith(_MAGIC.encode("ascii")):
            raise KeyBackupCorrupted(reason="not_ascii") from None
        raise KeyBackupUnreadable(reason="not_text") from None


_HEADER_LINE = re.compile(r"(?:Version|User|Algorithm|Fingerprint|Created|Checksum):")


def _parse_header(lines: list[str]) -> tuple[dict[str, str], str | None, str | None]:
    """Return the header fields, the text the checksum covers, and the checksum.

    A bare PKCS#8 file (no header at all) has none. A header is all or nothing: damage to
    its first line, or a lost checksum, is damage, never a reason to skip the checks.
    """
    lines = [line.rstrip("\r") for line in lines]
    while lines and not lines[-1].strip():
        lines.pop()
    start = next((i for i, line in enumerate(lines) if line.strip() == _MAGIC), None)
    if start is None:
        if any(_HEADER_LINE.match(line.strip()) for line in lines):
            raise KeyBackupCorrupted(reason="header")
        return {}, None, None  # a bare PKCS#8 file: nothing to check but the key itself
    fields: dict[str, str] = {}
    checksum = None
    for line in lines[start + 1 :]:
        name, sep, value = line.partition(": ")
        if not sep:
            raise KeyBackupCorrupted(reason="header")
        if name == "Checksum" and checksum is None:
            checksum = value
        elif name in _HEADER_FIELDS and name not in fields and checksum is None:
            fields[name] = value
        else:
            raise KeyBackupCorrupted(reason="header")
    if checksum is None:
        raise KeyBackupCorrupted(reason="checksum")
    return fields, _header_text(fields), checksum


def _parse(text: str) -> _Parsed:
    lines = text.split("\n")
    stripped = [line.strip() for line in lines]
    if _BEGIN not in stripped:
        head = text.strip()
        cut_in_magic = bool(head) and _MAGIC.startswith(head)
        cut_in_begin = bool(stripped[-1]) and _BEGIN.startswith(stripped[-1])
        if cut_in_magic or cut_in_begin or any(line.strip() == _MAGIC for line in lines):
            raise KeyBackupTruncated(reason="no_key")
        raise KeyBackupUnreadable(reason="no_key")
    begin = stripped.index(_BEGIN)
    if _END not in stripped[begin + 1 :]:
        raise KeyBackupTruncated(reason="no_end")
    end = stripped.index(_END, begin + 1)
    header, header_text, checksum = _parse_header(lines[:begin])
    body = "".join(stripped[begin + 1 : end])
    if not _BASE64.fullmatch(body):
        raise KeyBackupCorrupted(reason="base64")
    try:
        der = base64.b64decode(body, validate=True)
    except binascii.Error:
        raise (KeyBackupTruncated if len(body) % 4 else KeyBackupCorrupted)(
            reason="base64"
        ) from None
    if (
        header_text is not None
        and checksum is not None
        and not hmac.compare_digest(_checksum(header_text, der), checksum.strip())
    ):
        # A key cut short is "truncated" even when the checksum says so too.
        _check_der_length(der)
        raise KeyBackupCorrupted(reason="checksum")
    _check_der_length(der)
    return _Parsed(header, header_text, checksum, der)


def _check_der_length(der: bytes) -> None:
    """Raise unless ``der`` is one DER SEQUENCE exactly as long as it says."""
    if len(der) < 2 or der[0] != 0x30:  # noqa: PLR2004
        raise KeyBackupCorrupted(reason="structure")
    first = der[1]
    if first < 0x80:  # noqa: PLR2004 - short form
        length, offset = first, 2
    else:
        size = first & 0x7F
        if size == 0 or size > 4 or len(der) < 2 + size:  # noqa: PLR2004
            raise KeyBackupCorrupted(reason="structure")
        length, offset = int.from_bytes(der[2 : 2 + size], "big"), 2 + size
    if offset + length > len(der):
        raise KeyBackupTruncated(reason="key")
    if offset + length < len(der):
        raise KeyBackupCorrupted(reason="structure")


def read_backup(
    data: object, password: object, *, expected_fingerprint: str | None = None
) -> RestoredKey:
    """Open a backup file with its password; check it is the expected key (D3).

    ``data`` is the file's content (bytes or text). With ``expected_fingerprint`` (the
    stored key's), a backup of another key is refused before the password is tried when
    the file names its fingerprint, and after decryption in every case.

    Raises:
        KeyBackupUnreadable: not a key backup (no encrypted PKCS#8 PEM block, not text,
            larger than :data:`MAX_BACKUP_BYTES`, or a key of another algorithm).
        KeyBackupTruncated: the file was cut short.
        KeyBackupCorrupted: a checksum, the header, the base64 or the DER is damaged.
        KeyBackupWrongPassword: the file is intact and the password does not open it.
        KeyBackupMismatch: another key than ``expected_fingerprint``.
    """
    parsed = _parse(_text_of(data))
    named = parsed.header.get("Fingerprint")
    if named is not None and not _FINGERPRINT.fullmatch(named):
        raise KeyBackupCorrupted(reason="header")
    if expected_fingerprint is not None and named is not None and named != expected_fingerprint:
        raise KeyBackupMismatch(expected=expected_fingerprint, found=named)
    algorithm = parsed.header.get("Algorithm")
    if algorithm is not None and algorithm != KeyAlgorithm.X25519:
        raise KeyBackupUnreadable(reason="algorithm")
    secret = _password_bytes(password)
    if secret is None:
        raise KeyBackupWrongPassword
    try:
        key = serialization.load_der_private_key(parsed.der, secret)
    except (ValueError, TypeError):
        # Intact (checksum or not): the password is what is wrong. Without a checksum, a
        # damaged bare PKCS#8 file cannot be told from a wrong password.
        raise KeyBackupWrongPassword from None
    except UnsupportedAlgorithm:
        raise KeyBackupUnreadable(reason="algorithm") from None
    if not isinstance(key, x25519.X25519PrivateKey):
        raise KeyBackupUnreadable(reason="algorithm")
    found = fingerprint(key.public_key())
    if named is not None and named != found:
        raise KeyBackupCorrupted(reason="fingerprint")
    if expected_fingerprint is not None and found != expected_fingerprint:
        raise KeyBackupMismatch(expected=expected_fingerprint, found=found)
    return RestoredKey(
        private_key=key,
        fingerprint=found,
        user_id=parsed.header.get("User"),
        created=parsed.header.get("Created"),
    )
