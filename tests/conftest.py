"""Fixtures shared by the unit tests. Nothing here imports torch or torchvision: a test file
that does not need them (settings, config, the CLI's messages) runs without paying for them;
the fixtures that do import labkit.standin inside their own body."""

import http.server
import sys
import threading

import pytest

from labkit.settings import load_settings

#: The files of CIFAR-10 (and of the stand-in), in the order torchvision lists them
#: (labkit.standin.ALL_FILES, written out here so that importing this file stays cheap;
#: tests/test_data.py checks that the two agree).
FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


def pytest_collection_finish(session):
    """One torch thread in this process for the unit tests. They check results, not speed, and on
    a busy 2-core machine torch's worker threads wait for each other: a test of notebook 04's range
    test took 1,249 s with the default threads and 119 s with one (load average 15-19). Notebook
    kernels and torchrun's processes are other processes and keep their own settings."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def settings():
    """The run settings of this test session (the harness sets synthetic + smoke by default)."""
    return load_settings()


@pytest.fixture(scope="session")
def stand_in_root(settings):
    """LAB_DATA_DIR with the full-size stand-in in it (generated once, about 10 s). This is the
    checkout's own data/ unless LAB_DATA_DIR says otherwise: a cache shared with the notebooks,
    on purpose, so that the suite generates it at most once."""
    from labkit.standin import prepare_offline
    prepare_offline(settings.data_dir, quiet=True)
    return settings.data_dir


@pytest.fixture(scope="session")
def small_stand_in(tmp_path_factory):
    """A small stand-in (500 train / 100 test images) in its own folder."""
    from labkit.standin import prepare_offline
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
