# The one JupyterLab server configuration of the workshop: `make lab` and the UI test
# (tests_ui/test_ui.py) both start JupyterLab with --config=tools/jupyterlab/jupyter_server_config.py.
# Each adds only what is its own: the port and folder (make lab), or a token, a free port and a
# temporary folder (the test).
c = get_config()  # noqa: F821  (Jupyter defines get_config when it reads this file)

c.ServerApp.ip = "127.0.0.1"              # this machine only: reach it from elsewhere through an SSH tunnel
c.ServerApp.port_retries = 0              # a port in use is an error, never a server moved elsewhere
c.LabApp.default_url = "/lab/tree/notebooks"
c.LabApp.extension_manager = "readonly"   # no extension manager: no npm look-ups, no warnings about them
c.LanguageServerManager.autodetect = False   # no language servers to look for
