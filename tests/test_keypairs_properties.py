"""Properties of key backups (D3): any password round-trips, damaged files fail cleanly.

D3: "At first login a physician's private key pair is generated on their machine; it must
be backed up elsewhere, cannot be regenerated, and the vendor keeps no copy; it can be
downloaded again from the user's page. If someone else opened the account first, the key
was made on their machine and must be handed over."

The backup is the only copy of the key, kept wherever the user likes, so reading it must
hold up to anything: every password write_backup accepts opens what it wrote (Unicode
included, in any normalization form), a wrong one is told as such, and a cut, damaged or
foreign file is refused with a :class:`~practiceid.errors.KeyBackupInvalid`, never another
exception, and never opened as some other key. Each encryption costs about a millisecond,
so the examples stay modest. Every password and key here is made up.
"""

from __future__ import annotations

import base64
import string
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from practiceid.errors import (
    KeyBackupCorrupted,
    KeyBackupInvalid,
    KeyBackupMismatch,
    KeyBackupUnreadable,
    KeyBackupWrongPassword,
    KeyPairRejected,
)
from practiceid.keypairs import (
    MAX_PASSWORD_BYTES,
    _password_bytes,
    fingerprint,
    load_public_key,
    read_backup,
    write_backup,
)

PASSWORD = "Phrase-De-Test-Propriété-7"
KEY = x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))  # made up, fixed
FINGERPRINT = fingerprint(KEY.public_key())
BACKUP = write_backup(
    KEY, PASSWORD, user_id="u-exemple", created=datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
)
BARE = KEY.private_bytes(  # the same key backed up by another tool: no practiceid header
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.BestAvailableEncryption(PASSWORD.encode()),
)
BEGIN = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"

FEW = settings(max_examples=60, deadline=None)
SOME = settings(max_examples=100, deadline=None)


def _accepted(password: str) -> bool:
    """What write_backup takes, with room for one more byte."""
    secret = _password_bytes(password)
    return secret is not None and len(secret) < MAX_PASSWORD_BYTES


def _cut_to(text: str, size: int) -> str:
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")


short_passwords = st.text(min_size=1).filter(_accepted)
long_passwords = (
    st.text(min_size=200, max_size=MAX_PASSWORD_BYTES)
    .map(lambda text: _cut_to(text, MAX_PASSWORD_BYTES - 1))
    .filter(_accepted)
)
passwords = st.one_of(short_passwords, long_passwords)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _read(data: object, password: object = PASSWORD, expected: str | None = FINGERPRINT) -> str:
    """Return the outcome's name: the exception class, or "opened" (checked to be our key)."""
    try:
        restored = read_backup(data, password, expected_fingerprint=expected)
    except KeyBackupInvalid as error:
        assert error.code.startswith("key_backup.")
        return type(error).__name__
    assert restored.fingerprint == FINGERPRINT
    assert restored.private_key.private_bytes_raw() == KEY.private_bytes_raw()
    return "opened"


# -- passwords -------------------------------------------------------------------------------


@FEW
@given(password=passwords)
@example(password="\x00")
@example(password="e\u0301")
@example(password="\U0001f511" * 255)
def test_any_accepted_password_opens_what_it_protects(password: str) -> None:
    """D3: whatever the user typed, the backup opens with it, on any machine."""
    backup = write_backup(KEY, password)
    restored = read_backup(backup, password, expected_fingerprint=FINGERPRINT)
    assert restored.fingerprint == FINGERPRINT
    assert restored.private_key.private_bytes_raw() == KEY.private_bytes_raw()


@settings(max_examples=10, deadline=None)
@given(prefix=st.text(max_size=50).filter(_accepted))
def test_a_password_of_exactly_the_longest_size_opens_what_it_protects(prefix: str) -> None:
    nfc = _nfc(prefix)
    password = nfc + "a" * (MAX_PASSWORD_BYTES - len(nfc.encode()))
    assert len(_password_bytes(password) or b"") == MAX_PASSWORD_BYTES
    backup = write_backup(KEY, password)
    assert read_backup(backup, password).fingerprint == FINGERPRINT


@FEW
@given(password=passwords, other=passwords)
@example(password="Motdepasse", other="motdepasse")
@example(password="Motdepasse", other="Motdepasse ")
def test_a_different_password_is_told_wrong(password: str, other: str) -> None:
    if _nfc(password) == _nfc(other):
        other += "x"
    backup = write_backup(KEY, password)
    with pytest.raises(KeyBackupWrongPassword):
        read_backup(backup, other, expected_fingerprint=FINGERPRINT)
    with pytest.raises(KeyBackupWrongPassword):
        read_backup(backup, other)


