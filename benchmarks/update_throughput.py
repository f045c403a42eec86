"""Gradient updates/s of every zero-shot representation at its official DMC-proprio configuration.

    python -m benchmarks.update_throughput [--representations td_jepa fb hilp] [--rounds 3] [--updates 10]
        [--bf16] [--official-path <checkout of the official TD-JEPA code>]

Configurations come from the project's own configs (``representation=<name> env=dmc``, i.e. the
official launcher values in ``configs/representation`` + ``configs/preset/*_dmc.yaml``), on synthetic
walker-shaped batches (obs 24, action 6, batch 1024). With ``--official-path`` the official FB and
HILP agents (TD3-style actor, same launcher values) are timed alternately in the same sitting.
Writes ``benchmarks/results/update_throughput_<device>.{md,json}``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import warnings
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from agents.actor import ZeroShotActorLoss, make_actor
from agents.engine import make_optimizer
from agents.update import make_update
from benchmarks.report import command_line, write_report
from benchmarks.td_jepa_throughput import count_flops, matmul_gflops, official_update, rate
from representations import make_representation, make_representation_loss

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
OBS_DIM, ACTION_DIM = 24, 6  # walker


def dmc_config(representation: str):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("zeroshot", overrides=[f"representation={representation}", "env=dmc", "env.domain=walker"])


def make_ours(cfg, device: torch.device, precision: str = "fp32", *, data_parallel: bool = False):
    model = make_representation(cfg.representation, OBS_DIM, ACTION_DIM).to(device)
    actor = make_actor(cfg.actor, model, ACTION_DIM).to(device)
    rep_loss = make_representation_loss(cfg.representation, model, actor)
    actor_loss = ZeroShotActorLoss(actor, model, noise_std=cfg.actor.noise_std, noise_clip=cfg.actor.noise_clip)
    optimizer = make_optimizer(cfg.representation.optim, cfg.actor.lr, model, actor)
    if data_parallel:
        from agents.distributed import broadcast_from_main

        broadcast_from_main([model, actor, rep_loss])
    return make_update(
        rep_loss,
        actor_loss,
        optimizer,
        SoftUpdate(rep_loss, tau=cfg.representation.optim.tau),
        precision=precision,
        average_grads=data_parallel,
    )


def make_official(name: str, cfg, device: torch.device, official_path: str):
    """The official FB / HILP agent with the launcher values of ``cfg`` (nothing of it is vendored)."""
    import gymnasium

    sys.path.insert(0, str(Path(official_path).expanduser()))
    rep, actor = cfg.representation, cfg.actor
    archi_actor = {"name": "simple", "hidden_dim": actor.hidden_dim, "hidden_layers": actor.hidden_layers}
    left = {
        "name": "BackwardArchi",
        "hidden_dim": rep.left_encoder.hidden_dim,
        "hidden_layers": rep.left_encoder.hidden_layers,
        "norm": True,
    }
    common_train = {"batch_size": cfg.dataset.batch_size, "discount": rep.loss.gamma}
    if name == "fb":
        from metamotivo.agents.fb.agent import FBAgent as Agent, FBAgentConfig as Config

        archi = {
            "f": {
                "name": "ForwardArchi",
                "hidden_dim": rep.forward_map.hidden_dim,
                "hidden_layers": rep.forward_map.hidden_layers,
            },
            "b": {
                "name": "BackwardArchi",
                "hidden_dim": rep.backward.hidden_dim,
                "hidden_layers": rep.backward.hidden_layers,
                "norm": True,
            },
            "left_encoder": left,
            "actor": archi_actor,
            "L_dim": rep.left_dim,
            "z_dim": rep.z_dim,
            "norm_z": True,
        }
        train = {**common_train, "ortho_coef": rep.loss.ortho_coef, "f_target_tau": rep.optim.tau, "b_target_tau": rep.optim.tau}
        model = {"device": str(device), "archi": archi}
    elif name == "hilp":
        from metamotivo.agents.hilp.agent import HilpAgent as Agent, HilpAgentConfig as Config

        archi = {
            "successor_features": {
                "name": "ForwardArchi",
                "hidden_dim": rep.successor_features.hidden_dim,
                "hidden_layers": rep.successor_features.hidden_layers,
            },
            "features": {
                "name": "BackwardArchi",
                "hidden_dim": rep.features.hidden_dim,
                "hidden_layers": rep.features.hidden_layers,
                "norm": False,
            },
            "left_encoder": left,
            "actor": archi_actor,
            "L_dim": rep.left_dim,
            "z_dim": rep.z_dim,
            "norm_z": True,
        }
        train = {
            **common_train,
            "expectile": rep.loss.expectile,
            "prob_random_goal": rep.loss.random_goal_ratio,
            "sf_target_tau": rep.optim.tau,
            "features_target_tau": rep.optim.tau,
        }
        model = {"device": str(device), "archi": archi, "center_features": True}
    else:
        raise ValueError(f"no official agent wired for {name!r}")
    agent = Agent(
        gymnasium.spaces.Box(-float("inf"), float("inf"), (OBS_DIM,)),
        ACTION_DIM,
        Config(**{"model": model, "train": train, "compile": False}),
    )
    return official_update(agent, extra_keys=("future_observation",))


def synthetic_batches(batch: int, device: torch.device, n: int = 4) -> list[TensorDict]:
    g = torch.Generator().manual_seed(0)
    return [
        TensorDict(
            {
                "observation": torch.randn(batch, OBS_DIM, generator=g),
                "action": torch.rand(batch, ACTION_DIM, generator=g) * 2 - 1,
                "future_observation": torch.randn(batch, OBS_DIM, generator=g),
                "next": {
                    "observation": torch.randn(batch, OBS_DIM, generator=g),
                    "terminated": torch.zeros(batch, 1, dtype=torch.bool),
                },
            },
            [batch],
        ).to(device)
        for _ in range(n)
    ]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--representations", nargs="+", default=["td_jepa", "fb", "hilp"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="also time train.precision=bf16")
    parser.add_argument("--official-path", default=None, help="checkout of the official TD-JEPA code: time its FB and HILP too")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    variants, batches, flops = {}, {}, {}
    for name in args.representations:
        cfg = dmc_config(name)
        batches[name] = synthetic_batches(int(cfg.dataset.batch_size), device)
        variants[(name, "jepa-rl")] = make_ours(cfg, device)
        flops[name] = count_flops(variants[(name, "jepa-rl")], batches[name][0])
        if args.bf16:
            variants[(name, "jepa-rl bf16")] = make_ours(cfg, device, "bf16")
        if args.official_path and name in ("fb", "hilp"):
            try:
                variants[(name, "official")] = make_official(name, cfg, device, args.official_path)
                rate(variants[(name, "official")], batches[name], 1, device)
            except Exception as err:  # report and keep the others
                print(f"official {name}: skipped ({type(err).__name__}: {str(err)[:300]})", flush=True)
                variants.pop((name, "official"), None)
    for key, fn in variants.items():
        rate(fn, batches[key[0]], args.warmup, device)
    rates: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
    matmul = []
    for r in range(args.rounds):  # alternate within each round
        matmul.append(matmul_gflops(device))
        for key, fn in variants.items():
            rates[key].append(rate(fn, batches[key[0]], args.updates, device))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n}/{v} {x[-1]:.2f}/s" for (n, v), x in rates.items()), flush=True)
    med = {key: statistics.median(v) for key, v in rates.items()}
    command = command_line("benchmarks.update_throughput", argv if argv is not None else sys.argv[1:])
    cpu = (
        next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
        if device.type == "cpu"
        else torch.cuda.get_device_name(0)
    )
    lines = [
        f"# Zero-shot update throughput at the official DMC-proprio configurations ({device.type})",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Hardware: {cpu}; {os.cpu_count()} cores; torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"fp32 matmul rate (1024³) {statistics.median(matmul):.0f} GFLOP/s. Synthetic walker batches (obs {OBS_DIM}, action {ACTION_DIM}).",
        f"{args.rounds} alternating rounds × {args.updates} updates; medians.",
        "",
        "| representation | variant | batch | updates/s | ms/update | GFLOP/update (ours) | speed-up vs official |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (name, variant), value in med.items():
        official = med.get((name, "official"))
        lines.append(
            f"| {name} | {variant} | {batches[name][0].shape[0]} | {value:.2f} | {1000 / value:.0f} | {flops[name] / 1e9:.1f} | "
            + (f"{value / official:.2f}× |" if official else "– |")
        )
    lines += [
        "",
        "Per-round rates: " + "; ".join(f"{n}/{v}: " + ", ".join(f"{x:.2f}" for x in vals) for (n, v), vals in rates.items()),
    ]
    result = {
        "command": command.strip(),
        "median_updates_per_s": {f"{n}/{v}": x for (n, v), x in med.items()},
        "rates_per_round": {f"{n}/{v}": x for (n, v), x in rates.items()},
        "gflop_per_update": {n: f / 1e9 for n, f in flops.items()},
    }
    write_report(args.out, f"update_throughput_{device.type}", lines, result)
    return result


if __name__ == "__main__":
    main()
