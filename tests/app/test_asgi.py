"""``app.asgi.LazyApp``: the FastAPI app built once, even when many ask for it at once."""

import threading

from app.application import create_app
from app.asgi import LazyApp
from app.settings import get_settings
from tests.app.asgi import call
from tests.app.conftest import HOST


def test_lazy_app_builds_once_under_concurrent_use() -> None:
    built: list[int] = []
    gate = threading.Event()

    def factory():
        gate.wait(timeout=5)
        built.append(1)
        return create_app(get_settings({}), host=HOST, fast_path=False)

    lazy = LazyApp(factory)
    threads = [threading.Thread(target=lazy.build) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert built == [1]
    assert call(lazy, "/-/liveness").status == 200
