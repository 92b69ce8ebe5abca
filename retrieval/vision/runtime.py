"""Where a model's forward pass runs: OpenVINO on a CPU, torch as the reference and the fallback.

OpenVINO runs the very same network (converted from the loaded PyTorch module, so the same
weights), in fp32: faster than torch's on a CPU, with the same vectors to five decimals (figures in
docs/BENCHMARKS.md). The conversion takes a few seconds, so it is saved once per weights (keyed
by their hash) in the user's cache. Every load checks both runtimes on one fixed input and keeps
OpenVINO only if the two agree to COSINE_BAR; otherwise, or on a GPU, torch runs, and the reason
is said. RETRIEVAL_RUNTIME=torch (or openvino) overrides the choice.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from retrieval.core.errors import ModelUnavailable
from retrieval.core.settings import RUNTIME_ENV

RUNTIMES = ("openvino", "torch")
COSINE_BAR = 0.999
INPUT_SHAPE = (3, 224, 224)

# Batches or one image per call, as measured (docs/BENCHMARKS.md, "Figures behind rules in the code"):
# torch on a CPU is faster one image at a time; OpenVINO as fast or faster with the whole batch.
Forward = Callable[[torch.Tensor], np.ndarray]


@dataclass(frozen=True)
class Runtime:
    """A forward pass (a batch of preprocessed images in, float32 features out) and why it was chosen."""

    name: str
    reason: str
    forward: Forward


def weights_digest(network: nn.Module) -> str:
    """SHA-256 of a network's parameter names and values: the same digest means the same weights."""
    digest = hashlib.sha256()
    for key, tensor in network.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def torch_runtime(network: nn.Module, device: torch.device, reason: str, one_at_a_time: bool | None = None) -> Runtime:
    """Torch eager; on a CPU one image per call unless told otherwise (see the note on Forward)."""
    single = device.type == "cpu" if one_at_a_time is None else one_at_a_time

    def forward(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            if single:
                return np.concatenate([network(x.unsqueeze(0).to(device)).float().cpu().numpy() for x in batch])
            features: np.ndarray = network(batch.to(device)).float().cpu().numpy()
            return features

    return Runtime("torch", reason, forward)


def openvino_runtime(network: nn.Module, name: str, cache: Path, one_at_a_time: bool = False, streams: int = 2) -> Runtime:
    """`network` converted to OpenVINO (or read from `cache` when converted before), compiled for the CPU
    in fp32, each batch split over `streams` parallel requests; the whole batch per call unless told
    otherwise (see the note on Forward)."""
    import openvino as ov

    digest = hashlib.sha256(f"{ov.__version__} {weights_digest(network)}".encode()).hexdigest()
    path = cache / f"{name}-{digest[:16]}.xml"
    core = ov.Core()
    if path.is_file():
        model = core.read_model(path)
    else:
        example = torch.zeros(1, *INPUT_SHAPE)
        with warnings.catch_warnings():  # OpenVINO traces with torch.jit.trace, which torch now calls deprecated
            warnings.simplefilter("ignore", FutureWarning)
            model = ov.convert_model(copy.deepcopy(network).cpu().eval(), example_input=example, input=[-1, *INPUT_SHAPE])
        path.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(model, path.with_suffix(".tmp.xml"), compress_to_fp16=False)
        path.with_suffix(".tmp.bin").replace(path.with_suffix(".bin"))
        path.with_suffix(".tmp.xml").replace(path)
    # A batch is split over parallel streams (THROUGHPUT): end to end, with decoding on the same cores,
    # more images/s than one request on all cores (docs/BENCHMARKS.md). A single picture (a search)
    # goes to a LATENCY request, which uses every core for it.
    fp32 = {"INFERENCE_PRECISION_HINT": "f32"}
    single = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", **fp32}).create_infer_request()
    batched = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams, **fp32})
    queue = ov.AsyncInferQueue(batched, streams)
    lock = threading.Lock()  # one call at a time (the app shares one embedder between sessions)

    def infer(batch: torch.Tensor) -> np.ndarray:
        if len(batch) == 1 or streams == 1:
            with lock:
                return np.asarray(single.infer({0: batch.numpy()})[0], dtype=np.float32)
        parts = np.array_split(batch.numpy(), min(streams, len(batch)))
        out: list[np.ndarray] = [np.empty(0)] * len(parts)
        with lock:
            queue.set_callback(lambda request, i: out.__setitem__(i, request.get_output_tensor(0).data.copy()))
            for i, part in enumerate(parts):
                queue.start_async({0: part}, i)
            queue.wait_all()
        return np.concatenate(out).astype(np.float32, copy=False)

    def forward(batch: torch.Tensor) -> np.ndarray:
        return np.concatenate([infer(x.unsqueeze(0)) for x in batch]) if one_at_a_time else infer(batch)

    return Runtime("openvino", "", forward)


def choose_runtime(network: nn.Module, name: str, device: torch.device, asked: str | None, cache: Path) -> Runtime:
    """OpenVINO on a CPU when it agrees with torch on a check input, else torch; `asked` (the
    RETRIEVAL_RUNTIME setting) forces one. Converted networks are kept in `cache`."""
    asked = asked or None
    if asked is not None and asked not in RUNTIMES:
        raise ModelUnavailable(f"Unknown runtime {asked!r} ({RUNTIME_ENV}); choose one of: {', '.join(RUNTIMES)}.")
    if asked == "torch":
        return torch_runtime(network, device, f"set by {RUNTIME_ENV}")
    if device.type != "cpu":
        return torch_runtime(network, device, f"on the {device.type.upper()}")
    reference = torch_runtime(network, device, "")
    try:
        candidate = openvino_runtime(network, name, cache)
        check = torch.rand(2, *INPUT_SHAPE, generator=torch.Generator().manual_seed(0)) * 4 - 2
        a, b = reference.forward(check), candidate.forward(check)
        agreement = float(np.min(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))
    except Exception as e:  # an OpenVINO that is missing or cannot convert this network: torch is always right
        if asked == "openvino":
            raise ModelUnavailable(f"OpenVINO cannot run {name} here: {e}") from e
        return torch_runtime(network, device, f"OpenVINO unavailable ({type(e).__name__}: {e})")
    if agreement < COSINE_BAR and asked != "openvino":
        return torch_runtime(network, device, f"OpenVINO's vectors differ from torch's here (cosine {agreement:.5f})")
    why = f"set by {RUNTIME_ENV}" if asked else "faster on this CPU"
    return Runtime("openvino", f"{why}; cosine {agreement:.6f} to torch on a check input", candidate.forward)
