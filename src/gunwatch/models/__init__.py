"""Network definitions (PyTorch, training side only)."""
