"""Retention: evidence, events and health history pruned by age, by size and below the disk's floor.

Modules: `holds` (legal holds: `gunwatch event hold ID`), `candidates` (the events whose evidence may go,
oldest first), `disk` (free space and the evidence folder's size), `plan` (what goes and why, decided without
touching anything), `prune` (one pass: the plan carried out, or only shown with a dry run), `records` (the
audit log's entries of retention), `cli` (`gunwatch prune`, `gunwatch event hold / unhold`).
"""
