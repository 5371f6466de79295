"""What ADE server token and Apps and Books (VPP) token files share (pure): the size limit, the
refusals that need no decoding, and how an S/MIME header line looks.

``bounded(data)`` is the first check of every token file: ``too_large`` before anything is
decoded, then ``private_key_present`` (a key block, a PuTTY key, a PKCS#12 or DER key: refused
without being parsed).
"""

from __future__ import annotations

import re

from bot.core import der
from bot.core.certinput import holds_private_key
from bot.errors import TokenFileError

MAX_TOKEN_FILE_BYTES = 64 * 1024  # a server token is about 4 KiB, a VPP token about 1 KiB
HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{0,60}:[ \t]")  # a MIME header: S/MIME (ADE)
FILE_MESSAGES = {
    "too_large": (
        f"This file is larger than {MAX_TOKEN_FILE_BYTES // 1024} KiB, while Apple's token files "
        "are a few KiB (a server token about 4 KiB, an Apps and Books token about 1 KiB): it is "
        "not a token file. Download the token again from Apple Business Manager and upload that "
        "file unchanged."
    ),
    "private_key_present": (
        "This file contains a private key (or is a .p12/.pfx key container), so apns-bot refused "
        "it without reading it. A server token never holds a key. Treat this file as a secret and "
        "delete it wherever it was shared."
    ),
}


def bounded(data: bytes) -> None:
    """Size first, then the refusals that need no decoding (shared with VPP files): ``too_large``
    and ``private_key_present``."""
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise TokenFileError("too_large", FILE_MESSAGES["too_large"])
    if holds_private_key(data) or der.shape(data) in {"pkcs12", "private_key"}:
        raise TokenFileError("private_key_present", FILE_MESSAGES["private_key_present"])
