"""The python-microservice service: FastAPI on uvicorn, with a pure-ASGI fast path in front."""
