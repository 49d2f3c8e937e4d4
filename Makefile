# gr-srsaoa: everything goes through scripts/bootstrap.sh, which installs what is
# missing (Debian packages, .venv, build) and is fast when nothing changed.
.PHONY: setup test demo lint format clean

setup:
	@bash scripts/bootstrap.sh

test: setup
	@bash scripts/run_tests.sh

demo: setup
	@.venv/bin/srsaoa demo --out demo_out

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
	find include lib python -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf build
