# Verbatim: `make run` serves the chat, `make test` runs every test. Both set themselves up.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA    ?= data
INDEX   ?= $(DATA)/index
PYTHON  ?= python3

# Nothing reaches the network at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test index install lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU PyTorch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,scale]'
	touch $(STAMP)

install: $(STAMP)

# Incremental: a no-op (no model load) when the index is current with seeds/ and the
# documents uploaded in the browser (data/documents), which it keeps.
index: $(STAMP)
	mkdir -p $(DATA)/documents
	$(BIN)/verbatim ingest seeds $(DATA)/documents --index $(INDEX)

run: index
	$(BIN)/verbatim serve --index $(INDEX) --data $(DATA) --host 127.0.0.1 --port 7860

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

clean:
	rm -rf $(VENV) data runs .pytest_cache
