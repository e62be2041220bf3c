"""The GUI thread's scheduling policy while a run trains (worker._batch_policy): Linux SCHED_BATCH,
so its wake-ups do not preempt the training threads, and the policy it had back afterwards; a
thread on another policy (the user chose one) is left alone."""
import os
import sys

import pytest

from cnn_studio.app.training import worker


@pytest.fixture
def _default_policy():
    if not hasattr(os, "sched_setscheduler"):
        yield None
        return
    was = os.sched_getscheduler(0)
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    yield os.SCHED_OTHER
    os.sched_setscheduler(0, was, os.sched_param(0))


def test_a_run_makes_the_thread_batch_and_gives_its_policy_back(_default_policy):
    previous = worker._batch_policy(True)
    if not sys.platform.startswith("linux"):
        assert previous is None  # nothing to do elsewhere
        return
    assert previous == os.SCHED_OTHER and os.sched_getscheduler(0) == os.SCHED_BATCH
    assert worker._batch_policy(True) is None  # already batch: not changed, nothing to give back
    worker._batch_policy(False, previous)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_a_policy_the_user_chose_is_left_alone(_default_policy):
    if not sys.platform.startswith("linux"):
        assert worker._batch_policy(True) is None
        return
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    assert worker._batch_policy(True) is None and os.sched_getscheduler(0) == os.SCHED_IDLE
    worker._batch_policy(False, None)  # nothing recorded: nothing restored
    assert os.sched_getscheduler(0) == os.SCHED_IDLE


def test_a_refused_change_leaves_the_run_on_the_default_policy(_default_policy, monkeypatch):
    if not sys.platform.startswith("linux"):
        return
    def refuse(*a):
        raise PermissionError("not allowed here")
    with monkeypatch.context() as m:
        m.setattr(os, "sched_setscheduler", refuse)
        assert worker._batch_policy(True) is None
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
