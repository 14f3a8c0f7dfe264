#!/usr/bin/env python
"""Django's command line for the example project.

Run:  TWILIO_AUTH_TOKEN=your_token python examples/django_project/manage.py runserver 127.0.0.1:8000
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
