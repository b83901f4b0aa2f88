# make install [PREFIX=/usr/local]: hutch, hutch-runtime and hutch-fs in PREFIX/bin, as `npm install -g`
# of an `npm pack` tarball puts them (README.md, "Install"); make uninstall removes them again.
PREFIX ?= /usr/local

install:
	@set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	npm pack --silent --pack-destination "$$dir" >/dev/null; \
	npm install -g --no-audit --no-fund --prefix "$(PREFIX)" "$$dir"/hutch-*.tgz

uninstall:
	npm uninstall -g --prefix "$(PREFIX)" hutch

.PHONY: install uninstall
