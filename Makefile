# Every target creates .venv on first use, so a fresh machine needs only Python 3.10+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BASE   := $(VENV)/.installed-base
STAMP  := $(VENV)/.installed

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck docs redis-server memcached nginx caddy oauth-server bench fuzz mutate stress matrix clean

# The package alone (it needs nothing beyond the standard library): enough for the demo.
$(BASE): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

# Everything the tests, linters, docs and benchmarks need: the package with every extra, and the
# contributor tools in requirements/ (not extras: a user installing twiliosig never gets them).
$(STAMP): $(BASE) pyproject.toml requirements/dev.txt requirements/test.txt requirements/docs.txt
	$(BIN)/python -m pip install --quiet -e '.[all]' -r requirements/dev.txt
	touch $(STAMP)

demo: $(BASE)
	$(BIN)/python -m twiliosig demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts

typecheck: $(STAMP)
	$(BIN)/mypy src/twiliosig

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# The replay tests start a real Redis on loopback. When it is missing, install Debian's redis-server
# if this machine can (apt-get, and root or sudo without a password); otherwise stop here and say what
# to install, rather than fail deep inside a test.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && { \
			echo "installing redis-server (Debian package) for the replay tests"; \
			$(SUDO) apt-get install -y -q redis-server >/dev/null 2>&1 || \
			{ $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q redis-server >/dev/null; }; }; \
		command -v redis-server >/dev/null 2>&1 || { \
			echo "make test needs redis-server: the replay tests start one on 127.0.0.1, and this machine" \
				"could not install it. Install redis-server (Debian/Ubuntu: sudo apt-get install redis-server;" \
				"Fedora: sudo dnf install redis; macOS: brew install redis) or put a redis-server binary on" \
				"PATH, then run make test again." >&2; \
			exit 1; }; }

# The replay store tests also start memcached on loopback (the Redis Cluster and Sentinel ones need
# only redis-server and its redis-cli). Install Debian's memcached when missing and possible; without
# it only the Memcached tests are skipped, and they say what to install.
memcached:
	@command -v memcached >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && { \
			echo "installing memcached (Debian package) for the replay store tests"; \
			$(SUDO) apt-get install -y -q memcached >/dev/null 2>&1 || \
			{ $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q memcached >/dev/null; }; }; \
		command -v memcached >/dev/null 2>&1 || \
			echo "memcached is not installed: its replay store tests will be skipped (apt-get install memcached)"; }

# tests/attacks/test_deployment.py runs docs/deployment.md's proxy configurations with the real nginx
# and Caddy on loopback (and test_proxy_nginx.py two nginx). Install Debian's packages when missing and
# possible; without them only those tests are skipped, and they say what to install. The packages'
# own services are not needed: the tests start each server in the foreground from a temporary directory.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && { \
			echo "installing nginx (Debian package) for the proxy tests"; \
			$(SUDO) apt-get install -y -q nginx >/dev/null 2>&1 || \
			{ $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q nginx >/dev/null; }; }; \
		command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || \
			echo "nginx is not installed: its proxy tests will be skipped (apt-get install nginx)"; }

caddy:
	@command -v caddy >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && { \
			echo "installing caddy (Debian package) for the proxy tests"; \
			$(SUDO) apt-get install -y -q caddy >/dev/null 2>&1 || \
			{ $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q caddy >/dev/null; }; }; \
		command -v caddy >/dev/null 2>&1 || \
			echo "caddy is not installed: its proxy tests will be skipped (apt-get install caddy)"; }

# tests/e2e/test_oauth_server.py plays Twilio against a real authorization server, oidc-provider from
# npm, pinned in tests/oauth_server/package-lock.json. Install it when npm is there (again when the lock
# changes); without npm only those tests are skipped, and they say what to install.
oauth-server:
	@if command -v npm >/dev/null 2>&1; then \
		[ tests/oauth_server/node_modules/.package-lock.json -nt tests/oauth_server/package-lock.json ] || \
			{ echo "installing oidc-provider (npm) for the OAuth tests"; \
			  cd tests/oauth_server && npm ci --no-audit --no-fund --silent; }; \
	else \
		echo "npm is not installed: the OAuth tests against oidc-provider will be skipped (install Node.js 20+ and npm)"; \
	fi

# The sdist and wheel as a user gets them: built, checked by twine, their contents listed, and the
# wheel installed with no dependencies into a fresh venv that runs the CLI and imports the middlewares.
.PHONY: dist-check
dist-check: $(STAMP)
	$(BIN)/python scripts/check_dist.py

test: redis-server memcached nginx caddy oauth-server lint typecheck docs dist-check
	$(BIN)/python -m pytest

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py tests/test_differential.py

# Mutation testing of the guard and the core ([tool.mutmut] in pyproject.toml); not part of `test`:
# it takes about an hour on two cores. Results are cached in mutants/: a rerun tests only what changed.
# Ends with every mutant no test killed (`mutmut show <name>` prints one, `mutmut browse` all).
mutate: $(STAMP) redis-server
	HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run
	@echo "Survivors (mutants no test killed):"
	@$(BIN)/mutmut results

stress: $(STAMP)
	$(BIN)/python benchmarks/stress.py

bench: $(STAMP)
	$(BIN)/python benchmarks/report.py

# Every framework on every server of its interface (tests/matrix), then docs/compatibility.md from that run.
# The frameworks and servers beyond the test dependencies are in requirements/matrix.txt (not an extra:
# twiliosig imports none of them). `make test` runs a representative subset (tests/matrix/test_matrix.py).
matrix: $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements/matrix.txt
	$(BIN)/python -m tests.matrix

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
