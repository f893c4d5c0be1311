"""Action runtime: the worker program (`launcher.py`), staging, warm workers and their pools."""
