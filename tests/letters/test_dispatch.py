"""letters.dispatch: a letter's task queued through a Redis list, one Celery message a window.

Against the real Redis (DB 14, the fault tests' broker); no worker here: the messages are
read off the broker's queue. tests/letters/test_faults.py sends confirmations through a real
worker.
"""

import base64
import json
import logging
import time

import pytest
import redis

from config.celery_app import app
from letters import dispatch
from tests.letters.test_faults import broker  # noqa: F401 (fixture)

pytestmark = pytest.mark.redis

CONFIRM = "letters.tasks.letter_confirmation_send"


def queued_tasks(url: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting on Celery's default queue."""
    tasks = []
    for raw in redis.Redis.from_url(url).lrange("celery", 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], body[0]))
    return sorted(tasks, key=lambda task: (task[0], task[1]))


def test_letters_in_one_window_cost_one_message(broker):  # noqa: F811
    for letter_id in (1, 2, 3):
        dispatch.dispatch_soon(CONFIRM, letter_id)
    client = redis.Redis.from_url(broker)
    assert client.lrange(f"council-letters:pending:{CONFIRM}", 0, -1) == [b"1", b"2", b"3"]
    assert queued_tasks(broker) == [("letters.tasks.dispatch_pending", [CONFIRM])]
    (raw,) = client.lrange("celery", 0, -1)
    assert json.loads(raw)["headers"]["eta"]  # due when the window has closed

    time.sleep(dispatch.BATCH_SECONDS + 0.1)
    assert dispatch.pending_dispatch(CONFIRM) == 3
    assert client.llen(f"council-letters:pending:{CONFIRM}") == 0
    assert queued_tasks(broker) == [
        ("letters.tasks.dispatch_pending", [CONFIRM]),
        (CONFIRM, [1]),
        (CONFIRM, [2]),
        (CONFIRM, [3]),
    ]
    # The window has closed: the next letter opens another one.
    dispatch.dispatch_soon(CONFIRM, 4)
    assert [name for name, _args in queued_tasks(broker)].count(
        "letters.tasks.dispatch_pending"
    ) == 2


def test_a_run_while_the_window_is_open_leaves_a_run_for_its_end(broker):  # noqa: F811
    dispatch.dispatch_soon(CONFIRM, 1)
    # A worker whose clock runs ahead starts the task early.
    assert dispatch.pending_dispatch(CONFIRM) == 1
    dispatch.dispatch_soon(CONFIRM, 2)  # still in the window: no message of its own
    assert queued_tasks(broker) == [
        ("letters.tasks.dispatch_pending", [CONFIRM]),
        ("letters.tasks.dispatch_pending", [CONFIRM]),
        (CONFIRM, [1]),
    ]
    time.sleep(dispatch.BATCH_SECONDS + 0.1)
    assert dispatch.pending_dispatch(CONFIRM) == 1
    assert (CONFIRM, [2]) in queued_tasks(broker)


@pytest.mark.django_db
def test_the_safety_net_dispatches_every_list(broker):  # noqa: F811
    from letters.tasks import dispatch_pending

    redis.Redis.from_url(broker).rpush(f"council-letters:pending:{CONFIRM}", 7)
    assert dispatch_pending.apply().get() == 1
    assert (CONFIRM, [7]) in queued_tasks(broker)


def test_more_than_a_batch_of_letters(broker):  # noqa: F811
    redis.Redis.from_url(broker).rpush(
        f"council-letters:pending:{CONFIRM}", *range(dispatch.BATCH_SIZE + 5)
    )
    assert dispatch.pending_dispatch(CONFIRM) == dispatch.BATCH_SIZE + 5
    assert len(queued_tasks(broker)) == dispatch.BATCH_SIZE + 5


def test_redis_down_never_fails_the_request(caplog):
    old = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    try:
        with caplog.at_level(logging.WARNING, logger="letters.dispatch"):
            dispatch.dispatch_soon(CONFIRM, 1)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = old
    assert "Redis unavailable" in caplog.text


def test_without_a_broker_the_task_runs_at_once(monkeypatch):
    ran = []
    monkeypatch.setattr(app.tasks[CONFIRM], "run", lambda letter_id: ran.append(letter_id))
    dispatch.dispatch_soon(CONFIRM, 5)  # the test settings run tasks eagerly
    assert ran == [5]


def test_only_batched_tasks():
    with pytest.raises(ValueError):
        dispatch.dispatch_soon("letters.tasks.personal_data_purge", 1)
