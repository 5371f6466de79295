"""The words of each pre-flight problem: what is wrong and what a person should do next (pure).

Messages quote only public facts (topics, names, dates, Apple IDs the user typed), never a
certificate body or anything from a key.
"""

from __future__ import annotations

from datetime import UTC, datetime

COMMAND = "/apns"  # the slash command (manifest.yml); messages name it
PORTAL = "Apple's Push Certificates Portal (identity.apple.com)"
RENEW_AND_UPLOAD = (
    f"Sign in to {PORTAL}, press Renew next to the tenant's certificate, upload Intune's CSR and "
    "upload the .pem file Apple gives back."
)


def _day(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _days(delta_seconds: float) -> str:
    days = int(abs(delta_seconds) // 86400)
    return "less than a day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def missing_topic() -> str:
    return (
        "This certificate has no topic (the subject UID attribute), so it is not an Apple MDM push "
        "certificate. " + RENEW_AND_UPLOAD
    )


def bad_topic_prefix(topic: str) -> str:
    return (
        f"Its topic '{_quote(topic)}' does not start with com.apple.mgmt., so it is not an MDM push "
        "certificate (perhaps an app's push certificate or another Apple certificate). "
        + RENEW_AND_UPLOAD
    )


def topic_cn_mismatch(topic: str, common_name: str | None) -> str:
    suffix = topic.rsplit(".", 1)[-1]
    return (
        f"Its common name '{_quote(common_name or '(none)')}' does not match its topic: Apple "
        f"issues CN=APSP:{_quote(suffix)} for this topic. Make sure this is the unedited file "
        "Apple delivered before approving."
    )


def not_push_certificate() -> str:
    return (
        "It lacks Apple's production push marker (extension 1.2.840.113635.100.6.3.2), so Apple's "
        "push service will not accept it for device management. " + RENEW_AND_UPLOAD
    )


def not_apple_issuer(issuer: str) -> str:
    return (
        f"It was issued by '{_quote(issuer)}', not by Apple. Intune only works with push "
        f"certificates from {PORTAL}: download it from there."
    )


def untrusted_chain(reason: str) -> str:
    return (
        f"Its chain up to Apple Root CA does not verify: {reason}. Do not approve it; download "
        f"the certificate again from {PORTAL} and upload that file unchanged."
    )


def unknown_intermediate(reason: str) -> str:
    return (
        f"Its chain up to Apple Root CA cannot be verified: {reason}. If Apple has introduced a "
        "new intermediate, download it from apple.com/certificateauthority and add it to "
        "APPLE_CA_DIR, or upload the .pem together with it; otherwise do not use this file."
    )


def chain_not_verified() -> str:
    return (
        "Its signature chain up to Apple Root CA was not checked: Apple's CA certificates were "
        "not available (set APPLE_CA_DIR to a folder holding AppleAAI2CA.cer and "
        "AppleIncRootCertificate.cer, or let apns-bot reach www.apple.com). Approvers: make sure "
        f"this file came straight from {PORTAL}."
    )


def weak_key(key_type: str, key_size: int | None) -> str:
    size = f" {key_size}-bit" if key_size else ""
    return (
        f"Its key is{size} {key_type}; Apple issues MDM push certificates for the RSA 2048-bit "
        "key in Intune's CSR. Download the CSR from Intune again and renew with it at "
        "identity.apple.com."
    )


def expired(not_after: datetime, now: datetime) -> str:
    ago = _days((now - not_after).total_seconds())
    return (
        f"This certificate expired on {_day(not_after)} ({ago} ago); uploading it would not "
        "bring push back. " + RENEW_AND_UPLOAD
    )


def not_yet_valid(not_before: datetime) -> str:
    return (
        f"This certificate only becomes valid on {_day(not_before)}. Check the clock of the "
        "machine that checked it, or upload it after that time."
    )


def expires_soon(not_after: datetime, now: datetime) -> str:
    left = _days((not_after - now).total_seconds())
    return (
        f"This certificate expires on {_day(not_after)}, in {left}, while a freshly renewed one "
        "is valid for a year: it is probably an old download. " + RENEW_AND_UPLOAD
    )


def topic_mismatch(topic: str, current_topic: str, current_apple_id: str | None) -> str:
    who = current_apple_id or "the Apple ID that created the current certificate"
    return (
        f"This certificate's topic is {_quote(topic)}, but the tenant's current certificate has "
        f"topic {_quote(current_topic)}: it was created anew or under another Apple ID. Uploading "
        "it would make every enrolled iPhone, iPad and Mac stop syncing until it is re-enrolled "
        f"(supervised devices need a wipe). Sign in to identity.apple.com with {_quote(who)}, "
        f"press Renew next to the certificate with topic {_quote(current_topic)} (never "
        "'Create a Certificate'), and upload the .pem Apple gives back."
    )


def apple_id_mismatch(apple_id: str, current_apple_id: str) -> str:
    return (
        f"The renewal names Apple ID {_quote(apple_id)}, but the tenant's certificate was created "
        f"with {_quote(current_apple_id)}. The certificate must stay with the Apple ID that "
        f"created it: renew at identity.apple.com signed in as {_quote(current_apple_id)} and "
        "submit the renewal with that Apple ID."
    )


def invalid_apple_id(apple_id: str) -> str:
    return (
        f"'{_quote(apple_id, 60)}' is not an Apple ID: give the e-mail address of the Apple account "
        "that renews the certificate at identity.apple.com."
    )


def not_newer(not_after: datetime, current_expiry: datetime, same_serial: bool) -> str:
    if same_serial:
        return (
            "This is the certificate the tenant already has (same serial number), so uploading it "
            "changes nothing. " + RENEW_AND_UPLOAD
        )
    return (
        f"This certificate expires on {_day(not_after)}, no later than the tenant's current one "
        f"({_day(current_expiry)}): it is an older download. Upload the certificate Apple issued "
        "for this renewal (the newest download from identity.apple.com)."
    )
