"""The service: FastAPI on uvicorn, with a pure-ASGI fast path in front."""

# The service's name, read everywhere in Python (the app, ci/, tests/, bench/): its one home.
SERVICE_NAME = "python-microservice"
