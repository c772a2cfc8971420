# The README's commands. Every target installs what it needs first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8000
# pytest-xdist workers, sized for two CPUs, what a CI job usually gets (`auto` counts the host's
# CPUs, not a container's quota; 0 runs one process). The unit tier waits on sockets and timers
# part of the time: three workers keep two CPUs busy (two left them half idle: 58 s against 41 s).
# The integration tier mostly waits on the programs it starts (git, servers): four workers.
# The e2e tier's modules each share one long setup (a pipeline run, an image build): one module
# per worker at a time (--dist loadfile), three side by side, each in a buildah storage of its own.
UNIT_WORKERS ?= 3
INTEGRATION_WORKERS ?= 4
E2E_WORKERS ?= 3
# The tests write and remove many small files (git, project copies, vfs image layers): on a big
# tmpfs when there is one (harness/tmpdir.py), about twice as fast as on a journaled disk here.
# TEST_TMPDIR=/tmp make test keeps them on disk.
ifndef TEST_TMPDIR
TEST_TMPDIR := $(shell $(PYTHON) -m harness.tmpdir)
endif
TEST_ENV := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR))
# The tests start hundreds of Python processes (`python -m ci`, uvicorn): let them reuse compiled
# modules (__pycache__/, ignored by git) rather than compile app/, ci/ and the tests each time.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install tools run lint unit integration e2e test test-image bench bench-instructions bench-image bench-gitops rename

help:  ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(VENV)/.installed  ## Create or update .venv from the pinned requirements (idempotent)

$(VENV)/.installed: requirements.txt requirements.dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements.dev.txt
	touch $@

.PHONY: lock
lock: install  ## Write requirements.lock (every image package, hash-pinned) from requirements.txt; LOCK_ARGS=base pins the Dockerfile's base image by digest
	$(BIN)/python scripts/lock.py $(LOCK_ARGS)

tools: install  ## Install the system tools the integration tests drive (apt as root, npm)
	$(BIN)/python scripts/install_tools.py

run: install  ## Serve with hot reload on http://127.0.0.1:$(PORT), one log line per request
	APP_ACCESS_LOG=true APP_SHUTDOWN_DELAY_SECONDS=0 $(BIN)/uvicorn app.main:app --reload \
		--reload-dir app --host 127.0.0.1 --port $(PORT)

lint: install  ## Check format and lint with ruff
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# The test tiers (tests/conftest.py says what each may do; a unit test that starts a program fails).
unit: install  ## Tests in this process only, no system tools (≤ 45 s; the pipeline's unit job)
	$(TEST_ENV) $(BIN)/pytest -m "not integration and not image and not e2e" -n $(UNIT_WORKERS) $(PYTEST_ARGS)

integration: tools  ## Tests with real servers and tools (the pipeline's integration job)
	$(TEST_ENV) $(BIN)/pytest -m "integration and not image and not e2e" -n $(INTEGRATION_WORKERS) $(PYTEST_ARGS)

e2e: tools  ## The built artifacts end to end: the container image, and the GitLab pipeline run locally
	$(TEST_ENV) $(BIN)/pytest -m "image or e2e" -n $(E2E_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint unit integration e2e  ## Everything: lint, then the unit, integration and e2e tiers

test-image: tools  ## The container image tests only
	$(TEST_ENV) $(BIN)/pytest -m image $(PYTEST_ARGS)

bench: tools  ## Service throughput and latency against its ceiling and the seed-style baseline
	$(BIN)/python -m bench.service $(BENCH_ARGS)

bench-instructions: tools  ## Instructions per request (valgrind), the service against its ceiling: noise-free
	$(BIN)/python -m bench.instructions

bench-image: tools  ## Image size and rebuild time against a seed-style Dockerfile
	$(BIN)/python -m bench.image

bench-gitops: install  ## Write-back latency on a small and a large remote, with and without the render, and racing deploys
	$(BIN)/python -m bench.gitops

rename:  ## Rename the service (NAME=new-name) and its GitLab project (GITLAB_URL=https://host/group/project)
	@test -n "$(NAME)" || { echo "usage: make rename NAME=new-name [GITLAB_URL=https://host/group/project]" >&2; exit 2; }
	$(PYTHON) scripts/rename.py "$(NAME)" $(if $(GITLAB_URL),--gitlab-url "$(GITLAB_URL)") $(if $(FORCE),--force)
