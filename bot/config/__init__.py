"""Configuration: the settings model, its field parsers and the loaders (environment, tenants file).

``load_settings`` and the value types are importable from here, as every layer above uses them.
"""

from bot.config.env import load_settings
from bot.config.model import (
    CLOUDS,
    DEFAULT_DB_PATH,
    DEFAULT_REMIND_DAYS,
    DEFAULT_SLACK_API_URL,
    DEFAULT_TENANT,
    DEFAULT_WATCH,
    DELEGATED_PERMISSION,
    KNOWN_AUTHORITY_HOSTS,
    AuthMode,
    Cloud,
    CloudEndpoints,
    Secret,
    Settings,
    SlackSettings,
    TenantSettings,
)

__all__ = [
    "CLOUDS",
    "DEFAULT_DB_PATH",
    "DEFAULT_REMIND_DAYS",
    "DEFAULT_SLACK_API_URL",
    "DEFAULT_TENANT",
    "DEFAULT_WATCH",
    "DELEGATED_PERMISSION",
    "KNOWN_AUTHORITY_HOSTS",
    "AuthMode",
    "Cloud",
    "CloudEndpoints",
    "Secret",
    "Settings",
    "SlackSettings",
    "TenantSettings",
    "load_settings",
]
