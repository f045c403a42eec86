"""TD-JEPA gradient-update throughput at the official OGBench-proprio configuration.

    python -m benchmarks.td_jepa_throughput [--device cpu|cuda] [--rounds 5] [--updates 60] [--compile]

Compares, alternately in one sitting (absolute rates on a shared machine drift by up to ~18 %):
  * ``jepa-rl``   — our update: TDJEPALoss + ZeroShotActorLoss, one backward, one fused Adam, SoftUpdate;
  * ``reference`` — the same networks and math stepped the way the official code does (its TDJEPAAgent.update):
    goal sampling with an extra ψ(s′) pass and a
    50×50 inverse, a representation step with 4 separate non-fused Adams, then an actor step that
    recomputes φ(s) and also computes (and discards) the predictor's weight gradients, 1 more Adam,
    and 4 soft updates.
Also counts the FLOPs of one update (torch.utils.flop_counter) and measures this machine's fp32
matmul rate, and writes ``benchmarks/results/td_jepa_throughput_<device>.{md,json}``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from omegaconf import OmegaConf
from tensordict import TensorDict
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry
from torchrl.objectives import SoftUpdate

from agents.actor import ZeroShotActorLoss, make_actor
from agents.engine import make_optimizer
from agents.update import make_update
from representations import make_representation, make_representation_loss
from representations.core import clipped_noise_action, ensemble_reduce, orthonormality_loss, project_to_sphere

warnings.filterwarnings("ignore")
from benchmarks.report import command_line, write_report

ROOT = Path(__file__).resolve().parents[1]
OBS_DIM, ACTION_DIM, BATCH = 29, 8, 256  # the reference measurement's shapes


def build(device: torch.device):
    rep_cfg = OmegaConf.load(ROOT / "configs/representation/td_jepa.yaml")
    actor_cfg = OmegaConf.load(ROOT / "configs/actor/td3.yaml")
    model = make_representation(rep_cfg, OBS_DIM, ACTION_DIM).to(device)
    actor = make_actor(actor_cfg, model, ACTION_DIM).to(device)
    return rep_cfg, actor_cfg, model, actor


def make_ours(device: torch.device, compile_update: bool, cudagraphs: bool = False, precision: str = "fp32"):
    rep_cfg, actor_cfg, model, actor = build(device)
    rep_loss = make_representation_loss(rep_cfg, model, actor)
    actor_loss = ZeroShotActorLoss(actor, model, noise_std=actor_cfg.noise_std, noise_clip=actor_cfg.noise_clip)
    updater = SoftUpdate(rep_loss, tau=rep_cfg.optim.tau)
    optimizer = make_optimizer(rep_cfg.optim, actor_cfg.lr, model, actor, capturable=cudagraphs)

    return make_update(
        rep_loss, actor_loss, optimizer, updater, compile=compile_update, cudagraphs=cudagraphs, precision=precision
    )


def make_reference(device: torch.device):
    """Our re-derivation of the reference's update *structure* around the same math."""
    rep_cfg, actor_cfg, model, actor = build(device)
    import copy

    targets = {
        n: copy.deepcopy(getattr(model, n)).requires_grad_(False)
        for n in ("phi_encoder", "psi_encoder", "phi_predictor", "psi_predictor")
    }
    adam = lambda params: torch.optim.Adam(params, lr=1e-4, foreach=False, fused=False)  # noqa: E731 (reference: plain per-param loop)
    opts = {n: adam(getattr(model, n).parameters()) for n in targets}
    actor_opt = adam(actor.parameters())
    gamma, tau = rep_cfg.loss.gamma, rep_cfg.optim.tau

    def update(td):
        obs, action, next_obs = td["observation"], td["action"], td["next", "observation"]
        discount = gamma * (~td["next", "terminated"]).float()
        with torch.no_grad():  # mixed z: sphere, or Σ⁻¹ψ(s′) of a shuffled batch
            z = project_to_sphere(torch.randn(BATCH, model.z_dim, device=device))
            inv = torch.inverse(model.feature_cov + 1e-6 * torch.eye(model.z_dim, device=device))
            goals = project_to_sphere(model.psi_encoder(next_obs)[torch.randperm(BATCH, device=device)] @ inv)
            z = torch.where(torch.rand(BATCH, 1, device=device) < 0.5, goals, z)
            nphi, npsi = targets["phi_encoder"](next_obs), targets["psi_encoder"](next_obs)
            na = clipped_noise_action(actor(next_obs, z), 0.2, 0.3)
            y_phi = npsi + discount * ensemble_reduce(targets["phi_predictor"](nphi, na, z), 0.0)
            y_psi = nphi + discount * ensemble_reduce(targets["psi_predictor"](npsi, na, z), 0.0)
        phi, psi = model.phi_encoder(obs), model.psi_encoder(obs)
        loss = (
            (model.phi_predictor(phi, action, z) - y_phi).square().sum(-1).mean()
            + (model.psi_predictor(psi, action, z) - y_psi).square().sum(-1).mean()
            + orthonormality_loss(phi)[0]
            + orthonormality_loss(psi)[0]
        )
        for o in opts.values():
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts.values():
            o.step()
        with torch.no_grad():
            model.feature_cov.lerp_(psi.T @ psi / BATCH, 0.005)
            phi_fresh = model.phi_encoder(obs)  # φ recomputed for the actor step
        a = clipped_noise_action(actor(obs, z), 0.2, 0.3)
        actor_loss = -(model.phi_predictor(phi_fresh, a, z) * z).sum(-1).mean(0).mean()
        actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()  # also fills (and then ignores) the predictor's weight gradients
        actor_opt.step()
        with torch.no_grad():
            for n, t in targets.items():
                src, dst = list(getattr(model, n).parameters()), list(t.parameters())
                torch._foreach_mul_(dst, 1 - tau)
                torch._foreach_add_(dst, src, alpha=tau)
        return loss.detach()

    return update


