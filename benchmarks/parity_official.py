"""The official side of the parity benchmark: the official TD-JEPA / FB / HILP agent (flow-BC or TD3-style actor,
as ours), trained on our dataset and scored by our evaluation loop.

    python -m benchmarks.parity_official --official-path ~/td_jepa_public --run-dir outputs/parity/official/seed0 \
        --seed 0 --updates 20000 --eval-every 5000 -- env=ogbench representation=td_jepa dataset.num_episodes=100

The overrides after ``--`` are those of ``python -m agents.zeroshot``: they compose our Hydra config
(``configs/zeroshot.yaml``), and the env, dataset, batch size, γ, τ, learning rates, z_dim, network sizes and
the actor (``actor=flow_bc``: the official *FlowBCAgent; ``actor=td3``: the official TD3-style agent) are mapped
onto the official agent's pydantic config (:func:`official_agent_config`). With ``encoder.standardize=true``
the observations are standardised by our dataset statistics before the official agent sees them.
The official code is imported at run time from ``--official-path`` (a checkout of the official repository,
package ``metamotivo``); nothing of it lives in this repository.

Same data: the official ``agent.update`` reads ``replay_buffer["train"].sample(batch)``, served here from our
TorchRL buffer (``envs.make_dataset``), whose sampling stream is seeded by ``dataset.seed`` as in
``agents.zeroshot``, so both codes see the same batches in the same order.
Same evaluation: ``agents.evaluation.evaluate`` runs on :class:`OfficialRepresentation` /
:class:`OfficialActor`, thin views of the official model. ``D/eval.json`` has the layout
``agents.zeroshot`` writes, plus ``updates_per_second``; ``D/official_config.json`` records the official
agent config and what could not be mapped.

``seed=<s>`` and ``hydra.run.dir=<d>`` among the overrides stand for ``--seed`` / ``--run-dir`` (how
``benchmarks.zeroshot_quality.run_seeds`` launches entry points).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from benchmarks.zeroshot_quality import split_overrides

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_REPOSITORY = "https://github.com/marbaga/td_jepa_public"
CHECKOUT_HINT = (
    f"pass --official-path <checkout of the official TD-JEPA code>; get one with "
    f"`git clone {OFFICIAL_REPOSITORY} <dir>` (the directory that contains metamotivo/agents/td_jepa)"
)

# (our representation name, our actor name) -> (official agent config class, its module)
OFFICIAL_AGENTS = {
    ("td_jepa", "flow_bc"): ("TDJEPAFlowBCAgentConfig", "metamotivo.agents.td_jepa.flow_bc.agent"),
    ("td_jepa_sym", "flow_bc"): ("TDJEPAFlowBCAgentConfig", "metamotivo.agents.td_jepa.flow_bc.agent"),
    ("fb", "flow_bc"): ("FBFlowBCAgentConfig", "metamotivo.agents.fb.flow_bc.agent"),
    ("hilp", "flow_bc"): ("HilpFlowBCAgentConfig", "metamotivo.agents.hilp.flow_bc.agent"),
    ("td_jepa", "td3"): ("TDJEPAAgentConfig", "metamotivo.agents.td_jepa.agent"),
    ("td_jepa_sym", "td3"): ("TDJEPAAgentConfig", "metamotivo.agents.td_jepa.agent"),
    ("fb", "td3"): ("FBAgentConfig", "metamotivo.agents.fb.agent"),
    ("hilp", "td3"): ("HilpAgentConfig", "metamotivo.agents.hilp.agent"),
}
# Rates the official code hard-codes (the running feature covariance / mean: x ← 0.995·x + 0.005·batch).
OFFICIAL_FIXED = {
    ("td_jepa", "feature_cov_rate"): 0.005,
    ("td_jepa_sym", "feature_cov_rate"): 0.005,
    ("hilp", "feature_stats_rate"): 0.005,
}


def check_official_path(path: str | None) -> Path:
    """The checkout folder, or SystemExit with one message saying how to get one."""
    if not path:
        raise SystemExit(f"--official-path is missing: {CHECKOUT_HINT}")
    root = Path(path).expanduser().resolve()
    if not (root / "metamotivo" / "agents" / "td_jepa").is_dir():
        raise SystemExit(
            f"--official-path {path} is not a checkout of the official TD-JEPA code "
            f"(no metamotivo/agents/td_jepa in it): {CHECKOUT_HINT}"
        )
    return root


def official_commit(root: Path) -> str | None:
    """The checkout's git commit, when it is a git work tree (``git archive`` exports have none)."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def import_official_config_class(root: Path, representation: str, actor: str = "flow_bc") -> type:
    """The official agent config class for ``representation`` with ``actor``, imported from the checkout ``root``."""
    import importlib

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import metamotivo

    # Another installed ``metamotivo`` (e.g. Meta Motivo itself) would shadow the checkout.
    if not Path(metamotivo.__file__).resolve().is_relative_to(root):
        raise SystemExit(
            f"`import metamotivo` found {metamotivo.__file__}, not the checkout {root}; "
            "uninstall that package or run from a clean environment"
        )
    name, module = OFFICIAL_AGENTS[representation, actor]
    return getattr(importlib.import_module(module), name)


