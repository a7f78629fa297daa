# Maskwatch: `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
EDGE_VENV ?= .venv-edge
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
DATA ?= $(SHARED)/datasets/masks $(SHARED)/datasets/scenes-ilc
LABELS ?= with_mask,without_mask,mask_incorrect
CALIBRATE ?= $(SHARED)/datasets/masks-oos
MAX_FALSE_ALARMS ?= 0.022
# the schedule of the shipped default model (docs/model-card.md)
TRAIN_ARGS ?= --head-epochs 3 --fine-from block_3_expand --fine-lr 2e-4 --fine-decay --fine-epochs 16
EVAL_DATA ?= $(SHARED)/datasets/masks
WEIGHTS ?= $(SHARED)/models/backbone/mobilenet_v2_1.0_no_top.weights.h5
DETECTORS ?= $(SHARED)/models/face
SIZE ?= 128
SEED ?= 0
OUT ?= runs/m$(SIZE)
EXPORT ?= exports/m$(SIZE)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MASKWATCH_SHARED ?= $(SHARED)

.DEFAULT_GOAL := help
.PHONY: help setup system-deps demo demo-fleet test lint train evaluate export ship package install uninstall rollback deploy bench bench-compare sweep check-wheels check-arm fairness detector detector-eval soak mine-negatives negatives zooms walkthrough scenes clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-edge.txt requirements-onnx.txt requirements-train.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-train.txt
	$(PY) -m pip install -q --no-deps -e .
	@# train/ and export/ are the workstation's, never installed on a device: this venv imports them from here
	echo "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/maskwatch-workstation.pth"
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

demo-fleet: $(EDGE_VENV)/.installed ## Mosquitto (apt) + two edge-runs on the demo clip as two doorways + the fleet report
	$(EDGE_VENV)/bin/python -m pip install -q scikit-image==0.26.0
	tools/demo_fleet.sh $(EDGE_VENV)

# The service tests need systemd's analyzer and rsync (the deploy path), the live view's test a real browser
# (headless Chromium), the MQTT tests a real broker (Mosquitto) and openssl for their TLS certificates, the
# numpy-mismatch test a C extension built against apt's numpy (python3-bottleneck, as Pi OS 12's simplejpeg is);
# a fresh Debian may lack them.
system-deps:
	@missing=""; command -v systemd-analyze > /dev/null || missing="$$missing systemd"; \
	command -v rsync > /dev/null || missing="$$missing rsync"; \
	command -v chromium > /dev/null || missing="$$missing chromium"; \
	PATH="$$PATH:/usr/sbin" command -v mosquitto > /dev/null || missing="$$missing mosquitto"; \
	command -v openssl > /dev/null || missing="$$missing openssl"; \
	[ -d /usr/lib/python3/dist-packages/bottleneck ] || missing="$$missing python3-bottleneck"; \
	if [ -n "$$missing" ]; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing$$missing (apt)"; \
		$$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

test: setup system-deps ## run the test suite (needs ../shared, or MASKWATCH_SHARED=DIR)
	$(PY) -m pytest

lint: setup ## ruff
	$(VENV)/bin/ruff check edge train export tests tools

train: setup ## train on DATA (masks + scenes-ilc, three classes) into OUT (SIZE=128, SEED=0)
	$(PY) -m train --data $(DATA) --labels $(LABELS) --calibrate $(CALIBRATE) \
		--max-false-alarms $(MAX_FALSE_ALARMS) --out $(OUT) --size $(SIZE) --seed $(SEED) \
		--weights $(WEIGHTS) --detector yunet --detector-dir $(DETECTORS) $(TRAIN_ARGS) $(ARGS)

evaluate: setup ## score RUN's model on DATA (EVAL_OUT=$(RUN)/eval)
	$(PY) -m train.evaluate --model $(RUN)/model.keras --data $(EVAL_DATA) \
		--out $(or $(EVAL_OUT),$(RUN)/eval) --detector yunet --detector-dir $(DETECTORS)

export: setup ## quantize RUN (default runs/m$(SIZE)) into EXPORT: int8/fp32 TFLite + ONNX, manifest, report
	$(PY) -m export --run $(or $(RUN),$(OUT)) --out $(EXPORT) $(ARGS)

ship: setup ## ship EXPORT as edge/models/$(NAME): edge-run's model by default, or --model NAME
	$(PY) -m export.ship $(EXPORT) --name $(or $(NAME),default)

package: setup ## one tarball of EXPORT for the device (artifacts, manifest, SHA256SUMS): EXPORT.tar.gz
	$(PY) -m export.package $(EXPORT) --out $(EXPORT).tar.gz

# Device side: run as root on the Pi or Jetson (ROOT=DIR installs into a folder instead).
ROOT ?= /
BUNDLE ?= $(if $(wildcard $(EXPORT)/manifest.json),$(EXPORT).tar.gz)
DETECTOR_FILES ?=
INSTALL_ARGS = --root $(ROOT) $(if $(BUNDLE),--bundle $(abspath $(BUNDLE))) \
	$(if $(DETECTOR_FILES),--detectors $(abspath $(DETECTOR_FILES)))

