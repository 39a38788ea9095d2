"""The OpenAI-compatible backend against a small chat server on 127.0.0.1, and the `enhance`
command line with both backends."""

import json

import pytest
from chat_server import ANSWER, chat_server

from wan.cli import main
from wan.config import EnhancementOptions
from wan.prompts import PromptEnhancementEngine
from wan.prompts.backends import EnhancerError, OpenAIBackend, Sampling

SAMPLING = Sampling(max_new_tokens=64, temperature=0.5, seed=3)


@pytest.fixture
def server():
    with chat_server() as chat:
        yield chat


def conversation(text):
    return [{"role": "system", "content": "Rewrite."}, {"role": "user", "content": text}]


def test_answers_come_back_in_order_with_the_request_fields(server):
    server.reply = lambda body: {
        "choices": [{"message": {"content": f"answer to {body['messages'][1]['content']}"}}]
    }
    backend = OpenAIBackend(server.url, "qwen2.5:7b", api_key="k")
    answers = backend.generate([conversation(f"prompt {i}") for i in range(6)], SAMPLING)
    assert answers == [f"answer to prompt {i}" for i in range(6)]
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer k"
    assert (body["model"], body["max_tokens"], body["temperature"], body["seed"]) == (
        "qwen2.5:7b",
        64,
        0.5,
        3,
    )


def test_a_full_endpoint_url_is_used_as_it_is(server):
    backend = OpenAIBackend(server.url + "/chat/completions", "m")
    assert backend.generate([conversation("x")], SAMPLING) == [ANSWER]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: setattr(s, "key", "right"), "HTTP 401 (is the API key right?)"),
        (
            lambda s: setattr(s, "reply", lambda body: {"unexpected": True}),
            "did not answer with an OpenAI chat",
        ),
        (
            lambda s: setattr(s, "reply", lambda body: {"choices": [{"message": {"content": None}}]}),
            "without text",
        ),
        (lambda s: setattr(s, "delay", 2.0), "did not answer within 0.5 s"),
    ],
)
def test_server_errors_are_clear(server, setup, message):
    setup(server)
    answer = OpenAIBackend(server.url, "m", api_key="wrong", timeout=0.5).generate(
        [conversation("x")], SAMPLING
    )[0]
    assert isinstance(answer, EnhancerError)
    assert message in str(answer)


def test_a_wrong_path_says_check_the_url(server):
    answer = OpenAIBackend(server.url.replace("/v1", "/api"), "m").generate([conversation("x")], SAMPLING)[0]
    assert "HTTP 404 (is the URL right?)" in str(answer)


def test_a_server_that_is_not_running(server):
    url = server.url
    server.shutdown()
    server.server_close()
    answer = OpenAIBackend(url, "m", timeout=2).generate([conversation("x")], SAMPLING)[0]
    assert "could not reach" in str(answer) and "is the server running?" in str(answer)


def test_a_url_must_be_http():
    with pytest.raises(EnhancerError, match="must start with http"):
        OpenAIBackend("ftp://x", "m")


def test_the_engine_over_the_server(server, tmp_path):
    settings = EnhancementOptions(backend="openai", api_url=server.url, model="m", language="en")
    enhancer = PromptEnhancementEngine(settings, cache=tmp_path)
    result = enhancer.enhance_prompt_with_context(
        "a misty forest", "camera movement with moderate dolly forward (sustained)"
    )
    assert result.source == "model"
    assert result.prompt == ANSWER  # "moves forward" already says the dolly
    assert enhancer.backend.identity == f"openai:m@{server.url}"


SETTINGS = {
    "prompts": {"0": "a misty forest", "16": "a castle at dawn"},
    "max_frames": 32,
    "fps": 16,
    "animation_mode": "3D",
    "translation_z": "0:(2)",
}


@pytest.fixture
def settings_file(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(SETTINGS))
    return path


def test_enhance_command_prints_before_and_after(server, settings_file, capsys):
    code = main(
        ["enhance", str(settings_file), "--backend", "openai", "--api-url", server.url, "--model", "m"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "before: a misty forest, camera movement with" in out
    assert f"after:  {ANSWER}" in out
    assert "enhanced by openai:m@" in out


def test_enhance_command_json(server, settings_file, capsys):
    argv = [
        "enhance",
        str(settings_file),
        "--backend",
        "openai",
        "--api-url",
        server.url,
        "--model",
        "m",
        "--json",
    ]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["clip"] for row in rows] == [0, 1]
    assert rows[0]["original"] == "a misty forest" and rows[0]["prompt"] == ANSWER


def test_enhance_command_with_the_tiny_model(tiny_qwen_models, settings_file, capsys):
    argv = ["enhance", str(settings_file), "--model", "tiny-qwen", "--models-dir", str(tiny_qwen_models)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "clip 0 (frames 0-15) [kept]" in out
    assert "note:   kept the original:" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "openai"], "enhance_api_url: the openai backend needs the chat server's URL"),
        (["--backend", "openai", "--api-url", "http://127.0.0.1:9/v1"], "could not reach"),
        (["--model", "qwen2.5-7b", "--models-dir", "MODELS"], "hf download Qwen/Qwen2.5-7B-Instruct"),
        (["--language", "fr"], "enhance_language"),
        (["--strength", "2"], "enhance_strength"),
    ],
)
def test_enhance_command_errors(settings_file, tmp_path, capsys, extra, message):
    extra = [str(tmp_path) if e == "MODELS" else e for e in extra]
    assert main(["enhance", str(settings_file), *extra]) == 2
    assert message in capsys.readouterr().err


def test_generate_enhances_then_frees_the_enhancer_before_the_video_model(
    server, tiny_qwen_models, tmp_path, monkeypatch, capsys
):
    pytest.importorskip("diffusers")
    import wan.render.engine as render_engine
    from wan.prompts.backends import QwenBackend

    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({**SETTINGS, "W": 64, "H": 64, "steps": 1, "clip_frames": 17, "seed": 1}))
    models = ["--models-dir", str(tmp_path / "models")]
    run_dir = tmp_path / "run"
    openai = [
        "--set",
        "enhance_enabled=true",
        "--set",
        "enhance_backend=openai",
        "--set",
        f"enhance_api_url={server.url}",
    ]
    assert main(["generate", str(settings), "--model", "tiny", "--out", str(run_dir), *models, *openai]) == 0
    assert f"after:  {ANSWER}" in capsys.readouterr().err
    plan = json.loads((run_dir / "takes" / "001" / "plan.json").read_text())
    assert {clip["prompt"] for clip in plan["clips"]} == {ANSWER}
    asked = len(server.requests)
    # resuming uses the prompts of the run: the enhancer is not asked again
    assert (
        main(["generate", str(settings), "--model", "tiny", "--resume", str(run_dir), *models, *openai]) == 0
    )
    assert len(server.requests) == asked

    events = []
    monkeypatch.setattr(
        QwenBackend,
        "unload",
        lambda self, original=QwenBackend.unload: events.append("unload") or original(self),
    )
    load = render_engine.load_pipeline
    monkeypatch.setattr(
        render_engine, "load_pipeline", lambda *a, **k: events.append("load video model") or load(*a, **k)
    )
    qwen = ["--set", "enhance_enabled=true", "--set", "enhance_model=tiny-qwen"]
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "tiny-qwen").symlink_to(tiny_qwen_models / "tiny-qwen")
    assert (
        main(["generate", str(settings), "--model", "tiny", "--out", str(tmp_path / "run2"), *models, *qwen])
        == 0
    )
    assert events[:2] == ["unload", "load video model"]
