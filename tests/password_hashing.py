"""Password hashing for the test run: hashing each factory user's password the production way (PBKDF2 at
Django's 1.2 million iterations, about half a second) once took a third of the suite's time."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's own PBKDF2 with few iterations. Its hashes keep the `pbkdf2_sha256` algorithm and name their
    iteration count, so the Daphne workers a test starts, on the production hashers, check them too."""

    iterations = 1000
