"""The runtime (inference, evaluation, CLI) must not need torch: it is a training-only dependency."""

from __future__ import annotations

import subprocess
import sys

RUNTIME_MODULES = [
    "gunwatch.cli",
    "gunwatch.data.layouts",
    "gunwatch.data.check",
    "gunwatch.data.split",
    "gunwatch.inference.loading",
    "gunwatch.evaluation.evaluate",
    "gunwatch.evaluation.calibrate",
    "gunwatch.evaluation.int8_build",
    "gunwatch.inference.quantize",
    "gunwatch.bench.table",
    "gunwatch.detect",
    "gunwatch.inference.lineage.rcnn",
    "gunwatch.inference.lineage.fast_rcnn",
    "gunwatch.inference.lineage.sliding_window",
    "gunwatch.inference.lineage.faster_rcnn",
]


def test_runtime_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in RUNTIME_MODULES)
        + "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        + "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
