# mlops-kit — the two commands a newcomer needs:  `make up`  and  `make test`.
SHELL := /bin/bash
VENV  := .venv/bin
STATE ?= .state

.PHONY: up test venv unit integration e2e demo down toolchain docker lint render

## up: fresh machine → venv → offline toolchain → local cluster → `pulumi up -s dev` → stack outputs
up:
	bash scripts/up.sh dev

## demo: the local ML loop without Kubernetes (MLflow server, train + gate, BentoML server, a sample prediction)
demo: venv
	$(VENV)/mlops-kit demo --state-dir $(STATE)

## test: the whole suite in layers (unit → integration → e2e); .ci/run calls exactly this
test:
	bash scripts/test.sh

venv:
	bash scripts/venv.sh

unit: venv
	bash scripts/test.sh unit
integration: venv
	bash scripts/test.sh integration
e2e: venv
	bash scripts/test.sh e2e

## down: stop the demo's local servers and delete the local cluster
down:
	-$(VENV)/mlops-kit demo-stop --state-dir $(STATE)
	-$(VENV)/mlops-kit cluster down

toolchain:
	bash tools/build-toolchain.sh

docker:
	bash scripts/docker-engine.sh && bash scripts/registry.sh

lint: venv
	$(VENV)/ruff check . && $(VENV)/ruff format --check .