@FEW
@given(password=passwords)
@example(password="Clé-Ångström-ǅ-ﬁ-한글")
def test_the_nfc_and_nfd_forms_of_a_password_both_open_the_backup(password: str) -> None:
    """A password typed on a Mac (NFD) opens a backup made on Windows (NFC), both ways."""
    forms = [unicodedata.normalize(form, password) for form in ("NFC", "NFD")]
    forms = [form for form in forms if _accepted(form)]
    for written in forms:
        backup = write_backup(KEY, written)
        for typed in forms:
            assert read_backup(backup, typed, expected_fingerprint=FINGERPRINT)


@FEW
@given(
    password=st.tuples(
        st.text(max_size=15),
        st.characters(categories=["Cs"]),
        st.text(max_size=15),
    ).map("".join)
)
def test_a_password_with_a_lone_surrogate_protects_nothing_and_opens_nothing(
    password: str,
) -> None:
    with pytest.raises(KeyPairRejected) as raised:
        write_backup(KEY, password)
    assert raised.value.codes == ("key_pair.invalid_password",)
    with pytest.raises(KeyBackupWrongPassword):
        read_backup(BACKUP, password)


@FEW
@given(password=st.text(min_size=1).map(lambda text: text * (MAX_PASSWORD_BYTES + 1)))
def test_a_password_over_1024_bytes_protects_nothing(password: str) -> None:
    with pytest.raises(KeyPairRejected) as raised:
        write_backup(KEY, password)
    assert raised.value.codes == ("key_pair.invalid_password",)


@SOME
@given(
    password=st.one_of(
        st.none(), st.integers(), st.binary(), st.text(), st.lists(st.text(), max_size=2)
    )
)
@example(password=PASSWORD)
@example(password=unicodedata.normalize("NFD", PASSWORD))
@example(password=PASSWORD.encode())
def test_the_backup_opens_with_its_password_and_nothing_else(password: object) -> None:
    outcome = _read(BACKUP, password)
    event(outcome)
    if isinstance(password, str) and _nfc(password) == _nfc(PASSWORD):
        assert outcome == "opened"
    else:
        assert outcome == "KeyBackupWrongPassword"


# -- cut files -------------------------------------------------------------------------------


def _variants() -> dict[str, bytes | str]:
    return {
        "bytes": BACKUP,
        "text": BACKUP.decode("ascii"),
        "crlf": BACKUP.replace(b"\n", b"\r\n"),
        "bare pkcs8": BARE,
    }


@pytest.mark.parametrize("variant", list(_variants()))
def test_every_cut_of_a_backup_is_refused_as_truncated(variant: str) -> None:
    """D3: a download or copy cut short never opens, and is told as such; only cutting the
    trailing line end leaves the backup whole."""
    whole = _variants()[variant]
    outcomes: dict[str, int] = {}
    for size in range(len(whole)):
        prefix = whole[:size]
        outcome = _read(prefix)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if not prefix:
            assert outcome == "KeyBackupUnreadable"
        elif not whole[size:].strip():
            assert outcome == "opened", size
        else:
            assert outcome == "KeyBackupTruncated", (size, prefix[-40:], outcome)

    assert outcomes["KeyBackupTruncated"] >= len(whole) - 3


# -- damaged files ---------------------------------------------------------------------------

edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "replace", "insert", "delete"]),
        st.integers(0, len(BACKUP) - 1),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=6,
)


def _apply(data: bytes, changes: list[tuple[str, int, int]]) -> bytes:
    damaged = bytearray(data)
    for kind, position, value in changes:
        at = min(position, len(damaged) - 1) if damaged else 0
        if kind == "flip" and damaged:
            damaged[at] ^= 1 << (value % 8)
        elif kind == "replace" and damaged:
            damaged[at] = value
        elif kind == "insert":
            damaged.insert(at, value)
        elif damaged:
            del damaged[at]
    return bytes(damaged)


@SOME
@given(changes=edits)
def test_a_damaged_backup_is_refused_cleanly_or_still_opens_as_the_same_key(
    changes: list[tuple[str, int, int]],
) -> None:
    """Flipped bits, inserted or deleted bytes: a KeyBackupInvalid, or the very same key
    (checked against the stored fingerprint, as the service always does)."""
    damaged = _apply(BACKUP, changes)
    outcome = _read(damaged)
    event(outcome)
    if len(changes) == 1:
        # One damage cannot disable the checksum and break the key at once: it is never
        # mistaken for a wrong password or someone else's backup, nor opened as another key
        # when no fingerprint is expected.
        assert outcome not in {"KeyBackupWrongPassword", "KeyBackupMismatch"}, changes
        assert _read(damaged, expected=None) == outcome


@SOME
@given(changes=edits)
def test_a_damaged_bare_pkcs8_backup_is_refused_cleanly_or_opens_as_the_same_key(
    changes: list[tuple[str, int, int]],
) -> None:
    event(_read(_apply(BARE, changes)))


