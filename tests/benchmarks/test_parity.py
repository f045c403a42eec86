"""The parity harness: its report's numbers, the config mapping onto the official agents, the batch/model
adapters, the missing-checkout message, and (with JEPA_RL_OFFICIAL_PATH set) the official half itself."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import parity, parity_official
from benchmarks.parity_official import OfficialReplayView, OfficialRepresentation, compose_config, official_agent_config

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_PATH = os.environ.get("JEPA_RL_OFFICIAL_PATH")
needs_official = pytest.mark.skipif(
    not OFFICIAL_PATH,
    reason="set JEPA_RL_OFFICIAL_PATH to a checkout of the official TD-JEPA code "
    "(git clone https://github.com/marbaga/td_jepa_public) to run the official half",
)

TINY_DATA = [
    "env=ogbench",
    "dataset.source=generated",
    "dataset.num_episodes=2",
    "dataset.episode_length=40",
    "env.max_episode_steps=8",
    "dataset.batch_size=16",
    "train.log_every=2",
    "train.checkpoint_every=0",
    "eval.episodes=1",
    "eval.inference_samples=64",
    "logger.backend=none",
    "actor.hidden_dim=16",
    "actor.flow_hidden_dim=16",
]
TINY_NETS = {
    "td_jepa": [
        "representation.z_dim=8",
        "representation.phi_dim=6",
        "representation.phi_encoder.hidden_dim=16",
        "representation.psi_encoder.hidden_dim=16",
        "representation.predictor.hidden_dim=16",
    ],
    "fb": [
        "representation=fb",
        "representation.z_dim=8",
        "representation.left_dim=6",
        "representation.left_encoder.hidden_dim=16",
        "representation.backward.hidden_dim=16",
        "representation.forward_map.hidden_dim=16",
    ],
    "hilp": [
        "representation=hilp",
        "representation.z_dim=8",
        "representation.left_dim=6",
        "representation.features.hidden_dim=16",
        "representation.left_encoder.hidden_dim=16",
        "representation.successor_features.hidden_dim=16",
    ],
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return f"dataset.cache_dir={tmp_path_factory.mktemp('parity-data')}"


def _run(per_task: dict[str, float], goal: float, seconds: float, step: int = 4) -> dict:
    results = {"reward": per_task, "goal": {t: goal for t in per_task}}
    return {
        "env": "toy-env",
        "step": step,
        "metric": "success",
        "results": results,
        "train_seconds": seconds,
        "curve": [
            {"step": 2, "train_seconds": seconds / 2, "results": results},
            {"step": step, "train_seconds": seconds, "results": results},
        ],
    }


def test_summary_is_mean_and_standard_error_over_seeds():
    runs = {
        "jepa-rl": {0: _run({"task1": 1.0, "task2": 0.0}, 0.5, 2.0), 1: _run({"task1": 0.5, "task2": 0.0}, 0.0, 4.0)},
        "official": {0: {**_run({"task1": 0.0, "task2": 1.0}, 1.0, 8.0), "updates_per_second": 0.25}},
    }
    summary = parity.summarise(runs)
    mu, se, n = summary["final"]["jepa-rl"]["reward"]["task1"]
    assert (mu, n) == (75.0, 2) and se == pytest.approx(25.0)  # s.d. 35.36 / √2
    assert summary["final"]["jepa-rl"]["reward"]["mean"][0] == pytest.approx(37.5)  # per-seed task means 50, 25
    assert summary["final"]["official"]["goal"]["task2"] == [100.0, pytest.approx(math.nan, nan_ok=True), 1]
    assert summary["updates_per_second"]["jepa-rl"][0] == pytest.approx((4 / 2 + 4 / 4) / 2)  # step / train_seconds
    assert summary["updates_per_second"]["official"][0] == 0.25  # recorded by the official run
    assert [row["step"] for row in summary["curve"]["official"]] == [2, 4]
    lines = parity.report_lines(
        summary,
        "python -m benchmarks.parity X",
        seeds={"jepa-rl": [0, 1], "official": [0]},
        failed={"jepa-rl": [], "official": [2]},
        updates=4,
        eval_every=2,
        official=None,
    )
    assert "| task1 | 75.0 ± 25.0 | 0.0 |" in lines and "| mean | 25.0 ± 25.0 | 100.0 |" in lines  # goal z table
    assert "| 4 | 37.5 ± 12.5 | 50.0 | 25.0 ± 25.0 | 100.0 |" in lines  # curve: both codes, both modes
    assert "Command: `python -m benchmarks.parity X`" in lines and any("official [0] (failed: [2])" in line for line in lines)


def test_our_half_and_its_report_through_the_entry_points(tmp_path, cache):
    overrides = [*TINY_DATA, *TINY_NETS["td_jepa"], cache]
    out = tmp_path / "out"
    result = parity.main(
        [
            "--ours-only",
            "--seeds",
            "0",
            "--updates",
            "4",
            "--eval-every",
            "2",
            "--label",
            "tiny",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--out",
            str(out),
            "--",
            *overrides,
        ]
    )
    saved = json.loads((Path(result["runs_root"]) / "jepa-rl" / "seed0" / "eval.json").read_text())
    assert saved["step"] == 4 and [p["step"] for p in saved["curve"]] == [2, 4]  # --updates / --eval-every reached ours
    stem = f"parity_{saved['env']}_tiny"
    assert {p.name for p in out.iterdir()} == {f"{stem}.md", f"{stem}.json", f"{stem}.png"}
    report = json.loads((out / f"{stem}.json").read_text())
    assert list(report["final"]) == ["jepa-rl"] and report["official"] is None
    for mode, scores in saved["results"].items():
        for task, score in scores.items():
            assert report["final"]["jepa-rl"][mode][task][0] == pytest.approx(100 * score)
    assert report["updates_per_second"]["jepa-rl"][0] == pytest.approx(4 / saved["train_seconds"])
    table = (out / f"{stem}.md").read_text()
    assert "Command: `python -m benchmarks.parity --ours-only --seeds 0 --updates 4" in table
    assert "| task | jepa-rl |" in table and "| updates | jepa-rl reward z | jepa-rl goal z |" in table


def test_a_missing_or_wrong_checkout_is_one_message(tmp_path):
    with pytest.raises(SystemExit, match="--official-path is missing.*git clone.*--ours-only"):
        parity.main(["--seeds", "0", "--", "env=ogbench"])
    with pytest.raises(SystemExit, match=f"--official-path {tmp_path} is not a checkout.*git clone"):
        parity.main(["--official-path", str(tmp_path), "--", "env=ogbench"])
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.parity_official", "--run-dir", str(tmp_path / "x"), "--", "env=ogbench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"--official-path is missing: {parity_official.CHECKOUT_HINT}"]
    from benchmarks import parity_twin

    with pytest.raises(SystemExit, match=f"--official-path {tmp_path} is not a checkout.*git clone"):
        parity_twin.main(["--official-path", str(tmp_path), "--", "env=ogbench"])


def test_our_config_maps_onto_the_official_agents():
    cfg = compose_config(
        [
            "env=ogbench",
            *TINY_NETS["td_jepa"],
            "representation.optim.lr.psi_encoder=1e-5",
            "representation.loss.feature_cov_rate=0.01",
            "actor.flow_steps=5",
            "actor.hidden_dim=16",
            "actor.flow_hidden_dim=16",
        ]
    )
    from agents.actor import resolve_actor_config
    from omegaconf import OmegaConf

    def mapped(c):
        return official_agent_config(
            OmegaConf.to_container(c.representation, resolve=True),
            resolve_actor_config(OmegaConf.to_container(c.actor), c.env),
            batch_size=16,
            device="cpu",
        )

    agent, notes = mapped(cfg)
    archi, train = agent["model"]["archi"], agent["train"]
    sizes = (archi["phi_dim"], archi["psi_dim"], archi["phi_mlp_encoder"]["hidden_dim"], archi["phi_predictor"]["hidden_dim"])
    assert sizes == (6, 8, 16, 16)
    assert archi["actor"] == {"name": "noise_conditioned_actor", "hidden_dim": 16, "hidden_layers": 2, "embedding_layers": 2}
    assert archi["actor_vf"] == {"hidden_dim": 16, "hidden_layers": 4}
    assert train["lr_psi"] == 1e-5 and train["flow_steps"] == 5 and train["bc_coeff"] == 0.3  # null → 0.3 on a maze
    assert train["discount"] == 0.99 and train["encoder_target_tau"] == 0.005 and train["scale_train_goals"] is True
    assert any("feature_cov_rate=0.01 is not mapped" in n for n in notes)
    cube, _ = mapped(compose_config(["env=ogbench", "env.name=cube-single-play", *TINY_NETS["fb"]]))
    assert cube["train"]["bc_coeff"] == 3.0 and cube["train"]["ortho_coef"] == 100.0 and cube["model"]["archi"]["L_dim"] == 6
    hilp, _ = mapped(compose_config(["env=ogbench", *TINY_NETS["hilp"]]))
    assert hilp["model"]["archi"]["features"]["norm"] is False and hilp["train"]["prob_random_goal"] == 0.375
    td3, notes = mapped(
        compose_config(
            [
                "env=ogbench",
                *TINY_NETS["td_jepa"],
                "actor=td3",
                "actor.noise_std=0.1",
                "representation.loss.target_noise_clip=0.5",
            ]
        )
    )
    assert td3["model"]["archi"]["actor"]["name"] == "simple" and "actor_vf" not in td3["model"]["archi"]
    assert td3["model"]["actor_std"] == 0.1 and td3["train"]["stddev_clip"] == 0.3 and "flow_steps" not in td3["train"]
    assert any("target_noise_std=0.2 is not mapped" in n for n in notes) and any("target_noise_clip=0.5" in n for n in notes)
    with pytest.raises(SystemExit, match="representation=vjepa actor=td3 has no official counterpart"):
        official_agent_config({"name": "vjepa"}, {"name": "td3"}, batch_size=16, device="cpu")


def test_the_adapters_serve_our_batches_and_latents(cache):
    from envs import make_dataset, make_task_suite

    cfg = compose_config([*TINY_DATA, *TINY_NETS["hilp"], cache, "encoder.standardize=true"])
    train_rb, _ = make_dataset(cfg.dataset)
    transform = parity_official.observation_transform(cfg, make_task_suite(cfg.env), train_rb)
    train_rb.reseed(7)
    raw = train_rb.sample(16)
    view = OfficialReplayView(train_rb, transform)
    train_rb.reseed(7)  # the view draws from our sampling stream: the same transitions, standardised
    batch = view.sample(16)
    assert batch["next"]["terminated"].dtype == torch.bool and batch["next"]["terminated"].shape == (16, 1)
    assert torch.allclose(batch["next"]["observation"], (raw["next", "observation"] - transform.mean) / transform.std)
    assert torch.allclose(batch["future_observation"], (raw["future_observation"] - transform.mean) / transform.std)  # HILP goals
    assert torch.equal(batch["action"], raw["action"]) and view.samples == 16
    assert parity_official.observation_transform(compose_config([*TINY_DATA, cache]), make_task_suite(cfg.env), train_rb) is None

    class Model(torch.nn.Module):  # the official reward_inference contract: rewards [N, 1] -> z [1, d]
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def reward_inference(self, next_obs, reward):
            assert reward.shape == (next_obs.shape[0], 1)
            return reward.T @ next_obs  # pointmaze: 2-d observations

    rep = OfficialRepresentation(Model(), 2, goal_latent=None, transform=transform)
    z = rep.infer_z_from_rewards(raw["next", "observation"], torch.ones(16))  # standardised as in training
    assert z.shape == (2,) and torch.allclose(z, batch["next"]["observation"].sum(0), atol=1e-5)
    assert rep.infer_z_from_goal(batch["observation"][0]) is None  # no goal mode
    assert not rep.goal_z_per_step


def test_the_official_hilp_reaches_goals_with_the_per_step_direction_as_ours():
    """z(s, g) = project(φ(g) − φ(s)) from the official model's (centred) features, on standardised inputs."""

    class Model(torch.nn.Module):  # official SF models: features() centres φ; project_z puts z on the √d-sphere
        features_mean = torch.tensor([5.0, -3.0])

        def features(self, obs):
            return 2 * obs - self.features_mean

        def project_z(self, z):
            return 2**0.5 * torch.nn.functional.normalize(z, dim=-1)

    transform = torch.nn.Identity()
    rep = OfficialRepresentation(
        Model(), 2, goal_latent=lambda g: g, transform=transform, goal_direction=parity_official.official_goal_direction(Model())
    )
    assert rep.goal_z_per_step
    obs, goal = torch.tensor([[0.0, 0.0], [3.0, 0.0]]), torch.tensor([[3.0, 4.0], [3.0, 4.0]])
    torch.testing.assert_close(rep.infer_z_toward_goal(obs, goal), 2**0.5 * torch.tensor([[0.6, 0.8], [0.0, 1.0]]))