def make_official(device: torch.device, official_path: str):
    """The official TD-JEPA agent (TD3-style actor, OGBench-proprio launcher values), if a checkout
    of facebookresearch/td_jepa (or its public mirror) is given. Nothing of it is vendored here."""
    import gymnasium

    sys.path.insert(0, str(Path(official_path).expanduser()))
    from metamotivo.agents.td_jepa.agent import TDJEPAAgent, TDJEPAAgentConfig

    cfg = TDJEPAAgentConfig(
        **{
            "model": {
                "device": str(device),
                "actor_use_full_encoder": False,
                "archi": {
                    "phi_dim": 50,
                    "psi_dim": 50,
                    "norm_z": True,
                    "phi_predictor": {"hidden_dim": 512, "hidden_layers": 2},
                    "psi_predictor": {"hidden_dim": 512, "hidden_layers": 2},
                    "phi_mlp_encoder": {"hidden_dim": 512, "hidden_layers": 4, "norm": True},
                    "psi_mlp_encoder": {"hidden_dim": 512, "hidden_layers": 4, "norm": True},
                    "actor": {"name": "simple", "hidden_dim": 512, "hidden_layers": 2},
                },
            },
            "train": {
                "batch_size": BATCH,
                "discount": 0.99,
                "phi_ortho_coef": 1.0,
                "psi_ortho_coef": 1.0,
                "encoder_target_tau": 0.005,
                "predictor_target_tau": 0.005,
                "scale_train_goals": True,
            },
            "compile": False,
        }
    )
    obs_space = gymnasium.spaces.Box(-float("inf"), float("inf"), (OBS_DIM,))
    return official_update(TDJEPAAgent(obs_space, ACTION_DIM, cfg))


def official_update(agent, extra_keys: tuple[str, ...] = ()):
    """``td ↦ agent.update(...)`` for an official agent, whose update samples from replay_buffer["train"]."""

    class _Buffer:
        batch = None

        def sample(self, batch_size):
            return self.batch

    buffer = _Buffer()

    def update(td):
        buffer.batch = {
            "observation": td["observation"],
            "action": td["action"],
            **{k: td[k] for k in extra_keys},
            "next": {"observation": td["next", "observation"], "terminated": td["next", "terminated"]},
        }
        return agent.update({"train": buffer}, step=0)

    return update


def synthetic_batches(device: torch.device, n: int = 16) -> list[TensorDict]:
    g = torch.Generator().manual_seed(0)
    return [
        TensorDict(
            {
                "observation": torch.randn(BATCH, OBS_DIM, generator=g),
                "action": torch.rand(BATCH, ACTION_DIM, generator=g) * 2 - 1,
                "next": {
                    "observation": torch.randn(BATCH, OBS_DIM, generator=g),
                    "terminated": torch.zeros(BATCH, 1, dtype=torch.bool),
                },
            },
            [BATCH],
        ).to(device)
        for _ in range(n)
    ]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def rate(update, batches, n: int, device) -> float:
    sync(device)
    start = time.perf_counter()
    for i in range(n):
        update(batches[i % len(batches)].clone())
    sync(device)
    return n / (time.perf_counter() - start)


