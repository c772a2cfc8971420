"""The ASGI entry point, `app.main:app`: settings and tracing from the environment, logging,
the app."""

import os
import sys

from app.application import create_app
from app.logs import configure_logging
from app.settings import SettingsError, get_settings
from app.tracing import TracingError, provider_from_environment

try:
    settings = get_settings(os.environ)
    tracer_provider = provider_from_environment(os.environ, settings.version)
except (SettingsError, TracingError) as exc:
    sys.exit(f"error: {exc}")

configure_logging(settings)
if tracer_provider is not None:
    from opentelemetry import trace

    trace.set_tracer_provider(tracer_provider)  # for any library that traces with the global one
app = create_app(settings, tracer_provider=tracer_provider)