# ------------------------------------------------------------------------------------- config mapping
def _forward(net: Mapping) -> dict:
    """Our ConditionedPredictor options -> the official ForwardArchi."""
    return {
        "name": "ForwardArchi",
        "hidden_dim": net["hidden_dim"],
        "hidden_layers": net["hidden_layers"],
        "embedding_layers": net.get("embedding_layers", 2),
        "num_parallel": net.get("ensemble_size", 2),
    }


def _backward(net: Mapping, norm: bool = True) -> dict:
    """Our mlp_encoder options -> the official BackwardArchi (Linear-LN-Tanh-[Linear-ReLU]..-Linear, √d-norm)."""
    return {"name": "BackwardArchi", "hidden_dim": net["hidden_dim"], "hidden_layers": net["hidden_layers"], "norm": norm}


def official_agent_config(
    rep: Mapping, actor: Mapping, *, batch_size: int, device: str, compile: bool = False
) -> tuple[dict, list[str]]:
    """(official agent config as a plain dict, notes on what could not be mapped) for our ``representation``
    config ``rep`` and resolved ``actor`` config (``resolve_actor_config``; flow_bc or td3)."""
    name, actor_name = rep["name"], actor.get("name")
    if (name, actor_name) not in OFFICIAL_AGENTS:
        raise SystemExit(
            f"representation={name} actor={actor_name} has no official counterpart here; choose representation "
            f"from {sorted({r for r, _ in OFFICIAL_AGENTS})} and actor=flow_bc or actor=td3"
        )
    loss, optim = rep.get("loss", {}), rep.get("optim", {})
    lr, tau = optim.get("lr", {}), optim["tau"]
    notes: list[str] = []
    for (rep_name, key), value in OFFICIAL_FIXED.items():
        if rep_name == name and not math.isclose(loss.get(key, value), value):
            notes.append(f"representation.loss.{key}={loss[key]} is not mapped: the official code fixes it at {value}")
    if not rep.get("reference_init", True):
        notes.append("representation.reference_init=false is not mapped: the official agents always use orthogonal init")
    net = {
        "hidden_dim": actor["hidden_dim"],
        "hidden_layers": actor["hidden_layers"],
        "embedding_layers": actor.get("embedding_layers", 2),
    }
    train = {
        "batch_size": batch_size,
        "discount": loss["gamma"],
        "lr_actor": actor["lr"],
        "bc_coeff": float(actor["bc_coeff"]),
        "actor_pessimism_penalty": actor["pessimism"],
        "train_goal_ratio": loss.get("goal_ratio", 0.5),
    }
    model: dict[str, Any] = {"device": device, "obs_normalizer": {"name": "IdentityNormalizerConfig"}}
    flow = actor_name == "flow_bc"
    extra: dict[str, Any] = {}  # actor networks, per agent family's archi
    if flow:
        notes.append("representation.loss.target_noise_std/clip: unused on both sides (the flow-BC policy is noise-conditioned)")
        extra = {
            "actor": {"name": "noise_conditioned_actor", **net},
            "actor_vf": {"hidden_dim": actor["flow_hidden_dim"], "hidden_layers": actor["flow_hidden_layers"]},
        }
        train.update(lr_actor_vf=actor["flow_lr"], flow_steps=actor["flow_steps"], stddev_clip=loss.get("target_noise_clip", 0.3))
    else:
        # The official TD3-style agents use one (std, clip) for the actor update and the TD target's next action;
        # ours has actor.noise_std/clip for the first and representation.loss.target_noise_std/clip for the second.
        extra = {"actor": {"name": "simple", **net}}
        model["actor_std"] = actor["noise_std"]
        train["stddev_clip"] = actor["noise_clip"]
        for key, ours in (("std", "noise_std"), ("clip", "noise_clip")):
            if not math.isclose(loss.get(f"target_noise_{key}", actor[ours]), actor[ours]):
                notes.append(
                    f"representation.loss.target_noise_{key}={loss[f'target_noise_{key}']} is not mapped: the official "
                    f"agent uses actor.{ours}={actor[ours]} for the TD target too"
                )
    if name in ("td_jepa", "td_jepa_sym"):
        symmetric = bool(rep.get("symmetric", False))
        # Ours, symmetric: one encoder with ψ's size (z_dim, psi_encoder); the official symmetric model uses φ's slots.
        phi_dim, phi_net = (rep["z_dim"], rep["psi_encoder"]) if symmetric else (rep["phi_dim"], rep["phi_encoder"])
        model.update(
            actor_use_full_encoder=bool(rep.get("actor_uses_features", False)),
            symmetric=symmetric,
            archi={
                "phi_dim": phi_dim,
                "psi_dim": rep["z_dim"],
                "norm_z": True,
                "phi_predictor": _forward(rep["predictor"]),
                "psi_predictor": _forward(rep["predictor"]),
                "phi_mlp_encoder": _backward(phi_net),
                "psi_mlp_encoder": _backward(rep["psi_encoder"]),
                **extra,
            },
        )
        train.update(
            lr_phi=lr["phi_encoder"],
            lr_psi=lr["psi_encoder"],
            lr_predictor=lr["predictors"],
            encoder_target_tau=tau,
            predictor_target_tau=tau,
            phi_ortho_coef=loss["phi_ortho_coef"],
            psi_ortho_coef=loss["psi_ortho_coef"],
            predictor_pessimism_penalty=loss.get("predictor_pessimism", 0.0),
            scale_train_goals=bool(rep.get("whiten_goals", True)),
        )
    elif name == "fb":
        model.update(
            actor_encode_obs=bool(rep.get("actor_uses_features", False)),
            archi={
                "L_dim": rep["left_dim"],
                "z_dim": rep["z_dim"],
                "norm_z": True,
                "f": _forward(rep["forward_map"]),
                "b": _backward(rep["backward"]),
                "left_encoder": _backward(rep["left_encoder"]),
                **extra,
            },
        )
        train.update(
            lr_f=lr["forward"],
            lr_b=lr["backward"],
            f_target_tau=tau,
            b_target_tau=tau,
            ortho_coef=loss["ortho_coef"],
            fb_pessimism_penalty=loss.get("fb_pessimism", 0.0),
        )
    else:  # hilp
        model.update(
            actor_encode_obs=bool(rep.get("actor_uses_features", False)),
            center_features=bool(rep.get("center_features", True)),
            archi={
                "L_dim": rep["left_dim"],
                "z_dim": rep["z_dim"],
                "norm_z": True,
                "successor_features": _forward(rep["successor_features"]),
                "features": _backward(rep["features"], norm=False),  # HILP's φ is not normalised
                "left_encoder": _backward(rep["left_encoder"]),
                **extra,
            },
        )
        train.update(
            lr_sf=lr["successor_features"],
            lr_features=lr["features"],
            sf_target_tau=tau,
            features_target_tau=tau,
            expectile=loss["expectile"],
            prob_random_goal=loss["random_goal_ratio"],
            sf_pessimism_penalty=loss.get("sf_pessimism", 0.0),
        )
        if rep.get("data", {}).get("future") is None:
            notes.append("representation.data.future is null: the official HILP then uses s' as its goals")
    return {"model": model, "train": train, "compile": bool(compile)}, notes


