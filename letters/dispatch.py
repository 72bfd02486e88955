"""Queue a letter's task from the web process with one Redis round trip, not a Celery message.

Publishing a Celery message costs the web process about 0.7 ms of CPU, the largest single
cost of sending a letter. On a busy day the web process instead appends the letter's id to a
Redis list and, at most once per BATCH_SECONDS, publishes one dispatch_pending task, due when
that window has closed; the worker then publishes the per-letter tasks (each with its own
retries) for every id on the list. A quiet day costs one message per letter, as before, and
at most BATCH_SECONDS more before the task starts.

Why no id is left behind: the id is appended before the window's flag is tested; an id
appended while the flag stands is on the list before the flag expires, and the task
runs after that (it checks, and waits again if the flag still stands); an id appended after
the flag expired sets a new flag and publishes a new task. Lost anyway (Redis flushed)? The
letter is in the database: the beat's dispatch_pending, every minute, queues again the
confirmations not emailed ten minutes after their letter was saved
(letters.services.confirmations_requeue).

Without a Redis broker (the embedded default runs tasks eagerly), the task is queued directly.
"""

import logging
from functools import cache

import redis
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

BATCH_SECONDS = 1.0
BATCH_SIZE = 500  # ids taken from the list at a time
# The tasks that can be batched, by name: each takes one letter id.
TASKS = {
    "letters.tasks.letter_confirmation_send",
}
_KEY = "council-letters:pending:{task}"
_WINDOW_KEY = "council-letters:pending-window:{task}"


def _app():
    from config.celery_app import app

    return app


def _task(name: str):
    from . import tasks  # registers them, whether or not Celery has looked for tasks yet

    return getattr(tasks, name.rsplit(".", 1)[1])


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _redis() -> redis.Redis | None:
    """The broker's Redis when tasks go through one, else None (queue directly)."""
    app = _app()
    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    return _client(url)


def dispatch_soon(task_name: str, letter_id: int) -> None:
    """Run task_name(letter_id) on a worker within about BATCH_SECONDS."""
    if task_name not in TASKS:
        raise ValueError(f"{task_name} is not a batched task")
    client = _redis()
    if client is None:
        _task(task_name).delay(letter_id)
        return
    try:
        # One round trip. No MULTI needed: the id is on the list before the flag is tested.
        with client.pipeline(transaction=False) as pipe:
            pipe.rpush(_KEY.format(task=task_name), letter_id)
            pipe.set(_WINDOW_KEY.format(task=task_name), 1, nx=True, px=int(BATCH_SECONDS * 1000))
            _length, window_opened = pipe.execute()
        if window_opened:
            _drain_later(task_name, BATCH_SECONDS)
    except (redis.RedisError, BrokerError):
        # Never fail the request that saved the letter: it is in the database, and the
        # beat's sweep sends its email later (confirmations_requeue).
        logger.warning("Redis unavailable: %s for letter %s not queued", task_name, letter_id)


def _drain_later(task_name: str, seconds: float) -> None:
    from .tasks import dispatch_pending

    # A little after the window closes, so the last ids appended in it are on the list.
    dispatch_pending.apply_async((task_name,), countdown=seconds + 0.1)


def pending_dispatch(task_name: str) -> int:
    """Publish task_name for every id waiting on its list (the dispatch_pending task).

    Returns how many were published. If the window is still open (a worker whose clock runs
    ahead), the rest is left for a task due when it closes.
    """
    if task_name not in TASKS:
        raise ValueError(f"{task_name} is not a batched task")
    client = _redis()
    if client is None:
        return 0
    key = _KEY.format(task=task_name)
    task = _task(task_name)
    published = 0
    while True:
        with client.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, BATCH_SIZE - 1)
            pipe.ltrim(key, BATCH_SIZE, -1)
            ids, _trimmed = pipe.execute()
        for position, letter_id in enumerate(ids):
            try:
                task.delay(int(letter_id))
            except Exception:
                # Put back what was not published, for the next run (the task is retried).
                client.lpush(key, *reversed(ids[position:]))
                raise
            published += 1
        if len(ids) < BATCH_SIZE:
            break
    remaining = client.pttl(_WINDOW_KEY.format(task=task_name))
    if remaining > 0:
        _drain_later(task_name, remaining / 1000)
    if published:
        logger.info("Queued %s for %d letters", task_name, published)
    return published
