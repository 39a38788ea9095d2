"""The neural interpolator (RIFE's IFNet, written here) on random weights: shapes, dtypes, devices,
batching, any t; weights files that load, and ones that do not fit."""

from __future__ import annotations

import numpy as np
import pytest

from wan.config import InterpolationOptions
from wan.post.interpolation import NeuralWeightsError, build_interpolator, find_weights
from wan.post.interpolation.neural import WEIGHTS_ENV, NeuralInterpolator, load_ifnet

torch = pytest.importorskip("torch")
from wan.post.interpolation.ifnet import IFNet, backward_warp  # noqa: E402  (needs torch)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return IFNet().eval()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, network):
    path = tmp_path_factory.mktemp("weights") / "flownet.pth"
    torch.save({f"module.{k}": v for k, v in network.state_dict().items()}, path)  # as RIFE saves it
    return path


def frames(count=2, height=48, width=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_ifnet_shapes_dtypes_and_batches(network, device, dtype):
    model = IFNet().to(device=device, dtype=dtype).eval()
    model.load_state_dict(network.state_dict())
    first = torch.rand(3, 3, 64, 96, device=device, dtype=dtype)
    second = torch.rand(3, 3, 64, 96, device=device, dtype=dtype)
    t = torch.tensor([0.1, 0.5, 0.9], device=device)
    with torch.inference_mode():
        out = model(first, second, t)
        single = model(first[1:2], second[1:2], t[1:2])
    assert out.shape == (3, 3, 64, 96) and out.dtype == dtype and out.device.type == device
    assert torch.isfinite(out.float()).all()
    tolerance = 1e-5 if dtype == torch.float32 else 3e-2
    torch.testing.assert_close(out[1:2].float(), single.float(), atol=tolerance, rtol=0)
    assert not torch.allclose(out[0], out[2])  # conditioned on t


def test_backward_warp_moves_by_whole_pixels():
    image = torch.arange(2 * 1 * 4 * 6, dtype=torch.float32).view(2, 1, 4, 6)
    flow = torch.zeros(2, 2, 4, 6)
    torch.testing.assert_close(backward_warp(image, flow), image)
    flow[:, 0] = 1.0  # sample one pixel to the right
    torch.testing.assert_close(backward_warp(image, flow)[..., :-1], image[..., 1:])


@pytest.mark.parametrize("quality", ["fast", "balanced", "high_quality"])
def test_interpolator_pads_crops_and_batches(network, quality):
    first, second = frames(height=50, width=70)  # not multiples of 32 or 64
    times = [0.2, 0.4, 0.6, 0.8, 0.5]
    batched = NeuralInterpolator(network, quality, batch_size=2).interpolate(first, second, times)
    assert len(batched) == 5 and all(f.shape == (50, 70, 3) and f.dtype == np.uint8 for f in batched)
    one_by_one = NeuralInterpolator(network, quality, batch_size=1)
    for t, frame in zip(times, batched, strict=True):
        assert np.abs(one_by_one.interpolate(first, second, [t])[0].astype(int) - frame).max() <= 1


def test_a_saved_state_dict_round_trips(network, weights_file, tmp_path):
    from safetensors.torch import save_file

    first, second = frames()
    expected = NeuralInterpolator(network).interpolate(first, second, [0.3])[0]
    loaded = load_ifnet(weights_file)
    assert not loaded.training
    np.testing.assert_array_equal(NeuralInterpolator(loaded).interpolate(first, second, [0.3])[0], expected)
    safetensors = tmp_path / "rife.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(safetensors))
    from_safetensors = NeuralInterpolator.from_file(safetensors, device="cpu")
    np.testing.assert_array_equal(from_safetensors.interpolate(first, second, [0.3])[0], expected)


def test_weights_that_do_not_fit_are_a_clear_error(network, tmp_path):
    other = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(3, 4).state_dict(), other)
    with pytest.raises(
        NeuralWeightsError, match=r"does not hold weights of the RIFE 4.x IFNet.*missing tensors"
    ):
        load_ifnet(other)
    reshaped = dict(network.state_dict())
    reshaped["block0.lastconv.weight"] = torch.zeros(192, 6, 4, 4)
    wrong = tmp_path / "wrong.pth"
    torch.save(reshaped, wrong)
    with pytest.raises(
        NeuralWeightsError, match=r"block0.lastconv.weight \(192, 6, 4, 4\) \(needs \(192, 5, 4, 4\)\)"
    ):
        load_ifnet(wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(NeuralWeightsError, match="cannot read interpolation weights"):
        load_ifnet(garbage)
    listed = tmp_path / "list.pt"
    torch.save([1, 2, 3], listed)
    with pytest.raises(NeuralWeightsError, match="does not hold a state dict"):
        load_ifnet(listed)


class NotWeights:
    """A Python object in a checkpoint: torch's weights_only loader refuses it."""


@pytest.mark.parametrize("name", ["pickled.pth", "noise.pkl", "noise.safetensors"])
def test_a_file_that_is_not_rife_weights_says_so_without_torchs_advice(tmp_path, name):
    """d1b0a49 passed torch's message on, which advises re-running torch.load with
    weights_only=False ("it can result in arbitrary code execution") for a file a caller named."""
    path = tmp_path / name
    if name == "pickled.pth":
        torch.save({"net": NotWeights()}, path)
    else:
        path.write_bytes(b"\x80\x04not weights at all" * 50)
    with pytest.raises(NeuralWeightsError) as caught:
        load_ifnet(path)
    message = str(caught.value)
    assert "is not RIFE weights" in message and str(path) in message
    assert "weights_only" not in message and "trust" not in message and "\n" not in message


def test_where_weights_are_found(weights_file, tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert find_weights("", tmp_path) == (
        None,
        f"{tmp_path / 'interpolation'}/ (.safetensors, .pth, .pt, .pkl, .ckpt)",
    )
    folder = tmp_path / "interpolation"
    folder.mkdir()
    (folder / "notes.txt").write_text("not weights")
    (folder / "b.pth").write_bytes(weights_file.read_bytes())
    (folder / "a.pkl").write_bytes(weights_file.read_bytes())
    assert find_weights("", tmp_path)[0] == folder / "a.pkl"
    monkeypatch.setenv(WEIGHTS_ENV, str(weights_file))
    assert find_weights("", tmp_path)[0] == weights_file
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "gone.pth"))
    assert find_weights("", tmp_path) == (None, f"${WEIGHTS_ENV} ({tmp_path / 'gone.pth'})")
    assert find_weights(str(weights_file), tmp_path)[0] == weights_file
    with pytest.raises(NeuralWeightsError, match="no such file"):
        find_weights(str(tmp_path / "missing.pth"))


def test_neural_method_uses_weights_from_the_models_folder(weights_file, tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    (tmp_path / "interpolation").mkdir()
    (tmp_path / "interpolation" / "flownet.pkl").write_bytes(weights_file.read_bytes())
    config = InterpolationOptions(method="neural", quality="fast")
    interpolator, note = build_interpolator(config, models_dir=tmp_path, device="cpu")
    assert interpolator.name == "neural" and "flownet.pkl" in note
    first, second = frames()
    assert interpolator.interpolate(first, second, [0.5])[0].shape == (48, 64, 3)