install: ## on the device, as root: user, venv, model BUNDLE, /etc/edge-run config, unit; starts it
	bash systemd/install.sh $(INSTALL_ARGS)

uninstall: ## on the device, as root: remove the service, keep the counts (ARGS=--purge deletes them)
	bash systemd/install.sh --uninstall --root $(ROOT) $(ARGS)

rollback: ## on the device, as root: back to the previous model bundle
	bash systemd/install.sh --rollback --root $(ROOT)

# Over ssh and rsync; SSH and SUDO are settings so the path can be exercised without a Pi.
SSH ?= ssh
SUDO ?= sudo -n
REMOTE_DIR ?= edge-run-src
deploy: ## package EXPORT here and install it on HOST=user@host over ssh (REMOTE_ARGS=… to install.sh)
	@test -n "$(HOST)" || { echo "usage: make deploy HOST=pi@doorway.local [EXPORT=exports/m128]" \
		"(the ssh user needs passwordless sudo on HOST: docs/deploy.md)" >&2; exit 2; }
	@# sudo over ssh cannot ask for a password: say so before anything is copied, not hang or fail half-way
	@$(SSH) $(HOST) "$(SUDO) true" || { echo "make deploy: $(HOST) wants a sudo password — give the ssh user" \
		"passwordless sudo there (docs/deploy.md), or run sudo make install on the device" >&2; exit 1; }
	$(if $(wildcard $(EXPORT)/manifest.json),$(MAKE) package EXPORT=$(EXPORT))
	rsync -az -e "$(SSH)" --files-from=<(git ls-files --cached --others --exclude-standard) ./ $(HOST):$(REMOTE_DIR)/
	$(if $(BUNDLE),rsync -az -e "$(SSH)" $(BUNDLE) $(HOST):$(REMOTE_DIR)/)
	$(SSH) $(HOST) "$(SUDO) bash $(REMOTE_DIR)/systemd/install.sh \
		$(if $(BUNDLE),--bundle $(REMOTE_DIR)/$(notdir $(BUNDLE))) $(REMOTE_ARGS)"

bench: setup ## edge-bench on EXPORT (all four artifacts): backends, edge-run's defaults (the presets), each fast-path part; Pi projection
	@# every face classified in every frame, to compare the backends
	$(VENV)/bin/edge-bench --model $(EXPORT) --detector haar yunet --detector-dir $(DETECTORS) \
		--backend litert-int8 litert-fp32 onnx-int8 onnx-fp32 --faces 0 1 3 --exact --settled off --json runs/bench.json
	$(VENV)/bin/edge-bench --model $(EXPORT) --detector haar yunet --detector-dir $(DETECTORS) --faces 0 1 3 \
		--json runs/bench-default.json
	$(VENV)/bin/edge-bench --model $(EXPORT) --detector haar yunet --detector-dir $(DETECTORS) --faces 0 1 3 \
		--detect-every 3 --motion-gate --no-motion-regions --json runs/bench-fast.json
	$(VENV)/bin/edge-bench --model $(EXPORT) --detector haar yunet --detector-dir $(DETECTORS) --faces 0 1 3 \
		--detect-every 1 3 4 --motion-gate --motion-regions --json runs/bench-regions.json
	@# the narrow shipped model, every face classified: its classify stage against the one above
	$(VENV)/bin/edge-bench --model fast --detector yunet --detector-dir $(DETECTORS) --faces 1 3 --exact --settled off \
		--backend litert-int8 onnx-int8 --json runs/bench-fast-model.json
	$(PY) tools/pi_projection.py runs/bench.json runs/bench-default.json runs/bench-fast.json runs/bench-regions.json \
		--detector-dir $(DETECTORS)

bench-compare: setup ## the usual recipe (SSD every frame + float Keras per face) and the AIZOO peer vs edge-run → bench-compare.json
	mkdir -p demo-out
	$(PY) tools/demo_clip.py demo-out/doorway.mp4
	$(PY) tools/bench_compare.py --weights $(WEIGHTS) $(if $(RUN),--run $(RUN)) --detector-dir $(DETECTORS) \
		--peer aizoo=$(SHARED)/models/peers/aizoo/face_mask_detection.tflite \
		--clip demo-out/doorway.mp4 --out bench-compare.json

SWEEP_SIZES ?= 96 128 160 224
sweep: setup ## train + export each input size in SWEEP_SIZES (gates off), then accuracy, recall, ms per face
	for s in $(SWEEP_SIZES); do \
		[ -f runs/m$$s/model.keras ] || $(MAKE) train SIZE=$$s || exit 1; \
		[ -f exports/m$$s/manifest.json ] || $(MAKE) export SIZE=$$s ARGS="--max-drop 100 --min-agreement 0" || exit 1; \
	done
	$(PY) -m train.size_sweep $(foreach s,$(SWEEP_SIZES),runs/m$(s)) --json runs/sweep.json

