# The two commands of the README: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PY    := .venv/bin/python
CARGO ?= cargo
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: demo test deps test-rust test-glue test-statemachine check-static build release bench bench-glue bench-orchestration clean

deps:
	@tools/install-deps.sh

## make test: formatting, lints, every suite
test: deps test-rust check-static test-statemachine test-glue

test-rust:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked

check-static: deps
	tools/check-static.sh

test-statemachine: deps
	$(PY) -m pytest -q tests/statemachine

test-glue: deps
	$(PY) -m pytest -q tests/glue

## make demo: the main job locally on embedded defaults
demo: deps
	tools/demo.sh

build:
	$(CARGO) build --workspace --locked

release:
	$(CARGO) build --workspace --release --locked

bench: bench-orchestration bench-glue

bench-orchestration: deps
	$(PY) bench/orchestration_bench.py

bench-glue: deps
	$(PY) bench/glue_bench.py

clean:
	rm -rf target .state .aws-sam
