"""A minimal DER reader: just enough to tell what an uploaded binary file is (pure).

It recognises PKCS#12 containers and private keys by their ASN.1 shape, so they are refused
without being decoded, and PKCS#7 bundles (which ``cryptography``'s PKCS#7 loader then reads); and
it checks a certificate's serial number before ``cryptography`` sees it (it warns, and will refuse,
on non-positive serials).
Nothing here raises: malformed input gives ``None``/``"other"``/``False``.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE, INTEGER, OCTET_STRING, OID, CONTEXT_0 = 0x30, 0x02, 0x04, 0x06, 0xA0
PKCS7_OID_PREFIX = bytes.fromhex("2a864886f70d0107")  # 1.2.840.113549.1.7 (data, signedData...)


@dataclass(frozen=True)
class Element:
    tag: int
    start: int  # first byte of the tag
    content: int  # first byte of the content
    end: int | None  # one past the content; None for BER indefinite length

    def body(self, data: bytes) -> bytes:
        return data[self.content : self.end]


def element(data: bytes, pos: int, *, truncated_ok: bool = False) -> Element | None:
    """The element whose tag is at ``pos``, or None when the bytes cannot be one.

    ``truncated_ok`` accepts content running past the end of ``data`` (clipped to it)."""
    if pos < 0 or pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:  # multi-byte tags never appear in the shapes we look for
        return None
    if first < 0x80:
        content, length = pos + 2, first
    elif first == 0x80:
        return Element(tag, pos, pos + 2, None)
    else:
        count = first & 0x7F
        if count > 4 or pos + 2 + count > len(data):
            return None
        content = pos + 2 + count
        length = int.from_bytes(data[pos + 2 : content], "big")
    if content + length > len(data):
        return Element(tag, pos, content, len(data)) if truncated_ok else None
    return Element(tag, pos, content, content + length)


def children(data: bytes, parent: Element, limit: int = 12) -> list[Element]:
    """Up to ``limit`` definite-length children of ``parent`` (to the end of data if indefinite)."""
    out: list[Element] = []
    pos, end = parent.content, len(data) if parent.end is None else parent.end
    while pos < end and len(out) < limit:
        child = element(data, pos)
        if child is None or child.end is None or child.end > end:
            break
        out.append(child)
        pos = child.end
    return out


def _has_oid(data: bytes, at: Element | None, prefix: bytes) -> bool:
    return at is not None and at.tag == OID and data[at.content :].startswith(prefix)


def shape(data: bytes) -> str:
    """``pkcs12``, ``private_key``, ``pkcs7`` or ``other`` for a DER (or BER) blob."""
    outer = element(data, 0, truncated_ok=True)
    if outer is None or outer.tag != SEQUENCE:
        return "other"
    first = element(data, outer.content)
    if first is None:
        return "other"
    if _has_oid(data, first, PKCS7_OID_PREFIX):
        return "pkcs7"
    if _is_pfx(data, first):
        return "pkcs12"
    kids = children(data, outer)
    tags = [kid.tag for kid in kids]
    version = kids[0].body(data) if tags[:1] == [INTEGER] else None
    if version in {b"\x00", b"\x01"} and len(tags) >= 2:
        if tags[1] == OCTET_STRING:  # SEC 1 EC private key
            return "private_key"
        if tags[1:3] == [SEQUENCE, OCTET_STRING]:  # PKCS#8 PrivateKeyInfo
            return "private_key"
        if len(tags) >= 6 and all(tag == INTEGER for tag in tags):  # PKCS#1 RSA, OpenSSL DSA
            return "private_key"
    if tags == [SEQUENCE, OCTET_STRING] and _has_oid(  # PKCS#8 EncryptedPrivateKeyInfo
        data, element(data, kids[0].content), b""
    ):
        return "private_key"
    return "other"


def _is_pfx(data: bytes, first: Element) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL }."""
    if first.tag != INTEGER or first.body(data) != b"\x03" or first.end is None:
        return False
    content_info = element(data, first.end, truncated_ok=True)
    if content_info is None or content_info.tag != SEQUENCE:
        return False
    return _has_oid(data, element(data, content_info.content), PKCS7_OID_PREFIX)


def serial_is_positive(certificate: bytes) -> bool:
    """True when the DER certificate's serial number is a positive INTEGER (RFC 5280 4.1.2.2)."""
    outer = element(certificate, 0)
    tbs = element(certificate, outer.content) if outer is not None else None
    if tbs is None or tbs.tag != SEQUENCE:
        return False
    serial = element(certificate, tbs.content)
    if serial is not None and serial.tag == CONTEXT_0 and serial.end is not None:  # [0] version
        serial = element(certificate, serial.end)
    if serial is None or serial.tag != INTEGER or serial.end is None:
        return False
    body = serial.body(certificate)
    return bool(body) and body[0] < 0x80 and any(body)
