# Studio's developer entry points. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# pytest-xdist workers for make test (the CI machine has 2 cores).
TEST_WORKERS ?= 2

.PHONY: run test test-package bench catalog lint clean dist package

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/studio

# The PyInstaller build (minutes) is left to make test-package, which .ci/run runs after.
test: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 STUDIO_SKIP_PACKAGE=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

test-package: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q -s \
	  tests/test_packaging.py -k make_package

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/core.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/editor.py
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python bench/train.py
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python bench/scale.py

catalog: $(STAMP)
	$(BIN)/python tools/generate_catalog.py
	$(BIN)/python tools/generate_training_catalog.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check studio tests bench tools

# A wheel and an sdist in dist/ (resources/ ships inside the package as studio/_resources).
dist: $(STAMP)
	$(BIN)/python -c "import build" 2>/dev/null || $(BIN)/python -m pip install --quiet build
	$(BIN)/python -m build --outdir dist .

# The one-folder application dist/studio/ (PyInstaller, packaging/studio.spec; see
# packaging/README.md). Start it with dist/studio/studio.
PACKAGE_DIST ?= dist
PACKAGE_BUILD ?= build/pyinstaller
package: $(STAMP)
	test -x $(BIN)/pyinstaller || $(BIN)/python -m pip install --quiet pyinstaller
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/pyinstaller --noconfirm --clean --log-level WARN \
	  --distpath $(PACKAGE_DIST) --workpath $(PACKAGE_BUILD) packaging/studio.spec
	@du -sh $(PACKAGE_DIST)/studio

clean:
	rm -rf $(VENV) build dist *.egg-info

# Linux desktop integration for the current user: menu entry, icons, *.studio.json MIME
# type, AppStream metainfo (packaging/linux/). `make uninstall-desktop` removes them.
APP_ID := io.github.studio.Studio
XDG_DATA_HOME ?= $(HOME)/.local/share
ICON_SIZES := 16 32 48 64 128 256 512

.PHONY: install-desktop uninstall-desktop

install-desktop:
	install -Dm644 packaging/linux/$(APP_ID).desktop $(XDG_DATA_HOME)/applications/$(APP_ID).desktop
	install -Dm644 packaging/linux/$(APP_ID).metainfo.xml $(XDG_DATA_HOME)/metainfo/$(APP_ID).metainfo.xml
	install -Dm644 packaging/linux/$(APP_ID)-mime.xml $(XDG_DATA_HOME)/mime/packages/$(APP_ID).xml
	install -Dm644 resources/icons/studio.svg $(XDG_DATA_HOME)/icons/hicolor/scalable/apps/$(APP_ID).svg
	for size in $(ICON_SIZES); do \
	  install -Dm644 resources/icons/studio-$$size.png \
	    $(XDG_DATA_HOME)/icons/hicolor/$${size}x$${size}/apps/$(APP_ID).png || exit 1; \
	done
	-command -v update-desktop-database >/dev/null && update-desktop-database -q $(XDG_DATA_HOME)/applications
	-command -v update-mime-database >/dev/null && update-mime-database $(XDG_DATA_HOME)/mime
	-command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f $(XDG_DATA_HOME)/icons/hicolor
	@echo "Installed Studio's desktop entry, icons and MIME type in $(XDG_DATA_HOME)."

uninstall-desktop:
	rm -f $(XDG_DATA_HOME)/applications/$(APP_ID).desktop \
	  $(XDG_DATA_HOME)/metainfo/$(APP_ID).metainfo.xml \
	  $(XDG_DATA_HOME)/mime/packages/$(APP_ID).xml \
	  $(XDG_DATA_HOME)/icons/hicolor/scalable/apps/$(APP_ID).svg
	for size in $(ICON_SIZES); do \
	  rm -f $(XDG_DATA_HOME)/icons/hicolor/$${size}x$${size}/apps/$(APP_ID).png; \
	done
	-command -v update-desktop-database >/dev/null && update-desktop-database -q $(XDG_DATA_HOME)/applications
	-command -v update-mime-database >/dev/null && update-mime-database $(XDG_DATA_HOME)/mime
	-command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f $(XDG_DATA_HOME)/icons/hicolor
	@echo "Removed Studio's desktop integration from $(XDG_DATA_HOME)."