@pytest.mark.parametrize("value", [b"A", b"\n", b" ", b"\x80", b"\x00", b"-"])
def test_changing_any_single_byte_never_passes_for_a_wrong_password(value: bytes) -> None:
    """Every position of the file, replaced in turn: refused as damaged (the checksum tells
    damage from a wrong password), or, outside what the key and checksum cover, opened."""
    outcomes: set[str] = set()
    for position in range(len(BACKUP)):
        if BACKUP[position : position + 1] == value:
            continue
        damaged = BACKUP[:position] + value + BACKUP[position + 1 :]
        outcome = _read(damaged)
        outcomes.add(outcome)
        assert outcome not in {"KeyBackupWrongPassword", "KeyBackupMismatch"}, (position, value)
        if position > BACKUP.index(BEGIN) + len(BEGIN) and outcome == "opened":
            assert value in {b"\n", b" "}, position  # only line breaks and blanks move
    assert "KeyBackupCorrupted" in outcomes


def _lose_checksum(backup: bytes) -> bytes:
    """The file as an editor might leave it: the line end before Checksum deleted."""
    at = backup.index(b"\nChecksum: ")
    return backup[:at] + backup[at + 1 :]


def _with_der(backup: bytes, change: Callable[[bytearray], None]) -> bytes:
    """Return the backup with its encrypted key's DER changed by ``change``."""
    lines = backup.split(b"\n")
    begin, end = lines.index(BEGIN), lines.index(b"-----END ENCRYPTED PRIVATE KEY-----")
    der = bytearray(base64.b64decode(b"".join(lines[begin + 1 : end])))
    change(der)
    body = base64.b64encode(bytes(der))
    chunks = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join([*lines[: begin + 1], *chunks, *lines[end:]])


def _flip_second_cipher_block(der: bytearray) -> None:
    # AES-CBC without a MAC: a bit flipped in the 2nd of the 4 ciphertext blocks garbles
    # the first half of the key and flips one bit of the second: still a valid X25519 key.
    der[len(der) - 64 + 20] ^= 0x01


def _damage_key(backup: bytes) -> bytes:
    """Return the backup with one bit of its key's salt flipped: the password then derives
    another AES key, so only a checksum can tell this damage from a wrong password."""

    def flip_salt(der: bytearray) -> None:
        der[40] ^= 0x01  # within the PBKDF2 salt (the 16 bytes from offset 35)

    return _with_der(backup, flip_salt)


def test_a_backup_damaged_in_its_first_line_and_its_key_never_opens_as_another_key() -> None:
    damaged = _with_der(BACKUP.replace(b"practiceid", b"qracticeid", 1), _flip_second_cipher_block)
    with pytest.raises(KeyBackupInvalid):
        read_backup(damaged, PASSWORD)


def test_the_same_damage_is_refused_as_damage_when_the_stored_fingerprint_is_expected() -> None:
    """What the service does: the damaged header is reported as damage, not another key."""
    damaged = _with_der(BACKUP.replace(b"practiceid", b"qracticeid", 1), _flip_second_cipher_block)
    with pytest.raises(KeyBackupCorrupted):
        read_backup(damaged, PASSWORD, expected_fingerprint=FINGERPRINT)
    with_header = _with_der(BACKUP, _flip_second_cipher_block)
    with pytest.raises(KeyBackupCorrupted):
        read_backup(with_header, PASSWORD)


def test_a_bare_pkcs8_backup_with_a_flipped_key_bit_is_only_caught_by_the_fingerprint() -> None:
    """Plain PKCS#8 carries no checksum: only the stored fingerprint tells the key changed."""
    damaged = _with_der(BARE, _flip_second_cipher_block)
    with pytest.raises(KeyBackupMismatch):
        read_backup(damaged, PASSWORD, expected_fingerprint=FINGERPRINT)
    assert read_backup(damaged, PASSWORD).fingerprint != FINGERPRINT


def test_the_checksum_tells_a_damaged_key_from_a_wrong_password() -> None:
    with pytest.raises(KeyBackupCorrupted):
        read_backup(_damage_key(BACKUP), PASSWORD, expected_fingerprint=FINGERPRINT)
    with pytest.raises(KeyBackupWrongPassword):  # no checksum: indistinguishable, as documented
        read_backup(_damage_key(BARE), PASSWORD, expected_fingerprint=FINGERPRINT)


