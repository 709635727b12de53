"""The forgotten-key settings of a service that forgets an erased member's idempotency keys
(`<SERVICE>_FORGOTTEN_KEY_SECRET` and `..._PREVIOUS_SECRETS`), one way for every such service.

The secret keys the HMAC-SHA256 an erased member's keys are kept under (idempotency.Forgetting).
It is never stored in the database; a deployment sets it from a secret store, as the local
default is public. Keep it: a retry is recognised by hashing its key again, so a changed secret
forgets every erased key unless the old one is listed in the previous secrets (looked up, never
written)."""

import logging
from dataclasses import dataclass

from services.shared.config import require
from services.shared.idempotency import (
    FORGOTTEN_KEY_SECRET_LENGTH_MIN,
    LOCAL_FORGOTTEN_KEY_SECRET,
    Forgetting,
)


@dataclass(frozen=True, kw_only=True)
class ForgottenKeysConfig:
    forgotten_key_secret: str = LOCAL_FORGOTTEN_KEY_SECRET
    forgotten_key_previous_secrets: tuple[str, ...] = ()

    def validate_forgotten_keys(self, prefix: str) -> None:
        for name, secrets in (
            ("FORGOTTEN_KEY_SECRET", (self.forgotten_key_secret,)),
            ("FORGOTTEN_KEY_PREVIOUS_SECRETS", self.forgotten_key_previous_secrets),
        ):
            require(
                all(len(secret.encode()) >= FORGOTTEN_KEY_SECRET_LENGTH_MIN for secret in secrets),
                variable=f"{prefix}_{name}",
                message=f"needs at least {FORGOTTEN_KEY_SECRET_LENGTH_MIN} bytes",
            )

    def forgetting(self) -> Forgetting:
        return Forgetting(
            self.forgotten_key_secret.encode(),
            tuple(secret.encode() for secret in self.forgotten_key_previous_secrets),
        )

    def warn_if_local(self, logger: logging.Logger, prefix: str, kept: str) -> None:
        """Log that the public local default is in use (`kept`: what is kept under it)."""
        if self.forgotten_key_secret == LOCAL_FORGOTTEN_KEY_SECRET:
            logger.warning(
                "%s_FORGOTTEN_KEY_SECRET is not set: %s are kept under the public local "
                "default, fit for local runs and tests only",
                prefix,
                kept,
            )
