"""Tiny network sizes per representation, shared by the tests that train (seconds on a CPU)."""

TINY_REPRESENTATION = {
    "td_jepa": ["representation.z_dim=8", "representation.phi_dim=8", "representation.phi_encoder.hidden_dim=16",
                "representation.psi_encoder.hidden_dim=16", "representation.predictor.hidden_dim=16"],
    "fb": ["representation.z_dim=8", "representation.left_dim=8", "representation.left_encoder.hidden_dim=16",
           "representation.backward.hidden_dim=16", "representation.forward_map.hidden_dim=16"],
    "hilp": ["representation.z_dim=8", "representation.left_dim=8", "representation.features.hidden_dim=16",
             "representation.left_encoder.hidden_dim=16", "representation.successor_features.hidden_dim=16"],
}
