"""The ASGI entry point, `app.main:app`: settings from the environment, logging, the app."""

import os
import sys

from app.application import create_app
from app.logs import configure_logging
from app.settings import SettingsError, get_settings

try:
    settings = get_settings(os.environ)
except SettingsError as exc:
    sys.exit(f"error: {exc}")

configure_logging(settings)
app = create_app(settings)
