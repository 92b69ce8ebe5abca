"""Where a model's forward pass runs: OpenVINO on a CPU, torch as the reference and the fallback.

OpenVINO runs the very same network (converted from the loaded PyTorch module, so the same
weights), faster than torch on a CPU (figures in docs/BENCHMARKS.md), in the fastest precision this
CPU does natively among those that rank as fp32 does: bf16 where the CPU has it (AVX-512 BF16, AMX),
else fp32. A precision is admitted (ADMITTED) by what the user gets, the bench ranking (mAP, P@1,
P@10 each within 0.003 of fp32's: docs/QUALITY.md, bench/test_precision_quality.py), not by cosine;
vectors of admitted precisions share one index.

The conversion takes a few seconds, so it is saved once per weights (keyed by their hash) in the
user's cache. A load then checks the chosen runtime against torch on the check photos: that check
guards against a broken runtime (NaN, garbage, a cosine far below what a working one gives,
WORKING), not against rounding the bench has measured harmless. A broken bf16 falls back to fp32, a
broken OpenVINO to torch, and the reason is said; on a GPU torch runs. What the default check found
is remembered for that weights file, OpenVINO version and CPU (`Verdict`), so later loads read the
converted network without importing torch at all.

RETRIEVAL_RUNTIME (openvino or torch) and RETRIEVAL_PRECISION (f32 or bf16) override the choice for
the run that sets them only: a run with an override is remembered under a key of its own
(`verdict_key`), so it never reads or writes what a later run without it chooses.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.core.errors import ModelUnavailable
from retrieval.core.settings import PRECISION_ENV, RUNTIME_ENV

if TYPE_CHECKING:
    import torch
    from torch import nn

RUNTIMES = ("openvino", "torch")
PRECISIONS = ("f32", "bf16")
# The precisions whose vectors rank as fp32's do on the bench (docs/QUALITY.md): they share an index.
ADMITTED = ("f32", "bf16")
# The lowest cosine to torch's fp32 on the check inputs that a working runtime gives, with a wide
# margin: fp32 gives >= 0.99999, a working bf16 >= 0.993 (docs/QUALITY.md, "Precision"). Below it (or
# NaN) the runtime is broken, not rounded.
WORKING = {"f32": 0.999, "bf16": 0.98}
INPUT_SHAPE = (3, 224, 224)

# Batches or one image per call, as measured (docs/BENCHMARKS.md, "Figures behind rules in the code"):
# torch on a CPU is faster one image at a time; OpenVINO as fast or faster with the whole batch.
Forward = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Runtime:
    """A forward pass (a batch of preprocessed images in, float32 features out), the arithmetic's
    precision and why it was chosen."""

    name: str
    reason: str
    forward: Forward
    precision: str = "f32"


@dataclass(frozen=True)
class Verdict:
    """What a load found for one weights file on this OpenVINO and CPU: the converted network, the
    precision it runs in, why, and the weights' digest (`weights_digest`), which the vectors' fingerprint names."""

    ir: str
    precision: str
    reason: str
    weights: str


def weights_digest(network: nn.Module) -> str:
    """SHA-256 of a network's parameter names and values: the same digest means the same weights."""
    digest = hashlib.sha256()
    for key, tensor in network.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def torch_runtime(network: nn.Module, device: torch.device, reason: str, one_at_a_time: bool | None = None) -> Runtime:
    """Torch eager; on a CPU one image per call unless told otherwise (see the note on Forward)."""
    import torch

    single = device.type == "cpu" if one_at_a_time is None else one_at_a_time

    def forward(batch: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(batch)
        with torch.inference_mode():
            if single:
                return np.concatenate([network(x.unsqueeze(0).to(device)).float().cpu().numpy() for x in tensor])
            features: np.ndarray = network(tensor.to(device)).float().cpu().numpy()
            return features

    return Runtime("torch", reason, forward)


def convert(network: nn.Module, name: str, cache: Path) -> Path:
    """`network` converted to OpenVINO's format, kept in `cache` (keyed by OpenVINO's version and the
    weights' digest) and read from there when converted before: the path of its .xml."""
    import openvino as ov
    import torch

    digest = hashlib.sha256(f"{ov.__version__} {weights_digest(network)}".encode()).hexdigest()
    path = cache / f"{name}-{digest[:16]}.xml"
    if path.is_file():
        return path
    example = torch.zeros(1, *INPUT_SHAPE)
    with warnings.catch_warnings():  # OpenVINO traces with torch.jit.trace, which torch now calls deprecated
        warnings.simplefilter("ignore", FutureWarning)
        model = ov.convert_model(copy.deepcopy(network).cpu().eval(), example_input=example, input=[-1, *INPUT_SHAPE])
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.stem}.{os.getpid()}.part.xml")  # this process's own: two first loads at once never mix
    ov.save_model(model, part, compress_to_fp16=False)
    part.with_suffix(".bin").replace(path.with_suffix(".bin"))
    part.replace(path)
    return path


