"""TorchRL agents consuming the representations (entry points: ``python -m agents.<name>``)."""