def observation_transform(cfg: Any, suite: Any, train_rb: Any) -> nn.Module | None:
    """What stands in front of the official agent's input: None (raw states), or our dataset standardiser
    (``encoder.standardize=true``), fitted as ``agents.zeroshot`` fits it. SystemExit for settings with no
    official counterpart (rather than a silently different run)."""
    from representations.encoders import make_encoder
    from representations.encoders.standardize import ObservationStandardizer, fit_standardizer

    if suite.observation_key != "observation" or len(suite.observation_shape) != 1:
        raise SystemExit(
            f"observations {suite.observation_key} {list(suite.observation_shape)}: the parity harness "
            "maps state-vector observations only (env.obs=states)"
        )
    if cfg.encoder.name not in ("auto", "identity"):
        raise SystemExit(f"encoder={cfg.encoder.name}: the official agents have no pretrained observation encoder")
    if cfg.train.precision != "fp32":
        raise SystemExit(
            f"train.precision={cfg.train.precision}: the official agents run in fp32 here (only FB has an amp option)"
        )
    encoder, _ = make_encoder(cfg.encoder, suite.observation_shape)
    if not isinstance(encoder, ObservationStandardizer):
        return None
    fit_standardizer(encoder, train_rb, suite.observation_key)  # a fixed set: the sampling stream is untouched
    return encoder


