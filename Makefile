# The README's two commands: `make demo` and `make test`. Everything installs into
# project-local virtualenvs under .venv/ (see scripts/venv.sh), never the system.
.PHONY: demo test test-quick clean

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

# Unit and end-to-end tests without ansible-test sanity, for a quick local loop.
test-quick:
	@bash scripts/test.sh --no-sanity

clean:
	rm -rf .build tests/output
