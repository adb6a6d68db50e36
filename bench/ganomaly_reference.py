#!/usr/bin/env python3
"""PyTorch reference for `cargo xtask bench` (issue D): exactly lran's training and scoring step,
so one run on a GPU machine measures burn-wgpu against PyTorch side by side.

The networks mirror src/model.rs (GANomaly's DCGAN encoder/decoder, LRAN's E -> decoder -> E'
generator, the encoder-shaped discriminator: 4x4 kernels, no biases, BatchNorm, LeakyReLU 0.2 /
ReLU, tanh, DCGAN initialisation), the losses mirror src/loss.rs, and the step mirrors
`Trainer::step` in src/train.rs:

  generator  E -> decoder -> E', 50*L1 + 1*latent L2, backward, Adam (lr 2e-4, betas 0.5/0.999).
             As lran's bench: no discriminator, no nuclear norm.
  gan        the full step: reconstruction, feature matching on the discriminator's penultimate
             features, latent L2 and 0.1 * nuclear norm / batch (torch.linalg.svdvals, on the
             device); then the discriminator's BCE step on real vs detached reconstructions.
  score      inference mode (BatchNorm running statistics): latent and pixel scores of a batch,
             copied to the host.

Each step ends with its losses (or scores) copied to the host, as lran's does, so the GPU queue is
drained inside every timed run. Figures are the median over --runs timed runs of
--steps-per-run steps after --warmup untimed ones, written as results/bench/<device>-pytorch.json
in the schema of lran's bench files.

PyTorch's defaults let cuDNN convolutions use TF32 tensor cores on Ampere and later (matmuls
stay f32); lran computes in f32. --tf32 off measures strict f32; the device script runs both.

Usage: python3 bench/ganomaly_reference.py [--device cuda] [--shapes mnist32,ganomaly64]
       [--modes generator,gan,score] [--batches 64,256] [--tf32 on|off] [--out results/bench]
       python3 bench/ganomaly_reference.py --from-lran results/bench/<lran file>.json --threads N
The second form is what `cargo xtask bench --reference pytorch` runs: the same figures as lran's
file, on as many threads, then one results file with both and their ratios.
"""

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

# Standalone use only: with --from-lran the networks are read from lran's bench file, so both
# sides measure the same networks by construction (xtask/src/checks/bench.rs, Shape::model).
SHAPES = {
    "mnist32": {"image_size": 32, "latent_dim": 100, "base_width": 64},
    "ganomaly64": {"image_size": 64, "latent_dim": 100, "base_width": 64},
    "brain128": {"image_size": 128, "latent_dim": 100, "base_width": 64},
    "brain64": {"image_size": 64, "latent_dim": 100, "base_width": 16},
    "tiny32": {"image_size": 32, "latent_dim": 32, "base_width": 16},
}


def model_config(shape, tiny):
    """ModelConfig::paper(1) / ::tiny(1) at the shape's size (xtask/src/checks/bench.rs, Shape::model)."""
    config = dict(SHAPES[shape], channels=1)
    if tiny:
        config.update(latent_dim=32, base_width=16)
    return config


