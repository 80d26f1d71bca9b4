"""Password hashing for the test run: hashing each factory user's password the production way (PBKDF2 at
Django's 1.2 million iterations, about half a second) once took a third of the suite's time."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's own PBKDF2 with few iterations. Its hashes keep the `pbkdf2_sha256` algorithm and name their
    iteration count, so Django's default hashers check them too; the processes a test starts use this one
    (tests/worker_settings.py) only so that a sign-in does not re-hash them at full cost."""

    iterations = 1000
