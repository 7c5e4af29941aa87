"""Made-up sample data for examples and tests: numbers, addresses, images, certificates.

Everything here is valid and fictitious: INAMI numbers are built from a counter with the real
check-digit rule, phone numbers are in ranges reserved for no one in particular, and the
certificates are self-signed by a throwaway key. Use the Hypothesis strategies in
:mod:`practiceid.testing.strategies` for properties; use these for readable examples.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from practiceid.policies.identifiers import inami

__all__ = [
    "sample_certificate",
    "sample_inami",
    "sample_jpeg",
    "sample_png",
    "sample_workplace",
]

_sequence = itertools.count(40000)


def sample_inami(competence: str = "003", *, profession: str = "1", modulus: int = 97) -> str:
    """Return a fresh, valid, made-up 11-digit INAMI number.

    ``competence`` is the last three digits (``"005"``: a GP trainee, B4); ``profession`` the
    first digit (1 physician, 3 dentist, 4 nurse or midwife, 5 physiotherapist).

    >>> number = sample_inami("005")
    >>> inami.parse(number).requires_supervisor
    True
    """
    first_six = f"{profession}{next(_sequence) % 100000:05d}"
    return first_six + inami.check_digits(first_six, modulus) + competence


def sample_workplace(**overrides: object) -> dict[str, object]:
    """Return a workplace address, as the profile service takes it, reachable for hubs (B1).

    >>> sample_workplace(city="Liège")["city"]
    'Liège'
    """
    address: dict[str, object] = {
        "kind": "workplace",
        "street": "Rue de l'Exemple 1",
        "postal_code": "5000",
        "city": "Namur",
        "country": "BE",
        "email": "accueil@cabinet-exemple.be",
        "phone": "081 22 33 44",
    }
    address.update(overrides)
    return address


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def sample_png(width: int = 120, height: int = 40) -> bytes:
    """Return a valid PNG image of this size (one grey row repeated), for logo tests (C7)."""
    rows = (b"\x00" + b"\x80" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def sample_jpeg(width: int = 120, height: int = 40) -> bytes:
    """Return the headers of a baseline JPEG of this size, as the logo check reads them (C7).

    Only the markers are real (SOI, APP0, SOF0, SOS, EOI); the scan data is filler. Enough
    for what practiceid checks, not for an image viewer.
    """
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    return (
        b"\xff\xd8\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xc0"
        + struct.pack(">H", len(sof0) + 2)
        + sof0
        + b"\xff\xda"
        + struct.pack(">H", len(sos) + 2)
        + sos
        + b"\x00" * 16
        + b"\xff\xd9"
    )


def sample_certificate(
    *,
    nihii: str | None = None,
    not_before: datetime,
    days: int = 365,
    password: str | None = "changeit",
) -> bytes:
    """Return a self-signed certificate shaped like an eHealth one, for B5 tests.

    With ``password``, a PKCS#12 keystore (certificate and key) protected by it; with
    ``password=None``, the certificate alone in PEM. ``nihii`` puts an INAMI number in the
    subject, as ``OU=NIHII-PHYSICIAN=<number>``.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Federal Government"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "eHealth-platform Belgium"),
    ]
    if nihii is not None:
        names.append(
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"NIHII-PHYSICIAN={nihii}")
        )
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, "Sample practitioner"))
    subject = x509.Name(names)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    if password is None:
        return certificate.public_bytes(serialization.Encoding.PEM)
    return pkcs12.serialize_key_and_certificates(
        b"ehealth",
        key,
        certificate,
        None,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )
