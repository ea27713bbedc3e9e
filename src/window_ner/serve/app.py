"""The HTTP API and the web page: ``create_app(model)`` gives an ASGI app (FastAPI) that uvicorn serves.

Endpoints: ``POST /tag`` (a text, a list of texts, or pre-tokenised sentences), ``POST /explain`` (why each
entity, or a chosen span, got its label), ``GET /health``, ``GET /model``, OpenAPI docs at ``/docs`` (served
from the package, no CDN), and the page at ``/``.

Every error a client can cause is a 4xx with a JSON body ``{"error": "..."}`` saying what was wrong; the
server goes on serving. A request body over ``Limits.max_body_bytes`` is refused before it is read in full
(413); more than ``Limits.max_pending`` requests waiting gets 503 with ``Retry-After``. A bug is a 500 whose
traceback goes to the server's log, never to the client.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from window_ner import __version__
from window_ner.errors import InputError
from window_ner.ner.inference.tagger import Tagger, model_path
from window_ner.serve.batcher import Batcher, Busy

try:
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError('window_ner.serve needs the serve extra: pip install "window-ner[serve]"') from error

__all__ = ["Limits", "create_app", "app_from_environment", "log_to_stderr"]

log = logging.getLogger("window_ner.serve")
STATIC = resources.files("window_ner.serve") / "static"
ENV_MODEL, ENV_LIMITS = "WINDOW_NER_MODEL", "WINDOW_NER_LIMITS"  # for uvicorn's worker processes


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how many may wait."""

    max_body_bytes: int = 1_000_000
    max_texts: int = 1_000
    max_pending: int = 64  # requests queued for the model; one more gets 503

    def to_env(self) -> str:
        return f"{self.max_body_bytes},{self.max_texts},{self.max_pending}"

    @classmethod
    def from_env(cls, text: str) -> Limits:
        body, texts, pending = (int(part) for part in text.split(","))
        return cls(body, texts, pending)


# ----------------------------------------------------------------------------- request and response bodies

class TagRequest(BaseModel):
    """One of: ``text``, ``texts`` or ``tokens`` (sentences as token lists; offsets are then token indices)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Angela Merkel flew from Berlin to Paris."},
        {"texts": ["Angela Merkel flew to Paris.", "Apple opened an office in Dublin."]},
        {"tokens": [["EU", "rejects", "German", "call"]]}]})

    text: str | None = Field(None, description="one text (a document: several sentences are fine)")
    texts: list[str] | None = Field(None, description="several texts, tagged in one batch")
    tokens: list[list[str]] | None = Field(None, description="pre-tokenised sentences")


class EntityOut(BaseModel):
    text: str
    label: str
    start: int = Field(description="offset of the first character (of the first token, for tokens)")
    end: int = Field(description="offset just after the last character (token, for tokens)")
    score: float = Field(description="the model's probability of the span")


class Tagged(BaseModel):
    entities: list[EntityOut]


class TagResponse(BaseModel):
    entities: list[EntityOut] | None = Field(None, description="for a text")
    results: list[Tagged] | None = Field(None, description="for texts or tokens: one per item, in order")


class SpanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    label: str | None = Field(None, description="the label to explain; without it, the span's most probable")


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Angela Merkel flew from Berlin to Paris."},
        {"text": "Angela Merkel flew from Berlin to Paris.", "spans": [{"start": 24, "end": 30, "label": "PER"}]}]})

    text: str = Field(description="the text whose entities (or chosen spans) to explain")
    spans: list[SpanIn] | None = Field(None, description="explain these character spans instead of the entities")


class ExplainResponse(BaseModel):
    explanations: list[dict[str, Any]] = Field(description="per entity: its tags, log p(span) and, per window "
                                               "word, the gradient's norm, gradient . input and occlusion")


class Problem(BaseModel):
    error: str


# ----------------------------------------------------------------------------- the app

_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def _check_text(text: str, where: str) -> None:
    if not text.strip():
        raise BadRequest(f"{where} is empty: give some text to tag")
    _check_characters(text, where)


def _check_characters(text: str, where: str) -> None:
    """Refuse a lone surrogate (valid in JSON as \\ud800, but no character: it cannot be written back)."""
    surrogate = _SURROGATE.search(text)
    if surrogate:
        raise BadRequest(f"{where} holds a lone surrogate \\u{ord(surrogate[0]):04x} at character "
                         f"{surrogate.start()}, which is no character: send valid Unicode")


def create_app(model: str | Path | Tagger, limits: Limits | None = None) -> FastAPI:
    """The app serving ``model`` (a model folder or file, or a loaded Tagger)."""
    limits = limits or Limits()
    tagger = model if isinstance(model, Tagger) else Tagger.load(model)
    batcher = Batcher(tagger, limits.max_pending)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="window-ner", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Named entities with a window classifier trained by its own backpropagation "
                  "engine, and why each entity got its label.")
    app.state.batcher, app.state.tagger, app.state.limits = batcher, tagger, limits
    app.add_middleware(_BodyLimit, limit=limits.max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(_Bugs)  # type: ignore[arg-type]
    _handlers(app)
    errors: dict[int | str, dict[str, Any]] = {422: {"model": Problem, "description": "a bad request"},
                                               413: {"model": Problem}, 503: {"model": Problem}}

    @app.post("/tag", response_model=TagResponse, response_model_exclude_none=True, responses=errors)
    async def tag(request: TagRequest) -> dict[str, Any]:
        """The entities of a text, of each of a list of texts, or of each pre-tokenised sentence."""
        given = [name for name in ("text", "texts", "tokens") if getattr(request, name) is not None]
        if len(given) != 1:
            raise BadRequest("give exactly one of \"text\", \"texts\" or \"tokens\"" +
                             (f", not {' and '.join(given)}" if given else ""))
        if request.text is not None:
            _check_text(request.text, "\"text\"")
            (entities,) = await batcher.tag([request.text])
            return {"entities": [e.to_dict() for e in entities]}
        items = request.texts if request.texts is not None else request.tokens
        assert items is not None
        if len(items) > limits.max_texts:
            raise BadRequest(f"{len(items):,} items; at most {limits.max_texts:,} per request", 413)
        if request.texts is not None:
            for i, text in enumerate(request.texts):
                _check_text(text, f"\"texts\"[{i}]")
            results = await batcher.tag(request.texts)
        else:
            for i, sentence in enumerate(request.tokens or []):
                if not sentence or any(not token or any(c.isspace() for c in token) for token in sentence):
                    raise BadRequest(f"\"tokens\"[{i}] must be a non-empty list of tokens without white space")
                for token in sentence:
                    _check_characters(token, f"\"tokens\"[{i}]")
            results = await batcher.call(tagger.tag_tokens, request.tokens)
        return {"results": [{"entities": [e.to_dict() for e in entities]} for entities in results]}

    @app.post("/explain", response_model=ExplainResponse, responses=errors)
    async def explain(request: ExplainRequest) -> dict[str, Any]:
        """Why each entity of the text (or each chosen span) got its label, word by word of its windows."""
        _check_text(request.text, "\"text\"")
        for span in request.spans or []:
            if span.label is not None:
                _check_characters(span.label, "a span's \"label\"")
        spans = None if request.spans is None else [
            (s.start, s.end) if s.label is None else (s.start, s.end, s.label) for s in request.spans]
        explanations = await batcher.call(tagger.explain, request.text, spans)
        return {"explanations": [e.to_dict() for e in explanations]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Whether the server is up, and how many requests wait for the model."""
        return {"status": "ok", "pending": batcher.pending}

    @app.get("/model")
    async def model_info() -> dict[str, Any]:
        """What the model is: version, tags, head, features, and its training figures."""
        config = tagger.model.config
        return {"window_ner": __version__, "head": config.head, "head_options": config.to_dict()["head_options"],
                "labels": sorted({t.split("-", 1)[-1] for t in tagger.encoder.tags} - {"O"}),
                "tags": tagger.encoder.tags, "window": config.window, "features": list(config.features),
                "vocabulary": config.vocab_size, "hidden": list(config.hidden),
                "training": {key: value for key, value in tagger.info.items() if key != "train"}}

    _pages(app)
    return app