def openvino_runtime(ir: Path, precision: str = "f32", one_at_a_time: bool = False, streams: int = 2) -> Runtime:
    """The converted network at `ir`, compiled for the CPU in `precision`, each batch split over
    `streams` parallel requests; the whole batch per call unless told otherwise (see the note on Forward).
    Compiled networks are cached beside it, so a later start compiles in a fraction of the time."""
    import openvino as ov

    core = ov.Core()
    core.set_property({"CACHE_DIR": str(ir.parent / "compiled")})
    model = core.read_model(ir)
    # A batch is split over parallel streams (THROUGHPUT): end to end, with decoding on the same cores,
    # more images/s than one request on all cores (docs/BENCHMARKS.md). A single picture (a search)
    # goes to a LATENCY request, which uses every core for it.
    hint = {"INFERENCE_PRECISION_HINT": precision}
    single = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", **hint}).create_infer_request()
    batched = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams, **hint})
    # What the CPU plugin runs, which is not what was asked where it cannot (bf16 without native support).
    effective = batched.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    queue = ov.AsyncInferQueue(batched, streams)
    lock = threading.Lock()  # one call at a time (the app shares one embedder between sessions)

    def infer(batch: np.ndarray) -> np.ndarray:
        if len(batch) == 1 or streams == 1:
            with lock:
                return np.asarray(single.infer({0: batch})[0], dtype=np.float32)
        parts = np.array_split(batch, min(streams, len(batch)))
        out: list[np.ndarray] = [np.empty(0)] * len(parts)
        with lock:
            queue.set_callback(lambda request, i: out.__setitem__(i, request.get_output_tensor(0).data.copy()))
            for i, part in enumerate(parts):
                queue.start_async({0: part}, i)
            queue.wait_all()
        return np.concatenate(out).astype(np.float32, copy=False)

    def forward(batch: np.ndarray) -> np.ndarray:
        return np.concatenate([infer(x[None]) for x in batch]) if one_at_a_time else infer(batch)

    return Runtime("openvino", "", forward, effective)


def native_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic natively (AVX-512 BF16 or AMX), as OpenVINO reports it."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def default_precision() -> str:
    """The precision a run without RETRIEVAL_PRECISION uses: the fastest admitted one this CPU does
    natively (bf16 where it has AVX-512 BF16 or AMX, else fp32: emulated bf16 is slower than fp32)."""
    return "bf16" if "bf16" in ADMITTED and native_bf16() else "f32"


