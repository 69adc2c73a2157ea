"""Cluster mode: the site on a Ray cluster (docs/cluster.md)."""