def _pages(app: FastAPI) -> None:
    import swagger_ui_bundle

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="window-ner API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


def _problem(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        kind = request.headers.get("content-type", "")
        if request.method == "POST" and "json" not in kind.lower():
            return _problem(415, f"the body must be JSON, sent with the header Content-Type: application/json "
                            f"(this request's is {kind or 'missing'}; with curl: -H 'content-type: application/json')")
        return _problem(422, "; ".join(_describe(e) for e in error.errors()[:5]))

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail)
        if isinstance(error.__cause__, UnicodeDecodeError):
            message = f"the body is not valid UTF-8 ({error.__cause__.reason} at byte {error.__cause__.start})"
        elif error.status_code == 404:
            message = "no such endpoint: see /docs for the API"
        return _problem(error.status_code, message, dict(error.headers or {}))

    @app.exception_handler(BadRequest)
    async def bad(_: Request, error: BadRequest) -> JSONResponse:
        return _problem(error.status, str(error))

    @app.exception_handler(InputError)
    async def bad_input(_: Request, error: InputError) -> JSONResponse:
        return _problem(422, str(error))

    @app.exception_handler(Busy)
    async def busy(_: Request, error: Busy) -> JSONResponse:
        return _problem(503, f"the server is busy ({error}): retry in a second", {"Retry-After": "1"})



def _describe(error: dict[str, Any]) -> str:
    """One validation error in a line: where in the body, and what was wrong."""
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    kind, message = error.get("type", ""), error.get("msg", "invalid")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON ({reason})" if reason else "the body is not valid JSON"
    if kind == "missing" and not where:
        return "the body is missing: send a JSON object"
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind == "model_attributes_type" or (kind.endswith("_type") and not where):
        return "the body must be a JSON object"
    return f"{where or 'body'}: {message}"


class _Bugs:
    """A bug (an exception no handler answers) becomes a 500 with a JSON body and its traceback in the log.

    Answered here, inside Starlette's error middleware, which would also answer but then re-raise to the
    server, so that uvicorn logged the traceback a second time and dropped the connection."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        started = False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if scope["type"] != "http":
                raise
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # the answer is half sent: all that is left is to close the connection
                return
            await _problem(500, "internal error: the server logged it; please report it with the server's "
                           "log")(scope, receive, send)


class _BodyLimit:
    """Refuse (413) a body over ``limit`` bytes: at once when Content-Length says so, else as it streams."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _problem(413, f"the body is over {self.limit:,} bytes: send less per request (the server's "
                           "--max-body-bytes)")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await too_big(scope, receive, send)
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # FastAPI passes an HTTPException raised while the body is read through
                raise HTTPException(413, f"the body is over {self.limit:,} bytes: send less per request (the "
                                    "server's --max-body-bytes)")
            return message

        await self.app(scope, counted, send)


def log_to_stderr() -> None:
    """Write this module's log (the tracebacks of 500s) to stderr with time and level, beside uvicorn's."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def app_from_environment() -> FastAPI:
    """The app for the model named by $WINDOW_NER_MODEL: what each of uvicorn's worker processes builds."""
    log_to_stderr()
    return create_app(model_path(os.environ[ENV_MODEL]),
                      Limits.from_env(os.environ[ENV_LIMITS]) if ENV_LIMITS in os.environ else None)
