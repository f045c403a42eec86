"""Twin runs: the official TD-JEPA flow-BC agent and ours, driven by the same initial weights, batches and random draws.

    python -m benchmarks.parity_twin --official-path ~/td_jepa_public --seed 3 --updates 20000 --eval-every 5000 \
        -- env=ogbench experiment=pointmaze_cpu

The official agent is built as ``benchmarks.parity`` builds it (same seed, so the same initial weights as that
harness's official run); its weights are copied into ours (``parity_official.copy_official_weights``). Every update
then feeds both codes the same batch of our buffer, and reseeds torch's generator before each code's update (the
official ``randperm`` drawn as our sampler draws, by argsort of uniforms), so both draw the same z and noise. Until
rounding differences grow, the two runs are one run computed twice; after that they stay twins in their weights,
data and draws. Both are scored by ``agents.evaluation.evaluate`` with the same inference batch and episode seeds.

Where the parity harness compares the codes over seeds, this compares them within one: a code difference shows as
twins that part, seed luck as twins that agree while seeds differ. Writes
``benchmarks/results/parity_twin_<env>_seed<s>[_<label>].{md,json}`` with the command, the drift of the online weights
(‖ours − official‖ / ‖official − initial‖) and each evaluation of both. TD-JEPA (asymmetric) with flow-BC only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import parity_official as po
from benchmarks.report import command_line

ROOT = Path(__file__).resolve().parents[1]
DRAW_SEED = 10_000  # update k reseeds both codes with DRAW_SEED + k (the seed sets the weights and the data order)


def _score(results: dict) -> dict:
    return {mode: round(100 * sum(r.values()) / len(r), 1) for mode, r in results.items()}


def run_twins(cfg: Any, official_root: Path, *, updates: int, eval_every: int, log=print) -> dict:
    """Trains both codes side by side; returns {"env", "curve": [{step, drift, official, ours}], "updates_per_second"}."""
    import gymnasium
    import numpy as np
    from omegaconf import OmegaConf
    from torchrl.objectives import SoftUpdate

    from agents.actor import make_actor, make_actor_loss, resolve_actor_config
    from agents.engine import make_optimizer, seed_everything
    from agents.update import make_update
    from agents.evaluation import evaluate
    from envs import make_dataset, make_task_suite
    from representations import make_representation, make_representation_loss
    from representations.encoders import make_encoder
    from representations.encoders.standardize import ObservationStandardizer, fit_standardizer

    rep = OmegaConf.to_container(cfg.representation, resolve=True)
    actor_cfg = resolve_actor_config(OmegaConf.to_container(cfg.actor, resolve=True), cfg.env)
    if (rep["name"], actor_cfg["name"], rep.get("symmetric", False)) != ("td_jepa", "flow_bc", False):
        raise SystemExit(
            "benchmarks.parity_twin pairs asymmetric TD-JEPA with actor=flow_bc only "
            f"(got representation={rep['name']} symmetric={rep.get('symmetric')} actor={actor_cfg['name']})"
        )
    # The official side exactly as parity_official.train_official builds it, so its weights are that run's.
    seed_everything(cfg.seed)
    suite = make_task_suite(cfg.env)
    train_rb, _ = make_dataset(cfg.dataset)
    transform = po.observation_transform(cfg, suite, train_rb)
    agent_cfg, _ = po.official_agent_config(rep, actor_cfg, batch_size=cfg.dataset.batch_size, device="cpu")
    obs_dim, action_dim = suite.observation_shape[0], suite.action_dim
    agent = po.import_official_config_class(official_root, "td_jepa", "flow_bc")(**agent_cfg).build(
        gymnasium.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32), action_dim
    )
    official = agent._model
    encoder, feature_dim = make_encoder(cfg.encoder, suite.observation_shape)
    representation = make_representation(cfg.representation, feature_dim, action_dim, encoder)
    actor = make_actor(actor_cfg, representation, action_dim)
    if isinstance(encoder, ObservationStandardizer):
        fit_standardizer(encoder, train_rb, suite.observation_key)
    po.copy_official_weights(official, representation, actor)
    rep_loss = make_representation_loss(cfg.representation, representation, actor)
    optimizer = make_optimizer(cfg.representation.optim, actor_cfg["lr"], representation, actor, flow_lr=actor_cfg["flow_lr"])
    update = make_update(
        rep_loss,
        make_actor_loss(actor_cfg, actor, representation),
        optimizer,
        SoftUpdate(rep_loss, tau=cfg.representation.optim.tau),
    )
    official_rep = po.OfficialRepresentation(
        official, rep["z_dim"], po.official_goal_latent(official, "td_jepa", True), transform
    )
    official_actor = po.OfficialActor(official)

    ours = po.our_parameters(representation, actor)
    pairs = [
        (value, ours[po.our_name_of_official(name)])
        for name, value in official.named_parameters()
        if not name.startswith("_target_")
    ]
    start = [value.detach().clone() for value, _ in pairs]

    def drift() -> float:
        apart = sum((a - b).square().sum().item() for a, b in pairs)
        moved = sum((a - s).square().sum().item() for (a, _), s in zip(pairs, start))
        return (apart / moved) ** 0.5 if moved > 0 else 0.0

    identity = transform if transform is not None else (lambda x: x)
    curve, seconds = [], 0.0
    for step in range(updates):
        td = train_rb.sample(cfg.dataset.batch_size)
        batch = {
            "observation": identity(td["observation"]),
            "action": td["action"],
            "next": {
                "observation": identity(td["next", "observation"]),
                "terminated": td["next", "terminated"].reshape(-1, 1).bool(),
            },
        }
        began = time.perf_counter()
        torch.manual_seed(DRAW_SEED + step)
        po.official_update_drawing_as_ours(agent, batch, step)
        torch.manual_seed(DRAW_SEED + step)
        update(td)
        seconds += time.perf_counter() - began
        done = step + 1
        if eval_every and (done % eval_every == 0 or done == updates):
            with torch.random.fork_rng(), train_rb.separate_stream(cfg.seed):
                torch.manual_seed(cfg.seed)
                inference = train_rb.sample(cfg.eval.inference_samples)
                scored = {}
                for side, (r, a) in {"official": (official_rep, official_actor), "ours": (representation, actor)}.items():
                    torch.manual_seed(cfg.seed)
                    scored[side] = evaluate(
                        r, a, suite, inference, episodes=cfg.eval.episodes, modes=list(cfg.eval.modes), seed=cfg.seed
                    )
            curve.append({"step": done, "drift": drift(), **scored})
            log(
                f"update {done}: drift {curve[-1]['drift']:.3g}; official {_score(scored['official'])}, ours {_score(scored['ours'])}"
            )
    return {"env": suite.name, "curve": curve, "updates_per_second": updates / seconds if seconds > 0 else None}


def write_report(result: dict, out: Path, name: str, command: str, env: str, seed: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"command": command, "seed": seed, **result}, indent=2))
    modes = list(result["curve"][0]["official"]) if result["curve"] else []
    lines = [
        f"# Twin runs of the official TD-JEPA and jepa-rl on {env}, seed {seed}",
        "",
        f"Command: `{command}`",
        "",
        "Same initial weights (the official agent's, copied into ours), same batches, same random draws before each "
        "update. Drift: ‖ours − official‖ / ‖official − initial‖ over the online weights. Success %, mean over tasks.",
        "",
        "| updates | drift | " + " | ".join(f"official {m} z | jepa-rl {m} z" for m in modes) + " |",
        "|---:|---:|" + "---:|---:|" * len(modes),
    ]
    for point in result["curve"]:
        cells = " | ".join(f"{_score(point['official'])[m]} | {_score(point['ours'])[m]}" for m in modes)
        lines.append(f"| {point['step']} | {point['drift']:.3f} | {cells} |")
    if result["curve"]:
        last = result["curve"][-1]
        lines += [
            "",
            "Per task at the last evaluation:",
            "",
            "| task | " + " | ".join(f"official {m} | jepa-rl {m}" for m in modes) + " |",
            "|---|" + "---:|---:|" * len(modes),
        ]
        for task in last["official"][modes[0]]:
            cells = " | ".join(f"{100 * last['official'][m][task]:.0f} | {100 * last['ours'][m][task]:.0f}" for m in modes)
            lines.append(f"| {task} | {cells} |")
    rate = result.get("updates_per_second")
    lines += ["", f"Both updates together: {rate:.1f} pairs/s (one CPU thread)." if rate else ""]
    path = out / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    ours_args, overrides = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official-path", help="checkout of the official TD-JEPA code (contains metamotivo/agents/td_jepa)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--updates", type=int, default=None, help="updates (default: train.steps)")
    parser.add_argument("--eval-every", type=int, default=None, help="updates between evaluations (default: train.eval_every)")
    parser.add_argument("--label", default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(ours_args)
    root = po.check_official_path(args.official_path)
    torch.set_num_threads(1)
    cfg = po.compose_config([*overrides, f"seed={args.seed}"])
    updates = args.updates if args.updates is not None else int(cfg.train.steps)
    eval_every = args.eval_every if args.eval_every is not None else int(cfg.train.eval_every) or updates
    result = run_twins(cfg, root, updates=updates, eval_every=eval_every)
    command = command_line("benchmarks.parity_twin", argv)
    env = result["env"]
    name = f"parity_twin_{env}_seed{args.seed}" + (f"_{args.label}" if args.label else "")
    print(f"wrote {write_report(result, Path(args.out), name, command, env, args.seed)}")
    return result


if __name__ == "__main__":
    main()
