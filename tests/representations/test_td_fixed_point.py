"""TD-JEPA's predictors converge to the successor features they are defined as (Eq. 9).

On a deterministic cycle s → s+1 (mod N) with frozen one-hot-like encoders, the fixed point of
T_φ(φ(s), a, z) = ψ(s′) + γ·T_φ(φ(s′), a′, z) is Σ_{t≥0} γ^t ψ(s_{t+1}), computable in closed form.
A discount, target or bootstrapping bug moves the predictor away from it.
"""

import torch
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from agents.actor import make_actor
from representations.td_jepa import TDJEPA, TDJEPALoss


def test_predictor_reaches_closed_form_successor_features():
    torch.manual_seed(0)
    n, gamma = 5, 0.6
    model = TDJEPA(
        n,
        1,
        z_dim=n,
        phi_dim=n,
        phi_encoder=dict(hidden_dim=8, hidden_layers=0),
        psi_encoder=dict(hidden_dim=8, hidden_layers=0),
        predictor=dict(hidden_dim=64, hidden_layers=2),
    )
    with torch.no_grad():  # φ(s) = ψ(s) = √n·e_s, frozen
        for enc in (model.phi_encoder, model.psi_encoder):
            enc[0].weight.copy_(torch.eye(n))
            enc[0].bias.zero_()
            enc.requires_grad_(False)
    actor = make_actor(dict(hidden_dim=8, hidden_layers=1), model, 1)
    loss = TDJEPALoss(model, actor, gamma=gamma, phi_ortho_coef=0.0, psi_ortho_coef=0.0, target_noise_std=0.0)
    updater = SoftUpdate(loss, tau=0.05)
    params = list(model.phi_predictor.parameters()) + list(model.psi_predictor.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    eye = torch.eye(n)
    z = torch.zeros(n, n)
    z[:, 0] = 1.0  # a fixed task latent
    states = torch.arange(n)
    batch = TensorDict(
        {
            "observation": eye[states],
            "action": torch.zeros(n, 1),
            "z": z,
            "next": {"observation": eye[(states + 1) % n], "terminated": torch.zeros(n, 1, dtype=torch.bool)},
        },
        [n],
    )
    for _ in range(3000):
        out = loss(batch.clone())
        opt.zero_grad()
        (out["loss_phi_td"] + out["loss_psi_td"]).backward()
        opt.step()
        updater.step()
    # closed form: SF(s) = Σ_t γ^t ψ(s_{t+1}) = √n Σ_k γ^k e_{s+1+k} / over the cycle, geometric sum
    psi = n**0.5 * eye
    expected = torch.stack([sum(gamma**k * psi[(s + 1 + k) % n] for k in range(400)) for s in range(n)])
    with torch.no_grad():
        pred = model.phi_predictor(model.phi(eye), torch.zeros(n, 1), z).mean(0)
    assert torch.allclose(pred, expected, atol=0.05 * expected.abs().max()), (pred, expected)
    # and the reward-weighted value ranks states as the true values do
    q = (pred * z).sum(-1)
    assert torch.equal(torch.argsort(q), torch.argsort((expected * z).sum(-1)))
