"""moto's S3 server as a WSGI application, for gunicorn to serve over HTTPS (see tests/backups/s3.py)."""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

application = DomainDispatcherApplication(create_backend_app)
