"""``window-ner serve``: the HTTP API and the web page, on uvicorn."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path
from typing import Any

from window_ner.cli._common import COUNT, Formatter
from window_ner.errors import InputError
from window_ner.ner.inference.tagger import model_path

HELP = "serve a model over HTTP: a JSON API and a web page that highlights and explains entities"


def add_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help=HELP, formatter_class=Formatter,
        description="Serve a trained model: POST /tag (a text, a list of texts or token lists), POST /explain "
        "(why each entity got its label), GET /health, GET /model, the API's docs at /docs, and at / a page "
        "where you type text, see its entities and click one to see why. Each worker process loads the model "
        "once; concurrent requests are tagged together in batches. Bad requests get a 4xx with a JSON "
        "{\"error\": ...}; a full queue gets 503 with Retry-After. Needs pip install \"window-ner[serve]\".",
        epilog="examples:\n  window-ner serve --model runs/glove            # then open http://127.0.0.1:8000\n"
        "  curl -s localhost:8000/tag -H 'content-type: application/json' -d '{\"text\": \"Merkel met Chirac.\"}'\n"
        "  window-ner serve --model runs/glove --host 0.0.0.0 --port 8080 --workers 2",
    )
    serve.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (0.0.0.0: every interface; the default serves this machine only)")
    serve.add_argument("--port", type=COUNT, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=COUNT, default=1, help="worker processes, each with the model loaded")
    serve.add_argument("--max-body-bytes", type=COUNT, default=1_000_000, help="largest request body (else 413)")
    serve.add_argument("--max-texts", type=COUNT, default=1_000, help="most texts or sentences per request")
    serve.add_argument("--max-pending", type=COUNT, default=64,
                       help="requests that may wait for the model in each worker; one more gets 503")
    serve.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"), default="info",
                       help="what uvicorn logs (requests at info)")
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from window_ner.serve.app import ENV_LIMITS, ENV_MODEL, Limits, app_from_environment, create_app, log_to_stderr
    except ImportError:
        raise InputError('serve needs the serve extra: pip install "window-ner[serve]"') from None
    from window_ner.ner.inference.tagger import Tagger

    target = model_path(args.model)
    limits = Limits(args.max_body_bytes, args.max_texts, args.max_pending)
    tagger = Tagger.load(target)  # a bad model file is one line here, before any worker starts
    _check_port(args.host, args.port)
    print(f"window-ner: serving {target} on http://{args.host}:{args.port} (the page at /, the API's docs at "
          "/docs); Ctrl-C stops", file=sys.stderr)
    if args.workers == 1:
        log_to_stderr()
        uvicorn.run(create_app(tagger, limits), host=args.host, port=args.port, log_level=args.log_level)
        return 0
    del tagger
    os.environ[ENV_MODEL], os.environ[ENV_LIMITS] = str(target.resolve()), limits.to_env()
    uvicorn.run(f"{app_from_environment.__module__}:{app_from_environment.__name__}", factory=True,
                host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


def _check_port(host: str, port: int) -> None:
    """Refuse in one line an address that cannot be listened on (uvicorn would log and exit 1)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        what = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be listened on ({error.strerror})"
        raise InputError(f"{host}:{port} {what}: choose another --port or --host") from None
