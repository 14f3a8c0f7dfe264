"""Shared test fixtures: Twilio's published vectors, loaded once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings as django_settings
from hypothesis import settings

# The replay store tests' servers (Redis, a Redis Cluster, Sentinel, memcached), started once per session.
from tests.replay_servers import memcached_server, redis_cluster, redis_sentinel, redis_server, store_dir  # noqa: F401

# One Django configuration for the whole run (Django allows only one per process).
if not django_settings.configured:
    django_settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.django_site",
        MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=[],
        USE_TZ=True,
        TWILIOSIG={"auth_token": "django-test-token-0123456789abcd"},
    )
    django.setup()

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("fuzz", max_examples=5000, deadline=None)
# `make mutate` runs the tests once per mutant: fewer examples, the same ones every run (so a
# survivor is reproducible), and no example database written from a mutant's failures.
settings.register_profile("mutation", max_examples=25, deadline=None, derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

VECTORS_PATH = Path(__file__).with_name("vectors.json")


def load_vectors() -> list[dict[str, Any]]:
    """The 86 worked cases copied from ../shared/vectors.json."""
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def vector_params(vector: dict[str, Any]) -> Any:
    """The vector's params as (name, value) pairs, or its raw body."""
    if "body" in vector:
        return vector["body"]
    return [(name, value) for name, values in vector["params"].items() for value in values]


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, Any]]:
    return load_vectors()


@pytest.fixture(autouse=True)
def _a_full_diagnosis_budget() -> None:
    """Each test starts with the process's diagnosis budget full.

    Its six diagnoses a minute are shared by every guard in the process, so in one run
    of the whole suite earlier tests' refusals would spend them, and a test expecting a
    finding would get none depending on what ran before it.
    """
    from twiliosig import _diagnosis

    limit = _diagnosis.PROCESS_LIMIT
    limit._tokens = limit._capacity
