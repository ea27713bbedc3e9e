"""An HTTP service for a trained tagger: the API and a web page (needs ``pip install "window-ner[serve]"``).

``window-ner serve --model DIR`` runs it on uvicorn; ``create_app(model)`` gives the ASGI app itself.
"""

from window_ner.serve.app import Limits, app_from_environment, create_app

__all__ = ["Limits", "create_app", "app_from_environment"]
