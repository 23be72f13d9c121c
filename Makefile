# One command to run the site, one to test it. Only Python 3.11+ and make are needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# make test-services: the local PostgreSQL and Redis unless the environment says otherwise.
SERVICES_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/agentstore)
SERVICES_BROKER_URL ?= $(or $(CELERY_BROKER_URL),redis://127.0.0.1:6379/0)
SERVICES_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/1)

BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/agentstore_bench

.PHONY: install run test test-services lint typecheck pytest messages bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_data
	@echo
	@echo "  Agent Store: http://127.0.0.1:8000/   (API: /api/v1/, docs: /api/docs/, health: /healthz)"
	@echo "  Web server, Celery worker and beat start below; Ctrl-C stops all three."
	@echo
	exec $(BIN)/honcho --procfile Procfile.dev start

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

test-services: install
	DATABASE_URL='$(SERVICES_DATABASE_URL)' CELERY_BROKER_URL='$(SERVICES_BROKER_URL)' \
	REDIS_URL='$(SERVICES_REDIS_URL)' $(BIN)/pytest --create-db

bench: install
	BENCH_DATABASE_URL='$(BENCH_DATABASE_URL)' $(BIN)/python -m tests.bench.run

messages: install
	$(BIN)/python manage.py makemessages --locale zh_Hans --no-obsolete --add-location file --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*'
	$(BIN)/python manage.py compilemessages --locale zh_Hans --ignore '.venv' --ignore 'var'

clean:
	rm -rf var/test-db.sqlite3* var/test-broker .pytest_cache .mypy_cache .ruff_cache
