"""The BentoML service that serves a registered MLflow model.

POST /predict  {"instances": [[30 numbers], ...]} or {"instances": [{"feature": number, ...}, ...]}
GET  /model    name, version, run, features of the served model (also in X-Model-Name / X-Model-Version headers)
/metrics /livez /readyz come from BentoML.

Configuration (environment): MODEL_URI (default models:/$MODEL_NAME@champion), MODEL_NAME, MLFLOW_TRACKING_URI,
BENTOML_WORKERS, MLOPS_MAX_ROWS_PER_REQUEST, MLOPS_MAX_BATCH_ROWS, MLOPS_MAX_LATENCY_MS, MLOPS_GC_THRESHOLDS.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

import bentoml
import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.serving.io import Instances, activate_schema
from services.serving.metrics import ModelMetrics
from services.serving.model_loader import LoadedModel, load_model

MODEL_NAME = os.environ.get("MODEL_NAME", "breast-cancer")
MODEL_URI = os.environ.get("MODEL_URI", f"models:/{MODEL_NAME}@champion")
# Adaptive batching: requests that arrive while a batch runs are merged, up to MAX_BATCH_ROWS rows. BentoML answers
# 503 for requests it expects to wait longer than MAX_LATENCY_MS, so keep it well above the p99 you accept.
MAX_BATCH_ROWS = int(os.environ.get("MLOPS_MAX_BATCH_ROWS", "1000"))
MAX_LATENCY_MS = int(os.environ.get("MLOPS_MAX_LATENCY_MS", "1000"))
# gc.set_threshold() after the model has loaded (see ModelServer.__init__); "700,10,10" restores Python's default.
GC_THRESHOLDS = tuple(int(x) for x in os.environ.get("MLOPS_GC_THRESHOLDS", "50000,50,100").split(","))

# Set once per worker process when the model has loaded; read by the /model app and the header middleware.
_served: LoadedModel | None = None


async def _model_info(_: Request) -> JSONResponse:
    if _served is None:
        return JSONResponse({"error": "model not loaded yet"}, status_code=503)
    return JSONResponse(_served.info())


info_app = Starlette(routes=[Route("/", _model_info, methods=["GET"])])


class ModelHeaders:
    """ASGI middleware: every response says which model version produced it (useful during canaries)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _served is None:
            await self.app(scope, receive, send)
            return
        extra = [(b"x-model-name", _served.name.encode()), (b"x-model-version", _served.version.encode())]

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ClientErrorsOnOneLine(logging.Filter):
    """BentoML logs every refused request at ERROR with its traceback (kilobytes per bad payload: a log flood anyone
    can cause). A client's mistake is one WARNING line naming the path and the error; server faults keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        from bentoml.exceptions import BentoMLException
        from pydantic import ValidationError

        error = record.exc_info[1] if record.exc_info else None
        client_error = isinstance(error, ValidationError) or (
            isinstance(error, BentoMLException) and error.error_code.value < 500
        )
        if client_error:
            # Where and what, never the input itself: a request's values do not belong in the server's log.
            if isinstance(error, ValidationError):
                problems = error.errors(include_input=False, include_url=False)
                summary = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)[:300]
            else:
                summary = " ".join(str(error).split())[:300]
            record.msg, record.args = f"{record.getMessage()}: refused: {summary}", None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


class JsonOnly:
    """ASGI middleware: POST /predict takes `application/json` only. Anything else (a form, a broken multipart
    boundary) gets 415 naming what is accepted, before BentoML's body parsing, which answers 500 to some of them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == "/predict":
            given = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
            media_type = given.split(";", 1)[0].strip().lower()
            if media_type != "application/json":
                error = {"error": f"content type {given or '(none)'!r} is not accepted: send application/json"}
                await JSONResponse(error, status_code=415)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@bentoml.asgi_app(info_app, path="/model")
@bentoml.service(
    name="mlops-kit-model",
    workers=int(os.environ.get("BENTOML_WORKERS", "1")),
    traffic={"timeout": 30},
    logging={"access": {"enabled": os.environ.get("MLOPS_ACCESS_LOG", "false") == "true"}},
)
class ModelServer:
    def __init__(self) -> None:
        global _served
        model = load_model(MODEL_URI, os.environ.get("MLFLOW_TRACKING_URI"), fallback_name=MODEL_NAME)
        self.model = model
        self.metrics = ModelMetrics(model)
        self.has_proba = hasattr(model.estimator, "predict_proba")
        activate_schema(model.feature_names)
        logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsOnOneLine())
        _served = model
        # The loaded model and the imported libraries live for the whole process: moving them out of the GC's
        # generations keeps collections from traversing them (shared/ENVIRONMENT.md: 160-250 ms pauses without).
        gc.collect()
        gc.freeze()
        # In-flight requests hold thousands of short-lived objects. At the default thresholds (700, 10, 10) that
        # meant ~150 young and ~12 full collections per 10 s at ~1,000 rps (objects of in-flight requests get
        # promoted), the full ones taking 80-190 ms: p99 170-215 ms at 32 connections. With a first threshold of
        # 50,000 the young collections are rare and nothing was promoted in the benchmark, so no full collection
        # ran: p99 45-90 ms, ~15 % less CPU per request (bench/README.md). Memory cost: a few MB of garbage.
        gc.set_threshold(*GC_THRESHOLDS)

    @bentoml.api(
        batchable=True,
        max_batch_size=MAX_BATCH_ROWS,
        max_latency_ms=MAX_LATENCY_MS,
    )
    async def predict(self, instances: Instances) -> list[dict[str, Any]]:
        """Predict the class (and its probability) of each row."""
        # `async`: a batch takes ~0.3 ms of numpy/sklearn, less than a hop to the thread pool and back costs, so it
        # runs on the event loop. The rows were validated (types, finiteness, feature layout) once, by pydantic, when
        # the request was parsed; here they are only converted.
        matrix = np.asarray(instances, dtype=float)
        estimator = self.model.estimator
        if self.has_proba:
            proba = estimator.predict_proba(matrix)
            best = proba.argmax(axis=1)
            labels = estimator.classes_[best]
            confidence = [None if p != p else p for p in proba[np.arange(len(best)), best].tolist()]  # NaN -> null
        else:
            labels = estimator.predict(matrix)
            confidence = [None] * len(labels)
        self.metrics.observe(matrix, labels)
        return [{"label": label, "probability": p} for label, p in zip(labels.tolist(), confidence, strict=True)]


# The response's media type is fixed; without this BentoML derives it per response from a freshly generated JSON
# schema of the return type (~10 % of the CPU per request, measured with py-spy).
ModelServer.apis["predict"].output_spec.media_type = "application/json"
ModelServer.add_asgi_middleware(ModelHeaders)
ModelServer.add_asgi_middleware(JsonOnly)
