# The two commands of the README: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PY    := .venv/bin/python
CARGO ?= cargo
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: demo test deps test-rust test-glue test-statemachine test-e2e check-static build release bench bench-glue bench-engines bench-orchestration bench-batch bench-lambda clean

deps:
	@tools/install-deps.sh

## make test: formatting, lints, every suite
test: deps test-rust check-static test-statemachine test-glue test-e2e

test-rust:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked

check-static: deps
	tools/check-static.sh

test-statemachine: deps
	$(PY) -m pytest -q tests/statemachine

test-glue: deps
	$(PY) -m pytest -q -rs tests/glue

# The whole workflow on the local stack (local/stack.py): real binaries, real ASL, real Spark.
test-e2e: deps
	$(PY) -m pytest -q tests/e2e

## make demo: the main job locally on embedded defaults; DEMO_ARGS="--day 1992-03-01 --format orc --keep" etc.
demo: deps
	$(PY) local/stack.py demo $(DEMO_ARGS)

build:
	$(CARGO) build --workspace --locked

release:
	$(CARGO) build --workspace --release --locked

## make bench: every benchmark in one run (orchestration, data path, Lambdas, the demo by phase), one table
bench: deps
	$(PY) bench/run_all.py

bench-orchestration: deps
	$(PY) bench/orchestration_bench.py

bench-batch: deps
	$(PY) bench/batch_bench.py

bench-glue: deps
	$(PY) bench/glue_bench.py

bench-engines: deps
	$(PY) bench/engine_bench.py

bench-lambda: deps
	$(PY) bench/lambda_bench.py --update-docs

clean:
	rm -rf target .state .aws-sam
