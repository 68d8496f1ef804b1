import pytest


@pytest.fixture(scope="session")
def keras():
    from studio.engine import load_keras

    return load_keras()


@pytest.fixture(autouse=True)
def _fresh_keras_session(keras):
    yield
    keras.backend.clear_session()
