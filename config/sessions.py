"""Sessions read from the cache and written through to the database, one statement a write.

Django's cached_db store saves an existing session through Model.save() in a transaction:
BEGIN, UPDATE, COMMIT, three round trips to the database on every step of a letter. An
UPDATE on its own is atomic, so this store sends just that; new sessions are created as
Django does (a key collision must be caught).
"""

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import UpdateError
from django.db import router

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(cached_db.SessionStore):
    def save(self, must_create=False):
        if must_create or self.session_key is None:
            return super().save(must_create)
        instance = self.create_model_instance(self._get_session())
        using = router.db_for_write(self.model, instance=instance)
        updated = (
            self.model._default_manager.db_manager(using)
            .filter(session_key=instance.session_key)
            .update(session_data=instance.session_data, expire_date=instance.expire_date)
        )
        if not updated:
            # Deleted meanwhile (a logout elsewhere, the clearsessions job): as Django does.
            raise UpdateError
        try:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)
