"""Salted scrypt password hashes, as stored in `user.registered` events.

Pure functions: the salt comes in as an argument. Hashing costs tens of
milliseconds by design, so the app layer runs these off the event loop.
The encoded form keeps its parameters, so the cost can be raised later
without invalidating old hashes: `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`.
"""

from __future__ import annotations

import hashlib
import hmac

from attrs import frozen

_SCHEME = "scrypt"
_DIGEST_BYTES = 32


@frozen(kw_only=True)
class ScryptCost:
    """scrypt's work factors; the default is OWASP's minimum for interactive logins."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    @property
    def max_memory_bytes(self) -> int:
        """The `maxmem` scrypt needs for these factors, with headroom."""
        return 2 * 128 * self.r * (self.n + self.p + 2)


def hash_password(password: str, *, salt: bytes, cost: ScryptCost) -> str:
    """Hash a password with a salt into its encoded, self-describing form."""
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.max_memory_bytes,
        dklen=_DIGEST_BYTES,
    )
    return f"{_SCHEME}${cost.n}${cost.r}${cost.p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches an encoded hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = encoded.split("$")
        cost = ScryptCost(n=int(n), r=int(r), p=int(p))
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != _SCHEME:
        return False
    candidate = hash_password(password, salt=salt, cost=cost)
    return hmac.compare_digest(candidate.rsplit("$", 1)[1], digest_hex)
