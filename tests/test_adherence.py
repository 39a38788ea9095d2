"""Prompt adherence and aesthetics with a tiny random CLIP (saved with save_pretrained, no
network): scores against an independent computation with the CLIP model itself, long prompts in
75-token chunks (here 22: the tiny model reads 24 tokens), safe head loading, and the scores in
a render's metadata and metrics.json."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tiny_quality import CLIP_EMBEDDING, build_tiny_clip, write_aesthetic_head

from wan.config import FileAccess, file_access
from wan.post.quality.adherence import AdherenceError, AdherenceScorer, sample_indices

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def frames(count: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 40, 48, 3), dtype=np.uint8)


def reference_score(folder, prompt: str, images: np.ndarray) -> float:
    """100 x cosine with the CLIP model's own forward pass (a short prompt: one chunk)."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(folder).eval()
    text = AutoTokenizer.from_pretrained(folder)(prompt, return_tensors="pt")
    pixels = AutoImageProcessor.from_pretrained(folder)(images=list(images), return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=text["input_ids"], pixel_values=pixels["pixel_values"])
    cosine = out.logits_per_image[:, 0] / model.logit_scale.exp().detach()
    return float((cosine * 100).clamp(min=0).mean())


def test_sample_indices_spread_over_the_clip():
    assert sample_indices(9, 3) == [0, 4, 8]
    assert sample_indices(4, 8) == [0, 1, 2, 3]
    assert sample_indices(9, 1) == [4]
    assert sample_indices(0, 3) == []


def test_score_matches_the_clip_models_own_similarity(clip_folder):
    images = frames()
    with AdherenceScorer(str(clip_folder), frames_per_clip=3) as scorer:
        found = scorer.score("a misty forest", images)
    chosen = images[[0, 4, 8]]
    assert found.frames == 3 and found.chunks == 1
    assert 0.0 <= found.clip_score <= 100.0
    assert found.clip_score == pytest.approx(reference_score(clip_folder, "a misty forest", chosen), abs=1e-4)
    assert found.aesthetic is None


def test_long_prompts_are_scored_in_chunks_nothing_cut_off(clip_folder):
    prompt = "a castle at dawn, " * 6
    with AdherenceScorer(str(clip_folder)) as scorer:
        whole = scorer.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        chunks = scorer.prompt_chunks(prompt)
        assert len(whole) > scorer.max_tokens
        assert len(chunks) == math.ceil(len(whole) / (scorer.max_tokens - 2))
        assert all(len(chunk) <= scorer.max_tokens for chunk in chunks)
        assert [token for chunk in chunks for token in chunk[1:-1]] == whole
        images = frames(4)
        found = scorer.score(prompt, images)
        per_chunk = (scorer.text_embeddings(prompt) @ scorer.image_embeddings(images).T).clamp(min=0) * 100
    assert found.chunks == len(chunks)
    assert found.clip_score == pytest.approx(float(per_chunk.mean(dim=1).mean()), abs=1e-4)


@pytest.mark.parametrize("mlp", [False, True])
def test_aesthetic_head_applies_to_normalised_image_embeddings(clip_folder, tmp_path, mlp):
    head_file = write_aesthetic_head(tmp_path / "head.pth", mlp=mlp)
    images = frames(3)
    with AdherenceScorer(str(clip_folder), aesthetic_head_file=str(head_file)) as scorer:
        found = scorer.score("a lake", images)
        embeddings = scorer.image_embeddings(images)
    state = torch.load(head_file, weights_only=True)
    value = embeddings
    for key in sorted(k for k in state if k.endswith("weight")):
        value = value @ state[key].T + state[key[:-6] + "bias"]
    assert found.aesthetic == pytest.approx(float(value.mean()), abs=1e-5)


def test_a_head_for_another_embedding_size_is_refused(clip_folder, tmp_path):
    head_file = write_aesthetic_head(tmp_path / "head.pth", inputs=CLIP_EMBEDDING + 4)
    with pytest.raises(AdherenceError, match=r"quality_aesthetic_head: .* 20 values.* gives 16"):
        AdherenceScorer(str(clip_folder), aesthetic_head_file=str(head_file))


class Payload:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_a_head_that_is_a_pickle_with_code_is_refused(clip_folder, tmp_path, capsys):
    head_file = tmp_path / "evil.pth"
    torch.save({"weight": Payload()}, head_file)
    with pytest.raises(AdherenceError, match=r"quality_aesthetic_head: .* cannot be read as a state dict"):
        AdherenceScorer(str(clip_folder), aesthetic_head_file=str(head_file))
    assert "code ran" not in capsys.readouterr().out


def test_a_missing_clip_model_names_the_setting_and_the_download(tmp_path):
    with pytest.raises(AdherenceError, match=r"(?s)quality_clip_model: .*someone/missing-clip.*hf download"):
        AdherenceScorer("someone/missing-clip", models_dir=tmp_path)


def test_clip_model_setting_takes_hub_ids_and_clip_folders_only(clip_folder, tmp_path, errors_of):
    from wan.config import config_from_dict

    assert config_from_dict({"quality_clip_model": "openai/clip-vit-base-patch32"})[0].quality.clip_model
    assert config_from_dict({"quality_clip_model": str(clip_folder)})[0].quality.clip_model == str(
        clip_folder
    )
    (tmp_path / "empty").mkdir()
    assert "config.json" in errors_of({"quality_clip_model": str(tmp_path / "empty")})["quality_clip_model"]
    with file_access(FileAccess.restricted(models=[tmp_path])):
        message = errors_of({"quality_clip_model": str(clip_folder)})["quality_clip_model"]
    assert message.startswith("not allowed")
    with file_access(FileAccess.restricted(models=[tmp_path])):
        message = errors_of({"quality_clip_model": "someone/anything"})["quality_clip_model"]
        assert message.startswith("not allowed: this server takes one of openai/clip-vit-large-patch14")
        assert config_from_dict({"quality_clip_model": "openai/clip-vit-base-patch32"})[0]
    gate = errors_of({"quality_gate_enabled": True, "quality_gate_min_clip_score": 20})
    assert "quality_adherence" in gate["quality_gate_min_clip_score"]
