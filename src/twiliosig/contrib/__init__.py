"""Framework-native integrations, each imported only by the user who needs it.

``twiliosig.contrib.django``, ``twiliosig.contrib.flask``,
``twiliosig.contrib.fastapi`` and ``twiliosig.contrib.aws_lambda`` are a few lines
each over :mod:`twiliosig._guard`, :mod:`twiliosig._origin` and the middlewares'
request helpers: the URL and body rules are the middlewares' own.
"""
