"""Sessions read from the cache and written through to the database, one statement a write.

Django's cached_db store saves an existing session through Model.save() in a transaction:
BEGIN, UPDATE, COMMIT, three round trips to the database on every step of a letter. An
UPDATE on its own is atomic, so this store sends just that; new sessions are created as
Django does (a key collision must be caught).
"""

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import UpdateError
from django.db import connections, router

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(cached_db.SessionStore):
    def save(self, must_create=False):
        if must_create or self.session_key is None:
            return super().save(must_create)
        data = self._get_session()
        using = router.db_for_write(self.model)
        # The UPDATE written out: the ORM's query building costs more than the statement.
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {connection.ops.quote_name(self.model._meta.db_table)}"
                " SET session_data = %s, expire_date = %s WHERE session_key = %s",
                [
                    self.encode(data),
                    connection.ops.adapt_datetimefield_value(self.get_expiry_date()),
                    self.session_key,
                ],
            )
            updated = cursor.rowcount
        if not updated:
            # Deleted meanwhile (a logout elsewhere, the clearsessions job): as Django does.
            raise UpdateError
        try:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)
