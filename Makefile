# The two commands a newcomer needs (see README.md).
.PHONY: explore test setup

# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The explorer in JupyterLab, on the embedded local model: no API key, no network.
explore: setup
	.venv/bin/jupyter lab --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) notebooks/explore.ipynb

# Everything CI runs.
test:
	bash .ci/test.sh

setup:
	bash .ci/setup.sh
