"""Learning order of deep linear JEPA vs MAE (Littwin et al., arXiv 2407.03475, Fig. 2(c)/(f)), trained and from the ODEs.

    python -m representations.linear_jepa                      # f0: λ=10, ρ=0.3; f1: λ=1, ρ=1; L = 1…5
    python -m representations.linear_jepa --depths 1 3 --lam 4 1 --rho 0.4 1 --steps 50000
    python -m representations.linear_jepa --noisy-views        # minibatch x = z + σn₁, y = z + σn₂, σ² = (4, 0)

Trains every (objective, depth) network side by side with gradient descent (full batch on the population loss, or
minibatches of noisy views), Euler-integrates the per-feature ODEs with dt = lr, and writes
``<out>/<stem>.{md,json}`` (half-learning times per feature, objective and depth from both, which feature each
learns first, fixed points) and the figure ``<stem>.png`` of w̄_i(t)/w̄_i* (default: tables in
``benchmarks/results/``, figure in ``docs/figures/``; ``--out-dir`` puts all three there).
Time is gradient-flow time, t = steps × lr.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from representations.linear_jepa.analysis import doubling_times, first_learned, fixed_points, half_learning_times, integrate_ode
from representations.linear_jepa.model import OBJECTIVES, DeepLinearBatch, FeatureModel, NoisyViews, train

ROOT = Path(__file__).resolve().parents[2]


def run(
    features: FeatureModel,
    depths: list[int],
    eps: float = 0.05,
    lr: float = 2e-3,
    steps: int = 150_000,
    views: NoisyViews | None = None,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Trains and integrates every (objective, depth); returns the trajectories and the per-configuration results."""
    objectives = [o for _ in depths for o in OBJECTIVES]
    cfg_depths = [L for L in depths for _ in OBJECTIVES]
    model = DeepLinearBatch(objectives, cfg_depths, features.d, eps=eps)
    started = time.perf_counter()
    times, trained = train(
        model,
        None if views else features,
        steps=steps,
        lr=lr,
        views=views,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
        desc="train (all depths)",
    )
    train_s = time.perf_counter() - started
    _, ode = integrate_ode(objectives, cfg_depths, features.lam, features.rho, eps=eps, dt=lr, steps=steps, progress=progress)
    trained = trained.numpy()
    wstar = fixed_points(objectives, cfg_depths, features.rho)
    half_tr = half_learning_times(times, trained, objectives, cfg_depths, features.rho, eps)
    half_ode = half_learning_times(times, ode, objectives, cfg_depths, features.rho, eps)
    dbl_tr, dbl_ode = doubling_times(times, trained), doubling_times(times, ode)
    results = []
    for b, (obj, L) in enumerate(zip(objectives, cfg_depths)):
        r = dict(
            objective=obj,
            depth=L,
            fixed_point=wstar[b].tolist(),
            final_trained=trained[-1, b].tolist(),
            final_ode=ode[-1, b].tolist(),
            max_rel_dev_trained_vs_ode=(np.abs(trained[:, b] - ode[:, b]).max(0) / wstar[b]).tolist(),
            half_time_trained=half_tr[b].tolist(),
            half_time_ode=half_ode[b].tolist(),
            first_trained=first_learned(half_tr[b]),
            first_ode=first_learned(half_ode[b]),
        )
        if views is not None:
            r.update(
                doubling_time_trained=dbl_tr[b].tolist(),
                doubling_time_ode=dbl_ode[b].tolist(),
                first_doubling_trained=first_learned(dbl_tr[b]),
                first_doubling_ode=first_learned(dbl_ode[b]),
            )
        results.append(r)
    return dict(
        times=times.numpy(), trained=trained, ode=ode, objectives=objectives, depths=cfg_depths, results=results, train_s=train_s
    )


