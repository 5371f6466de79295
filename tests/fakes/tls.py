"""Throwaway TLS material for the loopback fakes: a CA and a server certificate for 127.0.0.1.

MSAL refuses ``http://`` authorities, so the fake Entra/Graph speaks HTTPS. The CA bundle is written
to a file so clients can trust it the way production does (``SSL_CERT_FILE``). ``trustme`` makes
the certificates (valid around the real clock, which TLS checks, whatever ``tests.clock`` says).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsMaterial:
    ca_bundle: Path  # the CA certificate (PEM): what clients trust
    server_cert: Path  # the server's certificate (PEM)
    server_key: Path  # its private key (PEM, unencrypted)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_tls_material(directory: Path) -> TlsMaterial:
    """Generate a CA and a 127.0.0.1/localhost server certificate under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA, organization_name="apns-bot test CA")
    server = ca.issue_cert("127.0.0.1", "localhost", key_type=trustme.KeyType.ECDSA)
    material = TlsMaterial(
        ca_bundle=directory / "ca-bundle.pem",
        server_cert=directory / "server-cert.pem",
        server_key=directory / "server-key.pem",
    )
    ca.cert_pem.write_to_path(str(material.ca_bundle))
    material.server_cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(material.server_key))
    return material
