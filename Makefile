# Maskwatch: `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
EDGE_VENV ?= .venv-edge
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
DATA ?= $(SHARED)/datasets/masks
WEIGHTS ?= $(SHARED)/models/backbone/mobilenet_v2_1.0_no_top.weights.h5
DETECTORS ?= $(SHARED)/models/face
SIZE ?= 128
SEED ?= 0
OUT ?= runs/m$(SIZE)
EXPORT ?= exports/m$(SIZE)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MASKWATCH_SHARED ?= $(SHARED)

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint train evaluate export ship package clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-edge.txt requirements-train.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-train.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

setup: $(VENV)/.installed ## workstation venv (.venv): training, export, tests

$(EDGE_VENV)/.installed: requirements-edge.txt pyproject.toml
	$(PYTHON) -m venv $(EDGE_VENV)
	$(EDGE_VENV)/bin/python -m pip install -q --upgrade pip
	$(EDGE_VENV)/bin/python -m pip install -q -r requirements-edge.txt
	$(EDGE_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

demo: $(EDGE_VENV)/.installed ## device venv (.venv-edge, no TensorFlow) + edge-run on a clip it makes
	@# scikit-image only supplies the demo's photo (skimage.data.astronaut); edge-run never imports it
	$(EDGE_VENV)/bin/python -m pip install -q scikit-image==0.26.0
	mkdir -p demo-out && rm -f demo-out/counts.db*
	$(EDGE_VENV)/bin/python tools/demo_clip.py demo-out/doorway.mp4
	$(EDGE_VENV)/bin/edge-run --camera demo-out/doorway.mp4 --db demo-out/counts.db \
		--detections demo-out/detections.jsonl

test: setup ## run the test suite (needs ../shared, or MASKWATCH_SHARED=DIR)
	$(PY) -m pytest

lint: setup ## ruff
	$(VENV)/bin/ruff check edge train export tests tools

train: setup ## train on DATA into OUT (SIZE=128, SEED=0)
	$(PY) -m train --data $(DATA) --out $(OUT) --size $(SIZE) --seed $(SEED) \
		--weights $(WEIGHTS) --detector yunet --detector-dir $(DETECTORS) $(ARGS)

evaluate: setup ## score RUN's model on DATA (EVAL_OUT=$(RUN)/eval)
	$(PY) -m train.evaluate --model $(RUN)/model.keras --data $(DATA) \
		--out $(or $(EVAL_OUT),$(RUN)/eval) --detector yunet --detector-dir $(DETECTORS)

export: setup ## quantize RUN (default runs/m$(SIZE)) into EXPORT: int8/fp32 TFLite + ONNX, manifest, report
	$(PY) -m export --run $(or $(RUN),$(OUT)) --out $(EXPORT) $(ARGS)

ship: setup ## make EXPORT the model edge-run uses by default (edge/models/default)
	$(PY) -m export.ship $(EXPORT)

package: ## one tarball of EXPORT for the device (artifacts, manifest, checksums)
	cd $(EXPORT) && sha256sum $$(ls | grep -v SHA256SUMS) > SHA256SUMS
	tar -czf $(EXPORT).tar.gz -C $(dir $(abspath $(EXPORT))) $(notdir $(abspath $(EXPORT)))
	@echo "wrote $(EXPORT).tar.gz"

clean: ## remove caches (keeps runs/ and the venvs)
	rm -rf .cache .pytest_cache .ruff_cache