@pytest.mark.parametrize(
    "lose",
    [
        _lose_checksum,
        lambda backup: b"".join(
            line for line in backup.splitlines(keepends=True) if b"Checksum" not in line
        ),
    ],
    ids=["line end before checksum deleted", "checksum line deleted"],
)
def test_a_damaged_key_whose_checksum_was_lost_is_told_damaged_not_a_wrong_password(
    lose: Callable[[bytes], bytes],
) -> None:
    with pytest.raises(KeyBackupCorrupted):
        read_backup(_damage_key(lose(BACKUP)), PASSWORD, expected_fingerprint=FINGERPRINT)


def test_a_header_that_lost_its_checksum_line_is_not_read_as_data() -> None:
    damaged = _lose_checksum(BACKUP)
    try:
        restored = read_backup(damaged, PASSWORD, expected_fingerprint=FINGERPRINT)
    except KeyBackupCorrupted:
        return
    assert "Checksum" not in (restored.created or "")


# -- anything else ---------------------------------------------------------------------------


@SOME
@given(data=st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=BEGIN)
@example(data=BEGIN + b"\n-----END ENCRYPTED PRIVATE KEY-----\n")
@example(data=b"practiceid key backup\n")
@example(data="practiceid key backup\n" + "\u00e9" * 10)
@example(data=b"\x00" * (64 * 1024 + 1))
@example(data="x" * (64 * 1024 + 1))
def test_arbitrary_bytes_or_text_are_refused_as_invalid_backups(data: bytes | str) -> None:
    outcome = _read(data)
    event(outcome)
    assert outcome != "opened"
    assert outcome in {
        "KeyBackupUnreadable",
        "KeyBackupTruncated",
        "KeyBackupCorrupted",
    } or (outcome == "KeyBackupWrongPassword" and BEGIN.decode() in _as_text(data))


def _as_text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("latin-1")


@SOME
@given(data=st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.binary(), max_size=2)))
def test_what_is_not_bytes_or_text_is_unreadable(data: object) -> None:
    with pytest.raises(KeyBackupUnreadable):
        read_backup(data, PASSWORD)


_LINES = BACKUP.decode("ascii").split("\n")
_POOL = [
    *_LINES,
    "Version: 2",
    "Algorithm: x448",
    "Algorithm: rsa",
    f"Fingerprint: {'0' * 64}",
    "Fingerprint: not hex",
    f"Checksum: {'0' * 64}",
    "Created: 2026-13-45",
    "User: someone-else",
    "Comment: hello",
    "practiceid key backup",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "",
    " ",
    "\r",
    "MC4CAQAwBQYDK2VuBCIEIA==",
    "====",
]
_BASE64 = string.ascii_letters + string.digits + "+/="
structured = st.lists(
    st.one_of(
        st.sampled_from(_POOL),
        st.text(alphabet=_BASE64, max_size=80),
        st.text(alphabet=string.printable, max_size=40),
    ),
    max_size=24,
).map("\n".join)


@SOME
@given(text=structured)
@example(text="\n".join(_LINES))
@example(text="\n".join(reversed(_LINES)))
@example(text="\n".join(_LINES[:1] + _LINES[2:]))
def test_files_made_of_backup_like_lines_are_refused_cleanly_or_open_as_the_key(
    text: str,
) -> None:
    """Lines of a real backup, shuffled with look-alikes, reach every branch of the reader:
    a KeyBackupInvalid, or the real key when its block is whole."""
    outcome = _read(text)
    event(outcome)
    if outcome == "opened":
        assert _LINES[_LINES.index(BEGIN.decode()) + 1] in text


@SOME
@given(text=structured)
def test_a_backup_like_file_under_the_wrong_password_never_opens(text: str) -> None:
    assert _read(text, password="Pas-Le-Bon-Mot-De-Passe-9") != "opened"


# -- public keys -----------------------------------------------------------------------------


@SOME
@given(
    data=st.one_of(
        st.binary(min_size=32, max_size=32), st.binary(max_size=200), st.text(max_size=200)
    )
)
@example(data=bytes(32))
@example(data=b"-----BEGIN PUBLIC KEY-----\n")
def test_load_public_key_takes_an_x25519_key_or_refuses_with_its_code(data: bytes | str) -> None:
    try:
        key = load_public_key(data)
    except KeyPairRejected as error:
        assert error.codes == ("key_pair.invalid_public_key",)
        assert not (isinstance(data, bytes) and len(data) == 32)
        event("rejected")
    else:
        assert isinstance(key, x25519.X25519PublicKey)
        event("accepted")


@SOME
@given(raw=st.binary(min_size=32, max_size=32))
def test_every_form_of_a_public_key_has_one_fingerprint(raw: bytes) -> None:
    key = x25519.X25519PublicKey.from_public_bytes(raw)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert fingerprint(raw) == fingerprint(der) == fingerprint(pem) == fingerprint(key)
    assert fingerprint(pem.decode("ascii")) == fingerprint(key)
    assert len(fingerprint(key)) == 64