def halvings(image_size):
    return int(math.log2(image_size // 4))


def dcgan_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Encoder(nn.Module):
    """DcganEncoder: halvings to a 4x4 map (no BatchNorm on the first), then a 4x4 valid conv."""

    def __init__(self, config, out_channels):
        super().__init__()
        width = config["base_width"]
        layers = [nn.Conv2d(config["channels"], width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for _ in range(1, halvings(config["image_size"])):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2),
            ]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, out_channels, 4, 1, 0, bias=False)

    def forward(self, x):
        return self.head(self.features(x)).flatten(1)


class Decoder(nn.Module):
    """DcganDecoder: latent -> 4x4 -> doublings -> tanh image."""

    def __init__(self, config):
        super().__init__()
        n = halvings(config["image_size"])
        width = config["base_width"] << (n - 1)
        layers = [
            nn.ConvTranspose2d(config["latent_dim"], width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        for _ in range(1, n):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, config["channels"], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.latent_dim = config["latent_dim"]

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class Generator(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.encoder = Encoder(config, config["latent_dim"])
        self.decoder = Decoder(config)
        self.auxiliary_encoder = Encoder(config, config["latent_dim"])

    def forward(self, x):
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return x_hat, z, self.auxiliary_encoder(x_hat)


class Discriminator(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.body = Encoder(config, 1)

    def forward(self, x):
        features = self.body.features(x)
        return self.body.head(features).flatten(), features


def adam(module):
    return torch.optim.Adam(module.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)


def make_step(mode, config, batch, device):
    generator = Generator(config).to(device)
    generator.apply(dcgan_init)
    images = torch.rand(batch, config["channels"], config["image_size"], config["image_size"],
                        device=device) * 2 - 1

    if mode == "score":
        generator.eval()

        @torch.no_grad()
        def step():
            x_hat, z, z_hat = generator(images)
            latent = (z - z_hat).square().mean(1)
            pixel = (images - x_hat).abs().flatten(1).mean(1)
            host = torch.stack([latent, pixel]).cpu()
            assert host.shape == (2, batch)

        return step

    generator.train()
    g_opt = adam(generator)
    if mode == "generator":

        def step():
            x_hat, z, z_hat = generator(images)
            reconstruction = (images - x_hat).abs().mean()
            latent = (z - z_hat).square().mean()
            total = 50.0 * reconstruction + 1.0 * latent
            g_opt.zero_grad(set_to_none=True)
            total.backward()
            g_opt.step()
            torch.stack([total.detach(), reconstruction.detach(), latent.detach()]).cpu()

        return step

    discriminator = Discriminator(config).to(device)
    discriminator.apply(dcgan_init)
    discriminator.train()
    d_opt = adam(discriminator)

    def bce_with_logits(logits, target):
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

    def set_discriminator_tracked(tracked):
        for parameter in discriminator.parameters():
            parameter.requires_grad_(tracked)

    def step():
        x_hat, z, z_hat = generator(images)
        # As lran's step (src/train.rs, generator_loss): the generator's update needs the gradient
        # through the discriminator to x_hat, not the discriminator's parameter gradients, which
        # GANomaly computes here and then discards (its d_opt.zero_grad below).
        set_discriminator_tracked(False)
        _, real_features = discriminator(images)
        _, fake_features = discriminator(x_hat)
        set_discriminator_tracked(True)
        reconstruction = (images - x_hat).abs().mean()
        adversarial = (real_features - fake_features).square().mean()
        latent = (z - z_hat).square().mean()
        low_rank = torch.linalg.svdvals(z).sum() / batch
        total = 50.0 * reconstruction + adversarial + latent + 0.1 * low_rank
        g_opt.zero_grad(set_to_none=True)
        total.backward()
        g_opt.step()

        real_logits, _ = discriminator(images)
        fake_logits, _ = discriminator(x_hat.detach())
        d_loss = 0.5 * (bce_with_logits(real_logits, 1.0) + bce_with_logits(fake_logits, 0.0))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        values = torch.stack([total, reconstruction, adversarial, latent, low_rank, d_loss]).detach().cpu()
        if not torch.isfinite(values).all():
            raise FloatingPointError(f"non-finite losses {values.tolist()}")

    return step


def parameters(config):
    """Weights plus BatchNorm running means and variances, as burn's num_params counts them
    (its running statistics are module state too); PyTorch's batch counter is left out."""
    count = lambda m: sum(p.numel() for p in m.parameters()) + sum(
        b.numel() for name, b in m.named_buffers() if not name.endswith("num_batches_tracked"))
    return {"generator": count(Generator(config)), "discriminator": count(Discriminator(config))}


def synchronise(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(args, device, shape, batch, mode, config):
    torch.manual_seed(args.seed)
    step = make_step(mode, config, batch, device)
    started = time.perf_counter()
    step()
    synchronise(device)
    first = time.perf_counter() - started
    for _ in range(1, args.warmup):
        step()
    synchronise(device)
    rates = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for _ in range(args.steps_per_run):
            step()
        synchronise(device)
        rates.append(args.steps_per_run * batch / (time.perf_counter() - started))
    # One more step, untimed, under PyTorch's FLOP counter (convolutions and matmuls, forward and
    # backward): the work per image, so that both sides' rates read as GFLOP/s too.
    with FlopCounterMode(display=False) as counter:
        step()
    synchronise(device)
    return statistics.median(rates), rates, first, config, counter.get_total_flops() / batch


def slug(text):
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-")


def commit():
    """LRAN_COMMIT when the caller knows the commit measured (`cargo xtask bench --reference`
    sets it to its own figures' commit, taken before its results file was rewritten); else git's."""
    if os.environ.get("LRAN_COMMIT"):
        return os.environ["LRAN_COMMIT"]
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default="mnist32,ganomaly64")
    parser.add_argument("--modes", default="generator,gan,score")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps-per-run", type=int, default=10)
    parser.add_argument("--tiny", action="store_true", help="base width 16, latent 32")
    parser.add_argument("--tf32", choices=["on", "off"], default="on",
                        help="let cuDNN convolutions use TF32 (PyTorch's default) or not")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's own choice)")
    parser.add_argument("--from-lran", metavar="FILE",
                        help="measure exactly the figures of this lran bench file (its networks, "
                             "batches, modes, warm-up and runs); --shapes, --modes, --batches, "
                             "--tiny, --warmup, --runs and --steps-per-run are then taken from it")
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args()

    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    if args.from_lran:
        with open(args.from_lran) as f:
            lran = json.load(f)
        args.warmup = lran["warmup"]
        args.runs = lran["runs_per_figure"]
        args.steps_per_run = lran["steps_per_run"]
        figures = []
        for entry in lran["entries"]:
            model = {k: entry["model"][k] for k in ("image_size", "channels", "latent_dim", "base_width")}
            figure = (entry["shape"], entry["batch"], entry["mode"], model)
            if figure not in figures:
                figures.append(figure)
    else:
        shapes = args.shapes.split(",")
        modes = args.modes.split(",")
        batches = [int(b) for b in args.batches.split(",")]
        for s in shapes:
            if s not in SHAPES:
                parser.error(f"unknown shape {s!r}; expected one of {', '.join(SHAPES)}")
        for m in modes:
            if m not in ("generator", "gan", "score"):
                parser.error(f"unknown mode {m!r}; expected generator, gan or score")
        figures = [(shape, batch, mode, model_config(shape, args.tiny))
                   for shape in shapes for batch in batches for mode in modes]
    if min(f[1] for f in figures) < 2 or min(args.warmup, args.runs, args.steps_per_run) < 1:
        parser.error("batches must be >= 2 and warmup, runs, steps-per-run >= 1")

    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    torch.backends.cuda.matmul.allow_tf32 = False
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    label = f"pytorch {name} tf32 {args.tf32}" if device.type == "cuda" else f"pytorch {name}"

    entries = []
    for shape, batch, mode, config in figures:
        rate, runs, first, config, flops = measure(args, device, shape, batch, mode, config)
        print(f"{label:<36} {shape:<10} batch {batch:<4} {mode:<9} {rate:>10.1f} img/s "
              f"(first step {first:.2f} s)", file=sys.stderr, flush=True)
        entries.append({
            "backend": f"pytorch-{device.type}",
            "device": name,
            "shape": shape,
            "model": config,
            "batch": batch,
            "mode": mode,
            "images_per_second": rate,
            "runs": runs,
            "first_step_seconds": first,
            "parameters": parameters(config),
            "flops_per_image": flops,
        })
    results = {
        "kind": "lran-bench-pytorch/1",
        "commit": commit(),
        "created_unix": int(time.time()),
        "command": " ".join(["python3"] + sys.argv),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "cudnn_benchmark": True,
        "tf32_convolutions": args.tf32 == "on" and device.type == "cuda",
        "cpu_threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "runs_per_figure": args.runs,
        "steps_per_run": args.steps_per_run,
        "entries": entries,
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, slug(label) + ".json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(path)


if __name__ == "__main__":
    main()
