"""A stock FastAPI app whose /docs and /redoc load Swagger UI and ReDoc from a CDN, as FastAPI
does by default: the control that shows the browser test sees a blank page when assets are
out of reach (tests/app/test_docs_browser.py)."""

from fastapi import FastAPI

app = FastAPI(title="cdn-docs")


@app.get("/api/echo")
async def echo(text: str) -> dict[str, str]:
    return {"text": text}