check-wheels: setup ## the device's requirements install from wheels on Python 3.11-3.13, x86_64 and aarch64 (PyPI)
	bash tools/check_wheels.sh $(VENV)/bin/pip

check-arm: setup ## edge-run on arm64 Debian 13 and 12 under qemu vs this machine, same pixels (root; cached roots)
	$(PY) tools/check_arm.py --shared $(SHARED)

STOCK_YUNET ?= $(DETECTORS)/face_detection_yunet_2026may.onnx
DETECTOR_OUT ?= runs/detector
detector: setup ## fine-tune YuNet on the scene sets' training photos → $(DETECTOR_OUT)/bundle (RESUME=1 goes on)
	$(PY) -m train.detector --data $(SHARED)/datasets/scenes-ilc $(SHARED)/datasets/scenes-ap27 --stock $(STOCK_YUNET) \
		--out $(DETECTOR_OUT) --epochs 12 $(if $(RESUME),--resume)

DETECTOR ?= edge/models/detectors/maskwatch/detector.onnx
detector-eval: setup ## DETECTOR (default: the shipped one) vs stock YuNet and the AIZOO peer on the test photos → runs/detector-eval.*
	$(PY) -m train.detector_eval --data $(SHARED)/datasets/scenes-ilc $(SHARED)/datasets/scenes-ap27 \
		--detector stock=$(STOCK_YUNET) ours=$(DETECTOR) stock-litert=edge/models/detectors/yunet/face_detection_yunet_2026may.tflite \
		ours-litert=$(DETECTOR:.onnx=.tflite) $(if $(wildcard $(DETECTOR:.onnx=.int8.tflite)),ours-int8=$(DETECTOR:.onnx=.int8.tflite)) --peer aizoo=$(SHARED)/models/peers/aizoo/face_mask_detection.tflite \
		--sides 640 480 320 --json runs/detector-eval.json --png runs/detector-eval.png

fairness: setup ## share of masked vs unmasked pictures where each face detector finds a face
	$(PY) -m train.detector_fairness --data $(SHARED)/datasets/masks --detector-dir $(DETECTORS)

scenes: setup ## MODEL (default: the shipped one) on scenes-ilc's held-out photos, with YuNet and on the boxes alone
	$(PY) -m train.evaluate_scenes --model $(or $(MODEL),default) --data $(SHARED)/datasets/scenes-ilc \
		--detector yunet --detector-dir $(DETECTORS) --out runs/scenes-$(notdir $(or $(MODEL),default))
	$(PY) -m train.evaluate_scenes --model $(or $(MODEL),default) --data $(SHARED)/datasets/scenes-ilc \
		--detector boxes --out runs/scenes-$(notdir $(or $(MODEL),default))-boxes

NEGATIVES ?= runs/negatives
mine-negatives: setup ## YuNet's false faces on scenes-ilc's walk-up clips → $(NEGATIVES)/candidates.json + contact sheets to review
	$(PY) -m train.negatives mine --data $(SHARED)/datasets/scenes-ilc --detector-dir $(DETECTORS) --out $(NEGATIVES)

negatives: setup ## scenes-ilc + the reviewed false faces (train/reviewed/negatives-review.json) as not_face → $(NEGATIVES)/scenes-ilc
	$(PY) -m train.negatives write --data $(SHARED)/datasets/scenes-ilc --out $(NEGATIVES)/scenes-ilc

zooms: setup ## DETECTOR's unaccounted finds at walk-through zooms on the detector's training photos → runs/zooms/candidates.json + contact sheets to review (then train.negatives zooms-review)
	$(PY) -m train.negatives zooms --data $(SHARED)/datasets/scenes-ilc $(SHARED)/datasets/scenes-ap27 --stock $(STOCK_YUNET) \
		--onnx $(DETECTOR) --out runs/zooms

walkthrough: setup ## real photos (scenes-ilc, held out) as clips: walk-up (people counted vs the boxes), walk-by, walk-away, edge (nobody) → runs/walkthrough-*
	$(PY) -m train.walkthrough --data $(SHARED)/datasets/scenes-ilc --detector-dir $(DETECTORS) --detector maskwatch yunet \
		--setting preset every-frame --kind walk-up walk-by walk-away edge \
		--json runs/walkthrough.json --png runs/walkthrough.png
	$(PY) -m train.walkthrough --data $(SHARED)/datasets/scenes-ilc --detector-dir $(DETECTORS) --detector haar \
		--setting every-frame haar-fastest --every 2 --json runs/walkthrough-haar.json --png runs/walkthrough-haar.png

SOAK_FRAMES ?= 100000
soak: setup ## long run on the demo clip: RSS growth, longest frame gap, counts (SOAK_FRAMES=100000)
	mkdir -p demo-out
	$(PY) tools/demo_clip.py demo-out/doorway.mp4
	$(VENV)/bin/edge-bench --soak demo-out/doorway.mp4 --frames $(SOAK_FRAMES) --detector yunet \
		--detector-dir $(DETECTORS) --json demo-out/soak.json

clean: ## remove caches (keeps runs/ and the venvs)
	rm -rf .cache .pytest_cache .ruff_cache