@needs_official
def test_the_official_half_trains_and_reports_beside_ours(tmp_path, cache):
    overrides = [*TINY_DATA, *TINY_NETS["td_jepa"], cache]
    result = parity.main(
        [
            "--official-path",
            OFFICIAL_PATH,
            "--seeds",
            "0",
            "--updates",
            "4",
            "--eval-every",
            "2",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "out"),
            "--",
            *overrides,
        ]
    )
    root = Path(result["runs_root"])
    ours, official = (json.loads((root / side / "seed0" / "eval.json").read_text()) for side in ("jepa-rl", "official"))
    assert set(official) == set(ours) | {"updates_per_second"} and official["updates_per_second"] > 0
    assert [p["step"] for p in official["curve"]] == [2, 4] and set(official["results"]) == {"reward", "goal"}
    assert set(official["results"]["reward"]) == set(ours["results"]["reward"])  # same tasks
    for mode, scores in official["results"].items():
        for task, score in scores.items():
            assert result["final"]["official"][mode][task][0] == pytest.approx(100 * score)
    assert result["official"]["agent"] == "TDJEPAFlowBCAgent"
    assert result["official"]["config"]["model"]["archi"]["phi_dim"] == 6
    table = (tmp_path / "out" / f"parity_{ours['env']}.md").read_text()
    assert "| task | jepa-rl | official |" in table and "TDJEPAFlowBCAgent" in table


