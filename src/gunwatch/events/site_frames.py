"""A folder of a site's own frames for training: the YOLO layout, one folder of images per camera, every file
private (they show people), ready for a training config's `extra_train`.

Beside `images/` and `labels/` it keeps `manifest.jsonl` (one entry per frame ever exported, with where it came
from) and `split.json`, which lists every frame still present under `train`. The manifest is what makes a
person's judgement stick: a frame deleted from `images/` by hand stays in the manifest, so exporting again
skips it, and its label is removed with it.
"""

from __future__ import annotations

import json
from pathlib import Path

from gunwatch.events.private import make_private_dirs, open_private

IMAGES, LABELS = "images", "labels"
MANIFEST, SPLIT, NAMES = "manifest.jsonl", "split.json", "data.yaml"


def write_private(path: Path, data: bytes) -> None:
    """`data` to `path`, 0600, its missing folders made 0700."""
    make_private_dirs(path.parent)
    with open_private(path) as out:
        out.write(data)


def label_path(out: Path, key: str) -> Path:
    return out / LABELS / Path(key).with_suffix(".txt")


def read_manifest(out: Path, command: str) -> dict[str, dict[str, object]]:
    """The folder's manifest by frame key ({} for a new folder); a line that is not an entry names the file,
    the line and the command that writes such folders."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            entry = json.loads(line) if line.strip() else None
            if entry is not None:
                entries[str(entry["key"])] = entry
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a manifest entry of `{command}` ({error})") from error
    return entries


def finish_folder(out: Path, manifest: dict[str, dict[str, object]], what: str) -> list[str]:
    """Write the manifest, `data.yaml` (one class, handgun) and a split with every frame still present under
    `train`; drop the labels of frames deleted by hand. Returns the present frames' keys."""
    write_private(out / MANIFEST, "".join(json.dumps(entry) + "\n" for entry in manifest.values()).encode())
    keys = sorted(key for key in manifest if (out / IMAGES / key).is_file())
    for key in manifest.keys() - set(keys):  # its frame deleted by hand: its label would be an orphan
        label_path(out, key).unlink(missing_ok=True)
    write_private(out / NAMES, f"# {what}\nnames: [handgun]\n".encode())
    split = {"dataset": out.name, "seed": 0, "fractions": {}, "train": keys, "val": [], "test": []}
    write_private(out / SPLIT, (json.dumps(split, indent=1) + "\n").encode())
    return keys
