"""The HTTP API in-process (FastAPI's TestClient): every endpoint's answer equals the in-process Tagger's,
every bad request is a 4xx with a JSON {"error": ...} that names the problem, and the server goes on serving
after bad requests, a full queue and a bug."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install \"window-ner[serve]\"")

from fastapi.testclient import TestClient  # noqa: E402

from tests.ner._trained import multiclass_model  # noqa: E402
from window_ner.cli import main  # noqa: E402
from window_ner.ner.data.conll import read_conll  # noqa: E402
from window_ner.ner.experiment import sample_corpus  # noqa: E402
from window_ner.ner.inference.tagger import Tagger  # noqa: E402
from window_ner.serve import Limits, create_app  # noqa: E402

SENTENCE = "John Smith of Google met officials in London and Germany on Monday."
OTHER = "Reuters reported that the European Union opened an office in Dublin."
BODY_LIMIT = 20_000
MAX_TEXTS = 5


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return multiclass_model().load()


@pytest.fixture(scope="module")
def client(tagger: Tagger) -> Iterator[TestClient]:
    with TestClient(create_app(tagger, Limits(max_body_bytes=BODY_LIMIT, max_texts=MAX_TEXTS))) as client:
        yield client


def same_entities(got: list[dict[str, Any]], expected: list[Any]) -> None:
    """Equal entities; the score may differ in its last rounded digit (another batch, another summation)."""
    want = [e.to_dict() for e in expected]
    assert [{k: v for k, v in e.items() if k != "score"} for e in got] == \
        [{k: v for k, v in e.items() if k != "score"} for e in want]
    assert [e["score"] for e in got] == pytest.approx([e["score"] for e in want], abs=2e-4)


def assert_serving(client: TestClient, tagger: Tagger) -> None:
    response = client.post("/tag", json={"text": SENTENCE})
    assert response.status_code == 200, response.text
    same_entities(response.json()["entities"], tagger(SENTENCE))


def assert_problem(response: Any, status: int, *words: str) -> str:
    """A JSON {"error": message} with this status, whose message holds each of ``words``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    for word in words:
        assert word.lower() in body["error"].lower(), body["error"]
    return body["error"]


def corpus_texts(count: int) -> list[str]:
    """Distinct sentences of the bundled sample corpus, tokens joined by spaces."""
    texts: list[str] = []
    for split in ("test", "dev", "train"):
        for sentence in read_conll(sample_corpus(split)):
            text = " ".join(sentence.tokens)
            if len(sentence.tokens) > 3 and text not in texts:
                texts.append(text)
            if len(texts) == count:
                return texts
    return texts


# ----------------------------------------------------------------------------- happy paths

def test_tag_text_equals_the_tagger(client: TestClient, tagger: Tagger) -> None:
    response = client.post("/tag", json={"text": SENTENCE})
    assert response.status_code == 200
    assert set(response.json()) == {"entities"}
    expected = tagger(SENTENCE)
    assert expected, "the sample model should find entities in the test sentence"
    same_entities(response.json()["entities"], expected)
    for entity in response.json()["entities"]:
        assert SENTENCE[entity["start"]:entity["end"]] == entity["text"]


def test_tag_texts_equals_the_tagger(client: TestClient, tagger: Tagger) -> None:
    texts = [SENTENCE, OTHER, "Nothing to see here."]
    response = client.post("/tag", json={"texts": texts})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(texts)
    for result, expected in zip(results, tagger.tag_texts(texts), strict=True):
        same_entities(result["entities"], expected)


def test_tag_tokens_equals_the_tagger(client: TestClient, tagger: Tagger) -> None:
    tokens = [SENTENCE[:-1].split() + ["."], ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb"]]
    response = client.post("/tag", json={"tokens": tokens})
    assert response.status_code == 200
    results = response.json()["results"]
    for result, expected in zip(results, tagger.tag_tokens(tokens), strict=True):
        same_entities(result["entities"], expected)


def test_explain_equals_the_tagger(client: TestClient, tagger: Tagger) -> None:
    response = client.post("/explain", json={"text": SENTENCE})
    assert response.status_code == 200
    expected = [e.to_dict() for e in tagger.explain(SENTENCE)]
    assert expected
    assert response.json() == {"explanations": expected}


def test_explain_chosen_spans(client: TestClient, tagger: Tagger) -> None:
    start = SENTENCE.index("Google")
    spans = [{"start": start, "end": start + len("Google"), "label": "ORG"}, {"start": 0, "end": len("John Smith")}]
    response = client.post("/explain", json={"text": SENTENCE, "spans": spans})
    assert response.status_code == 200
    expected = tagger.explain(SENTENCE, [(start, start + 6, "ORG"), (0, 10)])
    assert response.json()["explanations"] == [e.to_dict() for e in expected]
    assert response.json()["explanations"][0]["entity"]["label"] == "ORG"


def test_model_describes_the_tagger(client: TestClient, tagger: Tagger) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    model = response.json()
    assert model["tags"] == list(tagger.encoder.tags)
    assert model["labels"] == ["LOC", "MISC", "ORG", "PER"]
    assert model["window"] == tagger.model.config.window
    assert model["head"] == tagger.model.config.head
    assert model["vocabulary"] == tagger.model.config.vocab_size
    assert model["hidden"] == list(tagger.model.config.hidden)
    assert {"window_ner", "features", "head_options", "training"} <= set(model)
    assert "train" not in model["training"]


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "pending": 0}


