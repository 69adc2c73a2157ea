"""Training (PyTorch; installed with `pip install -e .[train]`)."""