@needs_official
@pytest.mark.parametrize("representation,actor", [("fb", "flow_bc"), ("hilp", "flow_bc"), ("td_jepa", "td3")])
def test_the_official_agents_get_our_sizes_and_data(representation, actor, tmp_path, cache):
    import gymnasium
    import numpy as np

    root = parity_official.check_official_path(OFFICIAL_PATH)
    extra = ["actor=td3", "encoder.standardize=true"] if actor == "td3" else []
    data = [o for o in TINY_DATA if actor == "flow_bc" or not o.startswith("actor.flow")]  # td3 has no flow
    cfg = compose_config([*data, *TINY_NETS[representation], cache, "seed=1", *extra])
    saved = parity_official.train_official(cfg, tmp_path, root, updates=2, eval_every=0, threads=None)
    assert saved["step"] == 2 and set(saved["results"]) == {"reward", "goal"} and len(saved["results"]["reward"]) == 5
    written = json.loads((tmp_path / "official_config.json").read_text())
    assert any(("per-step direction" in n) == (representation == "hilp") for n in written["notes"] if n.startswith("goal z"))
    model = (
        parity_official.import_official_config_class(root, representation, actor)(**written["config"])
        .build(gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32), 2)
        ._model
    )
    if actor == "td3":
        assert written["agent"] == "TDJEPAAgent" and not hasattr(model, "_actor_vf")
        assert model._phi_mlp_encoder.net[-2].out_features == 6 and any("standardize" in n for n in written["notes"])
        return
    left = model._left_encoder.net
    assert (left[0].out_features, left[-2].out_features) == (16, 6)  # hidden 16 -> L_dim 6, then √d-norm
    assert sum(p.numel() for p in model._actor_vf.parameters()) == (4 + 2 + 1) * 16 + 16 + 3 * (16 * 16 + 16) + 16 * 2 + 2


