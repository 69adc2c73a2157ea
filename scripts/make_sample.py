"""Build the small bundled sample (samples/pistol-sample) that `make run` evaluates.

Images come from the TEST split only (so the sample never overlaps training data), and only from
licence-clean origins: `granada` (public domain) and `cctv` (CC BY 4.0, attributed in the sample's README).

    python scripts/make_sample.py ../shared/datasets/PistolData_merged splits/pistoldata_merged.json
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split

PER_ORIGIN = {"granada": 24, "cctv": 8}
OUT = Path("samples/pistol-sample")


def main(data: Path, split_file: Path) -> None:
    dataset = read_dataset(data)
    test = load_split(split_file).select(dataset, "test")
    rng = random.Random(0)
    chosen = []
    for origin, count in PER_ORIGIN.items():
        pool = [r for r in test if r.origin == origin]
        chosen += rng.sample(pool, count)
    (OUT / "pistol_images").mkdir(parents=True, exist_ok=True)
    (OUT / "pistol_annotations").mkdir(parents=True, exist_ok=True)
    # The sample keeps the original manifest lines (origin, source file, size) for attribution.
    original = {json.loads(line)["id"]: line for line in (data / "manifest.jsonl").read_text().splitlines() if line}
    manifest = []
    for record in chosen:
        stem = record.image_path.stem
        shutil.copy(record.image_path, OUT / "pistol_images" / record.image_path.name)
        shutil.copy(data / "pistol_annotations" / f"{stem}.txt", OUT / "pistol_annotations" / f"{stem}.txt")
        manifest.append(int(stem))
    (OUT / "manifest.jsonl").write_text("".join(original[i] + "\n" for i in sorted(manifest)))
    print(f"{len(chosen)} images -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
