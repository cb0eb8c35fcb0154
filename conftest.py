"""Root conftest: the plugin's own tests drive pytest sessions with `pytester`."""

pytest_plugins = ["pytester"]