class _FlopCount(TorchDispatchMode):
    """Counts matmul/conv FLOPs with torch's own formulas (``flop_registry``), forward and backward.

    (``FlopCounterMode`` also installs module hooks, which trip over TensorDict-holding modules.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        packet = func._overloadpacket
        if packet in flop_registry:
            self.total += flop_registry[packet](*args, **(kwargs or {}), out_val=out)
        return out


def count_flops(update, batch) -> float:
    with _FlopCount() as counter:
        update(batch.clone())
    return counter.total


def matmul_gflops(device, size=1024, reps=20) -> float:
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - start) / 1e9


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=60, help="updates per timed run")
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--compile", action="store_true", help="also time our update under torch.compile")
    parser.add_argument("--bf16", action="store_true", help="also time our update under bf16 autocast (train.precision=bf16)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--official-path", default=None, help="checkout of the official TD-JEPA code (package metamotivo) to time alternately"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    batches = synthetic_batches(device)
    variants = {"reference": make_reference(device), "jepa-rl": make_ours(device, False)}
    if args.official_path:
        variants = {"official": make_official(device, args.official_path), **variants}
    if args.compile:
        variants["jepa-rl (compiled)"] = make_ours(device, True)
    if args.bf16:
        variants["jepa-rl (bf16 autocast)"] = make_ours(device, False, precision="bf16")
    if device.type == "cuda":
        variants["jepa-rl (cudagraphs)"] = make_ours(device, False, cudagraphs=True)
    flops = {name: count_flops(fn, batches[0]) for name, fn in variants.items() if "(" not in name}
    for name, fn in list(variants.items()):
        try:
            rate(fn, batches, args.warmup, device)
        except Exception as err:  # e.g. torch.compile unsupported here: report, keep the others
            print(f"{name}: skipped ({type(err).__name__}: {str(err)[:400]})", flush=True)
            del variants[name]
    rates: dict[str, list[float]] = {name: [] for name in variants}  # after warm-up failures
    matmul = []
    for r in range(args.rounds):  # alternate variants within each round
        matmul.append(matmul_gflops(device))
        for name, fn in variants.items():
            rates[name].append(rate(fn, batches, args.updates, device))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {v[-1]:.2f}/s" for n, v in rates.items()), flush=True)
    med = {n: statistics.median(v) for n, v in rates.items()}
    peak = statistics.median(matmul)
    hw = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    try:
        hw["cpu_model"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    command = command_line("benchmarks.td_jepa_throughput", argv if argv is not None else sys.argv[1:])
    result = {
        "command": command.strip(),
        "hardware": hw,
        "batch": BATCH,
        "obs_dim": OBS_DIM,
        "action_dim": ACTION_DIM,
        "rates_per_round": rates,
        "median_updates_per_s": med,
        "gflop_per_update": {n: f / 1e9 for n, f in flops.items()},
        "matmul_fp32_gflops_1024": peak,
        "speedup_vs_reference": {n: med[n] / med["reference"] for n in med},
        **({"speedup_vs_official": {n: med[n] / med["official"] for n in med}} if "official" in med else {}),
    }
    lines = [
        f"# TD-JEPA update throughput ({device.type})",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Hardware: {hw.get('cpu_model', hw['device'])}; {hw['cpu_count']} cores; torch {hw['torch']} ({hw['torch_threads']} threads).",
        f"Configuration: official OGBench proprio (batch {BATCH}, obs {OBS_DIM}, action {ACTION_DIM}, φ/ψ 4×512→50, predictors 512×2 twin, TD3-style actor 512×2).",
        f"Measured fp32 matmul rate (1024³): {peak:.0f} GFLOP/s. {args.rounds} alternating rounds × {args.updates} updates; medians.",
        "",
        "| variant | updates/s (median) | ms/update | GFLOP/update | achieved GFLOP/s | % of matmul rate | speed-up vs reference |"
        + (" speed-up vs official |" if "official" in variants else ""),
        "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if "official" in variants else ""),
    ]
    for n in variants:
        gf = flops.get(n, flops["jepa-rl"]) / 1e9
        lines.append(
            f"| {n} | {med[n]:.2f} | {1000 / med[n]:.0f} | {gf:.1f} | {gf * med[n]:.0f} | {100 * gf * med[n] / peak:.0f}% | {med[n] / med['reference']:.2f}× |"
            + (f" {med[n] / med['official']:.2f}× |" if "official" in med else "")
        )
    lines += ["", "Per-round rates: " + "; ".join(f"{n}: " + ", ".join(f"{v:.2f}" for v in vals) for n, vals in rates.items())]
    suffix = "".join(f"_{flag}" for flag in ("compile", "bf16") if getattr(args, flag))
    write_report(args.out, f"td_jepa_throughput_{device.type}{suffix}", lines, result)
    return result


if __name__ == "__main__":
    main()
