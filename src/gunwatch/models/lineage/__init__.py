"""The course's detector lineage (issue 15) as PyTorch modules: one module per method."""
