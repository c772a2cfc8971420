"""Which route answered a request: its template, for metrics and traces (never the raw path)."""

from app.asgi import Scope

# Set by the fast path to the route it answered. FastAPI's router sets "route" to the matched
# API route (for a 405, the route whose path matched); for its plain routes (/docs,
# /openapi.json) and mounts (the docs' assets) only "router" and "endpoint" (a mount's app).
ROUTE = "app.route"
UNMATCHED = "_OTHER"


def route_of(scope: Scope) -> str:
    """The template of the route that handled the request, or UNMATCHED."""
    route = scope.get(ROUTE)
    if route is not None:
        return route
    template = getattr(scope.get("route"), "path_format", None)
    if template is None and (endpoint := scope.get("endpoint")) is not None:
        routes = getattr(scope.get("router"), "routes", ())
        match = (
            r
            for r in routes
            if getattr(r, "endpoint", None) is endpoint or getattr(r, "app", None) is endpoint
        )
        template = getattr(next(match, None), "path_format", None)
    return template if isinstance(template, str) else UNMATCHED


def route_path(path: str, root_path: str) -> str:
    """The path the routes match: `path` without the `root_path` prefix (uvicorn's --root-path
    puts it in front of every path), as Starlette's get_route_path() computes it."""
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path
