"""Ceiling of the segmentation networks on one device: plain torch, no Ray, no data loading.

Inference and training images/s of both networks at 192² (the paper preset's sizes), in
fp32, bf16 autocast, and bf16 autocast + torch.compile. Needs only torch, so it runs on a
GPU machine without Ray; on a CPU it runs with tiny iteration counts.

    python benchmarks/gpu_ceiling.py                       # GPU: defaults
    python benchmarks/gpu_ceiling.py --iterations 2 --batch 4 --modes fp32,bf16   # CPU check

Last line: JSON with "benchmark", the figures, "cpus", "gpu" and "ratio" = res_unet
bf16+compile inference img/s ÷ fp32 inference img/s (or the best mode measured ÷ fp32).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from monai.losses import DiceCELoss

from ray_semiqc.config import load_preset
from ray_semiqc.models.registry import build_network
from ray_semiqc.tasks import AORTA, SAX

MODES = ("fp32", "bf16", "bf16_compile")


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(model, step, batch: int, iterations: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    _synchronise(device)
    started = time.perf_counter()
    for _ in range(iterations):
        step()
    _synchronise(device)
    return batch * iterations / (time.perf_counter() - started)


def measure(name, task, mode, size, batch, iterations, warmup, device, seed) -> dict:
    seg = load_preset("paper").seg
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_network(name, task, seg).to(device)
    runnable = torch.compile(model) if mode == "bf16_compile" else model
    bf16 = mode != "fp32"
    image = torch.rand(batch, 1, size, size, generator=generator).to(device)
    label = torch.randint(0, task.n_classes, (batch, 1, size, size), generator=generator).to(device)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    @torch.no_grad()
    def infer():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            runnable(image).argmax(dim=1)

    def train():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = runnable(image)
        loss = loss_fn(logits.float(), label)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.eval()
    inference = images_per_second(model, infer, batch, iterations, warmup, device)
    model.train()
    training = images_per_second(model, train, batch, iterations, warmup, device)
    return {
        "network": name,
        "mode": mode,
        "inference_img_per_s": round(inference, 2),
        "training_img_per_s": round(training, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cuda = torch.cuda.is_available()
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--batch", type=int, default=256 if cuda else 4)
    parser.add_argument("--iterations", type=int, default=20 if cuda else 2)
    parser.add_argument("--warmup", type=int, default=3 if cuda else 1)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device("cuda" if cuda else "cpu")
    modes = [m for m in args.modes.split(",") if m]
    figures = []
    for name, task in (("res_unet", SAX), ("vgg_fcn", AORTA)):
        for mode in modes:
            row = measure(name, task, mode, args.size, args.batch, args.iterations, args.warmup, device, args.seed)
            print(row, flush=True)
            figures.append(row)
    unet = {row["mode"]: row["inference_img_per_s"] for row in figures if row["network"] == "res_unet"}
    best = max(modes, key=lambda m: MODES.index(m))
    print(
        json.dumps(
            {
                "benchmark": "gpu_ceiling",
                "size": args.size,
                "batch": args.batch,
                "iterations": args.iterations,
                "figures": figures,
                "cpus": os.cpu_count(),
                "gpu": torch.cuda.get_device_name() if cuda else None,
                "ratio_definition": f"res_unet inference img/s, {best} ÷ fp32",
                "ratio": round(unet[best] / unet["fp32"], 3) if "fp32" in unet else None,
            }
        )
    )


if __name__ == "__main__":
    main()
