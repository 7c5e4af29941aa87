"""Reading an eHealth certificate's metadata, and nothing more (B5).

Belgian practitioners connect to eHealth with a personal certificate, delivered as a
PKCS#12 keystore protected by a password. practiceid records *that* a practitioner registered
one, until when it is valid, and whose it is; it never keeps the keystore, the private key or
the password (the host's eHealth connector does, where it needs them).

:func:`read_certificate` accepts the keystore with its password, or the certificate alone
(PEM or DER), which needs no password at all. The password is used to open the keystore and
then dropped: it is not stored, logged or put into an error.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from practiceid.policies.contact import Problem

__all__ = ["CertificateInfo", "read_certificate"]

_MAX_BYTES: Final = 64 * 1024
_NIHII: Final = re.compile(r"NIHII(?:-[A-Z\-]+)?=([0-9]{8,11})")

CertificateInfo = tuple[str, str, datetime, datetime, str, str | None]
"""``(serial_number, issuer, not_before, not_after, sha256, holder_nihii)``."""


def _load(data: bytes, password: object) -> x509.Certificate | None:
    if password is None:
        for load in (x509.load_pem_x509_certificate, x509.load_der_x509_certificate):
            try:
                return load(data)
            except ValueError:
                continue
        return None
    if isinstance(password, str):
        try:
            secret: object = password.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no keystore has such a password
            return None
    else:
        secret = password
    if not isinstance(secret, bytes) or b"\x00" in secret:
        # OpenSSL passwords are C strings: a NUL makes the backend panic, not refuse.
        return None
    try:
        keystore = pkcs12.load_pkcs12(data, secret)
    except (ValueError, TypeError):
        return None
    return keystore.cert.certificate if keystore.cert is not None else None


def _holder_nihii(certificate: x509.Certificate) -> str | None:
    for attribute in certificate.subject:
        value = attribute.value
        if isinstance(value, str) and (found := _NIHII.search(value)):
            return found.group(1)
    return None


def read_certificate(
    data: object, password: object = None
) -> tuple[CertificateInfo | None, list[Problem]]:
    """Return the certificate's metadata, or ``None`` and the problem.

    ``data`` is a PKCS#12 keystore (with ``password``) or an X.509 certificate in PEM or DER
    (``password=None``). The holder's INAMI (NIHII) number is read from the subject when it
    names one (``OU=NIHII-PHYSICIAN=…``). Codes: ``ehealth.not_bytes``,
    ``ehealth.certificate_too_large``, ``ehealth.certificate_unreadable`` (a wrong password
    gives this too, and says no more).
    """
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes):
        return None, [
            (
                "ehealth.not_bytes",
                "the certificate must be the file's bytes",
                {"type": type(data).__name__},
            )
        ]
    if len(data) > _MAX_BYTES:
        return None, [
            (
                "ehealth.certificate_too_large",
                f"a certificate file has at most {_MAX_BYTES} bytes",
                {"max_bytes": _MAX_BYTES},
            )
        ]
    certificate = _load(data, password)
    if certificate is None:
        return None, [
            (
                "ehealth.certificate_unreadable",
                "not a certificate, or not this keystore's password",
                {},
            )
        ]
    info: CertificateInfo = (
        format(certificate.serial_number, "x"),
        certificate.issuer.rfc4514_string(),
        certificate.not_valid_before_utc,
        certificate.not_valid_after_utc,
        certificate.fingerprint(hashes.SHA256()).hex(),
        _holder_nihii(certificate),
    )
    return info, []