def _nan_to_none(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    return x


def _times(ts) -> str:
    return " / ".join("—" if math.isnan(t) else (f"{t:.3g}" if t < 10 else f"{t:.1f}") for t in ts)


def _first(a: int | None, b: int | None) -> str:
    name = lambda i: "none" if i is None else f"f{i}"  # noqa: E731
    return name(a) if a == b else f"{name(a)} (ODE: {name(b)})"


def plot(out: dict, features: FeatureModel, path: Path, title: str) -> None:
    """One panel per (objective, depth): w̄_i(t)/w̄_i* of the trained network (solid) and the ODE (dashed), log-log,
    with the trained half-learning times marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times, depths = out["times"], sorted(set(out["depths"]))
    steps = len(times) - 1
    idx = np.unique(np.geomspace(1, steps, 600).astype(int))  # log-spaced samples (t = 0 is off a log axis)
    fig, axes = plt.subplots(
        len(OBJECTIVES), len(depths), figsize=(2.9 * len(depths) + 0.6, 5.6), sharex=True, sharey=True, squeeze=False
    )
    colours = plt.get_cmap("tab10").colors
    for b, r in enumerate(out["results"]):
        ax = axes[OBJECTIVES.index(r["objective"]), depths.index(r["depth"])]
        for i in range(features.d):
            ws = r["fixed_point"][i]
            c = colours[i % 10]
            ax.plot(
                times[idx],
                out["trained"][idx, b, i] / ws,
                color=c,
                lw=1.8,
                label=f"f{i} (λ={features.lam[i]:g}, ρ={features.rho[i]:g})",
            )
            ax.plot(times[idx], out["ode"][idx, b, i] / ws, color="k", lw=0.8, ls="--", label="ODE" if i == 0 else None)
            th = r["half_time_trained"][i]
            if not math.isnan(th):
                k = min(int(round(th / times[1])), steps)
                ax.plot(th, out["trained"][k, b, i] / ws, "o", color=c, ms=5, mec="k", mew=0.6)
        ax.axhline(1.0, color="0.6", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(
            f"{r['objective'].upper()}, L={r['depth']}  (first: f{r['first_trained']})"
            if r["first_trained"] is not None
            else f"{r['objective'].upper()}, L={r['depth']}",
            fontsize=9,
        )
        ax.grid(True, which="major", lw=0.3, alpha=0.5)
    for ax in axes[-1]:
        ax.set_xlabel("t = steps × lr")
    for ax in axes[:, 0]:
        ax.set_ylabel("w̄ᵢ(t) / w̄ᵢ*")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title + "  (dots: half-learning time; dashed: ODE)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(out: dict, features: FeatureModel, setting: dict, command: str, wall_s: float) -> tuple[list[str], dict]:
    noisy = setting["noisy_views"]
    feats = "; ".join(f"f{i}: λ={l:g}, ρ={r:g}" for i, (l, r) in enumerate(zip(features.lam, features.rho)))
    how = (
        f"minibatch SGD on noisy views x = z + σn₁, y = z + σn₂ (var z = 1, σ² = {setting['sigma2']}), "
        f"B={setting['batch_size']}, seed {setting['seed']}"
        if noisy
        else "full-batch GD on the population loss"
    )
    lines = [
        f"# Deep linear JEPA vs MAE: {'noisy views' if noisy else 'learning order'} (Littwin et al., arXiv 2407.03475)",
        "",
        f"Command: `{command}`",
        "",
        f"Features {feats}. W̄ = W_L⋯W_1 and V start at ε^{{1/L}}·I, ε = {setting['eps']:g}; {how}; lr {setting['lr']:g}, "
        f"{setting['steps']} steps, so T = {setting['steps'] * setting['lr']:g} time units (t = steps × lr). ODE: "
        "forward Euler on dw̄/dt = Lλ(ρw̄^{3−1/L} − w̄³) (JEPA), Lλ(ρw̄^{2−1/L} − w̄³) (MAE) with dt = lr. "
        f"Wall time {wall_s:.0f} s (training {out['train_s']:.0f} s), 1 CPU thread.",
        "",
        "Half-learning time (u = w̄^{1/L} covers half the way from ε^{1/L} to u* = ρ (JEPA), ρ^{1/(L+1)} (MAE)), "
        "time units, " + " / ".join(f"f{i}" for i in range(features.d)) + "; — = not reached by T:",
        "",
        "| L | MAE trained | MAE ODE | MAE learns first | JEPA trained | JEPA ODE | JEPA learns first |",
        "|---|---|---|---|---|---|---|",
    ]
    by = {(r["objective"], r["depth"]): r for r in out["results"]}
    depths = sorted(set(out["depths"]))
    for L in depths:
        m, j = by["mae", L], by["jepa", L]
        lines.append(
            f"| {L} | {_times(m['half_time_trained'])} | {_times(m['half_time_ode'])} | "
            f"{_first(m['first_trained'], m['first_ode'])} | {_times(j['half_time_trained'])} | "
            f"{_times(j['half_time_ode'])} | {_first(j['first_trained'], j['first_ode'])} |"
        )
    if noisy:
        lines += [
            "",
            "Doubling time (first t with |w̄ᵢ| > 2|w̄ᵢ(0)|, the notes' criterion for this variant), "
            "time units; — = never (a feature whose u* < ε^{1/L} shrinks):",
            "",
            "| L | MAE trained | MAE ODE | MAE doubles first | JEPA trained | JEPA ODE | JEPA doubles first |",
            "|---|---|---|---|---|---|---|",
        ]
        for L in depths:
            m, j = by["mae", L], by["jepa", L]
            lines.append(
                f"| {L} | {_times(m['doubling_time_trained'])} | {_times(m['doubling_time_ode'])} | "
                f"{_first(m['first_doubling_trained'], m['first_doubling_ode'])} | "
                f"{_times(j['doubling_time_trained'])} | {_times(j['doubling_time_ode'])} | "
                f"{_first(j['first_doubling_trained'], j['first_doubling_ode'])} |"
            )
    lines += [
        "",
        "Fixed points w̄* (JEPA ρ^L, MAE ρ^{L/(L+1)}), the trained w̄(T) and the largest gap between the trained "
        "and ODE trajectories over [0, T], Δ = max_t abs(w̄ − w̄_ODE), relative to w̄*:",
        "",
        "| L | objective | w̄* | trained w̄(T) | Δ / w̄* |",
        "|---|---|---|---|---|",
    ]
    fmt = lambda xs, f: " / ".join(format(x, f) for x in xs)  # noqa: E731
    for L in depths:
        for o in OBJECTIVES:
            r = by[o, L]
            lines.append(
                f"| {L} | {o.upper()} | {fmt(r['fixed_point'], '.4g')} | {fmt(r['final_trained'], '.4g')} | "
                f"{fmt(r['max_rel_dev_trained_vs_ode'], '.2g')} |"
            )
    result = dict(
        command=command,
        paper="Littwin et al., How JEPA Avoids Noisy Features, arXiv 2407.03475",
        setting=setting,
        wall_s=wall_s,
        train_s=out["train_s"],
        results=out["results"],
    )
    return lines, _nan_to_none(result)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(prog="python -m representations.linear_jepa", description=__doc__.split("\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=None, help="encoder depths L (default 1 2 3 4 5; noisy views: 1 3)")
    p.add_argument("--lam", type=float, nargs="+", default=[10.0, 1.0], help="λ_i = Σ_xx,ii per feature")
    p.add_argument("--rho", type=float, nargs="+", default=[0.3, 1.0], help="ρ_i = Σ_yx,ii/λ_i per feature")
    p.add_argument("--eps", type=float, default=0.05, help="initial scale: W̄(0) = ε·I")
    p.add_argument("--lr", type=float, default=2e-3, help="gradient-descent step = Euler dt")
    p.add_argument("--steps", type=int, default=None, help="default 150000 (noisy views: 100000)")
    p.add_argument(
        "--noisy-views", action="store_true", help="minibatches x = z + σn₁, y = z + σn₂ instead of the population loss"
    )
    p.add_argument("--sigma2", type=float, nargs="+", default=[4.0, 0.0], help="noisy views: σ² per feature (var z = 1)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="noisy views: minibatch seed")
    p.add_argument(
        "--out-dir",
        default=None,
        help="where the .md/.json (and the .png) go; default benchmarks/results (tables) and docs/figures (figure)",
    )
    p.add_argument("--figure", default=None, help="the PNG path (overrides --out-dir for the figure)")
    p.add_argument("--stem", default=None, help="file stem (default linear_jepa_learning_order / linear_jepa_noisy_views)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    if args.noisy_views:
        views = NoisyViews(sigma2=args.sigma2)
        features = views.features()
        depths, steps, stem = args.depths or [1, 3], args.steps or 100_000, args.stem or "linear_jepa_noisy_views"
    else:
        views, features = None, FeatureModel(lam=args.lam, rho=args.rho)
        depths, steps, stem = args.depths or [1, 2, 3, 4, 5], args.steps or 150_000, args.stem or "linear_jepa_learning_order"
    tables = Path(args.out_dir) if args.out_dir else ROOT / "benchmarks/results"
    figure = Path(args.figure) if args.figure else (Path(args.out_dir) if args.out_dir else ROOT / "docs/figures") / f"{stem}.png"
    command = "python -m representations.linear_jepa" + ("" if not argv else " " + shlex.join(argv))

    started = time.perf_counter()
    out = run(
        features,
        depths,
        eps=args.eps,
        lr=args.lr,
        steps=steps,
        views=views,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=not args.no_progress,
    )
    setting = dict(
        lam=list(features.lam),
        rho=list(features.rho),
        depths=depths,
        eps=args.eps,
        lr=args.lr,
        steps=steps,
        time_units=steps * args.lr,
        noisy_views=args.noisy_views,
        sigma2=args.sigma2 if args.noisy_views else None,
        batch_size=args.batch_size if args.noisy_views else None,
        seed=args.seed if args.noisy_views else None,
    )
    title = (
        ("Noisy views" if args.noisy_views else "Population loss")
        + ": "
        + ", ".join(f"f{i} λ={l:g} ρ={r:g}" for i, (l, r) in enumerate(zip(features.lam, features.rho)))
        + f", ε={args.eps:g}"
    )
    plot(out, features, figure, title)
    wall_s = time.perf_counter() - started
    lines, result = report(out, features, setting, command, wall_s)
    lines += ["", f"Figure: `{figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure}`"]
    result["figure"] = str(figure)
    tables.mkdir(parents=True, exist_ok=True)
    (tables / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (tables / f"{stem}.json").write_text(json.dumps(result, indent=2))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
