"""Benchmark: embedding throughput, the seed recipe's loop against ours, same images, same model,
same process, on this machine's CPU. Goal: ours >= 3x the seed loop's images per second on each
set and model, every vector at cosine >= 0.999 to the seed loop's, and bench mAP unchanged within
0.005. Not part of the default tests; run with `./test.sh bench -s -k embed_throughput`.

- The seed loop: open, convert to RGB, preprocess, model, one image at a time, fp32, torch.no_grad.
- Ours: what `index_folder` runs: files read and decoded on two threads (JPEG draft mode for
  camera-sized photos) while the model works, batches of 32, the default runtime (runtime.py).
- Sets: 300 bench photos (~300x200 px), and 24 camera-sized JPEGs (4000x3000, made from the demo
  photos by upscaling). Models: EfficientNet-Lite0 (pretrained) and ResNet50 with a fixed random
  initialisation (its ImageNet weights cannot be had here; speed does not depend on them).
- Then every runtime option we tried, on preprocessed tensors (model only): img/s and min cosine,
  with OpenVINO bf16 on a CPU that has it natively (the run says when it has not).
  The int8 row needs NNCF (`pip install nncf`, not a project requirement: int8 fails the cosine bar).
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import models

from retrieval.core.batches import chunks, prefetch
from retrieval.core.metrics import average_precision, exact_ranking
from retrieval.core.settings import Settings, load_settings
from retrieval.vision.decode import decode_picture, read_file
from retrieval.vision.embed import Embedder
from retrieval.vision.models import MODELS
from retrieval.vision.runtime import WORKING, convert, default_precision, native_bf16, openvino_runtime, torch_runtime
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH, DEMO_IMAGES, PROJECT
from tests.support.photos import seed_loop

CACHE = load_settings(os.environ, PROJECT).openvino_cache  # where the runtime keeps converted networks
BENCH_PHOTOS = 300
LARGE_PHOTOS = 24
BATCH = 32
CALIBRATION = 300


def resnet50_random() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(*list(models.resnet50().children())[:-1], nn.Flatten())


def embedders(precisions: tuple[str | None, ...] = (None,)) -> list[Embedder]:
    """Each model in each of `precisions` (None: the default one, `runtime.default_precision`)."""
    cache, cpu = Settings().openvino_cache, torch.device("cpu")
    return [
        embedder
        for precision in precisions
        for embedder in (
            Embedder.load(MODELS["efficientnet-lite0"], Settings(precision=precision)),
            Embedder.from_network(MODELS["resnet50"], resnet50_random(), cpu, cache=cache, precision=precision),
        )
    ]


def large_photos(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for source in sorted(DEMO_IMAGES.glob("*.jpg"))[:LARGE_PHOTOS]:
        with Image.open(source) as image:
            large = image.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
        large.save(path := folder / source.name, quality=92)
        paths.append(path)
    return paths


def ours(embedder: Embedder, paths: list[Path]) -> np.ndarray:
    """The indexing pipeline: decode and preprocess on two threads while the model embeds batches."""
    tensors = prefetch(lambda p: embedder.preprocess(decode_picture(read_file(p), str(p)).image), paths, window=2 * BATCH)
    return np.concatenate([embedder.embed_arrays(batch) for batch in chunks(tensors, BATCH)])


def timed(fn: Callable[[], np.ndarray], images: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    result = fn()
    return result, images / (time.perf_counter() - started)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


def exact_map(vectors: np.ndarray, labels: np.ndarray) -> float:
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    aps = []
    for i, query in enumerate(vectors):
        ranking = exact_ranking(vectors, labels, query, i)
        aps.append(average_precision(ranking, int((labels == labels[i]).sum()) - 1))
    return float(np.mean(aps))


@pytest.mark.bench
@pytest.mark.speed
def test_ours_against_the_seed_loop(tmp_path):
    sets = {
        f"{BENCH_PHOTOS} bench photos": sorted((BENCH / "images").rglob("*.jpg"))[:: 1965 // BENCH_PHOTOS][:BENCH_PHOTOS],
        f"{LARGE_PHOTOS} photos of 12 MP": large_photos(tmp_path / "large"),
    }
    print(f"\ntorch threads {torch.get_num_threads()}; CPU flags: {cpu_flags()}")
    print("| model | set | seed loop img/s | ours img/s | ratio | min cosine |\n| --- | --- | --- | --- | --- | --- |")
    ratios = []
    other = "f32" if default_precision() == "bf16" else "bf16"
    for embedder in embedders((None, other)):
        for name, paths in sets.items():
            ours(embedder, paths[:4])  # warm up both
            seed_loop(embedder, paths[:4])
            reference, seed_rate = timed(lambda e=embedder, p=paths: seed_loop(e, p), len(paths))
            fast, our_rate = timed(lambda e=embedder, p=paths: ours(e, p), len(paths))
            cosine = min_cosine(reference, fast)
            ratios.append(our_rate / seed_rate)
            print(
                f"| {embedder.name} ({embedder.runtime.name} {embedder.runtime.precision}) | {name} "
                f"| {seed_rate:.1f} | {our_rate:.1f} | {our_rate / seed_rate:.2f}x | {cosine:.5f} |"
            )
            assert cosine >= WORKING[embedder.runtime.precision]


@pytest.mark.bench
@pytest.mark.speed
def test_two_streams_against_one_request_end_to_end():
    """Our pipeline on the bench photos with OpenVINO's batch split over two streams (the default) and
    as one request on both cores, alternated: decoding shares the cores, so model-only figures miss it."""
    paths = sorted((BENCH / "images").rglob("*.jpg"))[:: 1965 // BENCH_PHOTOS][:BENCH_PHOTOS]
    print()
    for embedder in embedders():
        ir = convert(embedder.network, embedder.spec.slug, CACHE)
        runtimes = {streams: openvino_runtime(ir, streams=streams) for streams in (2, 1)}
        rates: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(3):
            for streams, runtime in runtimes.items():
                embedder.runtime = runtime
                ours(embedder, paths[:4])
                rates[streams].append(timed(lambda e=embedder: ours(e, paths), len(paths))[1])
        print(
            f"{embedder.name}: two streams {', '.join(f'{r:.1f}' for r in rates[2])} img/s; "
            f"one request {', '.join(f'{r:.1f}' for r in rates[1])} img/s"
        )


@pytest.mark.bench
@pytest.mark.speed
def test_every_runtime_option_on_preprocessed_images():
    """Model only, 64 preprocessed bench photos: img/s and min cosine to torch eager fp32 one at a time."""
    every = sorted((BENCH / "images").rglob("*.jpg"))
    paths, calibration_paths = every[::30][:64], every[1::6][:CALIBRATION]  # disjoint: 0 and 1 mod 6
    bf16 = native_bf16()
    print(f"\nCPU flags: {cpu_flags()}; native bf16: {'yes' if bf16 else 'no, so no bf16 row (OpenVINO would run it in f32)'}")
    print("| model | option | img/s | min cosine |\n| --- | --- | --- | --- |")
    for embedder in embedders():
        network, slug = embedder.network, embedder.spec.slug
        batch = preprocessed(embedder, paths)
        with torch.no_grad():
            reference = torch.cat([network(x.unsqueeze(0)) for x in torch.from_numpy(batch)]).numpy()
        ir = convert(network, slug, CACHE)
        channels_last = copy.deepcopy(network).to(memory_format=torch.channels_last)
        cpu = torch.device("cpu")
        options: dict[str, Callable[[np.ndarray], np.ndarray]] = {
            "torch eager fp32, batch 1 (the seed; our fallback)": torch_runtime(network, cpu, "", one_at_a_time=True).forward,
            "torch eager fp32, batch 32": torch_runtime(network, cpu, "", one_at_a_time=False).forward,
            "torch channels_last fp32, batch 32": lambda x, n=channels_last: n(_channels_last(torch.from_numpy(x))).numpy(),
            "torch bf16 autocast, batch 32": lambda x, n=network: _bf16(n, torch.from_numpy(x)),
            "OpenVINO fp32, batch 1": openvino_runtime(ir, one_at_a_time=True).forward,
            "OpenVINO fp32, batch 32, one request on both cores": openvino_runtime(ir, streams=1).forward,
            "OpenVINO fp32, batch 32 over 2 streams (the default)": openvino_runtime(ir).forward,
        }
        if bf16:
            options["OpenVINO bf16, batch 32 over 2 streams (the default where admitted)"] = openvino_runtime(ir, "bf16").forward
        if importlib.util.find_spec("nncf"):
            int8 = _openvino_int8(network, preprocessed(embedder, calibration_paths))
            options[f"OpenVINO int8 (NNCF post-training, {CALIBRATION} other photos), batch 32"] = int8
        for option, forward in options.items():  # each is handed batches of 32; "batch 1" ones feed the model one by one
            with torch.inference_mode():
                forward(batch[:BATCH])
                started = time.perf_counter()
                out = np.concatenate([np.asarray(forward(batch[i : i + BATCH])) for i in range(0, len(batch), BATCH)])
                rate = len(batch) / (time.perf_counter() - started)
            print(f"| {embedder.name} | {option} | {rate:.1f} | {min_cosine(reference, out):.5f} |")


def preprocessed(embedder: Embedder, paths: list[Path]) -> np.ndarray:
    return np.stack([embedder.preprocess(decode_picture(read_file(p), str(p)).image) for p in paths])


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _openvino_int8(network: nn.Module, calibration: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The network quantized to int8 by NNCF's post-training quantization, calibrated on `calibration`."""
    import nncf
    import openvino as ov

    example = torch.from_numpy(calibration[:1])
    model = ov.convert_model(copy.deepcopy(network).eval(), example_input=example, input=[-1, *calibration.shape[1:]])
    dataset = nncf.Dataset([x[None] for x in calibration])
    quantized = nncf.quantize(model, dataset, subset_size=len(calibration))
    request = ov.Core().compile_model(quantized, "CPU", {"PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
    return lambda x: np.asarray(request.infer({0: x})[0], dtype=np.float32)


def _bf16(network: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return network(x).float().numpy()


@pytest.mark.bench
@pytest.mark.speed
def test_bench_map_is_unchanged_on_the_fast_path():
    """Exact leave-one-out mAP on all 1,965 bench photos, EfficientNet-Lite0 through torch and through OpenVINO."""
    rows = list(csv.DictReader((BENCH / "labels.csv").open()))
    labels = np.array([row["label"] for row in rows])
    paths = [BENCH / row["path"] for row in rows]
    results = {}
    for runtime in ("torch", "openvino"):
        embedder = Embedder.load(MODELS["efficientnet-lite0"], Settings(), runtime=runtime)
        results[runtime] = ours(embedder, paths)
    maps = {runtime: exact_map(vectors, labels) for runtime, vectors in results.items()}
    print(
        f"\nbench mAP (exact, plain): torch {maps['torch']:.4f}, OpenVINO {maps['openvino']:.4f}; "
        f"min cosine {min_cosine(results['torch'], results['openvino']):.6f}"
    )
    assert abs(maps["torch"] - maps["openvino"]) <= 0.005


# Model only, in a process of its own: OpenVINO in each precision named (fp32 then bf16), twice, on the
# same preprocessed photos.
EACH_PRECISION = """
import sys, time
from pathlib import Path
import numpy as np
from retrieval.vision.runtime import openvino_runtime
ir, batch, asked = Path(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3].split(",")
for precision in asked * 2:
    runtime = openvino_runtime(ir, precision)
    runtime.forward(batch[:32])
    started = time.perf_counter()
    for i in range(0, len(batch), 32):
        runtime.forward(batch[i : i + 32])
    print(precision, runtime.precision, len(batch) / (time.perf_counter() - started))
"""


@pytest.mark.bench
@pytest.mark.speed
def test_each_precision_with_and_without_native_bf16(tmp_path):
    """OpenVINO fp32 against bf16, model only (96 preprocessed bench photos, batches of 32), on this CPU
    and on it as each lesser CPU shows it (oneDNN's ONEDNN_MAX_CPU_ISA): without AMX (AVX-512 BF16, a
    Zen 4 or Cooper Lake), without native bf16 (AVX-512 only, an Ice Lake or Skylake server, where
    OpenVINO emulates bf16), and with AVX2 alone (most desktops: fp32 only, which a real AVX2 CPU runs
    whatever is asked; posed here, OpenVINO still sees this CPU's BF16 and fails to build bf16 kernels
    oneDNN may not use). Each in a process of its own, in one run."""
    lite = embedders()[0]
    ir = convert(lite.network, lite.spec.slug, CACHE)
    np.save(batch := tmp_path / "batch.npy", preprocessed(lite, sorted((BENCH / "images").rglob("*.jpg"))[::20][:96]))
    print(f"\nCPU flags: {cpu_flags()}")
    print("| CPU as OpenVINO sees it | asked | runs in | img/s | bf16 / fp32 |\n| --- | --- | --- | --- | --- |")
    flags = set(cpu_flags().split())
    lesser = [
        (f"{name} (ONEDNN_MAX_CPU_ISA={isa})", {"ONEDNN_MAX_CPU_ISA": isa}, asked)
        for name, isa, below, asked in (
            ("AVX-512 BF16 without AMX", "AVX512_CORE_BF16", "amx_bf16", "f32,bf16"),
            ("AVX-512 without BF16", "AVX512_CORE", "avx512_bf16", "f32,bf16"),
            ("AVX2 only", "AVX2", "avx512f", "f32"),
        )
        if below in flags
    ]
    for seen, isa, asked in (("this CPU", {}, "f32,bf16"), *lesser):
        done = subprocess.run(
            [sys.executable, "-c", EACH_PRECISION, str(ir), str(batch), asked],
            env={**os.environ, **isa},
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        )
        rates: dict[str, float] = {}
        for line in done.stdout.splitlines():
            wanted, ran, rate = line.split()
            rates[wanted] = max(rates.get(wanted, 0.0), float(rate))
            ran_in = ran
            print(f"| {seen} | {wanted} | {ran} | {float(rate):.1f} | |")
        if "bf16" in rates:
            print(f"| {seen} | best of two | {ran_in} | | {rates['bf16'] / rates['f32']:.2f}x |")