@needs_official
def test_ten_training_steps_equal_the_official_updates():
    """Same weights, batches and random draws: after each of 10 updates our TD-JEPA + flow-BC networks, targets
    and feature covariance equal the official agent's, as a share of how far the update moved them. The official
    order matters here: the actor steps against the critic the representation step just updated."""
    import gymnasium
    import numpy as np
    from omegaconf import OmegaConf
    from tensordict import TensorDict
    from torchrl.objectives import SoftUpdate

    from agents.actor import make_actor, make_actor_loss, resolve_actor_config
    from agents.engine import make_optimizer
    from agents.update import make_update
    from representations import make_representation, make_representation_loss
    from representations.encoders import make_encoder

    root = parity_official.check_official_path(OFFICIAL_PATH)
    cfg = compose_config(["env=ogbench", "experiment=pointmaze_cpu", "dataset.batch_size=64"])
    rep_cfg = OmegaConf.to_container(cfg.representation, resolve=True)
    actor_cfg = resolve_actor_config(OmegaConf.to_container(cfg.actor, resolve=True), cfg.env)
    agent_cfg, _ = official_agent_config(rep_cfg, actor_cfg, batch_size=64, device="cpu")
    torch.manual_seed(0)
    agent = parity_official.import_official_config_class(root, "td_jepa", "flow_bc")(**agent_cfg).build(
        gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32), 2
    )
    official = agent._model
    encoder, feature_dim = make_encoder(cfg.encoder, (2,))  # an unfitted standardiser: the identity
    representation = make_representation(cfg.representation, feature_dim, 2, encoder)
    actor = make_actor(actor_cfg, representation, 2)
    copied = parity_official.copy_official_weights(official, representation, actor)
    assert len(copied) == len(list(representation.parameters())) + len(list(actor.parameters()))
    rep_loss = make_representation_loss(cfg.representation, representation, actor)  # targets = copies of the online nets
    optimizer = make_optimizer(cfg.representation.optim, actor_cfg["lr"], representation, actor, flow_lr=actor_cfg["flow_lr"])
    update = make_update(
        rep_loss,
        make_actor_loss(actor_cfg, actor, representation),
        optimizer,
        SoftUpdate(rep_loss, tau=cfg.representation.optim.tau),
    )

    ours = parity_official.our_parameters(representation, actor)
    for name in ("phi_encoder", "psi_encoder", "phi_predictor", "psi_predictor"):
        ours.update({f"representation.target_{name}.{k}": v for k, v in getattr(rep_loss, f"target_{name}").named_parameters()})

    def counterpart(name: str) -> str:
        if name.startswith("_target_"):
            return parity_official.our_name_of_official("_" + name.removeprefix("_target_")).replace(
                "representation.", "representation.target_"
            )
        return parity_official.our_name_of_official(name)

    start = {name: value.detach().clone() for name, value in official.named_parameters()}
    generator = torch.Generator().manual_seed(1)
    for step in range(10):
        obs = torch.randn(64, 2, generator=generator)
        batch = {
            "observation": obs,
            "action": torch.rand(64, 2, generator=generator) * 2 - 1,
            "next": {
                "observation": obs + 0.1 * torch.randn(64, 2, generator=generator),
                "terminated": torch.rand(64, 1, generator=generator) < 0.05,
            },
        }
        torch.manual_seed(100 + step)
        parity_official.official_update_drawing_as_ours(agent, batch, step)
        torch.manual_seed(100 + step)
        update(TensorDict(batch, batch_size=[64]))

        moved, apart = {}, {}
        for name, value in official.named_parameters():
            group = counterpart(name).split(".")[1]
            moved[group] = moved.get(group, 0.0) + (value - start[name]).square().sum().item()
            apart[group] = apart.get(group, 0.0) + (value - ours[counterpart(name)]).square().sum().item()
        for group in moved:
            # Rounding only: the online representation to ~1e-6 of its change. The actor's first Adam steps (≈ sign
            # of the gradient) amplify z's 1e-7 rounding from whitening, to ~1e-3 by step 10 (1e-1 if the order
            # differed); a target moves by τ·(online − target), so the EMA's own rounding is ~1e-3 of that.
            tolerance = 1e-2 if group == "policy" or group.startswith("target_") else 1e-4
            assert math.sqrt(apart[group] / moved[group]) < tolerance, (step, group, math.sqrt(apart[group] / moved[group]))
        torch.testing.assert_close(representation.feature_cov, official._z_cov, rtol=1e-5, atol=1e-6)


@needs_official
def test_twin_runs_report_both_codes_from_one_start(tmp_path, cache):
    from benchmarks import parity_twin

    overrides = [*TINY_DATA, *TINY_NETS["td_jepa"], cache, "encoder.standardize=true"]
    result = parity_twin.main(
        [
            "--official-path",
            OFFICIAL_PATH,
            "--seed",
            "1",
            "--updates",
            "4",
            "--eval-every",
            "2",
            "--out",
            str(tmp_path),
            "--",
            *overrides,
        ]
    )
    assert [p["step"] for p in result["curve"]] == [2, 4]
    assert all(0.0 <= p["drift"] < 1e-2 for p in result["curve"])  # four updates: one run computed twice, to rounding
    saved = json.loads((tmp_path / "parity_twin_pointmaze-medium-navigate-v0_seed1.json").read_text())
    assert saved["command"].startswith("python -m benchmarks.parity_twin --official-path") and saved["seed"] == 1
    assert set(saved["curve"][0]["official"]) == set(saved["curve"][0]["ours"]) == {"reward", "goal"}
    assert "| updates | drift |" in (tmp_path / "parity_twin_pointmaze-medium-navigate-v0_seed1.md").read_text()
