r"""The establishment's logo, checked by content before it reaches a PDF report header (C7).

A logo arrives as bytes from an upload form: its file name and declared type say nothing.
:func:`parse_logo` reads the bytes themselves and accepts PNG and JPEG only, the two formats
every PDF library embeds, within documented limits:

================  ==========================================================
check             limit
================  ==========================================================
size              at most 512 KiB (:data:`MAX_BYTES`)
dimensions        16 to 2048 pixels on each side (:data:`MIN_SIDE`, :data:`MAX_SIDE`)
PNG               8-byte signature, an ``IHDR`` chunk first with a correct CRC,
                  an ``IEND`` chunk last (a truncated upload is refused)
JPEG              ``SOI`` marker first, a start-of-frame segment giving the
                  dimensions, ``EOI`` marker last
================  ==========================================================

Only headers are read; pixels are never decoded, so a hostile file cannot exploit an image
decoder here (the host's PDF library decodes it later, from a file already known to be of the
type it claims). SVG is refused: it can carry scripts and external references.

>>> import struct, zlib
>>> def chunk(kind, data):
...     crc = zlib.crc32(kind + data)
...     return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
>>> png = (
...     b"\x89PNG\r\n\x1a\n"
...     + chunk(b"IHDR", struct.pack(">IIBBBBB", 120, 40, 8, 2, 0, 0, 0))
...     + chunk(b"IDAT", zlib.compress(b"\x00" * 10))
...     + chunk(b"IEND", b"")
... )
>>> logo = parse_logo(png)
>>> logo.media_type, logo.width, logo.height
('image/png', 120, 40)
>>> logo.size, "data" in repr(logo)  # the bytes stay out of logs
(68, False)
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Final, Literal

import attrs

from practiceid.errors import EstablishmentProfileRejected, Violation
from practiceid.policies.contact import Problem

__all__ = ["MAX_BYTES", "MAX_SIDE", "MIN_SIDE", "Logo", "check_logo", "parse_logo"]

MAX_BYTES: Final = 512 * 1024
MIN_SIDE: Final = 16
MAX_SIDE: Final = 2048

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_IEND: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_SOI: Final = b"\xff\xd8"
_JPEG_EOI: Final = b"\xff\xd9"
# Start-of-frame markers: C0-CF except C4 (Huffman tables), C8 (reserved), CC (arithmetic).
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and RST0-RST7.
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})

MediaType = Literal["image/png", "image/jpeg"]


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class Logo:
    """A checked PNG or JPEG image: the bytes and what their headers say.

    ``data`` never appears in ``repr``; ``sha256`` identifies the image (for caching a
    rendered header, or telling whether the logo changed).
    """

    data: bytes = attrs.field(repr=False)
    media_type: MediaType
    width: int
    height: int

    @property
    def size(self) -> int:
        """The number of bytes."""
        return len(self.data)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the bytes, in hex."""
        return _short_hash(self.data)

    def __repr__(self) -> str:
        return (
            f"Logo(media_type={self.media_type!r}, width={self.width}, "
            f"height={self.height}, size={self.size}, sha256='{self.sha256[:12]}...')"
        )


def _problem(code: str, message: str, **params: object) -> list[Problem]:
    return [(f"logo.{code}", message, params)]


def _png(data: bytes) -> tuple[int, int] | list[Problem]:
    # Signature (8), then IHDR: length (4) "IHDR" (4) data (13) CRC (4).
    header = data[8:33]
    if len(header) < 25 or header[:8] != b"\x00\x00\x00\x0dIHDR":  # noqa: PLR2004
        return _problem("corrupt", "the PNG image has no valid header", format="png")
    (crc,) = struct.unpack(">I", header[21:25])
    if zlib.crc32(header[4:21]) != crc:
        return _problem("corrupt", "the PNG header's checksum does not match", format="png")
    if not data.endswith(_PNG_IEND):
        return _problem("corrupt", "the PNG image is truncated", format="png")
    width, height = struct.unpack(">II", header[8:16])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int] | list[Problem]:
    if not data.endswith(_JPEG_EOI):
        return _problem("corrupt", "the JPEG image is truncated", format="jpeg")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:  # noqa: PLR2004
            break
        marker = data[position + 1]
        if marker == 0xFF:  # noqa: PLR2004 - fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2:  # noqa: PLR2004
            break
        if marker in _JPEG_SOF:
            frame = data[position + 4 : position + 9]
            if len(frame) < 5:  # noqa: PLR2004
                break
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        if marker == 0xDA:  # noqa: PLR2004 - start of scan before any frame header
            break
        position += 2 + length
    return _problem("corrupt", "the JPEG image has no frame header", format="jpeg")


def check_logo(raw: object) -> tuple[Logo | None, list[Problem]]:  # noqa: PLR0911
    """Return the logo and no problem, or ``None`` and why the bytes were refused.

    Codes: ``logo.not_bytes``, ``logo.empty``, ``logo.too_large`` (``max_bytes``),
    ``logo.unsupported_type`` (``accepted``), ``logo.corrupt`` (``format``),
    ``logo.too_small`` and ``logo.too_large_dimensions`` (``width``, ``height``, the limit).
    """
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        return None, _problem(
            "not_bytes", "the logo must be the image's bytes", type=type(raw).__name__
        )
    if not raw:
        return None, _problem("empty", "the logo is empty")
    if len(raw) > MAX_BYTES:
        return None, _problem(
            "too_large", f"the logo must be at most {MAX_BYTES} bytes", max_bytes=MAX_BYTES
        )
    media_type: MediaType
    if raw.startswith(_PNG_SIGNATURE):
        media_type, found = "image/png", _png(raw)
    elif raw.startswith(_JPEG_SOI + b"\xff"):
        media_type, found = "image/jpeg", _jpeg(raw)
    else:
        return None, _problem(
            "unsupported_type", "the logo must be a PNG or JPEG image", accepted=("png", "jpeg")
        )
    if isinstance(found, list):
        return None, found
    width, height = found
    if width < MIN_SIDE or height < MIN_SIDE:
        return None, _problem(
            "too_small",
            f"the logo must be at least {MIN_SIDE} pixels on each side",
            width=width,
            height=height,
            min_side=MIN_SIDE,
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        return None, _problem(
            "too_large_dimensions",
            f"the logo must be at most {MAX_SIDE} pixels on each side",
            width=width,
            height=height,
            max_side=MAX_SIDE,
        )
    return Logo(data=raw, media_type=media_type, width=width, height=height), []


def parse_logo(raw: object) -> Logo:
    """Return the checked logo, or raise :class:`~practiceid.EstablishmentProfileRejected`."""
    logo, problems = check_logo(raw)
    if logo is None:
        raise EstablishmentProfileRejected(
            Violation(code, message, "logo", params) for code, message, params in problems
        )
    return logo
