"""The template with a team's route (bench/apps/items.py), added the documented way: what
app/routers.py returning ``[items_router()]`` gives (docs/service.md, "Adding an endpoint"). The
rest is app.main's: settings and tracing from the environment, logging, metrics and request ids
on by default, the fast path, the lifespan. The bench does not change app/.
"""

from app.application import create_app
from app.main import settings, tracer_provider
from bench.apps.items import items_router

app = create_app(settings, tracer_provider=tracer_provider, routers=lambda: [items_router()])
