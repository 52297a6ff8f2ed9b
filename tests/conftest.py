"""Fixtures shared by the test modules."""

import pytest


@pytest.fixture(scope="module")
def s3_server():
    """A real S3-compatible server (moto's server mode) on loopback, for the S3 code paths."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
