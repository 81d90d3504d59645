import http.server
import threading

import pytest

from labkit.settings import load_settings
from labkit.standin import ALL_FILES, prepare_offline

#: The files of CIFAR-10 (and of the stand-in), in the order torchvision lists them.
FILES = list(ALL_FILES)


@pytest.fixture(scope="session")
def settings():
    """The run settings of this test session (the harness sets synthetic + smoke by default)."""
    return load_settings()


@pytest.fixture(scope="session")
def stand_in_root(settings):
    """LAB_DATA_DIR with the full-size stand-in in it (generated once, about 10 s)."""
    prepare_offline(settings.data_dir, quiet=True)
    return settings.data_dir


@pytest.fixture(scope="session")
def small_stand_in(tmp_path_factory):
    """A small stand-in (500 train / 100 test images) in its own folder."""
    root = tmp_path_factory.mktemp("small")
    prepare_offline(root, n_train=500, n_test=100, quiet=True)
    return root


@pytest.fixture
def serve_bytes():
    """Serve ``body(state)`` on 127.0.0.1; returns the URL and ``state``, a dict the test may
    change between requests. ``state["requests"]`` counts them. The server stops with the test."""
    servers = []

    def start(body):
        state = {"requests": 0}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                state["requests"] += 1
                payload = body(state)
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz", state

    yield start
    for server in servers:
        server.shutdown()
