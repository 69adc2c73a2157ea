"""Fixtures shared by the model tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_thread():
    """Torch on one thread: small graphs run no faster on more, and the results do not depend on the count."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
