"""Tests of the deployment around the apps: compose and nginx files, gunicorn behind nginx, production start-up
guards, and the security suite's harness. The apps' own tests live in apps/<app>/tests."""
