"""Translations we maintain for installed packages that ship none in our languages (django-celery-beat has no
Japanese catalog).

An app with nothing but `locale/<lang>/LC_MESSAGES/django.po` (+ .mo): Django merges every installed app's catalog,
and an app listed earlier in INSTALLED_APPS wins over a later one, so this app sits just before the packages it
translates. The msgids are extracted from the installed packages' source by `manage.py updatelocale` (`make
messages`), which also compiles the .mo; `updatelocale --check` fails when the installed version has a string this
catalog lacks (see opsportal.i18n.catalog).
"""
