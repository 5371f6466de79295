"""Which certificate authorities outbound HTTPS trusts.

Corporate networks often inspect TLS with their own CA. The standard ``SSL_CERT_FILE`` /
``REQUESTS_CA_BUNDLE`` variables (read once into ``Settings.ca_bundle``) name that bundle; every
client the bot builds (httpx for Graph and Slack files, MSAL's urllib3 client, slack_sdk) is given
the same trust through these helpers.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=8)
def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """An SSL context trusting ``ca_bundle`` when set, else the system's default CAs.

    Shared by every client of the process (contexts are thread-safe once configured): loading a
    CA store costs milliseconds and memory, and a fleet of tenants would otherwise load it per
    tenant.
    """
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=str(ca_bundle))
    return ssl.create_default_context()
