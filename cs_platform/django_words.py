"""Words Django's own admin shows that Django's Chinese catalog (5.2) does not have yet: marked here, they are
extracted into the project's catalog (`locale/zh_Hans/`), which Django reads before its own, so the admin's
screen-reader headings and notices read Chinese too. Once Django's catalog has one, it can go from here.

Nothing imports this module: it exists for `python -m cs_platform.locale extract` (Django's `makemessages`).
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN_WORDS = (
    # the headings of the admin's model tables (app_list.html), for screen readers
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # before the title of a page whose form has errors
    gettext_noop("Error:"),
    # the user add form, the login page and the password reset email
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    gettext_noop("Forgotten your login credentials?"),
    gettext_noop("In case you’ve forgotten, you are:"),
)
