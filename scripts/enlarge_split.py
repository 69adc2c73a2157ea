"""Copies of some splits of a notebook-layout data set, every image scaled to a given longer side.

    python scripts/enlarge_split.py --side 1920 --out runs/pistol-1920
    gunwatch eval --data runs/pistol-1920 --split-file runs/pistol-1920/split.json --tiles auto --second-look

Users' photos are often larger than the data set's (at most 640 px): this measures what the pipeline does
with the same content at their size (README, "Tiling for small guns"). Notebook annotations are
normalised to the image, so they are copied unchanged; the split file is copied with train left empty.
"""
import argparse
import json
from pathlib import Path

from PIL import Image
from tqdm import tqdm

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, default=Path("../shared/datasets/PistolData_merged"))
parser.add_argument("--split-file", type=Path, default=Path("splits/pistoldata_merged.json"))
parser.add_argument("--splits", default="val,test")
parser.add_argument("--side", type=int, default=1920, help="longer side of every copy, in pixels")
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

split = json.loads(args.split_file.read_text())
names = [name.strip() for name in args.splits.split(",")]
keys = [key for name in names for key in split[name]]
(args.out / "pistol_images").mkdir(parents=True, exist_ok=True)
(args.out / "pistol_annotations").mkdir(parents=True, exist_ok=True)
stems = {key.rsplit(".", 1)[0] for key in keys}
manifest = [line for line in (args.data / "manifest.jsonl").read_text().splitlines()
            if line.strip() and str(json.loads(line)["id"]) in stems]
(args.out / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
for key in tqdm(keys, desc=f"scaling to {args.side} px", unit="img"):
    image = Image.open(args.data / "pistol_images" / key).convert("RGB")
    scale = args.side / max(image.size)
    image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC).save(
        args.out / "pistol_images" / key, quality=92)
    stem = key.rsplit(".", 1)[0]
    annotation = (args.data / "pistol_annotations" / f"{stem}.txt").read_text()
    (args.out / "pistol_annotations" / f"{stem}.txt").write_text(annotation)
kept = {name: split[name] if name in names else [] for name in ("train", "val", "test")}
(args.out / "split.json").write_text(json.dumps({**split, **kept, "dataset": args.out.name}, indent=1))
print(f"wrote {len(keys)} images to {args.out}")
