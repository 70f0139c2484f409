# The README's two commands: `make demo` and `make test`. Everything installs into
# project-local virtualenvs under .venv/ (see scripts/venv.sh), never the system.
.PHONY: demo test test-quick bench docs clean

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

# Unit and end-to-end tests without ansible-test sanity but for its quick static tests on the newest core, for a quick local loop.
test-quick:
	@bash scripts/test.sh --no-sanity

# The speed benchmark (scripts/bench.sh runs tests/benchmark/run.py, download.py and drill.py): about 25 minutes
# on 2 cores, not part of make test. Writes tests/benchmark/*results.json and the figures in
# docs/docsite/rst/performance.rst.
# Options go through BENCH_ARGS, for example: make bench BENCH_ARGS=--quick
bench:
	@bash scripts/bench.sh $(BENCH_ARGS)

# The HTML docs site (antsibull-docs + Sphinx, warnings fail it): plugin pages and the guides,
# then checked (links, anchors, empty pages, layout and screenshots in Chromium). Opens at
# .build/docsite/build/html/index.html. make test runs it too.
docs:
	@bash scripts/docs.sh

clean:
	rm -rf .build tests/output
