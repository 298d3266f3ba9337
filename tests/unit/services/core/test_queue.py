"""The queue module names every job function, queue and job id; the names must resolve and be valid."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from saas_app.services.core import queue

JOB_FUNCTIONS = [value for name, value in vars(queue).items()
                 if name.isupper() and isinstance(value, str) and value.startswith("saas_app.jobs.")]
RQ_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # what RQ accepts as a job id


def test_every_job_function_is_named_here() -> None:
    assert {queue.RENDER_JOB, queue.RENDER_FAILURE_CALLBACK, queue.EXPORT_JOB, queue.PURGE_JOB,
            queue.MAINTENANCE_JOB, queue.USER_PURGE_JOB} == set(JOB_FUNCTIONS)


@pytest.mark.parametrize("dotted", JOB_FUNCTIONS)
def test_each_job_function_name_imports_to_a_module_level_function(dotted: str) -> None:
    module_name, _, function_name = dotted.rpartition(".")
    function = getattr(importlib.import_module(module_name), function_name)
    assert inspect.isfunction(function) and function.__qualname__ == function_name


def test_job_ids_are_deterministic_and_valid_for_rq() -> None:
    some_id = "0123456789abcdef0123456789abcdef"
    ids = [queue.render_job_id(some_id), queue.export_job_id(some_id), queue.purge_job_id(some_id),
           queue.user_purge_job_id(some_id)]
    assert ids[0] == f"render-{some_id}"  # documented in the README
    assert all(RQ_ID.match(job_id) for job_id in ids) and len(set(ids)) == 4
    assert queue.QUEUE_NAMES[0] == queue.RENDERS  # renders are taken first
