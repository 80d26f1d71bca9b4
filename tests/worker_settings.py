"""The settings of the processes the tests start (Daphne, Celery): the product's, with the test run's quick
password hashing (tests/password_hashing.py), so that the first sign-in of every user a test made does not
re-hash their password at the production cost, half a second in the sign-in's request."""

from cs_platform.settings import *  # noqa: F403

PASSWORD_HASHERS = ["tests.password_hashing.QuickPBKDF2PasswordHasher"]