# ------------------------------------------------------------------------------------- adapters
class OfficialReplayView:
    """``replay_buffer["train"]`` for an official agent: batches of our TorchRL buffer as the nested dict of
    tensors its ``update`` reads (``terminated`` bool [B, 1]; ``future_observation`` when the dataset has it),
    observations passed through ``transform`` (our standardiser) when given."""

    def __init__(self, buffer: Any, transform: nn.Module | None = None) -> None:
        self.buffer = buffer
        self.transform = transform if transform is not None else nn.Identity()
        self.samples = 0  # transitions served (for the tests and the log)

    @torch.no_grad()
    def sample(self, batch_size: int) -> dict:
        td = self.buffer.sample(batch_size)
        obs = self.transform
        batch = {
            "observation": obs(td["observation"]),
            "action": td["action"],
            "next": {"observation": obs(td["next", "observation"]), "terminated": td["next", "terminated"].reshape(-1, 1).bool()},
        }
        if "future_observation" in td.keys():
            batch["future_observation"] = obs(td["future_observation"])
        self.samples += batch_size
        return batch


def official_goal_latent(model: nn.Module, representation: str, whiten_goals: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """z for goal observations g [N, D], as the official agent forms its goal latents during training
    (``sample_mixed_z``): TD-JEPA project(ψ(g)[·Σ⁻¹]), FB project(B(g)), HILP project(φ(g)·Σ⁻¹), with Σ the
    model's running ``_z_cov`` (+1e-6·I). The official models have no goal-inference method of their own."""

    def inverse_cov() -> torch.Tensor:
        cov = model._z_cov
        return torch.inverse(cov + 1e-6 * torch.eye(cov.shape[0], device=cov.device))

    if representation in ("td_jepa", "td_jepa_sym"):
        return lambda g: model.project_z(model.psi(g) @ inverse_cov() if whiten_goals else model.psi(g))
    if representation == "fb":
        return lambda g: model.project_z(model.backward_map(g))
    return lambda g: model.project_z(model.features(g) @ inverse_cov())


def official_goal_direction(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """HILP's goal latent at each state (HILP paper §4.3), from the official model's φ: z(s, g) =
    project(φ(g) − φ(s)) for states s [N, D] and goals g [N, D] (its feature centring cancels in the difference).
    The same protocol as our HILP's default ``goal_inference=direction``, so both codes reach goals alike."""
    return lambda s, g: model.project_z(model.features(g) - model.features(s))


class OfficialRepresentation(nn.Module):
    """What ``agents.evaluation.evaluate`` needs of a representation, answered by an official model:
    z from rewards (its ``reward_inference``), z from a goal (``goal_latent``, None: no goal mode), and the
    policy's input (the observation, through ``transform`` as in training; the official model encodes it inside
    ``act``). With ``goal_direction`` the goal z is re-inferred at every state, z(s, g) (HILP's goal policy)."""

    def __init__(
        self,
        model: nn.Module,
        z_dim: int,
        goal_latent: Callable[[torch.Tensor], torch.Tensor] | None,
        transform: nn.Module | None = None,
        goal_direction: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.model = model  # a submodule, so parameters() / eval() / train() reach the official networks
        self.transform = transform if transform is not None else nn.Identity()
        self.z_dim = z_dim
        self._goal_latent = goal_latent
        self._goal_direction = goal_direction
        self.goal_z_per_step = goal_direction is not None

    def actor_input(self, obs: torch.Tensor, state_features: torch.Tensor | None = None) -> torch.Tensor:
        return self.transform(obs)

    @torch.no_grad()
    def infer_z_from_rewards(self, next_obs: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        # The official inference takes rewards [N, 1] and returns z [1, d].
        return self.model.reward_inference(self.transform(next_obs), rewards.reshape(-1, 1).float()).reshape(-1)

    @torch.no_grad()
    def infer_z_from_goal(self, goal_obs: torch.Tensor) -> torch.Tensor | None:
        if self._goal_latent is None:
            return None
        return self._goal_latent(self.transform(goal_obs.unsqueeze(0))).reshape(-1)

    @torch.no_grad()
    def infer_z_toward_goal(self, obs: torch.Tensor, goal_obs: torch.Tensor) -> torch.Tensor:
        if self._goal_direction is None:
            return torch.stack([self.infer_z_from_goal(goal) for goal in goal_obs])
        return self._goal_direction(self.transform(obs), self.transform(goal_obs))


class OfficialActor(nn.Module):
    """π(obs, z) of an official model: its ``act(obs, z, mean=True)`` (TD3-style: the mean action; flow-BC: one
    noise draw per call, as in the official rollouts)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.__dict__["model"] = model  # not a submodule: OfficialRepresentation owns it

    def forward(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model.act(obs, z, mean=True)


def our_name_of_official(name: str) -> str:
    """Where the official TD-JEPA flow-BC model's parameter ``name`` lives in our (representation, actor) pair:
    ``representation.<...>`` or ``actor.<...>`` (official ``_psi_mlp_encoder.net.3.weight`` →
    ``representation.psi_encoder.3.weight``, ``_actor_vf.net.0.bias`` → ``actor.flow.net.0.bias``)."""
    if name.startswith("_actor_vf."):
        return "actor.flow." + name.removeprefix("_actor_vf.")
    if name.startswith("_actor."):
        return "actor.policy." + name.removeprefix("_actor.")
    name = name.removeprefix("_").replace("_mlp_encoder.net.", "_encoder.").replace(".Fs.", ".trunk.")
    return "representation." + name


def our_parameters(representation: nn.Module, actor: nn.Module) -> dict[str, torch.Tensor]:
    """Our parameters under the names :func:`our_name_of_official` gives (``representation.<...>``, ``actor.<...>``)."""
    return {
        **{f"representation.{k}": v for k, v in representation.named_parameters()},
        **{f"actor.{k}": v for k, v in actor.named_parameters()},
    }


@torch.no_grad()
def copy_official_weights(model: nn.Module, representation: nn.Module, actor: nn.Module) -> list[str]:
    """Copies an official asymmetric TD-JEPA flow-BC model's online weights and ``_z_cov`` into ours (build our
    loss, and so our target copies, afterwards); returns the official names copied. For step-by-step parity."""
    ours = our_parameters(representation, actor)
    copied = []
    for name, value in model.named_parameters():
        if name.startswith("_target_"):
            continue
        target = ours.get(our_name_of_official(name))
        if target is None or target.shape != value.shape:
            raise ValueError(
                f"official parameter {name} {tuple(value.shape)} has no counterpart in ours ({our_name_of_official(name)})"
            )
        target.copy_(value)
        copied.append(name)
    representation.feature_cov.copy_(model._z_cov)
    return copied


def official_update_drawing_as_ours(agent: Any, batch: dict, step: int) -> dict:
    """``agent.update`` on ``batch`` with ``torch.randperm`` drawn as our z sampler permutes (argsort of uniforms,
    which has no host sync), so that after the same ``torch.manual_seed`` both codes draw the same z and noise."""
    randperm = torch.randperm
    torch.randperm = lambda n, device=None, **_: torch.argsort(torch.rand(n, device=device))
    try:
        return agent.update({"train": type("Replay", (), {"sample": lambda self, _: batch})()}, step)
    finally:
        torch.randperm = randperm


# ------------------------------------------------------------------------------------- training
def compose_config(overrides: list[str]) -> Any:
    """Our ``configs/zeroshot.yaml`` composed with ``overrides`` (as ``python -m agents.zeroshot`` would)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
            return compose("zeroshot", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:  # a bad override: one message, as agents.zeroshot gives
        raise SystemExit(f"bad agents.zeroshot override: {err}") from None


def train_official(
    cfg: Any, run_dir: Path, official_root: Path, *, updates: int, eval_every: int, goal_z: str = "ours", threads: int | None = 1
) -> dict:
    """Trains the official agent for ``updates`` on our data, evaluates it through our loop every
    ``eval_every`` updates and at the end; writes ``run_dir/eval.json`` and returns its content. ``goal_z``: "ours"
    (the goal inference our representation uses: HILP's per-step direction with ``goal_inference=direction``, else
    the training-time latent), "train" (the official training-time goal latent), "none" (no goal mode)."""
    import gymnasium
    import numpy as np
    from omegaconf import OmegaConf
    from tqdm.auto import tqdm

    from agents.actor import resolve_actor_config
    from agents.engine import resolve_device, seed_everything
    from agents.evaluation import evaluate, format_table
    from envs import make_dataset, make_task_suite

    if threads:
        torch.set_num_threads(threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    suite = make_task_suite(cfg.env)
    train_rb, _ = make_dataset(cfg.dataset)
    transform = observation_transform(cfg, suite, train_rb)
    rep = OmegaConf.to_container(cfg.representation, resolve=True)
    actor_cfg = resolve_actor_config(OmegaConf.to_container(cfg.actor, resolve=True), cfg.env)
    agent_dict, notes = official_agent_config(
        rep, actor_cfg, batch_size=cfg.dataset.batch_size, device=device.type, compile=cfg.train.compile
    )
    config_cls = import_official_config_class(official_root, rep["name"], actor_cfg["name"])
    agent = config_cls(**agent_dict).build(
        gymnasium.spaces.Box(-np.inf, np.inf, tuple(suite.observation_shape), np.float32), suite.action_dim
    )
    model, agent_name = agent._model, config_cls.__name__.removesuffix("Config")
    modes = list(cfg.eval.modes)
    if goal_z not in ("ours", "train", "none"):
        raise ValueError(f"--official-goal-z {goal_z!r}: use ours, train or none")
    goal_latent = official_goal_latent(model, rep["name"], bool(rep.get("whiten_goals", True))) if goal_z != "none" else None
    per_step = goal_z == "ours" and rep["name"] == "hilp" and rep.get("goal_inference", "direction") == "direction"
    goal_direction = official_goal_direction(model) if per_step else None
    if "goal" in modes and goal_latent is None:
        modes.remove("goal")
        notes.append("goal mode skipped (--official-goal-z none)")
    elif "goal" in modes and per_step:
        notes.append(
            "goal z: HILP's per-step direction project(φ(g) − φ(s)) from the official model's features, as our "
            "HILP infers goals (HILP paper §4.3); the official code has no goal-inference method and evaluates "
            "reward z only"
        )
    elif "goal" in modes:
        notes.append(
            "goal z: the official agent's training-time goal latent (sample_mixed_z); the official code has no "
            "goal-inference method and evaluates reward z only"
        )
    # The batches are standardised on the CPU (where the buffer lives), evaluation inputs on the model's device.
    representation = OfficialRepresentation(
        model,
        model.cfg.archi.psi_dim if rep["name"].startswith("td_jepa") else model.cfg.archi.z_dim,
        goal_latent,
        None if transform is None else copy.deepcopy(transform).to(device),
        goal_direction=goal_direction,
    )
    actor = OfficialActor(model)
    replay = {"train": OfficialReplayView(train_rb, transform)}
    if transform is not None:
        notes.append(
            "encoder.standardize=true: observations are standardised with our dataset mean/std before the official "
            "agent sees them (in training and evaluation; the official launchers feed raw observations)"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    commit = official_commit(official_root)
    (run_dir / "official_config.json").write_text(
        json.dumps(
            {
                "agent": agent_name,
                "official_path": str(official_root),
                "official_commit": commit,
                "config": agent_dict,
                "notes": notes,
                "overrides": OmegaConf.to_container(cfg, resolve=True),
            },
            indent=2,
            default=str,
        )
    )
    print(
        f"official {agent_name} on {suite.name}: {len(train_rb)} transitions, batch {cfg.dataset.batch_size}, "
        f"device {device}, run folder {run_dir}" + "".join(f"\n  note: {n}" for n in notes)
    )

    curve: list[dict] = []
    clock = {"train_seconds": 0.0, "since": time.perf_counter()}

    def train_seconds() -> float:
        return clock["train_seconds"] + time.perf_counter() - clock["since"]

    def run_eval(step: int) -> dict[str, dict[str, float]]:
        seconds = train_seconds()
        distances: dict[str, dict[str, float]] = {}  # as agents.zeroshot reports them
        results = evaluate(
            representation,
            actor,
            suite,
            train_rb.sample(cfg.eval.inference_samples),
            episodes=cfg.eval.episodes,
            modes=modes,
            seed=cfg.seed,
            final_distances=distances,
        )
        curve.append(
            {
                "step": step,
                "train_seconds": round(seconds, 1),
                "results": results,
                **({"final_distance": distances} if distances else {}),
            }
        )
        clock["train_seconds"], clock["since"] = seconds, time.perf_counter()  # evaluations are not training time
        return results

    model.train()
    # The official update calls this marker every step; its first call imports torch's inductor (~2 s on CPU),
    # a one-off cost that would otherwise be booked as training time. Outside CUDA graphs it does nothing else.
    torch.compiler.cudagraph_mark_step_begin()
    progress = tqdm(range(updates), total=updates, desc="official", unit="update", dynamic_ncols=True)
    clock["since"] = time.perf_counter()
    for step in progress:
        metrics = agent.update(replay, step)
        done = step + 1
        if cfg.train.log_every and (done % cfg.train.log_every == 0 or done == updates):
            bad = [k for k, v in metrics.items() if not torch.isfinite(v).all()]
            if bad:
                raise SystemExit(f"official agent: non-finite {', '.join(bad)} at update {done}")
            losses = {k: v.mean().item() for k, v in metrics.items() if "loss" in k}
            tqdm.write(
                f"update {done}: "
                + " ".join(f"{k}={v:.4g}" for k, v in losses.items())
                + f" ({progress.format_dict.get('rate') or 0.0:.1f} updates/s)"
            )
        if eval_every and done % eval_every == 0 and done != updates:
            results = run_eval(done)
            tqdm.write(f"update {done}: " + ", ".join(f"{m} z {sum(r.values()) / len(r):.3g}" for m, r in results.items()))
    progress.close()
    seconds = train_seconds()
    results = run_eval(updates)
    saved = {
        "env": suite.name,
        "step": updates,
        "metric": suite.metric,
        "results": results,
        **({"final_distance": curve[-1]["final_distance"]} if "final_distance" in curve[-1] else {}),
        "train_seconds": curve[-1]["train_seconds"],
        "curve": curve,
        "updates_per_second": updates / seconds if seconds > 0 else None,
    }
    (run_dir / "eval.json").write_text(json.dumps(saved, indent=2))
    table = format_table(results, suite.metric, curve[-1].get("final_distance"))
    (run_dir / "eval.md").write_text(table + "\n")
    print(
        f"\nZero-shot evaluation of the official {agent_name} on {suite.name} after {updates} updates "
        f"({cfg.eval.episodes} episodes per task, our evaluation loop):\n{table}"
    )
    return saved


def split_run_overrides(overrides: list[str]) -> tuple[list[str], str | None]:
    """(config overrides, the ``hydra.run.dir=`` value if any): the run folder is not part of the config."""
    run_dir = None
    kept = []
    for o in overrides:
        if o.startswith("hydra.run.dir="):
            run_dir = o.split("=", 1)[1]
        elif not o.startswith("hydra."):
            kept.append(o)
    return kept, run_dir


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``benchmarks.parity`` passes through to this script."""
    parser.add_argument("--official-path", help="checkout of the official TD-JEPA code (contains metamotivo/agents/td_jepa)")
    parser.add_argument("--updates", type=int, help="updates per run (default: train.steps)")
    parser.add_argument("--eval-every", type=int, help="updates between evaluations (default: train.eval_every; 0: at the end)")
    parser.add_argument(
        "--official-goal-z",
        choices=["ours", "train", "none"],
        default="ours",
        help="goal mode of the official agent: the goal inference of our representation (ours: HILP's "
        "per-step direction, else as train), its training-time goal latent (train) or skipped (none)",
    )


def main(argv: list[str] | None = None) -> dict:
    _, own, overrides = split_overrides(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_shared_arguments(parser)
    parser.add_argument("--run-dir", help="output folder (default: hydra.run.dir=... among the overrides)")
    parser.add_argument("--seed", type=int, help="default: seed=... among the overrides, else the config's")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(own)
    official_root = check_official_path(args.official_path)
    overrides, hydra_dir = split_run_overrides(overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    run_dir = args.run_dir or hydra_dir
    if not run_dir:
        raise SystemExit("--run-dir is missing (or hydra.run.dir=<folder> among the overrides)")
    cfg = compose_config(overrides)
    updates = cfg.train.steps if args.updates is None else args.updates
    eval_every = cfg.train.eval_every if args.eval_every is None else args.eval_every
    return train_official(
        cfg,
        Path(run_dir),
        official_root,
        updates=int(updates),
        eval_every=int(eval_every or 0),
        goal_z=args.official_goal_z,
        threads=args.threads,
    )


if __name__ == "__main__":
    from agents.engine import USER_ERRORS, exit_with_user_error

    try:
        main()
    except USER_ERRORS as err:  # a bad override, dataset or checkpoint: one message, not a traceback
        exit_with_user_error(err)