def choose_runtime(
    network: nn.Module,
    name: str,
    device: torch.device,
    *,
    asked: str | None,
    cache: Path,
    check: np.ndarray,
    precision: str | None = None,
) -> tuple[Runtime, Path | None]:
    """OpenVINO on a CPU in the default precision (`default_precision`), or fp32 if that one is broken
    here, or torch if OpenVINO is broken too (see WORKING); `asked` (RETRIEVAL_RUNTIME) forces a
    runtime and `precision` (RETRIEVAL_PRECISION) a precision. Converted networks are kept in `cache`.
    Returns the runtime and, for OpenVINO, the converted network's path."""
    asked, precision = asked or None, precision or None
    if asked is not None and asked not in RUNTIMES:
        raise ModelUnavailable(f"Unknown runtime {asked!r} ({RUNTIME_ENV}); choose one of: {', '.join(RUNTIMES)}.")
    if precision is not None and precision not in PRECISIONS:
        raise ModelUnavailable(f"Unknown precision {precision!r} ({PRECISION_ENV}); choose one of: {', '.join(PRECISIONS)}.")
    if asked == "torch":
        return torch_runtime(network, device, f"set by {RUNTIME_ENV}"), None
    if device.type != "cpu":
        return torch_runtime(network, device, f"on the {device.type.upper()}"), None
    reference = torch_runtime(network, device, "").forward(check)
    wanted = precision or default_precision()
    why = f"set by {RUNTIME_ENV}" if asked else "faster on this CPU"
    how = (
        f"set by {PRECISION_ENV}"
        if precision
        else ("this CPU does bf16 natively" if wanted == "bf16" else "this CPU has no native bf16")
    )
    broken: list[str] = []
    for attempt in dict.fromkeys((wanted, "f32")):
        try:
            ir = convert(network, name, cache)
            runtime = openvino_runtime(ir, attempt)
            agreement = _agreement(reference, runtime.forward(check))
        except Exception as e:  # an OpenVINO that is missing or cannot convert this network: torch is always right
            if asked == "openvino":
                raise ModelUnavailable(f"OpenVINO cannot run {name} here: {e}") from e
            return torch_runtime(network, device, f"OpenVINO unavailable ({type(e).__name__}: {e})"), None
        if agreement >= WORKING[runtime.precision] or (asked == "openvino" and attempt == "f32"):
            notes = [how, *broken]
            if runtime.precision != attempt:  # bf16 on a CPU where OpenVINO has none, not even emulated
                notes.append(f"OpenVINO runs {attempt} in {runtime.precision} on this CPU")
            reason = f"{why}; {runtime.precision} ({'; '.join(notes)}): cosine {agreement:.6f} to torch fp32 on the check inputs"
            return Runtime("openvino", reason, runtime.forward, runtime.precision), ir
        broken.append(f"{attempt} broken here, cosine {agreement:.5f} to torch fp32")
    return torch_runtime(network, device, f"OpenVINO's vectors are wrong here ({'; '.join(broken)})"), None


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine between the rows of two feature batches; -1 where a row is not finite (NaN, inf)."""
    with np.errstate(all="ignore"):
        cosines = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(np.min(np.where(np.isfinite(cosines), cosines, -1.0)))


def verdict_key(name: str, weights_file: Path, *, runtime: str | None = None, precision: str | None = None) -> str:
    """What a remembered verdict holds for: the model, its weights file's content, OpenVINO's version,
    the CPU, and the runtime and precision a run forced (none: the default's own key, which only a run
    without them reads or writes)."""
    import openvino as ov

    core = ov.Core()
    cpu = f"{core.get_property('CPU', 'FULL_DEVICE_NAME')} {core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')}"
    digest = hashlib.sha256()
    with weights_file.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    forced = f" runtime {runtime}" * bool(runtime) + f" precision {precision}" * bool(precision)
    return hashlib.sha256(f"{name} {digest.hexdigest()} {ov.__version__} {cpu}{forced}".encode()).hexdigest()[:16]


def recall(cache: Path, name: str, key: str) -> tuple[Runtime, Verdict] | None:
    """The runtime a load found before for this key (see `verdict_key`), ready, if its files are still there."""
    path = cache / f"{name}-{key}.json"
    try:
        verdict = Verdict(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    ir = Path(verdict.ir)
    if not ir.is_file():
        return None
    return Runtime("openvino", verdict.reason, openvino_runtime(ir, verdict.precision).forward, verdict.precision), verdict


def remember(cache: Path, name: str, key: str, verdict: Verdict) -> None:
    """Keep a load's verdict for the next start (written whole under this process's own name, then
    renamed: never half a file, whatever other processes load at the same moment)."""
    path = cache / f"{name}-{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(asdict(verdict)))
    part.replace(path)