def test_docs_are_served_from_the_package(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
    assets = ["/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"]
    for asset in assets:
        assert asset in response.text
        loaded = client.get(asset)
        assert loaded.status_code == 200 and len(loaded.content) > 1000, asset
    assert "cdn" not in response.text.lower()


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/tag", "/explain", "/health", "/model"} <= set(schema["paths"])
    assert "post" in schema["paths"]["/tag"] and "post" in schema["paths"]["/explain"]
    assert "get" in schema["paths"]["/health"] and "get" in schema["paths"]["/model"]


def test_page_and_its_script(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in page.text
        loaded = client.get(asset)
        assert loaded.status_code == 200 and loaded.text.strip(), asset
    assert "mark" in client.get("/static/app.js").text


# ----------------------------------------------------------------------------- bad requests

def post_raw(client: TestClient, path: str, body: bytes | str, **headers: str) -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json", **headers})


BAD_REQUESTS = [
    pytest.param("/tag", b'{"text": "Merkel', 422, ["not valid JSON"], id="invalid-json"),
    pytest.param("/tag", b"", 422, ["body"], id="empty-body"),
    pytest.param("/tag", b'["Angela Merkel"]', 422, ["JSON object"], id="json-array"),
    pytest.param("/tag", b'"Angela Merkel"', 422, ["JSON object"], id="json-string"),
    pytest.param("/tag", b'{"text": 5}', 422, ["text"], id="text-not-a-string"),
    pytest.param("/tag", b'{"texts": "Angela Merkel"}', 422, ["texts"], id="texts-not-a-list"),
    pytest.param("/tag", b'{"tokens": ["EU", "rejects"]}', 422, ["tokens"], id="tokens-not-nested"),
    pytest.param("/tag", b"{}", 422, ["exactly one of"], id="nothing-to-tag"),
    pytest.param("/tag", b'{"txt": "Angela Merkel"}', 422, ["unknown field", "txt"], id="unknown-field"),
    pytest.param("/tag", b'{"text": "a", "texts": ["b"]}', 422, ["exactly one", "text and texts"], id="two-inputs"),
    pytest.param("/tag", b'{"text": "a", "tokens": [["b"]]}', 422, ["exactly one", "tokens"], id="text-and-tokens"),
    pytest.param("/tag", b'{"text": ""}', 422, ["text", "empty"], id="empty-text"),
    pytest.param("/tag", b'{"text": " \\n\\t "}', 422, ["text", "empty"], id="blank-text"),
    pytest.param("/tag", b'{"texts": ["Angela Merkel", ""]}', 422, ['"texts"[1]', "empty"], id="empty-in-texts"),
    pytest.param("/tag", b'{"tokens": [["in", "New York"]]}', 422, ['"tokens"[0]', "white space"], id="token-space"),
    pytest.param("/tag", b'{"tokens": [["in", "New\\tYork"]]}', 422, ['"tokens"[0]', "white space"], id="token-tab"),
    pytest.param("/tag", b'{"tokens": [["in", "New\\u00a0York"]]}', 422, ["white space"], id="token-nbsp"),
    pytest.param("/tag", b'{"tokens": [[]]}', 422, ['"tokens"[0]', "non-empty"], id="empty-sentence"),
    pytest.param("/tag", b'{"text": "Paris \xff\xfe"}', 400, ["UTF-8"], id="not-utf8"),
    pytest.param("/explain", b"{}", 422, ["text", "required"], id="explain-missing-text"),
    pytest.param("/explain", b'{"text": "  "}', 422, ["text", "empty"], id="explain-empty-text"),
    pytest.param("/explain", b'{"text": "Paris", "spans": [{"start": 0}]}', 422, ["spans.0.end"],
                 id="span-missing-end"),
    pytest.param("/explain", b'{"text": "Paris", "spans": [{"start": -1, "end": 2}]}', 422, ["spans.0.start"],
                 id="span-negative"),
    pytest.param("/explain", b'{"text": "Paris", "spans": [{"start": 0, "end": 5, "lab": "X"}]}', 422,
                 ["unknown field", "lab"], id="span-unknown-field"),
    pytest.param("/explain", b'{"text": "Angela Merkel", "spans": [{"start": 1, "end": 6}]}', 422,
                 ["token boundaries"], id="span-inside-a-token"),
    pytest.param("/explain", b'{"text": "Angela Merkel", "spans": [{"start": 0, "end": 6, "label": "CITY"}]}', 422,
                 ["CITY", "PER"], id="unknown-label"),
]


@pytest.mark.parametrize(("path", "body", "status", "words"), BAD_REQUESTS)
def test_bad_request_is_a_json_problem(client: TestClient, tagger: Tagger, path: str, body: bytes, status: int,
                                       words: list[str]) -> None:
    assert_problem(post_raw(client, path, body), status, *words)
    assert_serving(client, tagger)


def test_a_body_sent_as_text_plain_is_refused_as_json_or_tagged(client: TestClient, tagger: Tagger) -> None:
    response = client.post("/tag", content=b'{"text": "Paris"}', headers={"content-type": "text/plain"})
    if response.status_code != 200:
        assert_problem(response, 415)
    assert_serving(client, tagger)


# Bugs found while writing these tests, each fixed since.

def test_a_wrong_content_type_is_named(client: TestClient) -> None:
    response = client.post("/tag", content=b'{"text": "Paris"}', headers={"content-type": "text/plain"})
    assert_problem(response, 415, "Content-Type: application/json")


@pytest.mark.parametrize("body", [
    b'{"tokens": [["\\ud800Paris", "in", "\\ud800London"]]}',
    b'{"text": "He went to \\ud800Paris and \\ud800London.", "spans": [{"start": 11, "end": 17}]}'],
    ids=["tag-tokens", "explain"])
def test_a_lone_surrogate_is_a_4xx(body: bytes) -> None:
    with TestClient(create_app(multiclass_model().load()), raise_server_exceptions=False) as client:
        path = "/explain" if b"spans" in body else "/tag"
        response = post_raw(client, path, body)
        assert_problem(response, 422, "lone surrogate")


@pytest.mark.parametrize("span", [{"start": 50, "end": 60}, {"start": 13, "end": 14},
                                  {"start": 50, "end": 60, "label": "CITY"}])
def test_a_span_beyond_the_text_is_refused(client: TestClient, span: dict[str, Any]) -> None:
    response = client.post("/explain", json={"text": "Angela Merkel", "spans": [span]})
    assert_problem(response, 422, "not inside one sentence")


def test_body_over_the_limit_with_content_length(client: TestClient, tagger: Tagger) -> None:
    body = ('{"text": "' + "Paris " * (BODY_LIMIT // 6 + 1) + '"}').encode()
    response = post_raw(client, "/tag", body)
    assert_problem(response, 413, f"{BODY_LIMIT:,} bytes")
    assert_serving(client, tagger)


def test_body_over_the_limit_streamed_without_content_length(client: TestClient, tagger: Tagger) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(BODY_LIMIT // 1000 + 5):
            sent.append(1)
            yield b"Paris " * 166 + b"Rome"
        yield b'"}'

    response = client.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_problem(response, 413, f"{BODY_LIMIT:,} bytes")
    assert_serving(client, tagger)


def test_body_under_the_limit_streamed_is_tagged(client: TestClient, tagger: Tagger) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        yield SENTENCE.encode()
        yield b'"}'

    response = client.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 200
    same_entities(response.json()["entities"], tagger(SENTENCE))


@pytest.mark.parametrize("field", ["texts", "tokens"])
def test_more_items_than_max_texts(client: TestClient, tagger: Tagger, field: str) -> None:
    items = ["Paris"] * (MAX_TEXTS + 1) if field == "texts" else [["Paris"]] * (MAX_TEXTS + 1)
    assert_problem(client.post("/tag", json={field: items}), 413, f"{MAX_TEXTS + 1}", f"at most {MAX_TEXTS}")
    assert client.post("/tag", json={field: items[:MAX_TEXTS]}).status_code == 200
    assert_serving(client, tagger)


def test_unknown_endpoint_is_404(client: TestClient, tagger: Tagger) -> None:
    assert_problem(client.get("/tags"), 404, "no such endpoint", "/docs")
    assert_problem(client.post("/tagg", json={"text": "Paris"}), 404, "no such endpoint")
    assert_serving(client, tagger)


def test_wrong_method_is_405(client: TestClient, tagger: Tagger) -> None:
    response = client.get("/tag")
    assert_problem(response, 405, "method not allowed")
    assert "POST" in response.headers.get("allow", "")
    assert_problem(client.post("/health"), 405, "method not allowed")
    assert_problem(client.delete("/explain"), 405, "method not allowed")
    assert_serving(client, tagger)


# ----------------------------------------------------------------------------- load and failures

def slow(tagger: Tagger, method: str, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``tagger.<method>`` take at least ``seconds``, so that concurrent requests pile up."""
    original = getattr(tagger, method)

    def slowed(*args: Any) -> Any:
        time.sleep(seconds)
        return original(*args)

    monkeypatch.setattr(tagger, method, slowed)


def in_threads(count: int, work: Any) -> list[Any]:
    """``work(i)`` for i in range(count), each in its own thread, started together; results in order."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - reported by the test as a result
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_full_queue_gets_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    tagger = multiclass_model().load()
    slow(tagger, "tag_texts", 0.05, monkeypatch)
    slow(tagger, "explain", 0.05, monkeypatch)
    with TestClient(create_app(tagger, Limits(max_pending=1))) as client:
        def request(i: int) -> Any:
            if i % 3 == 2:
                return client.post("/explain", json={"text": SENTENCE})
            return client.post("/tag", json={"text": f"{SENTENCE} {i}"})

        responses = in_threads(24, request)
        assert not [r for r in responses if isinstance(r, Exception)]
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {200, 503}, statuses
        assert 200 in statuses and 503 in statuses, statuses
        for response in responses:
            if response.status_code == 503:
                assert response.headers["retry-after"].isdigit()
                assert_problem(response, 503, "busy", "retry")
        assert client.get("/health").json()["pending"] == 0
        assert_serving(client, tagger)


def test_concurrent_requests_get_their_own_entities(client: TestClient, tagger: Tagger) -> None:
    texts = corpus_texts(20)
    assert len(texts) == 20
    expected = [tagger(text) for text in texts]
    assert sum(map(len, expected)) > 10

    def request(i: int) -> Any:
        return client.post("/tag", json={"text": texts[i]})

    for _ in range(2):
        responses = in_threads(20, request)
        for response, want in zip(responses, expected, strict=True):
            assert not isinstance(response, Exception), response
            assert response.status_code == 200, response.text
            same_entities(response.json()["entities"], want)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("tag_texts", "/tag", {"text": SENTENCE}),  # raised on the batcher's thread, handed to the request
    ("tag_tokens", "/tag", {"tokens": [["EU", "rejects", "German", "call"]]}),
    ("explain", "/explain", {"text": SENTENCE})])
def test_a_bug_is_a_500_without_traceback_and_is_logged(monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture, method: str, path: str,
                                                          body: dict[str, Any]) -> None:
    tagger = multiclass_model().load()
    with TestClient(create_app(tagger), raise_server_exceptions=False) as client:
        def broken(*args: Any) -> Any:
            raise RuntimeError("secret internal detail 1234")

        monkeypatch.setattr(tagger, method, broken)
        with caplog.at_level(logging.ERROR, logger="window_ner.serve"):
            response = client.post(path, json=body)
        message = assert_problem(response, 500, "internal error")
        assert "Traceback" not in response.text and "secret" not in response.text and "File " not in message
        logged = [r for r in caplog.records if r.name == "window_ner.serve" and r.exc_info]
        assert logged, caplog.text
        assert "RuntimeError: secret internal detail 1234" in caplog.text
        assert "Traceback" in caplog.text and path in caplog.text
        assert client.get("/health").json() == {"status": "ok", "pending": 0}
        monkeypatch.undo()
        assert_serving(client, tagger)
        assert client.post(path, json=body).status_code == 200


# ----------------------------------------------------------------------------- the command

def test_serve_without_fastapi_names_the_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    for name in [name for name in sys.modules if name == "window_ner.serve" or name.startswith("window_ner.serve.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # "import fastapi" now raises ImportError
    code = main(["serve", "--model", str(multiclass_model().folder), "--port", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert 'pip install "window-ner[serve]"' in err


def test_serve_on_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(["serve", "--model", str(multiclass_model().folder), "--host", "127.0.0.1", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"127.0.0.1:{port} is in use" in err and "--port" in err
