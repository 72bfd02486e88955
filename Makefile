# Council Letters: `make run` serves the embedded default on http://127.0.0.1:8000 (HOST and
# PORT change it: make run PORT=8100),
# `make test` runs the whole suite. Both create .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: run test install install-test chromium worker beat lint format messages vendor bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip $(PIP_FLAGS) install --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip $(PIP_FLAGS) install -c requirements.lock -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml requirements.lock
	$(BIN)/pip $(PIP_FLAGS) install -c requirements.lock -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Links in emails point at the address served (make run PORT=8100), unless SITE_URL is set.
RUN_SITE_URL = $(or $(SITE_URL),http://$(HOST):$(PORT))

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo "Council Letters is starting on http://$(HOST):$(PORT)/ (admin: http://$(HOST):$(PORT)/admin/)"
	@if [ -z "$$EMAIL_URL$$ANYMAIL_ESP$$EMAIL_BACKEND" ]; then \
	  echo "Email stays on this machine: admin > Letters > Outbox messages."; \
	fi
	@if [ -f var/admin-password ]; then \
	  echo "Admin login: user 'admin', password '$$(cat var/admin-password)'"; \
	fi
	SITE_URL=$(RUN_SITE_URL) $(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

# Browser tests drive Debian's chromium; install it when missing and this user may (root + apt).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Note: /usr/bin/chromium is missing; browser tests will be skipped (apt-get install chromium)."; \
	  fi; \
	fi

test: install-test chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	mkdir -p var && $(BIN)/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: install
	$(BIN)/python manage.py makemessages -l fr --ignore=.venv --ignore=var --ignore=bench
	$(BIN)/python manage.py compilemessages --ignore=.venv

# Refresh the vendored Bootstrap (pages) and jQuery UI (the admin's EN/FR tabs) from npm's
# packages (needs npm; the files are committed).
BOOTSTRAP_VERSION ?= 5.3.8
JQUERY_UI_VERSION ?= 1.14.1
vendor:
	rm -rf var/vendor && mkdir -p var/vendor static/vendor/bootstrap
	cd var/vendor && npm pack --silent bootstrap@$(BOOTSTRAP_VERSION) && tar xzf bootstrap-$(BOOTSTRAP_VERSION).tgz
	cp var/vendor/package/dist/css/bootstrap.min.css* var/vendor/package/dist/js/bootstrap.bundle.min.js* \
	   var/vendor/package/LICENSE static/vendor/bootstrap/
	rm -rf var/vendor/package && cd var/vendor && npm pack --silent jquery-ui@$(JQUERY_UI_VERSION) \
	  && tar xzf jquery-ui-$(JQUERY_UI_VERSION).tgz
	mkdir -p static/vendor/jquery-ui
	cp var/vendor/package/dist/jquery-ui.min.js var/vendor/package/LICENSE.txt static/vendor/jquery-ui/

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
