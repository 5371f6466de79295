"""apns-bot: keeps a Microsoft Intune tenant's Apple MDM push certificate alive, from Slack."""

__version__ = "0.1.0"
